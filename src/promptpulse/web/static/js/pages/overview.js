// Overview: the headline figures, their trends, the newest calls and where the trouble is.
// In Live mode a commit's delta updates the KPI tiles, the count and sum charts' newest bucket
// and the recent calls at once (applyDelta); the rest re-queries on main.js's debounce.
import { base, chartCard, ERROR_COLORS, PALETTE, sparkOption, init } from "../charts.js";
import { lacks } from "../api.js";
import { addBuckets, addTotals, fits, newestCalls } from "../deltas.js";
import * as fmt from "../fmt.js";
import * as state from "../state.js";
import { card, dataTable, h, kpiCard, label } from "../ui.js";
import { axisTooltip, grouped, groupedLabels, optional, points, tsTable, xLabels } from "./common.js";

const KPIS = [
  { metric: "requests", label: "Requests", value: (o) => o.requests },
  { metric: "success_rate", label: "Success rate", value: (o) => o.success_rate },
  { metric: "latency_p95_ms", label: "p95 latency", value: (o) => o.latency_ms.p95 },
  { metric: "cost_usd", label: "Total cost", value: (o) => o.cost_usd.total },
  { metric: "tokens", label: "Tokens", value: (o) => o.tokens.total },
  { metric: "active_users", label: "Active users", value: (o) => o.active_users },
];
const RECENT = 10;  // calls in the recent-calls table
const SERIES = ["requests", "successes", "errors", "success_rate", "latency_p50_ms", "latency_p95_ms",
  "latency_p99_ms", "input_tokens", "output_tokens", "tokens", "cost_usd", "active_users"];

