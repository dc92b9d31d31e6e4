// One prompt: its headline figures, its versions over time and side by side, its models.
import { base, chartCard } from "../charts.js";
import * as fmt from "../fmt.js";
import * as state from "../state.js";
import { card, dataTable, h, kpiCard, label } from "../ui.js";
import { axisTooltip, grouped, groupedLabels, tsTable } from "./common.js";

const KPIS = [
  { metric: "requests", label: "Requests", value: (o) => o.requests },
  { metric: "success_rate", label: "Success rate", value: (o) => o.success_rate },
  { metric: "latency_p95_ms", label: "p95 latency", value: (o) => o.latency_ms.p95 },
  { metric: "tokens_per_request", label: "Avg tokens", value: (o) => o.tokens.per_request },
  { metric: "cost_usd", label: "Cost", value: (o) => o.cost_usd.total },
];
const VERSION_METRICS = "requests,success_rate,error_rate,latency_p50_ms,latency_p95_ms,tokens_per_request,cost_per_request_usd,cost_usd";

export default {
  mount(root, ctx, { promptId, go }) {
    const kpis = KPIS.map((k) => ({ ...k, view: kpiCard(k.metric, k.label) }));
    const c = {
      volume: chartCard({ id: "version-requests", title: "Requests by version" }),
      p95: chartCard({ id: "version-p95", title: "p95 latency by version" }),
      errors: chartCard({ id: "version-error-rate", title: "Error rate by version" }),
      cost: chartCard({ id: "version-cost", title: "Cost per request by version" }),
    };
    const versions = h("div", {});
    const models = h("div", {});
    const compareLink = h("a", { class: "btn small", href: "#" }, "Compare versions");
    root.append(
      h("div", { class: "crumbs" }, h("a", { href: state.carry("/prompts"), onclick: (e) => { e.preventDefault(); go("/prompts"); } }, "Prompts"), " / ", h("b", { "data-prompt-title": "" }, promptId)),
      h("div", { class: "grid kpis five" }, kpis.map((k) => k.view.card)),
      h("div", { class: "grid two" }, c.volume.card, c.p95.card, c.errors.card, c.cost.card),
      card("Versions", h("div", {}, h("div", { class: "toolbar", style: "margin-bottom:8px" }, compareLink), versions), { id: "versions" }),
      card("Models", models, { id: "prompt-models" }),
    );
    const only = { prompt_id: promptId };
    return {
      title: `Prompt · ${promptId}`,
      async update(ctx) {
        const r = ctx.range;
        const [o, ts, bd, bm] = await Promise.all([
          ctx.api.get("/v1/metrics/overview", state.scopeParams(r, { ...only, compare: "previous" })),
          ctx.api.get("/v1/metrics/timeseries", state.scopeParams(r, { ...only, metrics: "requests,latency_p95_ms,error_rate,cost_per_request_usd", group_by: "prompt_version" })),
          ctx.api.get("/v1/metrics/breakdown", state.scopeParams(r, { ...only, by: "prompt_version", metrics: VERSION_METRICS, sort: "requests", limit: 100 })),
          ctx.api.get("/v1/metrics/breakdown", state.scopeParams(r, { ...only, by: "model", metrics: VERSION_METRICS, limit: 100 })),
        ]);
        for (const k of kpis) {
          const m = ctx.catalog[k.metric] || {};
          k.view.set(k.value(o), fmt.byUnit(m.unit, k.value(o)), { previous: k.value(o.previous), higherIsBetter: m.higher_is_better ?? null,
            baseline: o.previous.requests, unit: m.unit });
        }
        const x = groupedLabels(ts);
        const lines = (metric, unit, type = "line", stack = null) => base({ tooltip: axisTooltip(unit),
          xAxis: { type: "category", data: x, boundaryGap: type === "bar" }, yAxis: { type: "value", axisLabel: { formatter: fmt.axis(unit) } },
          series: grouped(ts, metric).map((s) => ({ name: s.name, type, stack, barMaxWidth: 14, data: s.values, connectNulls: true, ...(stack ? {} : { metric, group: s.group }) })) });
        c.volume.set(lines("requests", "count", "bar", "v"), tsTable(ts, ["requests"]));
        c.p95.set(lines("latency_p95_ms", "ms"), tsTable(ts, ["latency_p95_ms"]));
        c.errors.set(lines("error_rate", "ratio"), tsTable(ts, ["error_rate"]));
        c.cost.set(lines("cost_per_request_usd", "usd"), tsTable(ts, ["cost_per_request_usd"]));
        const names = bd.rows.map((row) => row.prompt_version).filter((v) => v !== null).slice(0, 3);
        compareLink.href = state.carry("/compare", {});
        compareLink.onclick = (e) => {
          e.preventDefault();
          const url = new URL(state.carry("/compare"), window.location.origin);
          url.searchParams.set("cmp_by", "prompt_version");
          url.searchParams.delete("prompt_id");
          url.searchParams.append("prompt_id", promptId);
          names.forEach((n) => url.searchParams.append("cmp", n));
          window.history.pushState(null, "", url.pathname + url.search);
          window.dispatchEvent(new Event("pp:navigate"));
        };
        const cols = (dim, title) => [
          { key: dim, label: title, format: (row) => label(row[dim]) },
          { key: "requests", label: "Requests", align: "right", format: (row) => fmt.countFull(row.requests) },
          { key: "success_rate", label: "Success", align: "right", format: (row) => fmt.pct(row.success_rate) },
          { key: "latency_p50_ms", label: "p50", align: "right", format: (row) => fmt.ms(row.latency_p50_ms) },
          { key: "latency_p95_ms", label: "p95", align: "right", format: (row) => fmt.ms(row.latency_p95_ms) },
          { key: "tokens_per_request", label: "Avg tokens", align: "right", format: (row) => fmt.tokens(row.tokens_per_request) },
          { key: "cost_per_request_usd", label: "Cost / req", align: "right", format: (row) => fmt.usd(row.cost_per_request_usd) },
          { key: "cost_usd", label: "Cost", align: "right", format: (row) => fmt.usd(row.cost_usd) },
        ];
        versions.replaceChildren(dataTable({ id: "versions", rows: bd.rows, columns: cols("prompt_version", "Version") }));
        models.replaceChildren(dataTable({ id: "prompt-models", rows: bm.rows, columns: cols("model", "Model") }));
      },
    };
  },
};
