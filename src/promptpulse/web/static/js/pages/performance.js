// Performance: how fast calls are (latency, TTFT, time per output token, generation time, output
// tokens per second) over time and as distributions with their percentile marks, what quality
// costs per model or prompt version, and which weekday hours are busy or failing. Every figure is
// an API figure: the page lays them out and computes none.
import { base, chartCard, colorFor, heatColors, splitAreaColors } from "../charts.js";
import * as fmt from "../fmt.js";
import * as state from "../state.js";
import * as tz from "../tz.js";
import { h, kpiCard, label } from "../ui.js";
import { axisTooltip, DAY_MS, points, tsTable, xLabels } from "./common.js";

const TPS = "tokens/s";
const TIMESERIES = [
  { id: "latency-percentiles", title: "Latency", sub: "p50 · p95 · p99", unit: "ms", metrics: ["latency_p50_ms", "latency_p95_ms", "latency_p99_ms"] },
  { id: "ttft-percentiles", title: "Time to first token", sub: "p50 · p95 · p99 (calls with a TTFT)", unit: "ms", metrics: ["ttft_p50_ms", "ttft_p95_ms", "ttft_p99_ms"] },
  { id: "tpot-percentiles", title: "Time per output token", sub: "(latency − TTFT) / (output tokens − 1)", unit: "ms", metrics: ["tpot_p50_ms", "tpot_p95_ms", "tpot_p99_ms"] },
  { id: "generation-percentiles", title: "Generation time", sub: "latency − TTFT", unit: "ms", metrics: ["generation_p50_ms", "generation_p95_ms", "generation_p99_ms"] },
  { id: "output-tps", title: "Output tokens per second", sub: "end to end · p5 is the slow tail", unit: TPS, metrics: ["output_tps_p5", "output_tps_p50", "output_tps_p95"] },
];
const FIELDS = {
  latency_ms: "Latency", ttft_ms: "Time to first token", tpot_ms: "Time per output token",
  generation_ms: "Generation time", output_tps: "Output tokens per second",
};
// KPI cards: a catalog metric, and where the histogram answer of its field holds it.
const KPIS = [
  { metric: "latency_p95_ms", label: "p95 latency", field: "latency_ms", mark: "p95" },
  { metric: "ttft_p95_ms", label: "p95 TTFT", field: "ttft_ms", mark: "p95" },
  { metric: "tpot_p50_ms", label: "p50 time / token", field: "tpot_ms", mark: "p50" },
  { metric: "tpot_p95_ms", label: "p95 time / token", field: "tpot_ms", mark: "p95" },
  { metric: "generation_p95_ms", label: "p95 generation", field: "generation_ms", mark: "p95" },
  { metric: "output_tps_p50", label: "p50 output tok/s", field: "output_tps", mark: "p50" },
];
const SCATTER_BY = { model: "Model", prompt_version: "Prompt version", prompt_id: "Prompt" };
const HEAT = [
  { id: "requests-heatmap", metric: "requests", title: "Requests by weekday and hour" },
  { id: "error-rate-heatmap", metric: "error_rate", title: "Error rate by weekday and hour" },
];
const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const HEAT_DAYS = 7;  // at least a week, so every weekday has its hours

const show = (unit, v) => (unit === TPS ? (v === null || v === undefined ? fmt.DASH : `${fmt.number(v)} tok/s`) : fmt.byUnit(unit, v));
const markName = (metric) => metric.replace(/^.*_(p\d+)(_ms)?$/, "$1");