export default {
  mount(root, ctx, { go }) {
    const kpis = KPIS.map((k) => ({ ...k, view: kpiCard(k.metric, k.label, { spark: true }) }));
    const sla = state.params().get("sla");
    const slaInput = h("input", { type: "number", name: "sla", min: "0", step: "100", placeholder: "SLA ms", value: sla || "",
      style: "width:92px;padding:2px 6px;font-size:12px", title: "Draw an SLA target line (ms)" });
    slaInput.addEventListener("change", () => state.update({ sla: slaInput.value || null }, { replace: true }));
    const c = {
      volume: chartCard({ id: "requests", title: "Request volume" }),
      outcomes: chartCard({ id: "outcomes", title: "Success vs errors", sub: "errors by type" }),
      latency: chartCard({ id: "latency", title: "Latency", sub: "p50 · p95 · p99", extraTools: [slaInput] }),
      tokens: chartCard({ id: "tokens", title: "Tokens", sub: "input vs output" }),
      cost: chartCard({ id: "cost", title: "Cost over time" }),
      models: chartCard({ id: "models", title: "Model usage", sub: "share of requests" }),
      dist: chartCard({ id: "latency-distribution", title: "Latency percentiles", sub: "over the range" }),
    };
    const projected = h("div", { class: "hint", "data-forecast": "cost_usd", "data-value": "" });
    c.cost.card.querySelector(".card-head").after(h("div", { style: "padding:0 14px" }, projected));
    const issuesErr = h("ul", { class: "issues", "data-list": "worst-error-rate" });
    const issuesP95 = h("ul", { class: "issues", "data-list": "worst-p95" });
    const recent = h("div", {});
    root.append(
      h("div", { class: "grid kpis" }, kpis.map((k) => k.view.card)),
      h("div", { class: "grid two" }, c.volume.card, c.outcomes.card, c.latency.card, c.tokens.card, c.cost.card, c.models.card),
      h("div", { class: "grid three" }, c.dist.card,
        card("Top issues · error rate", issuesErr, { sub: "worst prompts", id: "issues-error-rate" }),
        card("Top issues · p95 latency", issuesP95, { sub: "slowest prompts", id: "issues-p95" })),
      card("Recent calls", recent, { id: "recent-calls", sub: "newest first" }),
    );
    const sparks = new Map();
    let last = null;  // the answers drawn last: {o, ts, errs, calls}; Live deltas add to them
    let chartsDue = false;

    function drawKpis(ctx, o) {
      for (const k of kpis) {
        const m = ctx.catalog[k.metric] || {};
        k.view.set(k.value(o), fmt.byUnit(m.unit, k.value(o)), { previous: k.value(o.previous), higherIsBetter: m.higher_is_better ?? null,
          baseline: o.previous.requests, unit: m.unit });
      }
    }

    function drawSparks(pts) {
      for (const k of kpis) {
        let spark = sparks.get(k.metric);
        if (!spark) { spark = init(k.view.sparkEl); sparks.set(k.metric, spark); }
        spark.setOption(sparkOption(pts.map((p) => p[k.metric]), PALETTE[KPIS.indexOf(k) % PALETTE.length]), { notMerge: true });
      }
    }

    function drawCalls(calls) {
      recent.replaceChildren(dataTable({
        id: "recent-calls", rows: calls, empty: "No calls in this range",
        columns: [
          { key: "timestamp", label: "Time (UTC)", format: (c) => fmt.dateTime(c.timestamp) },
          { key: "prompt_id", label: "Prompt", format: (c) => label(c.prompt_id) },
          { key: "model", label: "Model" },
          { key: "status", label: "Status", render: (c) => h("span", { class: `badge ${c.status === "error" ? "bad" : ""}` }, c.status === "error" ? label(c.error_type || "error") : "ok") },
          { key: "latency_ms", label: "Latency", align: "right", format: (c) => fmt.ms(c.latency_ms) },
        ],
      }));
    }

    function drawSeries(ts, errs) {
      const pts = points(ts);
      const x = xLabels(ts);
      c.volume.set(base({ tooltip: axisTooltip("count"), legend: { show: false },
        xAxis: { type: "category", data: x }, yAxis: { type: "value", axisLabel: { formatter: fmt.axis("count") } },
        series: [{ name: "Requests", metric: "requests", type: "bar", barMaxWidth: 14, itemStyle: { borderRadius: [3, 3, 0, 0] }, data: pts.map((p) => p.requests) }] }),
      tsTable(ts, ["requests"]));
      const byType = grouped(errs, "requests");
      c.outcomes.set(base({ tooltip: axisTooltip("count"),
        xAxis: { type: "category", data: x }, yAxis: { type: "value", axisLabel: { formatter: fmt.axis("count") } },
        series: [
          { name: "Success", type: "bar", stack: "o", barMaxWidth: 14, color: "#10b981", data: pts.map((p) => p.successes) },
          ...byType.map((s) => ({ name: s.name, type: "bar", stack: "o", barMaxWidth: 14, color: ERROR_COLORS[s.group], data: s.values })),
        ] }),
      { columns: [...tsTable(ts, ["successes"]).columns, ...byType.map((s) => `errors_${s.name}`)],
        rows: tsTable(ts, ["successes"]).rows.map((row, i) => Object.assign(row, Object.fromEntries(byType.map((s) => [`errors_${s.name}`, s.values[i]])))) });
      const target = Number(state.params().get("sla")) || null;
      c.latency.set(base({ tooltip: axisTooltip("ms"),
        xAxis: { type: "category", data: x, boundaryGap: false }, yAxis: { type: "value", axisLabel: { formatter: fmt.axis("ms") } },
        series: [
          // Dots as well as lines: a bucket between two empty ones is still visible.
          { name: "p50", metric: "latency_p50_ms", type: "line", data: pts.map((p) => p.latency_p50_ms), symbol: "circle", symbolSize: 4 },
          { name: "p95", metric: "latency_p95_ms", type: "line", data: pts.map((p) => p.latency_p95_ms), symbol: "circle", symbolSize: 4 },
          { name: "p99", metric: "latency_p99_ms", type: "line", data: pts.map((p) => p.latency_p99_ms), symbol: "circle", symbolSize: 4,
            markLine: target ? { symbol: "none", silent: true, lineStyle: { color: "#ef4444", type: "dashed" },
              label: { formatter: `SLA ${fmt.ms(target)}`, position: "insideEndTop", color: "#ef4444" }, data: [{ yAxis: target }] } : undefined },
        ] }),
      tsTable(ts, ["latency_p50_ms", "latency_p95_ms", "latency_p99_ms"]));
      c.tokens.set(base({ tooltip: axisTooltip("tokens"),
        xAxis: { type: "category", data: x, boundaryGap: false }, yAxis: { type: "value", axisLabel: { formatter: fmt.axis("tokens") } },
        series: [
          { name: "Input", type: "line", stack: "t", areaStyle: { opacity: 0.35 }, data: pts.map((p) => p.input_tokens) },
          { name: "Output", type: "line", stack: "t", areaStyle: { opacity: 0.35 }, data: pts.map((p) => p.output_tokens) },
        ] }),
      tsTable(ts, ["input_tokens", "output_tokens"]));
      c.cost.set(base({ tooltip: axisTooltip("usd"), legend: { show: false },
        xAxis: { type: "category", data: x }, yAxis: { type: "value", axisLabel: { formatter: fmt.axis("usd") } },
        series: [{ name: "Cost", metric: "cost_usd", type: "bar", barMaxWidth: 14, color: "#f59e0b", itemStyle: { borderRadius: [3, 3, 0, 0] }, data: pts.map((p) => p.cost_usd) }] }),
      tsTable(ts, ["cost_usd"]));
    }

    function drawForecast(forecast) {
      if (forecast) {
        projected.dataset.value = String(forecast.projected);
        projected.replaceChildren("Month to date ", h("b", {}, fmt.usd(forecast.to_date)), " · projected month-end ",
          h("b", {}, fmt.usd(forecast.projected)), ` (${fmt.usd(forecast.low)}–${fmt.usd(forecast.high)})`);
      } else {
        projected.textContent = "Projection unavailable";
      }
    }

    return {
      title: "Overview",
      /** Fold one Live delta in: "ignored", true (drawn) or false (re-query instead). */
      applyDelta(d, ctx) {
        const fit = last ? fits(d, ctx) : false;
        if (fit !== "apply") return fit;
        // Only into the answers that lack it: a refresh sent after the commit holds it already.
        if (lacks(last.o, d)) addTotals(last.o, d);
        if (lacks(last.ts, d)) addBuckets(last.ts, d, ctx.range.sliding);
        last.calls = newestCalls(last.calls, d, RECENT, ctx.range.from);
        drawKpis(ctx, last.o);
        drawCalls(last.calls);
        // The charts (a dozen canvases) once the tiles and table are painted, once for
        // however many deltas came meanwhile: the new call is on screen a frame sooner.
        if (!chartsDue) {
          chartsDue = true;
          const drawn = last;
          requestAnimationFrame(() => setTimeout(() => {
            chartsDue = false;
            if (drawn !== last) return;  // a refresh drew them meanwhile
            drawSparks(points(last.ts));
            drawSeries(last.ts, last.errs);
          }));
        }
        return true;
      },
      /** Every panel; `partial` (Live's debounced refresh after deltas were folded in): not
       * the recent calls (the deltas carry them) nor the month's cost projection. */
      async update(ctx, { partial = false } = {}) {
        const r = ctx.range;
        const reuse = partial && last;
        const [o, ts, errs, models, prompts, forecast, calls] = await Promise.all([
          ctx.api.get("/v1/metrics/overview", state.scopeParams(r, { compare: "previous" })),
          ctx.api.get("/v1/metrics/timeseries", state.scopeParams(r, { metrics: SERIES.join(",") })),
          ctx.api.get("/v1/metrics/timeseries", state.scopeParams(r, { metrics: "requests", group_by: "error_type", status: "error" })),
          ctx.api.get("/v1/metrics/breakdown", state.scopeParams(r, { by: "model", metrics: "requests,cost_usd", limit: 12 })),
          // Both top-issue lists from the busiest prompts, in one query (ranked here).
          ctx.api.get("/v1/metrics/breakdown", state.scopeParams(r, { by: "prompt_id", metrics: "requests,error_rate,latency_p95_ms", limit: 1000 })),
          reuse ? undefined : optional(ctx.api.get("/v1/forecast", forecastParams())),
          reuse ? { calls: last.calls } : ctx.api.get("/v1/calls", state.scopeParams(r, { limit: RECENT })),
        ]);
        last = { o, ts, errs, calls: calls.calls };
        drawKpis(ctx, o);
        drawSparks(points(ts));
        drawSeries(ts, errs);
        drawCalls(last.calls);
        if (forecast !== undefined) drawForecast(forecast);
        c.models.set({ animation: false,
          tooltip: { trigger: "item", confine: true, valueFormatter: (v) => fmt.count(v) },
          legend: { type: "scroll", orient: "vertical", right: 0, top: "middle" },
          series: [{ name: "Requests", type: "pie", radius: ["52%", "78%"], center: ["34%", "50%"], avoidLabelOverlap: true,
            itemStyle: { borderRadius: 4, borderColor: "transparent", borderWidth: 2 }, label: { show: false },
            data: models.rows.map((row) => ({ name: label(row.model), value: row.requests })) }] },
        { columns: ["model", "requests", "cost_usd"], rows: models.rows });
        const ladder = [["p50", o.latency_ms.p50], ["p75", o.latency_ms.p75], ["p90", o.latency_ms.p90], ["p95", o.latency_ms.p95], ["p99", o.latency_ms.p99], ["max", o.latency_ms.max]];
        c.dist.set(base({ tooltip: axisTooltip("ms"), legend: { show: false }, grid: { left: 8, right: 56, top: 10, bottom: 4, containLabel: true },
          yAxis: { type: "category", data: ladder.map((l) => l[0]), inverse: true }, xAxis: { type: "value", axisLabel: { formatter: fmt.axis("ms") } },
          series: [{ name: "Latency", type: "bar", barMaxWidth: 16, itemStyle: { borderRadius: [0, 3, 3, 0] },
            label: { show: true, position: "right", formatter: (p) => fmt.ms(p.value), fontSize: 11, color: "inherit", textBorderWidth: 0 },
            data: ladder.map((l, i) => ({ value: l[1], itemStyle: { color: ["#a5b4fc", "#818cf8", "#6366f1", "#4f46e5", "#4338ca", "#312e81"][i] } })) }] }),
        { columns: ["percentile", "latency_ms"], rows: ladder.map(([p, v]) => ({ percentile: p, latency_ms: v })) });
        issueList(issuesErr, prompts.rows, "error_rate", (v) => fmt.pct(v), go);
        issueList(issuesP95, prompts.rows, "latency_p95_ms", (v) => fmt.ms(v), go);
      },
    };
  },
};

