// Pieces several pages share: series helpers over the API's timeseries answers.
import * as fmt from "../fmt.js";
import { INTERVAL_MS } from "../state.js";
import * as tz from "../tz.js";
import { label } from "../ui.js";

export const DAY_MS = 86400e3;

/** The points of an ungrouped timeseries answer. */
export function points(ts) { return ts.series.length ? ts.series[0].points : []; }

export function xLabels(ts) { return withPartial(points(ts).map((p) => tz.time(p.t, ts.interval)), ts); }

/** When a bucket ends (exclusive), from its start and the answer's interval. */
export function bucketEnd(t, interval) {
  const d = new Date(t);
  if (interval === "month") return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return d.getTime() + (INTERVAL_MS[interval] || 0);
}

/**
 * The index of the last bucket when the range ends inside it (it is still filling: drawn as
 * partial by charts.js), else null. `ts.to` is the range's end, kept by Api.get.
 */
export function partialIndex(ts) {
  const pts = ts.series.length ? ts.series[0].points : [];
  if (!pts.length || !ts.to) return null;
  const last = pts[pts.length - 1];
  return bucketEnd(last.t, ts.interval) > new Date(ts.to).getTime() ? pts.length - 1 : null;
}

/** Category labels carry the partial bucket's index for charts.js (`labels.partial`). */
function withPartial(labels, ts) {
  labels.partial = partialIndex(ts);
  labels.partialUntil = ts.to;
  labels.previous = ts.previous || null;  // "compare to previous period" (previous.js)
  const pts = ts.series.length ? ts.series[0].points : [];  // change markers (markers.js)
  labels.markers = ts.markers || null;
  labels.times = pts.map((p) => p.t);
  labels.end = pts.length ? bucketEnd(pts[pts.length - 1].t, ts.interval) : null;
  return labels;
}

/** One series per group of a grouped answer: {name, values} in API order. */
export function grouped(ts, metric) {
  return ts.series.map((s) => ({ name: label(s.group), group: s.group, values: s.points.map((p) => p[metric]) }));
}

/** Labels of a grouped answer (all groups share the same buckets). */
export function groupedLabels(ts) {
  return withPartial(ts.series.length ? ts.series[0].points.map((p) => tz.time(p.t, ts.interval)) : [], ts);
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


export async function optional(promise) {
  try { return await promise; } catch (err) { if (err.status === 404) return null; throw err; }
}

export function axisTooltip(unit) {
  return { trigger: "axis", confine: true, valueFormatter: (v) => fmt.byUnit(unit, v) };
}
