// Pieces several pages share: series helpers over the API's timeseries answers.
import * as fmt from "../fmt.js";
import { label } from "../ui.js";

export const DAY_MS = 86400e3;

/** The points of an ungrouped timeseries answer. */
export function points(ts) { return ts.series.length ? ts.series[0].points : []; }

export function xLabels(ts) { return points(ts).map((p) => fmt.time(p.t, ts.interval)); }

/** One series per group of a grouped answer: {name, values} in API order. */
export function grouped(ts, metric) {
  return ts.series.map((s) => ({ name: label(s.group), group: s.group, values: s.points.map((p) => p[metric]) }));
}

/** Labels of a grouped answer (all groups share the same buckets). */
export function groupedLabels(ts) {
  return ts.series.length ? ts.series[0].points.map((p) => fmt.time(p.t, ts.interval)) : [];
}

/** CSV table of a timeseries answer: one row per bucket (and group). */
export function tsTable(ts, metrics) {
  const rows = [];
  for (const s of ts.series) {
    for (const p of s.points) {
      const row = { t: p.t };
      if (ts.group_by) row[ts.group_by] = s.group;
      for (const m of metrics) row[m] = p[m];
      rows.push(row);
    }
  }
  return { columns: ["t", ...(ts.group_by ? [ts.group_by] : []), ...metrics], rows };
}

/** An interval that suits the range for daily views: days when the range spans two or more. */
export function dailyInterval(range) {
  return new Date(range.to) - new Date(range.from) >= 2 * DAY_MS ? "day" : null;
}

export async function optional(promise) {
  try { return await promise; } catch (err) { if (err.status === 404) return null; throw err; }
}

export function axisTooltip(unit) {
  return { trigger: "axis", confine: true, valueFormatter: (v) => fmt.byUnit(unit, v) };
}
