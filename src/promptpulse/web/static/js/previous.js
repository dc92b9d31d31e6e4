// "Compare to previous period": with `prev=1` in the URL, every timeseries the dashboard asks for
// is asked for again over the period of equal length just before (the same public API call with
// the range shifted back), and every time-series chart draws it as a dashed line under each
// series that names its metric (`metric: "latency_p95_ms"` on the series). One place for every
// page; the figures are the API's, aligned bucket by bucket.
import * as state from "./state.js";

export function isOn(p = state.params()) { return p.get("prev") === "1"; }

/** The same query over the previous period of equal length (interval unchanged). */
export function shifted(params) {
  const from = new Date(params.get("from"));
  const to = new Date(params.get("to"));
  const q = new URLSearchParams(params);
  q.set("from", new Date(from.getTime() - (to - from)).toISOString());
  q.set("to", from.toISOString());
  return q;
}

/** The previous period's values of one series (matched by metric and group), bucket by bucket. */
function previousValues(prev, s, length) {
  const wanted = s.group === undefined ? prev.series[0] : prev.series.find((x) => x.group === s.group);
  const pts = wanted ? wanted.points : [];
  return Array.from({ length }, (_, i) => (i < pts.length ? pts[i][s.metric] ?? null : null));
}

/**
 * Adds the dashed previous-period line of every series with a `metric` when the x axis carries
 * `previous` (a timeseries answer of the shifted range, set by pages/common.js). The chart
 * element gets `data-previous` = how many lines were added (0 when off).
 */
export function overlayPrevious(option, el) {
  const x = Array.isArray(option.xAxis) ? option.xAxis[0] : option.xAxis;
  const prev = x?.data?.previous;
  delete el.dataset.previous;
  if (!prev || !Array.isArray(option.series)) return option;
  const added = [];
  for (const s of option.series) {
    if (!s.metric || !Array.isArray(s.data)) continue;
    const data = previousValues(prev, s, s.data.length);
    added.push({ name: `${s.name} · previous`, type: "line", previousOf: s.name, metric: s.metric,
      color: s.color, yAxisIndex: s.yAxisIndex, symbol: "none", smooth: false, connectNulls: false, z: 1,
      lineStyle: { type: "dashed", width: 1.5, opacity: 0.75 }, data });
  }
  el.dataset.previous = String(added.length);
  el.dataset.previousFrom = prev.from || "";
  option.series = [...option.series, ...added];
  return option;
}
