// Users: active users over time (DAU/WAU/MAU), new vs returning, first-seen retention and the
// top users, from /v1/users/*. Every number is the API's; the page only lays them out.
import { base, chartCard, isDark, PALETTE, PALETTE_DARK } from "../charts.js";
import * as fmt from "../fmt.js";
import * as state from "../state.js";
import * as tz from "../tz.js";
import { card, dataTable, h, kpiCard } from "../ui.js";
import { axisTooltip, DAY_MS } from "./common.js";

export const TOP_SORTS = [
  { key: "requests", label: "Calls" },
  { key: "errors", label: "Errors" },
  { key: "cost_usd", label: "Cost" },
  { key: "tokens", label: "Tokens" },
];
const KPIS = [
  { key: "dau", label: "DAU", hint: "users on the last day" },
  { key: "wau", label: "WAU", hint: "users in the 7 days to it" },
  { key: "mau", label: "MAU", hint: "users in the 30 days to it" },
  { key: "new_users", label: "New users", hint: "first seen on the last day" },
];

/** day points up to 60 days, else ISO weeks (the API has no finer user interval). */
export function userInterval(range) {
  return new Date(range.to) - new Date(range.from) > 60 * DAY_MS ? "week" : "day";
}

/** A link to one user's page, the id URL-encoded (any character). */
export function userLink(id, go) {
  const path = `/users/${encodeURIComponent(id)}`;
  return h("a", { href: state.carry(path), "data-user": id, onclick: (e) => { e.preventDefault(); go(path); } }, id);
}

// Fixed colours: the windows and the two kinds of users must never share a hue.
function hue(i) { return (isDark() ? PALETTE_DARK : PALETTE)[i]; }

function heatStyle(rate) {
  if (rate === null || rate === undefined) return "";
  const pct = Math.round(Math.min(1, Math.max(0, rate)) * 85);
  return `background: color-mix(in srgb, var(--accent) ${pct}%, transparent);${pct > 45 ? "color:#fff;" : ""}`;
}

function retentionTable(answer) {
  const head = h("tr", {}, h("th", { scope: "col" }, "Cohort (UTC)"), h("th", { class: "r", scope: "col" }, "Users"),
    answer.days.map((k) => h("th", { class: "r", scope: "col", "data-day": String(k) }, `Day ${k}`)));
  const rows = answer.cohorts.map((c) => h("tr", { "data-cohort": c.cohort },
    h("td", {}, c.cohort),
    h("td", { class: "r num", "data-key": "users", "data-value": String(c.users) }, fmt.countFull(c.users)),
    c.days.map((d) => h("td", {
      class: "r num heat-cell", "data-day": String(d.day), "data-value": d.rate === null ? "" : String(d.rate),
      "data-users": d.users === null ? "" : String(d.users), style: heatStyle(d.rate),
      title: d.rate === null ? "not over yet" : `${fmt.countFull(d.users)} of ${fmt.countFull(c.users)}`,
    }, d.rate === null ? fmt.DASH : fmt.pct(d.rate)))));
  if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 2 + answer.days.length, class: "empty" }, "No users first seen in this range")));
  return h("div", { class: "table-wrap" }, h("div", { class: "table-scroll" },
    h("table", { class: "data", "data-table": "retention" }, h("thead", {}, head), h("tbody", {}, rows))));
}

export default {
  mount(root, ctx, { go }) {
    const kpis = KPIS.map((k) => ({ ...k, view: kpiCard(k.key, k.label, { hint: k.hint }) }));
    const active = chartCard({ id: "users-active", title: "Active users", sub: "DAU, WAU, MAU" });
    const mix = chartCard({ id: "users-new-returning", title: "New vs returning users" });
    const retention = h("div", {});
    const top = h("div", {});
    let sort = state.params().get("user_sort") || "requests";
    const sortSel = h("select", { name: "user-sort", "aria-label": "Rank users by" },
      TOP_SORTS.map((s) => h("option", { value: s.key, selected: s.key === sort }, `by ${s.label.toLowerCase()}`)));
    sortSel.addEventListener("change", () => state.update({ user_sort: sortSel.value === "requests" ? null : sortSel.value }, { replace: true }));
    root.append(
      h("div", { class: "grid kpis four" }, kpis.map((k) => k.view.card)),
      h("div", { class: "grid two" }, active.card, mix.card),
      card("Retention", retention, { id: "retention", sub: "share of each first-seen cohort with a call on day 1, 7 and 30" }),
      card("Top users", h("div", {}, h("div", { class: "toolbar", style: "margin-bottom:8px" }, sortSel), top), { id: "top-users" }),
    );
    return {
      title: "Users",
      async update(ctx) {
        const r = ctx.range;
        sort = state.params().get("user_sort") || "requests";
        const interval = userInterval(r);
        const [act, ret, best] = await Promise.all([
          ctx.api.get("/v1/users/activity", state.scopeParams(r, { interval })),
          ctx.api.get("/v1/users/retention", state.scopeParams(r)),
          ctx.api.get("/v1/users/top", state.scopeParams(r, { sort, limit: 20 })),
        ]);
        const last = act.points[act.points.length - 1] || {};
        for (const k of kpis) k.view.set(last[k.key] ?? null, fmt.countFull(last[k.key] ?? null));
        const x = act.points.map((p) => tz.time(p.t, "day"));
        const series = (key, name, extra = {}) => ({ name, data: act.points.map((p) => p[key]), ...extra });
        active.set(base({ tooltip: axisTooltip("count"), xAxis: { type: "category", data: x },
          yAxis: { type: "value", minInterval: 1 },
          series: [series("dau", "DAU", { type: "line", color: hue(0) }), series("wau", "WAU", { type: "line", color: hue(4) }),
            series("mau", "MAU", { type: "line", color: hue(5) })] }),
        { columns: ["t", "dau", "wau", "mau"], rows: act.points });
        mix.set(base({ tooltip: axisTooltip("count"), xAxis: { type: "category", data: x },
          yAxis: { type: "value", minInterval: 1 },
          series: [series("new_users", "New", { type: "bar", stack: "u", barMaxWidth: 18, color: hue(1) }),
            series("returning_users", "Returning", { type: "bar", stack: "u", barMaxWidth: 18, color: hue(0) })] }),
        { columns: ["t", "active", "new_users", "returning_users"], rows: act.points });
        mix.sub(interval === "week" ? "per ISO week (UTC)" : "per UTC day");
        retention.replaceChildren(retentionTable(ret));
        const label = TOP_SORTS.find((s) => s.key === sort)?.label || sort;
        sortSel.value = sort;
        top.replaceChildren(dataTable({ id: "top-users", rows: best.rows, empty: "No calls with a user_id in this range",
          columns: [
            { key: "user_id", label: "User", render: (row) => userLink(row.user_id, go) },
            { key: "requests", label: "Calls", align: "right", format: (row) => fmt.countFull(row.requests) },
            { key: "errors", label: "Errors", align: "right", format: (row) => fmt.countFull(row.errors) },
            { key: "error_rate", label: "Error rate", align: "right", format: (row) => fmt.pct(row.error_rate) },
            { key: "tokens", label: "Tokens", align: "right", format: (row) => fmt.count(row.tokens) },
            { key: "cost_usd", label: "Cost", align: "right", format: (row) => fmt.usd(row.cost_usd) },
            { key: "latency_p95_ms", label: "p95", align: "right", format: (row) => fmt.ms(row.latency_p95_ms) },
          ] }));
        top.querySelector("table").dataset.sort = sort;
        top.querySelector("table").setAttribute("aria-label", `Top users by ${label.toLowerCase()}`);
      },
    };
  },
};