function forecastParams() {
  const q = new URLSearchParams({ metric: "cost_usd", period: "month" });
  for (const [name, values] of state.filters()) values.forEach((v) => q.append(name, v));
  return q;
}

/** The five prompts worst by `metric`, of those with at least fmt.MIN_ISSUE_CALLS calls: 1 error
 * in 2 calls is no trend. Ranked here from the busiest prompts (ranking by the metric on the
 * server would fill the list's limit with one-call prompts at 100 % before any busy one). */
function issueList(ul, all, metric, format, go) {
  const rows = all.filter((row) => row.requests >= fmt.MIN_ISSUE_CALLS && row[metric] !== null && row[metric] !== undefined)
    .sort((a, b) => b[metric] - a[metric]).slice(0, 5);
  ul.replaceChildren(...(rows.length ? rows.map((row) => h("li", {},
    h("a", { class: "name", href: state.carry(`/prompts/${encodeURIComponent(row.prompt_id ?? "")}`),
      onclick: (e) => { e.preventDefault(); go(`/prompts/${encodeURIComponent(row.prompt_id ?? "")}`); } }, label(row.prompt_id)),
    h("span", { class: "muted num", style: "font-size:12px" }, `${fmt.count(row.requests)} calls`),
    h("span", { class: `badge ${metric === "error_rate" && row[metric] > 0.05 ? "bad" : ""} num`, "data-value": row[metric] ?? "" }, format(row[metric]))))
    : [h("li", { class: "muted" }, all.length ? `No prompt with at least ${fmt.MIN_ISSUE_CALLS} calls in this range` : "No calls in this range")]));
}
