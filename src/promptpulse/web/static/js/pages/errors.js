// Errors: how often and why calls fail, the recent failing calls with their messages,
// and which prompts fail in which way.
import { base, chartCard, ERROR_COLORS } from "../charts.js";
import * as fmt from "../fmt.js";
import * as state from "../state.js";
import { card, dataTable, h, kpiCard, label } from "../ui.js";
import { axisTooltip, grouped, groupedLabels, points, tsTable } from "./common.js";

export default {
  mount(root) {
    const k = {
      errors: kpiCard("errors", "Errors"),
      rate: kpiCard("error_rate", "Error rate"),
      success: kpiCard("success_rate", "Success rate"),
      requests: kpiCard("requests", "Requests"),
    };
    const chart = chartCard({ id: "errors-by-type", title: "Errors over time", sub: "by type, with the error rate", size: "tall" });
    const recent = h("div", {});
    const matrix = h("div", {});
    root.append(
      h("div", { class: "grid kpis four" }, Object.values(k).map((x) => x.card)),
      chart.card,
      card("Errors by prompt and type", matrix, { id: "prompt-error-matrix", sub: "error calls" }),
      card("Recent failing calls", recent, { id: "recent-errors", sub: "newest first" }),
    );
    return {
      title: "Errors",
      async update(ctx) {
        const r = ctx.range;
        const [o, byType, rate, calls, prompts] = await Promise.all([
          ctx.api.get("/v1/metrics/overview", state.scopeParams(r, { compare: "previous" })),
          ctx.api.get("/v1/metrics/timeseries", state.scopeParams(r, { metrics: "requests", group_by: "error_type", status: "error" })),
          ctx.api.get("/v1/metrics/timeseries", state.scopeParams(r, { metrics: "error_rate,errors" })),
          ctx.api.get("/v1/calls", state.scopeParams(r, { status: "error", limit: 50 })),
          ctx.api.get("/v1/metrics/breakdown", state.scopeParams(r, { by: "prompt_id", metrics: "errors,requests,error_rate", sort: "errors", limit: 20 })),
        ]);
        const types = Object.keys(o.errors_by_type);
        const perType = await Promise.all(types.map((t) => ctx.api.get("/v1/metrics/breakdown",
          state.scopeParams(r, { by: "prompt_id", metrics: "requests", status: "error", error_type: t, limit: 1000 }))));
        const set = (view, metric, raw, prev, text) => view.set(raw, text, { previous: prev, higherIsBetter: ctx.catalog[metric]?.higher_is_better ?? null,
          baseline: o.previous.requests, unit: ctx.catalog[metric]?.unit ?? null });
        set(k.errors, "errors", o.errors, o.previous.errors, fmt.countFull(o.errors));
        set(k.rate, "error_rate", o.error_rate, o.previous.error_rate, fmt.pct(o.error_rate, 2));
        set(k.success, "success_rate", o.success_rate, o.previous.success_rate, fmt.pct(o.success_rate, 2));
        set(k.requests, "requests", o.requests, o.previous.requests, fmt.count(o.requests));
        const x = groupedLabels(rate);
        const series = grouped(byType, "requests");
        chart.set(base({ tooltip: { trigger: "axis", confine: true },
          xAxis: { type: "category", data: x },
          yAxis: [{ type: "value", axisLabel: { formatter: fmt.axis("count") } },
            { type: "value", position: "right", splitLine: { show: false }, axisLabel: { formatter: fmt.axis("ratio") } }],
          series: [
            ...series.map((s) => ({ name: s.name, type: "bar", stack: "e", barMaxWidth: 14, color: ERROR_COLORS[s.group],
              tooltip: { valueFormatter: (v) => fmt.count(v) }, data: s.values })),
            { name: "error rate", metric: "error_rate", type: "line", yAxisIndex: 1, color: "#e11d48", lineStyle: { width: 2 },
              tooltip: { valueFormatter: (v) => fmt.pct(v, 2) }, data: points(rate).map((p) => p.error_rate) },
          ] }),
        { columns: [...tsTable(rate, ["error_rate", "errors"]).columns, ...series.map((s) => `errors_${s.name}`)],
          rows: tsTable(rate, ["error_rate", "errors"]).rows.map((row, i) => Object.assign(row, Object.fromEntries(series.map((s) => [`errors_${s.name}`, s.values[i]])))) });
        const cell = types.map((t, i) => new Map(perType[i].rows.map((row) => [row.prompt_id, row.requests])));
        const rows = prompts.rows.filter((row) => row.errors > 0);
        matrix.replaceChildren(dataTable({
          id: "prompt-error-matrix", rows,
          empty: "No errors in this range",
          columns: [
            { key: "prompt_id", label: "Prompt", format: (row) => label(row.prompt_id) },
            { key: "errors", label: "Errors", align: "right", format: (row) => fmt.countFull(row.errors) },
            { key: "error_rate", label: "Error rate", align: "right", format: (row) => fmt.pct(row.error_rate, 2) },
            ...types.map((t, i) => ({ key: t, label: t.replace("_", " "), align: "right", sortable: false,
              render: (row) => {
                const n = cell[i].get(row.prompt_id) ?? 0;
                return h("span", { class: n ? "" : "muted", "data-value": n }, n ? fmt.countFull(n) : "·");
              } })),
          ],
        }));
        recent.replaceChildren(dataTable({
          id: "recent-errors", rows: calls.calls, empty: "No failing calls in this range",
          columns: [
            { key: "timestamp", label: "Time (UTC)", format: (c) => fmt.dateTime(c.timestamp) },
            { key: "prompt_id", label: "Prompt", format: (c) => `${label(c.prompt_id)}${c.prompt_version ? ` · ${c.prompt_version}` : ""}` },
            { key: "model", label: "Model" },
            { key: "error_type", label: "Type", render: (c) => h("span", { class: "badge bad" }, label(c.error_type)) },
            { key: "http_status", label: "HTTP", align: "right", format: (c) => c.http_status ?? fmt.DASH },
            { key: "latency_ms", label: "Latency", align: "right", format: (c) => fmt.ms(c.latency_ms) },
            { key: "error_message", label: "Message", cls: () => "msg", format: (c) => c.error_message || fmt.DASH },
          ],
        }));
      },
    };
  },
};
