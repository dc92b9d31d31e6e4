// One user: first and last seen, headline figures, calls per bucket, their prompts and models,
// and their most recent calls (GET /v1/users/{id}, GET /v1/calls?user_id=).
import { base, chartCard } from "../charts.js";
import * as fmt from "../fmt.js";
import * as state from "../state.js";
import * as tz from "../tz.js";
import { card, dataTable, h, kpiCard, label } from "../ui.js";
import { axisTooltip, tsTable, xLabels } from "./common.js";

const KPIS = [
  { metric: "requests", label: "Calls", format: fmt.countFull },
  { metric: "errors", label: "Errors", format: fmt.countFull },
  { metric: "error_rate", label: "Error rate", format: fmt.pct },
  { metric: "tokens", label: "Tokens", format: fmt.count },
  { metric: "cost_usd", label: "Cost", format: fmt.usd },
  { metric: "latency_p95_ms", label: "p95 latency", format: fmt.ms },
];

function breakdownColumns(dim, title) {
  return [
    { key: dim, label: title, format: (row) => label(row[dim]) },
    { key: "requests", label: "Calls", align: "right", format: (row) => fmt.countFull(row.requests) },
    { key: "errors", label: "Errors", align: "right", format: (row) => fmt.countFull(row.errors) },
    { key: "cost_usd", label: "Cost", align: "right", format: (row) => fmt.usd(row.cost_usd) },
    { key: "latency_p95_ms", label: "p95", align: "right", format: (row) => fmt.ms(row.latency_p95_ms) },
  ];
}

export default {
  mount(root, ctx, { userId, go }) {
    const kpis = KPIS.map((k) => ({ ...k, view: kpiCard(k.metric, k.label) }));
    const seen = h("div", { class: "muted", "data-user-seen": "" });
    const calls = chartCard({ id: "user-calls", title: "Calls and errors" });
    const prompts = h("div", {});
    const models = h("div", {});
    const recent = h("div", {});
    root.append(
      h("div", { class: "crumbs" }, h("a", { href: state.carry("/users"), onclick: (e) => { e.preventDefault(); go("/users"); } }, "Users"),
        " / ", h("b", { "data-user-title": "" }, userId)),
      seen,
      h("div", { class: "grid kpis" }, kpis.map((k) => k.view.card)),
      calls.card,
      h("div", { class: "grid two" }, card("Prompts", prompts, { id: "user-prompts" }), card("Models", models, { id: "user-models" })),
      card("Recent calls", recent, { id: "user-calls-list" }),
    );
    return {
      title: `User · ${userId}`,
      async update(ctx) {
        const r = ctx.range;
        const only = { user_id: userId };
        const [u, list] = await Promise.all([
          ctx.api.get(`/v1/users/${encodeURIComponent(userId)}`, state.scopeParams(r, { interval: state.intervalFor(r) })),
          ctx.api.get("/v1/calls", state.scopeParams(r, { ...only, limit: 20 })),
        ]);
        seen.dataset.firstSeen = u.first_seen;
        seen.dataset.lastSeen = u.last_seen;
        seen.textContent = `First seen ${tz.dateTime(u.first_seen)} · last seen ${tz.dateTime(u.last_seen)} ${tz.label()}`;
        for (const k of kpis) k.view.set(u.kpis[k.metric], k.format(u.kpis[k.metric]));
        const ts = { ...u.series, to: r.to };
        const pts = ts.series.length ? ts.series[0].points : [];
        calls.set(base({ tooltip: axisTooltip("count"), xAxis: { type: "category", data: xLabels(ts), boundaryGap: true },
          yAxis: { type: "value", minInterval: 1 },
          series: [{ name: "Requests", type: "bar", barMaxWidth: 14, data: pts.map((p) => p.requests) },
            { name: "Errors", type: "line", smooth: false, data: pts.map((p) => p.errors) }] }),
        tsTable(ts, ["requests", "errors", "cost_usd"]));
        prompts.replaceChildren(dataTable({ id: "user-prompts", rows: u.prompts, columns: breakdownColumns("prompt_id", "Prompt") }));
        models.replaceChildren(dataTable({ id: "user-models", rows: u.models, columns: breakdownColumns("model", "Model") }));
        recent.replaceChildren(dataTable({ id: "user-calls", rows: list.calls, empty: "No calls of this user in this range",
          columns: [
            { key: "timestamp", label: "Time", format: (row) => tz.dateTime(row.timestamp) },
            { key: "prompt_id", label: "Prompt", format: (row) => label(row.prompt_id) },
            { key: "model", label: "Model", format: (row) => label(row.model) },
            { key: "status", label: "Status", format: (row) => (row.status === "error" ? `error: ${row.error_type}` : "ok"),
              cls: (row) => (row.status === "error" ? "bad-text" : "") },
            { key: "latency_ms", label: "Latency", align: "right", format: (row) => fmt.ms(row.latency_ms) },
            { key: "cost_usd", label: "Cost", align: "right", format: (row) => fmt.usd(row.cost_usd) },
          ] }));
      },
    };
  },
};
