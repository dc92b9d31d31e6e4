// The widgets of a custom dashboard. Each one is backed by one public API call (two for a
// number: the range and the previous period), built by `query`; every figure drawn is the API's.
// A widget's element carries data-widget, data-type and data-query (the call it made, so a
// script can ask the API the same question); a number also data-metric and data-value.
import { base, chartCard, heatColors, splitAreaColors } from "../charts.js";
import * as fmt from "../fmt.js";
import * as state from "../state.js";
import * as tz from "../tz.js";
import { h, kpiCard, label, scrollCue } from "../ui.js";
import { axisTooltip, grouped, groupedLabels, points, tsTable, xLabels } from "./common.js";

export const TYPES = ["number", "line", "area", "bar", "stacked", "pie", "donut", "table", "pivot", "heatmap", "histogram"];
export const TYPE_LABELS = {
  number: "Number", line: "Line", area: "Area", bar: "Bars", stacked: "Stacked by dimension", pie: "Pie",
  donut: "Donut", table: "Table", pivot: "Pivot (dimension × time)", heatmap: "Weekday × hour", histogram: "Histogram",
};
export const MULTI = new Set(["line", "area", "bar", "table"]);  // types that take several metrics
export const NEEDS_DIMENSION = new Set(["stacked", "pie", "donut", "table", "pivot"]);
// The fields GET /v1/metrics/histogram bins (model/derived.py HISTOGRAM_FIELDS; a test holds them equal).
export const HISTOGRAM_FIELDS = ["latency_ms", "ttft_ms", "tpot_ms", "generation_ms", "output_tps"];
// The heatmap endpoint's `weekday`: 0 is Monday (ISO order), 6 Sunday.
const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

export function metricsOf(w) { return w.metric ? [w.metric] : (w.metrics || []); }

/**
 * The API call of a widget: the page's range, the URL's filters (a widget's own filter on the
 * same name wins), and always the dashboard's project.
 */
export function query(w, board, range) {
  const own = new Set(Object.keys(w.filters || {}));
  const q = new URLSearchParams({ from: range.from, to: range.to });
  for (const [name, values] of state.filters()) if (!own.has(name) && name !== "project") values.forEach((v) => q.append(name, v));
  for (const [name, values] of Object.entries(w.filters || {})) if (name !== "project") values.forEach((v) => q.append(name, v));
  q.set("project", board.project);
  const ms = metricsOf(w);
  switch (w.type) {
    case "number":
      q.set("by", "project"); q.set("metrics", [...new Set([ms[0], "requests"])].join(",")); q.set("limit", "1");
      return { path: "/v1/metrics/breakdown", params: q };
    case "line": case "area": case "bar":
      q.set("metrics", ms.join(",")); if (w.interval) q.set("interval", w.interval);
      return { path: "/v1/metrics/timeseries", params: q };
    case "stacked": case "pivot":
      q.set("metrics", ms[0]); q.set("group_by", w.dimension); if (w.interval) q.set("interval", w.interval);
      return { path: "/v1/metrics/timeseries", params: q };
    case "pie": case "donut": case "table":
      q.set("by", w.dimension); q.set("metrics", ms.join(",")); q.set("sort", ms[0]); q.set("limit", String(w.limit ?? 10));
      return { path: "/v1/metrics/breakdown", params: q };
    case "heatmap":
      q.set("metrics", ms[0] || "requests"); q.set("tz", tz.zone());
      return { path: "/v1/metrics/heatmap", params: q };
    case "histogram":
      q.set("field", w.field || "latency_ms"); q.set("bins", String(w.bins ?? 40));
      return { path: "/v1/metrics/histogram", params: q };
    default:
      throw new Error(`unknown widget type ${w.type}`);
  }
}

/** The same call over the period of equal length just before (a number's comparison). */
function previous(call, range) {
  const span = new Date(range.to) - new Date(range.from);
  const p = new URLSearchParams(call.params);
  p.set("from", new Date(new Date(range.from) - span).toISOString());
  p.set("to", range.from);
  return p;
}

