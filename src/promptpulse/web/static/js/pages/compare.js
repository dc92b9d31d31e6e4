// Compare: up to three prompts, versions or models side by side, best of each row marked,
// and their charts overlaid. Which is best follows the catalog's higher_is_better.
import { base, chartCard } from "../charts.js";
import * as fmt from "../fmt.js";
import * as state from "../state.js";
import { card, h, label } from "../ui.js";
import { axisTooltip, grouped, groupedLabels, tsTable } from "./common.js";

export const DIMENSIONS = { prompt_id: "Prompts", prompt_version: "Versions", model: "Models" };
export const ROWS = [
  { metric: "requests", label: "Requests" },
  { metric: "success_rate", label: "Success rate" },
  { metric: "latency_p50_ms", label: "p50 latency" },
  { metric: "latency_p95_ms", label: "p95 latency" },
  { metric: "tokens_per_request", label: "Avg tokens" },
  { metric: "cost_per_request_usd", label: "Cost / request" },
  { metric: "cost_usd", label: "Total cost" },
];
const MAX = 3;
const NONE = "(none)";

/** The chosen value(s) with the best figure of a row, or none when the catalog has no better. */
export function best(values, higherIsBetter) {
  const present = values.filter((v) => v !== null && v !== undefined);
  if (higherIsBetter === null || higherIsBetter === undefined || present.length < 2) return null;
  return higherIsBetter ? Math.max(...present) : Math.min(...present);
}

export default {
  mount(root, ctx) {
    const p = state.params();
    const by = DIMENSIONS[p.get("cmp_by")] ? p.get("cmp_by") : "prompt_id";
    const chosen = p.getAll("cmp").slice(0, MAX);
    const bySelect = h("select", { name: "cmp_by", "aria-label": "Compare" },
      Object.entries(DIMENSIONS).map(([k, v]) => h("option", { value: k, selected: k === by }, v)));
    bySelect.addEventListener("change", () => state.update({ cmp_by: bySelect.value, cmp: null }));
    const pickers = Array.from({ length: MAX }, (_, i) => {
      const s = h("select", { name: `cmp-${i}`, "aria-label": `Item ${i + 1}` });
      s.addEventListener("change", () => {
        const values = pickers.map((x) => x.value).filter((v) => v);
        state.update({ cmp: [...new Set(values)] });
      });
      return s;
    });
    const table = h("div", {});
    const c = {
      requests: chartCard({ id: "compare-requests", title: "Requests" }),
      p95: chartCard({ id: "compare-p95", title: "p95 latency" }),
      errors: chartCard({ id: "compare-error-rate", title: "Error rate" }),
      cost: chartCard({ id: "compare-cost", title: "Cost per request" }),
    };
    root.append(
      card("Side by side", h("div", {},
        h("div", { class: "toolbar", style: "margin-bottom:12px" }, h("label", {}, "Compare", bySelect), ...pickers.map((s, i) => h("label", {}, `${"ABC"[i]}`, s))),
        table), { id: "compare", sub: "best of each row marked ★" }),
      h("div", { class: "grid two" }, c.requests.card, c.p95.card, c.errors.card, c.cost.card),
    );
    return {
      title: "Compare",
      async update(ctx) {
        const r = ctx.range;
        const options = await ctx.api.get("/v1/metrics/breakdown", state.scopeParams(r, { by, metrics: "requests", limit: 100 }));
        const available = options.rows.map((row) => row[by]).filter((v) => v !== null);
        let items = chosen.length ? chosen : available.slice(0, MAX);
        if (!chosen.length && items.length) state.update({ cmp: items, cmp_by: by }, { replace: true, silent: true });
        pickers.forEach((s, i) => {
          const values = [...new Set([...(items[i] ? [items[i]] : []), ...available])];
          s.replaceChildren(h("option", { value: "" }, "—"), ...values.map((v) => h("option", { value: v, selected: v === items[i] }, v)));
        });
        if (!items.length) { table.replaceChildren(h("div", { class: "empty" }, "Nothing to compare in this range")); return; }
        const metrics = ROWS.map((x) => x.metric).join(",");
        const [bd, ts] = await Promise.all([
          ctx.api.get("/v1/metrics/breakdown", state.scopeParams(r, { by, [by]: items, metrics, limit: MAX })),
          ctx.api.get("/v1/metrics/timeseries", state.scopeParams(r, { [by]: items, group_by: by, metrics: "requests,latency_p95_ms,error_rate,cost_per_request_usd" })),
        ]);
        const rowsBy = new Map(bd.rows.map((row) => [row[by], row]));
        const head = h("tr", {}, h("th", {}, "Metric"), items.map((it, i) => h("th", { class: "r", "data-item": it }, h("span", { class: "badge", style: `margin-right:6px` }, "ABC"[i]), it)));
        const body = ROWS.map((x) => {
          const m = ctx.catalog[x.metric] || {};
          const values = items.map((it) => rowsBy.get(it)?.[x.metric] ?? null);
          const top = best(values, m.higher_is_better);
          return h("tr", { "data-metric": x.metric }, h("td", {}, x.label),
            values.map((v, i) => h("td", { class: `r num ${top !== null && v === top ? "best" : ""}`, "data-item": items[i],
              "data-value": v ?? "", "data-best": top !== null && v === top ? "true" : null }, fmt.byUnit(m.unit, v))));
        });
        table.replaceChildren(h("div", { class: "table-wrap" }, h("table", { class: "data", "data-table": "compare" }, h("thead", {}, head), h("tbody", {}, body))));
        const x = groupedLabels(ts);
        const draw = (chart, metric, unit, type = "line") => chart.set(base({ tooltip: axisTooltip(unit),
          xAxis: { type: "category", data: x, boundaryGap: type === "bar" }, yAxis: { type: "value", axisLabel: { formatter: fmt.axis(unit) } },
          series: grouped(ts, metric).map((s) => ({ name: s.name === NONE ? NONE : label(s.group), type, barMaxWidth: 10, data: s.values, connectNulls: true })) }),
        tsTable(ts, [metric]));
        draw(c.requests, "requests", "count", "bar");
        draw(c.p95, "latency_p95_ms", "ms");
        draw(c.errors, "error_rate", "ratio");
        draw(c.cost, "cost_per_request_usd", "usd");
      },
    };
  },
};
