// Compare: up to three prompts, versions or models side by side through GET /v1/compare — the
// first is the control; each other one is tested against it (difference, 95 % CI, p-value), the
// best of a row is marked only when significant, and the winner comes with the API's verdict.
// Their charts are overlaid.
import { base, chartCard } from "../charts.js";
import * as fmt from "../fmt.js";
import * as state from "../state.js";
import { card, h, label } from "../ui.js";
import { axisTooltip, grouped, groupedLabels, tsTable } from "./common.js";
import { comparisonTable, verdictBox } from "./comparison.js";

export const DIMENSIONS = { prompt_id: "Prompts", prompt_version: "Versions", model: "Models", provider: "Providers", environment: "Environments" };
// metrics that can decide the winner (a test exists and the catalog knows which way is better)
export const PRIMARIES = {
  success_rate: "Success rate", error_rate: "Error rate", latency_p50_ms: "p50 latency",
  latency_p95_ms: "p95 latency", cost_per_request_usd: "Cost / request",
  tpot_p95_ms: "p95 time / output token", output_tps_p50: "p50 output tok/s",
};
const MAX = 3;

// the project's custom metrics that can decide too: a test exists and a direction is set
function customPrimaries(catalog) {
  return Object.fromEntries(Object.values(catalog)
    .filter((m) => m.custom && m.comparable && m.higher_is_better !== null)
    .map((m) => [m.name, m.name]));
}
const NONE = "(none)";

export default {
  mount(root, app = {}) {
    const p = state.params();
    const by = DIMENSIONS[p.get("cmp_by")] ? p.get("cmp_by") : "prompt_id";
    const primaries = { ...PRIMARIES, ...customPrimaries(app.catalog || {}) };
    const primary = primaries[p.get("primary")] ? p.get("primary") : "success_rate";
    const chosen = p.getAll("cmp").slice(0, MAX);
    const bySelect = h("select", { name: "cmp_by", "aria-label": "Compare" },
      Object.entries(DIMENSIONS).map(([k, v]) => h("option", { value: k, selected: k === by }, v)));
    bySelect.addEventListener("change", () => state.update({ cmp_by: bySelect.value, cmp: null }));
    const primarySelect = h("select", { name: "primary", "aria-label": "Decide by" },
      Object.entries(primaries).map(([k, v]) => h("option", { value: k, selected: k === primary }, v)));
    primarySelect.addEventListener("change", () => state.update({ primary: primarySelect.value === "success_rate" ? null : primarySelect.value }));
    const pickers = Array.from({ length: MAX }, (_, i) => {
      const s = h("select", { name: `cmp-${i}`, "aria-label": i === 0 ? "Control" : `Variant ${"ABC"[i]}` });
      s.addEventListener("change", () => {
        const values = pickers.map((x) => x.value).filter((v) => v);
        state.update({ cmp: [...new Set(values)] });
      });
      return s;
    });
    const verdict = h("div", { "data-verdict-box": "" });
    const table = h("div", {});
    const c = {
      requests: chartCard({ id: "compare-requests", title: "Requests" }),
      p95: chartCard({ id: "compare-p95", title: "p95 latency" }),
      errors: chartCard({ id: "compare-error-rate", title: "Error rate" }),
      cost: chartCard({ id: "compare-cost", title: "Cost per request" }),
    };
    root.append(
      card("Side by side", h("div", { class: "stack" },
        h("div", { class: "toolbar" },
          h("label", {}, "Compare", bySelect),
          ...pickers.map((s, i) => h("label", {}, i === 0 ? "A (control)" : "ABC"[i], s)),
          h("label", {}, "Decide by", primarySelect)),
        verdict, table,
        h("p", { class: "footnote" }, "Each variant against the control A: difference (variant − control), its 95% confidence interval and the Holm-adjusted p-value. ★ marks the best of a row only when that is statistically significant. ",
          "A winner needs the deciding metric significantly better and no guardrail (p95 latency, cost per request) significantly worse.")),
      { id: "compare", sub: "significance tested by the server" }),
      h("div", { class: "grid two" }, c.requests.card, c.p95.card, c.errors.card, c.cost.card),
    );
    return {
      title: "Compare",
      async update(ctx) {
        const r = ctx.range;
        const options = await ctx.api.get("/v1/metrics/breakdown", state.scopeParams(r, { by, [by]: null, metrics: "requests", limit: 100 }));
        const available = options.rows.map((row) => row[by]).filter((v) => v !== null);
        const items = chosen.length ? chosen : available.slice(0, MAX);
        if (!chosen.length && items.length) state.update({ cmp: items, cmp_by: by }, { replace: true, silent: true });
        pickers.forEach((s, i) => {
          const values = [...new Set([...(items[i] ? [items[i]] : []), ...available])];
          s.replaceChildren(h("option", { value: "" }, "—"), ...values.map((v) => h("option", { value: v, selected: v === items[i] }, v)));
        });
        if (items.length < 2) {
          verdict.replaceChildren();
          table.replaceChildren(h("div", { class: "empty" }, items.length ? "Pick a second one to compare with" : "Nothing to compare in this range"));
        } else {
          const answer = await ctx.api.get("/v1/compare", state.scopeParams(r, { by, [by]: null, values: items.join(","), primary }));
          verdict.replaceChildren(verdictBox(answer));
          table.replaceChildren(comparisonTable(answer, ctx.catalog, { id: "compare" }));
        }
        if (!items.length) return;
        const ts = await ctx.api.get("/v1/metrics/timeseries", state.scopeParams(r, { [by]: items, group_by: by, metrics: "requests,latency_p95_ms,error_rate,cost_per_request_usd" }));
        const x = groupedLabels(ts);
        const order = (series) => [...series].sort((a, b) => items.indexOf(a.group) - items.indexOf(b.group));
        const draw = (chart, metric, unit, type = "line") => chart.set(base({ tooltip: axisTooltip(unit),
          xAxis: { type: "category", data: x, boundaryGap: type === "bar" }, yAxis: { type: "value", axisLabel: { formatter: fmt.axis(unit) } },
          series: order(grouped(ts, metric)).map((s) => ({ name: s.name === NONE ? NONE : label(s.group), type, barMaxWidth: 10, data: s.values, connectNulls: true, metric, group: s.group })) }),
        tsTable(ts, [metric]));
        draw(c.requests, "requests", "count", "bar");
        draw(c.p95, "latency_p95_ms", "ms");
        draw(c.errors, "error_rate", "ratio");
        draw(c.cost, "cost_per_request_usd", "usd");
      },
    };
  },
};