/** A widget's element and its update(ctx, board). `tools`: edit controls (none when read-only). */
export function widget(w, tools = []) {
  const title = w.title || defaultTitle(w);
  let view;
  if (w.type === "number") {
    view = kpiCard(w.metric, title);
    view.card.querySelector(".label").append(...tools);
  } else if (w.type === "table" || w.type === "pivot") {
    const body = h("div", { class: "card-body dash-table" });
    view = { card: h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", {}, title), h("div", { class: "tools" }, ...tools)), body), body };
  } else {
    view = chartCard({ id: `widget-${w.id}`, title, sub: "", extraTools: tools });
  }
  const el = view.card;
  el.classList.add("widget");
  el.dataset.widget = w.id;
  el.dataset.type = w.type;
  const { x, y, w: width, h: height } = w.position;
  el.style.gridColumn = `${x + 1} / span ${width}`;
  el.style.gridRow = `${y + 1} / span ${height}`;
  el.style.setProperty("--rows", String(height));
  return {
    el,
    async update(ctx, board) {
      const call = query(w, board, ctx.range);
      el.dataset.query = `${call.path}?${call.params}`;
      delete el.dataset.error;
      try {
        await DRAW[w.type](view, w, call, ctx);
        el.dataset.drawn = "1";
      } catch (err) {
        if (err.status === 401) throw err;
        el.dataset.error = err.message;
        const missing = err.status === 404 || err.status === 405;
        const text = missing ? `This server does not answer ${call.path} yet` : `Could not load: ${err.message}`;
        const target = view.body || view.card.querySelector(".card-body") || view.card;
        target.querySelector("[data-widget-error]")?.remove();
        target.append(h("div", { class: "error-text", "data-widget-error": "" }, text));
      }
    },
  };
}

export function defaultTitle(w) {
  if (w.type === "histogram") return `${w.field || "latency_ms"} distribution`;
  const ms = metricsOf(w).join(", ");
  return w.dimension ? `${ms} by ${w.dimension}` : ms;
}

function unitOf(ctx, metric) { return ctx.catalog[metric]?.unit || null; }

const DRAW = {
  async number(view, w, call, ctx) {
    const [now, before] = await Promise.all([
      ctx.api.get(call.path, call.params),
      w.compare === false ? null : ctx.api.get(call.path, previous(call, ctx.range)),
    ]);
    const m = ctx.catalog[w.metric] || {};
    const pick = (answer) => (answer.rows.length ? answer.rows[0][w.metric] : m.additive ? 0 : null);
    const raw = pick(now);
    const options = { unit: m.unit, higherIsBetter: m.higher_is_better ?? null };
    if (before) Object.assign(options, { previous: pick(before), baseline: before.rows.length ? before.rows[0].requests : 0 });
    view.set(raw, fmt.byUnit(m.unit, raw), options);
  },
  line: (view, w, call, ctx) => overTime(view, w, call, ctx, "line"),
  area: (view, w, call, ctx) => overTime(view, w, call, ctx, "area"),
  bar: (view, w, call, ctx) => overTime(view, w, call, ctx, "bar"),
  async stacked(view, w, call, ctx) {
    const ts = await ctx.api.get(call.path, call.params);
    const unit = unitOf(ctx, w.metric);
    const top = topGroups(grouped(ts, w.metric), w.limit ?? 10);
    view.sub(`top ${top.length} by ${w.dimension}`);
    view.set(base({ tooltip: axisTooltip(unit), xAxis: { type: "category", data: groupedLabels(ts) },
      yAxis: { type: "value", axisLabel: { formatter: fmt.axis(unit) } },
      series: top.map((s) => ({ name: s.name, type: "bar", stack: "s", barMaxWidth: 18, data: s.values })) }),
    tsTable(ts, [w.metric]));
  },
  pie: (view, w, call, ctx) => share(view, w, call, ctx, ["0%", "70%"]),
  donut: (view, w, call, ctx) => share(view, w, call, ctx, ["45%", "72%"]),
  async table(view, w, call, ctx) {
    const answer = await ctx.api.get(call.path, call.params);
    const ms = metricsOf(w);
    const head = h("tr", {}, h("th", { scope: "col" }, w.dimension), ms.map((m) => h("th", { class: "r", scope: "col" }, m)));
    const rows = answer.rows.map((row) => h("tr", { "data-row": row[w.dimension] ?? "" }, h("td", {}, label(row[w.dimension])),
      ms.map((m) => cell(row[m], unitOf(ctx, m), m))));
    if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: ms.length + 1, class: "empty" }, "No data in this range")));
    view.body.replaceChildren(scrollCue(h("table", { class: "data", "data-table": `widget-${w.id}` }, h("thead", {}, head), h("tbody", {}, rows))));
  },
  async pivot(view, w, call, ctx) {
    const ts = await ctx.api.get(call.path, call.params);
    const unit = unitOf(ctx, w.metric);
    const cols = groupedLabels(ts);
    const top = topGroups(grouped(ts, w.metric), w.limit ?? 10);
    const times = ts.series.length ? ts.series[0].points.map((p) => p.t) : [];
    const head = h("tr", {}, h("th", { scope: "col" }, w.dimension), cols.map((c, i) => h("th", { class: "r", scope: "col", "data-t": times[i] }, c)));
    const rows = top.map((s) => h("tr", { "data-row": s.group ?? "" }, h("td", {}, s.name), s.values.map((v, i) => cell(v, unit, times[i]))));
    if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: cols.length + 1, class: "empty" }, "No data in this range")));
    view.body.replaceChildren(scrollCue(h("table", { class: "data", "data-table": `widget-${w.id}` }, h("thead", {}, head), h("tbody", {}, rows))));
  },
  async heatmap(view, w, call, ctx) {
    const answer = await ctx.api.get(call.path, call.params);
    const metric = call.params.get("metrics");
    const unit = unitOf(ctx, metric);
    const cells = answer.cells.map((c) => [c.hour, c.weekday, c[metric]]);
    const max = Math.max(0, ...cells.map((c) => c[2] || 0));
    view.sub(`${tz.label()} · ${metric}`);
    view.set({ animation: false,
      tooltip: { position: "top", confine: true, formatter: (p) => `${WEEKDAYS[p.value[1]]} ${String(p.value[0]).padStart(2, "0")}:00<br><b>${fmt.byUnit(unit, p.value[2])}</b>` },
      grid: { left: 8, right: 12, top: 8, bottom: 44, containLabel: true },
      xAxis: { type: "category", data: Array.from({ length: 24 }, (_, i) => String(i).padStart(2, "0")), splitArea: { show: true, areaStyle: { color: splitAreaColors() } } },
      yAxis: { type: "category", data: WEEKDAYS, inverse: true, splitArea: { show: true, areaStyle: { color: splitAreaColors() } } },
      visualMap: { min: 0, max: max || 1, calculable: false, orient: "horizontal", left: "center", bottom: 0, itemHeight: 140, itemWidth: 10,
        text: [fmt.byUnit(unit, max), fmt.byUnit(unit, 0)], inRange: { color: heatColors() }, textStyle: { fontSize: 11 } },
      series: [{ name: metric, type: "heatmap", data: cells }] },
    { columns: ["weekday", "hour", metric], rows: answer.cells });
  },
  async histogram(view, w, call, ctx) {
    const answer = await ctx.api.get(call.path, call.params);
    const unit = answer.unit === "ms" ? "ms" : answer.unit === "usd" ? "usd" : "count";
    const p = answer.percentiles || {};
    view.sub(`${fmt.count(answer.count)} calls · p50 ${fmt.byUnit(unit, p.p50)} · p95 ${fmt.byUnit(unit, p.p95)} · p99 ${fmt.byUnit(unit, p.p99)}`);
    view.card.dataset.value = String(answer.count);
    view.set(base({ legend: { show: false }, tooltip: { trigger: "axis", confine: true, valueFormatter: (v) => fmt.count(v) },
      xAxis: { type: "category", data: answer.bins.map((b) => fmt.byUnit(unit, b.lo)) },
      yAxis: { type: "value", axisLabel: { formatter: fmt.axis("count") } },
      series: [{ name: "Calls", type: "bar", barCategoryGap: "8%", data: answer.bins.map((b) => b.count) }] }),
    { columns: ["lo", "hi", "count"], rows: answer.bins });
  },
};