function select(name, options, value, onchange) {
  const el = h("select", { name, "aria-label": name, style: "max-width:100%" }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  el.addEventListener("change", () => onchange(el.value));
  return el;
}

/** A row of a card's own controls under its title (they wrap on a phone). */
function controls(items) {
  return h("div", { class: "hint", style: "padding:0 14px;display:flex;flex-wrap:wrap;gap:6px" }, items);
}

export default {
  mount(root) {
    const p = state.params();
    const kpis = KPIS.map((k) => ({ ...k, view: kpiCard(k.metric, k.label) }));
    const series = TIMESERIES.map((t) => ({ ...t, chart: chartCard({ id: t.id, title: t.title, sub: t.sub }) }));
    const extra = p.get("dist") in FIELDS ? p.get("dist") : "tpot_ms";
    const distPick = select("dist", Object.entries(FIELDS).filter(([f]) => !["latency_ms", "ttft_ms"].includes(f)), extra,
      (v) => state.update({ dist: v }, { replace: true }));
    const hists = [
      { field: "latency_ms", chart: chartCard({ id: "latency-histogram", title: "Latency distribution", size: "tall" }) },
      { field: "ttft_ms", chart: chartCard({ id: "ttft-histogram", title: "TTFT distribution", size: "tall" }) },
      { field: extra, chart: chartCard({ id: "speed-histogram", title: "Distribution", size: "tall" }), controls: [distPick] },
    ];
    for (const x of hists) {
      x.marks = h("div", { class: "hint", style: "padding:0 14px", "data-marks": x.field });
      x.chart.card.querySelector(".card-head").after(controls(x.controls || []), x.marks);
    }
    const by = p.get("scatter_by") in SCATTER_BY ? p.get("scatter_by") : "model";
    const quality = p.get("quality") || "success_rate";
    const scatter = chartCard({ id: "cost-quality", title: "Cost vs quality", size: "tall" });
    scatter.card.querySelector(".card-head").after(controls([
      select("scatter_by", Object.entries(SCATTER_BY), by, (v) => state.update({ scatter_by: v }, { replace: true })),
      h("span", { "data-quality-slot": "" })]));
    const heats = HEAT.map((x) => ({ ...x, chart: chartCard({ id: x.id, title: x.title, size: "tall" }) }));
    root.append(
      h("div", { class: "grid kpis" }, kpis.map((k) => k.view.card)),
      h("div", { class: "grid two" }, series.map((s) => s.chart.card), scatter.card),
      h("div", { class: "grid three" }, hists.map((x) => x.chart.card)),
      h("div", { class: "grid two" }, heats.map((x) => x.chart.card)),
    );
    return {
      title: "Performance",
      async update(ctx) {
        const r = ctx.range;
        const span = Math.max(new Date(r.to) - new Date(r.from), HEAT_DAYS * DAY_MS);
        const heatRange = { from: new Date(new Date(r.to).getTime() - span).toISOString(), to: r.to };
        const [ts, heat, overview, ...histograms] = await Promise.all([
          ctx.api.get("/v1/metrics/timeseries", state.scopeParams(r, { metrics: TIMESERIES.flatMap((t) => t.metrics).join(",") })),
          ctx.api.get("/v1/metrics/heatmap", state.scopeParams(heatRange, { metrics: HEAT.map((x) => x.metric).join(","), tz: tz.zone() })),
          ctx.api.get("/v1/metrics/overview", state.scopeParams(r)),
          ...[...new Set([...hists.map((x) => x.field), ...KPIS.map((k) => k.field)])].map((field) =>
            ctx.api.get("/v1/metrics/histogram", state.scopeParams(r, { field, bins: 40 }))),
        ]);
        const byField = Object.fromEntries(histograms.map((x) => [x.field, x]));
        for (const k of kpis) {
          const v = byField[k.field].percentiles[k.mark];
          k.view.set(v, show(ctx.catalog[k.metric]?.unit, v), { hint: `${fmt.countFull(byField[k.field].count)} calls with it` });
        }
        drawSeries(series, ts);
        for (const x of hists) drawHistogram(x, byField[x.field]);
        await drawScatter(ctx, scatter, r, by, quality, overview);
        for (const x of heats) drawHeatmap(x, heat);
      },
    };
  },
};

function drawSeries(series, ts) {
  const pts = points(ts);
  const x = xLabels(ts);
  for (const s of series) {
    s.chart.set(base({ tooltip: axisTooltip(s.unit === TPS ? null : s.unit),
      xAxis: { type: "category", data: x, boundaryGap: false },
      yAxis: { type: "value", axisLabel: { formatter: s.unit === TPS ? (v) => fmt.number(v) : fmt.axis(s.unit) } },
      series: s.metrics.map((m) => ({ name: markName(m), metric: m, type: "line", symbol: "circle", symbolSize: 4, data: pts.map((q) => q[m]) })) }),
    tsTable(ts, s.metrics));
  }
}

function drawHistogram(x, hist) {
  const unit = hist.unit;
  const title = FIELDS[hist.field];
  x.chart.card.querySelector("h2").textContent = `${title} distribution`;
  const none = !hist.count;  // no call in range has this figure: an empty chart that says so
  x.chart.sub(none ? "no calls have it in this range" : `${fmt.countFull(hist.count)} calls · bins of ${show(unit, hist.width)}`);
  x.marks.dataset.marks = hist.field;
  x.marks.replaceChildren(...["p50", "p95", "p99"].flatMap((m, i) => [i ? " · " : "",
    h("span", { "data-mark": m, "data-value": hist.percentiles[m] ?? "" }, `${m} `, h("b", {}, show(unit, hist.percentiles[m])))]));
  x.chart.el.dataset.count = String(hist.count);
  const w = hist.width || 1;
  const data = hist.bins.map((b) => ({ value: [b.lo + w / 2, b.count], lo: b.lo, hi: b.hi }));
  const marks = ["p50", "p95", "p99"].filter((m) => hist.percentiles[m] !== null)
    .map((m) => ({ name: m, xAxis: hist.percentiles[m], lineStyle: { color: colorFor(m) }, label: { formatter: `${m} ${show(unit, hist.percentiles[m])}`, color: colorFor(m) } }));
  x.chart.set(base({ legend: { show: false },
    title: none ? { text: `No call in this range has a ${title.toLowerCase()}`, left: "center", top: "middle", textStyle: { fontSize: 13, fontWeight: "normal" } } : undefined,
    grid: { left: 8, right: 16, top: 28, bottom: 4, containLabel: true },
    tooltip: { trigger: "item", confine: true, formatter: (q) => `${show(unit, q.data.lo)} – ${q.data.hi === null ? "and above" : show(unit, q.data.hi)}<br><b>${fmt.countFull(q.data.value[1])}</b> calls` },
    xAxis: { type: "value", min: 0, max: hist.bins.length ? hist.bins.length * w : 1, axisLabel: { formatter: unit === TPS ? (v) => fmt.number(v) : fmt.axis(unit) } },
    yAxis: { type: "value", axisLabel: { formatter: fmt.axis("count") } },
    series: [{ name: "Calls", type: "bar", barWidth: "92%", color: colorFor(hist.field), data,
      markLine: { symbol: "none", silent: true, lineStyle: { type: "dashed" }, label: { position: "insideEndTop", fontSize: 11 }, data: marks } }] }),
  { columns: ["lo", "hi", "count"], rows: hist.bins });
}

async function drawScatter(ctx, scatter, r, by, quality, overview) {
  const scores = Object.keys(overview.scores || {});
  const metrics = Object.values(ctx.catalog).filter((m) => ["ratio", "ms", TPS].includes(m.unit) && m.higher_is_better !== null && m.kind !== "per_minute");
  const options = [...metrics.map((m) => [m.name, m.name]), ...scores.map((s) => [`score:${s}`, `score: ${s}`])];
  const chosen = options.some(([v]) => v === quality) ? quality : "success_rate";
  scatter.card.querySelector("[data-quality-slot]").replaceChildren(select("quality", options, chosen, (v) => state.update({ quality: v }, { replace: true })));
  const isScore = chosen.startsWith("score:");
  const metric = isScore ? null : chosen;
  const wanted = ["requests", "cost_per_request_usd", ...(metric ? [metric] : [])];
  const bd = await ctx.api.get("/v1/metrics/breakdown", state.scopeParams(r, { by, metrics: [...new Set(wanted)].join(","), sort: "requests", limit: 20 }));
  let rows = bd.rows.filter((row) => row[by] !== null);
  if (isScore && rows.length >= 2) {  // scores per value: /v1/compare's variants carry them
    const name = chosen.slice("score:".length);
    const cmp = await ctx.api.get("/v1/compare", state.scopeParams(r, { by, values: rows.map((row) => row[by]).join(","), guardrails: "none" }));
    const byValue = Object.fromEntries(cmp.variants.map((v) => [v.value, v.scores?.[name]?.mean ?? null]));
    rows = rows.map((row) => ({ ...row, [chosen]: byValue[row[by]] ?? null }));
  } else if (isScore) {
    rows = rows.map((row) => ({ ...row, [chosen]: null }));
  }
  const unit = isScore ? null : ctx.catalog[metric]?.unit;
  const most = Math.max(1, ...rows.map((row) => row.requests));
  scatter.sub(`${SCATTER_BY[by]} · x: cost / request · y: ${chosen} · bubble: calls`);
  scatter.el.dataset.quality = chosen;
  scatter.set(base({ legend: { show: false }, grid: { left: 8, right: 24, top: 16, bottom: 24, containLabel: true },
    tooltip: { trigger: "item", confine: true, formatter: (q) => `<b>${label(q.data.name)}</b><br>cost / request ${fmt.usd(q.data.value[0])}<br>${chosen} ${isScore ? fmt.number(q.data.value[1]) : show(unit, q.data.value[1])}<br>${fmt.countFull(q.data.value[2])} calls` },
    xAxis: { type: "value", name: "cost / request", nameLocation: "middle", nameGap: 24, scale: true, axisLabel: { formatter: fmt.axis("usd") } },
    yAxis: { type: "value", scale: true, axisLabel: { formatter: isScore || unit === TPS ? (v) => fmt.number(v) : fmt.axis(unit) } },
    series: [{ name: "Cost vs quality", type: "scatter", color: colorFor(by),
      symbolSize: (v) => 8 + 40 * Math.sqrt(v[2] / most),
      label: { show: true, position: "top", fontSize: 11, formatter: (q) => label(q.data.name) },
      data: rows.map((row) => ({ name: row[by], value: [row.cost_per_request_usd, row[chosen], row.requests] })) }] }),
  { columns: [by, "requests", "cost_per_request_usd", chosen], rows });
}

function drawHeatmap(x, heat) {
  const scale = heat.scale[x.metric];
  const unit = scale.unit;
  const cells = heat.cells.map((c) => [c.hour, c.weekday, c[x.metric] === null ? "-" : c[x.metric]]);
  x.chart.sub(`${heat.tz} · at least the last ${HEAT_DAYS} days of the range`);
  Object.assign(x.chart.el.dataset, { scaleMin: scale.min ?? "", scaleMax: scale.max ?? "", tz: heat.tz });
  x.chart.set({ animation: false,
    tooltip: { position: "top", confine: true, formatter: (q) => `${WEEKDAYS[q.value[1]]} ${String(q.value[0]).padStart(2, "0")}:00 ${heat.tz}<br><b>${fmt.byUnit(unit, q.value[2])}</b>` },
    grid: { left: 8, right: 12, top: 8, bottom: 44, containLabel: true },
    xAxis: { type: "category", data: Array.from({ length: 24 }, (_, i) => String(i).padStart(2, "0")), splitArea: { show: true, areaStyle: { color: splitAreaColors() } } },
    yAxis: { type: "category", data: WEEKDAYS, inverse: true, splitArea: { show: true, areaStyle: { color: splitAreaColors() } } },
    visualMap: { min: scale.min ?? 0, max: scale.max || 1, calculable: false, orient: "horizontal", left: "center", bottom: 0, itemHeight: 140, itemWidth: 10,
      text: [fmt.byUnit(unit, scale.max), fmt.byUnit(unit, scale.min)], inRange: { color: heatColors() }, textStyle: { fontSize: 11 } },
    series: [{ name: x.title, type: "heatmap", data: cells, itemStyle: { borderColor: "transparent", borderWidth: 1, borderRadius: 2 } }] },
  { columns: ["weekday", "hour", x.metric], rows: heat.cells.map((c) => ({ weekday: WEEKDAYS[c.weekday], hour: c.hour, [x.metric]: c[x.metric] })) });
}
