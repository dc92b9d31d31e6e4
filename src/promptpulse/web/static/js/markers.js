// Change markers: deployments, config changes, notes (POST /v1/annotations) and the first call of
// each new prompt version, drawn as vertical lines on every time-series chart. One place for every
// page, like previous.js: Api.get fetches the markers of a timeseries' range and filters once
// (shared by every chart of the refresh), pages/common.js hands them to the x axis with the
// bucket times, and chartCard.set draws them. `markers=0` in the URL (the top bar's "Changes"
// button) hides them.
import * as state from "./state.js";
import * as tz from "./tz.js";

export function isOn(p = state.params()) { return p.get("markers") !== "0"; }

const cache = new Map();  // query -> promise of the markers: one request per range and filters
// A change is a change whatever the calls' outcome: a chart of errors (the Overview's asks for
// status=error) marks the same deploys and versions as the one of all calls, from one request.
const OUTCOME = new Set(["status", "error_type"]);

/** The markers of a timeseries query's range and filters ([] when they cannot be read). */
export function fetchFor(api, params) {
  const q = new URLSearchParams();
  for (const [name, value] of params) {
    if (name === "from" || name === "to" || (state.isFilter(name) && !OUTCOME.has(name))) q.append(name, value);
  }
  const key = q.toString();
  if (!cache.has(key)) {
    if (cache.size > 32) cache.clear();
    cache.set(key, api.request("GET", "/v1/annotations", q)
      .then((a) => a.annotations || [])
      .catch(() => { cache.delete(key); return []; }));
  }
  return cache.get(key);
}

/** The bucket a marker falls in: the last bucket starting at or before it, null outside. */
export function bucketOf(times, t, end) {
  const at = new Date(t).getTime();
  if (!times.length || at < new Date(times[0]).getTime() || (end !== null && at >= end)) return null;
  let i = 0;
  while (i + 1 < times.length && new Date(times[i + 1]).getTime() <= at) i++;
  return i;
}

const esc = (v) => String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const COLORS = { deploy: "#ef4444", config: "#f59e0b", prompt: "#6366f1", note: "#64748b" };

export function describe(m) {
  const what = m.source === "prompt_version" ? "new prompt version" : m.kind;
  return `${what}: ${m.title}`;
}

/**
 * Draws the markers the x axis carries (`xAxis.data.markers`, `xAxis.data.times`, set by
 * pages/common.js) as a markLine on the first series, and names them in the axis tooltip of
 * their bucket. The chart element gets `data-markers` = how many were drawn.
 */
export function overlayMarkers(option, el) {
  const x = Array.isArray(option.xAxis) ? option.xAxis[0] : option.xAxis;
  const list = x?.data?.markers;
  delete el.dataset.markers;
  const host = (option.series || []).find((s) => Array.isArray(s.data) && !s.previousOf && !s.partialOf);
  if (!isOn() || !Array.isArray(list) || !host || !Array.isArray(x.data.times)) return option;
  const hits = new Map();  // bucket index -> markers in it
  const lines = [];
  for (const m of list) {
    const i = bucketOf(x.data.times, m.time, x.data.end ?? null);
    if (i === null) continue;
    hits.set(i, [...(hits.get(i) || []), m]);
    lines.push({ xAxis: i, name: describe(m), time: m.time, kind: m.kind, source: m.source,
      lineStyle: { color: COLORS[m.kind] || COLORS.note } });
  }
  el.dataset.markers = String(lines.length);
  if (!lines.length) return option;
  host.markLine = { symbol: "none", silent: false, animation: false, data: lines,
    lineStyle: { type: "dashed", width: 1.2, opacity: 0.85 },
    label: { show: false, formatter: "{b}" }, emphasis: { label: { show: true, position: "insideEndTop" } } };
  const tooltip = option.tooltip || {};
  if (tooltip.trigger === "axis") {
    const inner = tooltip.formatter;
    const format = tooltip.valueFormatter || ((v) => String(v));
    option.tooltip = { ...tooltip, formatter: (params, ...rest) => {
      const list = [params].flat();
      const body = typeof inner === "function" ? inner(params, ...rest) : [esc(list[0]?.axisValueLabel ?? ""),
        ...list.map((p) => `${p.marker}${esc(p.seriesName)}<b style="float:right;margin-left:18px">${esc(p.value == null ? "—" : format(p.value))}</b>`)].join("<br>");
      const here = hits.get(list[0]?.dataIndex) || [];
      return body + here.map((m) => `<br><span data-marker-tip style="color:${COLORS[m.kind] || COLORS.note}">◆</span> ${esc(describe(m))} <i>${esc(tz.dateTime(m.time))}</i>`).join("");
    } };
  }
  return option;
}