async function overTime(view, w, call, ctx, kind) {
  const ts = await ctx.api.get(call.path, call.params);
  const ms = metricsOf(w);
  const unit = unitOf(ctx, ms[0]);
  const pts = points(ts);
  view.sub(`per ${ts.interval}`);
  view.set(base({ tooltip: axisTooltip(unit), xAxis: { type: "category", data: xLabels(ts), boundaryGap: kind === "bar" },
    yAxis: { type: "value", axisLabel: { formatter: fmt.axis(unit) } },
    series: ms.map((m) => ({ name: m, type: kind === "bar" ? "bar" : "line", barMaxWidth: 18, symbol: "circle", symbolSize: 4,
      areaStyle: kind === "area" ? { opacity: 0.3 } : undefined, stack: kind === "area" && ms.length > 1 ? "a" : undefined,
      data: pts.map((p) => p[m]) })) }),
  tsTable(ts, ms));
}

async function share(view, w, call, ctx, radius) {
  const answer = await ctx.api.get(call.path, call.params);
  const unit = unitOf(ctx, w.metric);
  view.set({ animation: false,
    tooltip: { trigger: "item", confine: true, valueFormatter: (v) => fmt.byUnit(unit, v) },
    legend: { type: "scroll", orient: "vertical", right: 0, top: "middle" },
    series: [{ name: w.metric, type: "pie", radius, center: ["38%", "50%"], label: { show: false },
      itemStyle: { borderRadius: 4, borderColor: "transparent", borderWidth: 2 },
      data: answer.rows.map((row) => ({ name: label(row[w.dimension]), value: row[w.metric] })) }] },
  { columns: [w.dimension, ...new Set([w.metric, "requests"])], rows: answer.rows });
}

function cell(raw, unit, key) {
  return h("td", { class: "r num", "data-key": key, "data-value": raw === null || raw === undefined ? "" : String(raw) }, fmt.byUnit(unit, raw));
}

/** The `limit` groups with the largest totals, in the API's order. */
function topGroups(series, limit) {
  const total = (s) => s.values.reduce((a, v) => a + (v || 0), 0);
  const keep = new Set([...series].sort((a, b) => total(b) - total(a)).slice(0, limit));
  return series.filter((s) => keep.has(s));
}
