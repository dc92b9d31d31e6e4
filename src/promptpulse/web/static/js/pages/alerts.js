// Alerts: what is firing now (acknowledge / resolve with an admin key), the rules, budgets as
// gauges (spend and projection against the amount) and SLOs (error budget left, burn rate over
// time). Everything comes from /v1/alerts, /v1/alerts/rules, /v1/budgets and /v1/slos; the global
// range does not apply (alerts, budgets and SLOs have their own windows and periods).
import { base, chartCard, disposeWithin, isDark } from "../charts.js";
import * as fmt from "../fmt.js";
import * as tz from "../tz.js";
import { card, cardsOnPhone, dataTable, h } from "../ui.js";

const SEVERITY_CLASS = { critical: "bad", warning: "warn", info: "info" };
const STATE_CLASS = { firing: "bad", pending: "warn", acknowledged: "info", resolved: "good" };
const GREEN = "#10b981";
const AMBER = "#f59e0b";
const RED = "#ef4444";

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function severity(a) {
  return h("span", { class: `badge ${SEVERITY_CLASS[a.severity] || ""}`, "data-severity": a.severity }, `${a.priority || ""} ${a.severity}`.trim());
}

/** A value in the unit of the metric an alert or rule watches. */
function metricValue(catalog, metric, v) {
  const m = catalog[metric];
  return m ? fmt.byUnit(m.unit, v) : fmt.number(v);
}

function scopeText(filters = {}, group = null) {
  const parts = Object.entries(filters).filter(([k]) => k !== "project").map(([k, v]) => `${k}=${[].concat(v).join("|")}`);
  if (group) parts.push(...Object.entries(group).map(([k, v]) => `${k}=${v}`));
  return parts.join(", ") || "all calls";
}

function condition(r) {
  if (r.operator === "anomaly") return `${r.metric} anomaly (${r.sensitivity}${r.direction ? `, ${r.direction}` : ""})`;
  if (r.operator === "increase" || r.operator === "decrease") return `${r.metric} ${r.operator} ≥ ${fmt.pct(r.threshold, 0)} vs ${r.baseline.replace("_", " ")}`;
  return `${r.metric} ${r.operator} ${r.threshold}`;
}

function budgetGauge(b) {
  const s = b.status;
  const top = Math.max(1.25, Math.ceil(Math.max(s.spent_ratio, s.projected_ratio) * 4) / 4);
  const stops = [...b.thresholds].sort((x, y) => x - y);
  const warn = stops.find((t) => t >= 0.8 && t < 1) ?? 0.8;
  const color = [[Math.min(warn, top) / top, GREEN], [Math.min(1, top) / top, AMBER], [1, RED]];
  const text = isDark() ? "#e6eaf2" : "#141a26";
  const muted = isDark() ? "#9aa4b6" : "#5d6679";
  const shared = { type: "gauge", min: 0, max: top * 100, startAngle: 210, endAngle: -30, radius: "95%", center: ["50%", "56%"] };
  return {
    animation: false,
    series: [
      { ...shared, name: "spent",
        axisLine: { lineStyle: { width: 14, color } },
        progress: { show: false },
        pointer: { length: "55%", width: 5, offsetCenter: [0, "-8%"], itemStyle: { color: text } },
        anchor: { show: true, size: 10, offsetCenter: [0, "-8%"], itemStyle: { color: text } },
        axisTick: { show: false }, splitLine: { length: 14, distance: -14, lineStyle: { color: isDark() ? "#151b24" : "#fff", width: 2 } },
        splitNumber: Math.round(top * 4),
        axisLabel: { distance: 18, color: muted, fontSize: 10, formatter: (v) => `${Math.round(v)}%` },
        title: { show: true, offsetCenter: [0, "72%"], color: muted, fontSize: 11 },
        detail: { offsetCenter: [0, "42%"], fontSize: 22, fontWeight: 650, color: text, formatter: (v) => `${v.toFixed(0)}%` },
        data: [{ value: +(s.spent_ratio * 100).toFixed(2), name: `spent · ▲ projected ${Math.round(s.projected_ratio * 100)}%` }] },
      { ...shared, name: "projected",
        axisLine: { show: false }, axisTick: { show: false }, splitLine: { show: false }, axisLabel: { show: false },
        pointer: { icon: "triangle", length: "16%", width: 9, offsetCenter: [0, "-76%"], itemStyle: { color: s.will_overrun ? RED : "#6366f1" } },
        title: { show: false }, detail: { show: false },
        data: [{ value: +(s.projected_ratio * 100).toFixed(2), name: "projected" }] },
    ],
  };
}

function budgetCard(b) {
  const s = b.status;
  const unit = b.metric === "cost_usd" ? "usd" : "count";
  const money = (v) => fmt.byUnit(unit, v);
  const gauge = chartCard({ id: `budget-${b.id}`, title: b.name, sub: `${b.period} · ${b.metric}` });
  gauge.el.classList.add("gauge");
  gauge.set(budgetGauge(b), {
    columns: ["date", "actual", "expected"], rows: s.daily,
  });
  const over = s.will_overrun;
  gauge.card.dataset.budget = b.id;
  gauge.card.dataset.spent = String(s.spent);
  gauge.card.dataset.amount = String(s.amount);
  gauge.card.dataset.projected = String(s.projected);
  gauge.card.querySelector(".card-body").append(h("dl", { class: "facts compact" },
    h("dt", {}, "Spent"), h("dd", { class: "num" }, `${money(s.spent)} of ${money(s.amount)}`),
    h("dt", {}, "Projected"), h("dd", { class: `num ${over ? "bad-text" : ""}` }, `${money(s.projected)} `, h("span", { class: "muted" }, `(${money(s.projected_low)}–${money(s.projected_high)})`)),
    h("dt", {}, "Left"), h("dd", { class: "num" }, money(s.remaining)),
    h("dt", {}, "Period"), h("dd", {}, `${fmt.dayLabel(s.period_start)} – ${fmt.dayLabel(new Date(new Date(s.period_end) - 1).toISOString())}`)),
  over ? h("div", { class: "badge bad", "data-overrun": "" }, "projected to overrun") : h("div", { class: "badge good" }, "on track"));
  return gauge;
}

// What an SLO measures: a custom SLI is its metric's name (a proportion: good / valid events).
function sliLabel(slo) {
  if (slo.sli === "latency") return `calls under ${fmt.ms(slo.latency_threshold_ms)}`;
  return slo.sli === "custom" ? slo.metric : "success rate";
}

function sloCard(slo, history) {
  const s = slo.status;
  const left = s.error_budget_remaining;
  const chart = chartCard({ id: `slo-${slo.id}`, title: slo.name, sub: `${sliLabel(slo)} ≥ ${fmt.pct(slo.objective, 2)} over ${slo.window}` });
  const pts = history.points;
  const x = pts.map((p) => tz.time(p.t, history.interval));
  chart.set(base({
    tooltip: { trigger: "axis", confine: true },
    legend: { top: 0, left: 0 },
    grid: { left: 8, right: 8, top: 34, bottom: 4, containLabel: true },
    xAxis: { type: "category", data: x },
    yAxis: [{ type: "value", name: "", axisLabel: { formatter: (v) => `${+v.toFixed(1)}×` } },
      { type: "value", position: "right", splitLine: { show: false }, axisLabel: { formatter: fmt.axis("ratio") } }],
    series: [
      { name: "burn rate", type: "bar", barMaxWidth: 10, color: "#f97316", data: pts.map((p) => p.burn_rate),
        tooltip: { valueFormatter: (v) => (v === null || v === undefined ? fmt.DASH : `${v.toFixed(2)}×`) },
        markLine: { silent: true, symbol: "none", label: { formatter: "1×", position: "insideEndTop", fontSize: 10, color: isDark() ? "#9aa4b6" : "#5d6679", textBorderWidth: 0 },
          lineStyle: { type: "dashed", color: "#94a3b8" }, data: [{ yAxis: 1 }] } },
      { name: "error budget left", type: "line", yAxisIndex: 1, color: "#6366f1", connectNulls: true, data: pts.map((p) => p.error_budget_remaining),
        tooltip: { valueFormatter: (v) => (v === null || v === undefined ? fmt.DASH : fmt.pct(v, 1)) } },
    ],
  }), { columns: ["t", "requests", "bad", "sli", "burn_rate", "error_budget_remaining"], rows: pts });
  const tone = left === null ? "flat" : left < 0 ? "bad" : left < 0.25 ? "warn" : "good";
  const width = left === null ? 0 : Math.max(0, Math.min(1, left)) * 100;
  const firing = s.burn_alerts.filter((a) => a.firing);
  const facts = h("div", { class: "slo-facts" },
    h("div", { class: "slo-left", "data-slo-remaining": left ?? "" },
      h("div", { class: "label" }, "Error budget left"),
      h("div", { class: `big ${tone}` }, left === null ? fmt.DASH : fmt.pct(left, left < 0 ? 0 : 1), left !== null && left < 0 ? h("span", { class: "badge bad" }, "overspent") : null),
      h("div", { class: `meter ${tone}` }, h("div", { style: `width:${width.toFixed(1)}%` }))),
    h("dl", { class: "facts compact" },
      h("dt", {}, "SLI"), h("dd", { class: "num" }, `${fmt.pct(s.sli, 3)} `, h("span", { class: "muted" }, `target ${fmt.pct(s.objective, 2)}`)),
      h("dt", {}, slo.sli === "custom" ? "Bad events" : "Bad calls"), h("dd", { class: "num" }, `${fmt.countFull(s.bad)} of ${fmt.countFull(s.requests)} (${fmt.number(s.error_budget)} allowed)`),
      h("dt", {}, "Burn rate"), h("dd", { class: "num" }, s.burn_rate === null ? fmt.DASH : `${s.burn_rate.toFixed(2)}× over ${s.window}`)),
    h("div", { class: "burns" }, s.burn_alerts.map((a) => h("span", { class: `badge ${a.firing ? "bad" : ""}`, "data-burn": `${a.long}/${a.short}`, "data-firing": String(a.firing),
      title: `long ${a.long}: ${a.long_rate === null ? "—" : a.long_rate.toFixed(2)}×, short ${a.short}: ${a.short_rate === null ? "—" : a.short_rate.toFixed(2)}×` },
    `${a.burn_rate}× ${a.long}/${a.short}${a.firing ? " firing" : ""}`))));
  chart.card.dataset.slo = slo.id;
  chart.card.querySelector(".card-body").prepend(facts);
  if (firing.length) chart.card.classList.add("card-alarm");
  return chart;
}

// Backtest: what a rule would have fired over the last days, from POST /v1/alerts/rules/backtest
// (the live evaluator on a simulated clock; nothing is saved). The metric per step, the
// threshold, and each firing as a shaded band.
const SAMPLE_RULE = { name: "errors over 5 %", metric: "error_rate", operator: ">", threshold: 0.05, window: "5m", for: "2m", min_requests: 20 };

function backtestPanel(ctx) {
  const body = h("textarea", { class: "code", rows: 7, spellcheck: "false", style: "width:100%;font-family:ui-monospace,monospace;font-size:12px", "data-backtest-body": "", "aria-label": "Rule (JSON)" }, JSON.stringify(SAMPLE_RULE, null, 2));
  const days = h("select", { "data-backtest-days": "", "aria-label": "Days" }, ...[1, 7, 30].map((d) => h("option", { value: d, selected: d === 7 }, `last ${plural(d, "day")}`)));
  const summary = h("p", { class: "hint-line", "data-backtest-summary": "" }, "Paste a rule (the body of POST /v1/alerts/rules) and see what it would have fired.");
  const panel = h("div", { "data-backtest": "" });
  let chart = null;  // made on the first answer: an empty chart is never on the page
  const run = h("button", { class: "btn", "data-backtest-run": "", onclick: async () => {
    let rule;
    try { rule = JSON.parse(body.value); } catch (err) { summary.textContent = `Not JSON: ${err.message}`; return; }
    const to = new Date(Math.floor(Date.now() / 60000) * 60000);
    const from = new Date(to.getTime() - Number(days.value) * 86400000);
    run.disabled = true;
    summary.textContent = "Replaying…";
    try {
      const got = await ctx.api.request("POST", "/v1/alerts/rules/backtest", new URLSearchParams({ from: from.toISOString(), to: to.toISOString() }), rule);
      summary.textContent = `Over the ${days.selectedOptions[0].textContent} this rule would have fired ${plural(got.count, "time")}, for ${fmt.number(got.minutes)} minutes in all`
        + ` (${fmt.countFull(got.calls)} calls, a step of ${got.step}${got.coarsened ? ", coarsened" : ""}).${got.warnings.length ? ` ${got.warnings.join("; ")}.` : ""}`;
      Object.assign(summary.dataset, { count: got.count, minutes: got.minutes, from: got.from, to: got.to });
      if (!chart) {
        chart = chartCard({ id: "backtest", title: "Backtest", sub: "metric per step · firings shaded" });
        panel.append(chart.card);
      }
      drawBacktest(chart, rule, got);
    } catch (err) {
      summary.textContent = err.message;
      delete summary.dataset.count;
    } finally {
      run.disabled = false;
    }
  } }, "Backtest");
  const form = card("Backtest a rule", h("div", { class: "backtest" }, body, h("div", { class: "row-actions" }, days, run), summary),
    { id: "backtest-form", sub: "before saving it: the evaluator replayed over past calls" });
  panel.append(form);
  return panel;
}

function drawBacktest(chart, rule, got) {
  const s = got.series[0];
  const points = s ? s.points : [];
  const mine = got.firings.filter((f) => !s || f.subject === s.subject);
  chart.sub(s ? `${s.subject} · ${plural(mine.length, "firing")} shaded` : "no values");
  const at = (t) => tz.time(t, "hour");  // day and minute: unique over the range
  chart.set(base({
    tooltip: { trigger: "axis", confine: true },
    legend: { top: 0, left: 0 },
    grid: { left: 8, right: 8, top: 34, bottom: 4, containLabel: true },
    xAxis: { type: "category", data: points.map((p) => at(p[0])) },
    yAxis: { type: "value", scale: true },
    series: [
      { name: rule.metric || "value", type: "line", showSymbol: false, connectNulls: false, color: "#6366f1", data: points.map((p) => p[1]),
        markArea: { silent: true, itemStyle: { color: "rgba(239, 68, 68, 0.18)" },
          data: mine.map((f) => [{ xAxis: at(nearest(points, f.start)) }, { xAxis: at(nearest(points, f.end || got.to)) }]) } },
      { name: "threshold", type: "line", showSymbol: false, color: RED, lineStyle: { type: "dashed" }, data: points.map((p) => p[2]) },
    ],
  }), { columns: ["t", "value", "threshold"], rows: points.map((p) => ({ t: p[0], value: p[1], threshold: p[2] })) });
  chart.card.dataset.firings = String(mine.length);
}

// The series is thinned to at most 1,500 points: a firing is shaded from the nearest one.
function nearest(points, t) {
  if (!points.length) return t;
  const want = Date.parse(t);
  let best = points[0][0];
  for (const p of points) { if (Date.parse(p[0]) <= want) best = p[0]; else break; }
  return best;
}

const seconds = (v) => (v === null || v === undefined ? fmt.DASH : fmt.ms(v * 1000));

/** The latest incidents, and MTTA / MTTR per rule (GET /v1/incidents/stats?by=rule). */
function incidentTables(list, stats, rules) {
  const names = Object.fromEntries(rules.map((x) => [x.id, x.name]));
  const recent = dataTable({
    id: "incidents", rows: list, empty: "No incidents yet",
    columns: [
      { key: "severity", label: "Severity", render: severity },
      { key: "title", label: "Incident", cls: () => "lead", render: (x) => h("span", { class: "strong", "data-incident": x.id }, x.title) },
      { key: "state", label: "State", render: (x) => h("span", { class: `badge ${x.state === "open" ? "bad" : x.state === "acknowledged" ? "info" : "good"}`, "data-state": x.state }, x.state) },
      { key: "alerts", label: "Alerts", align: "right", format: (x) => fmt.countFull(x.alerts) },
      { key: "opened_at", label: "Opened (UTC)", format: (x) => fmt.dateTime(x.opened_at) },
      { key: "tta_s", label: "To ack", align: "right", format: (x) => seconds(x.tta_s) },
      { key: "ttr_s", label: "To resolve", align: "right", format: (x) => seconds(x.ttr_s) },
    ],
  });
  const figures = dataTable({
    id: "incident-stats", rows: stats, empty: "No incidents in the last 30 days",
    columns: [
      { key: "key", label: "Rule", cls: () => "lead", format: (x) => names[x.key] || x.key || "budgets and SLOs" },
      { key: "incidents", label: "Incidents", align: "right", format: (x) => fmt.countFull(x.incidents) },
      { key: "mtta_s", label: "MTTA", align: "right", render: (x) => h("span", { "data-mtta": x.mtta_s ?? "" }, seconds(x.mtta_s)) },
      { key: "mttr_s", label: "MTTR", align: "right", render: (x) => h("span", { "data-mttr": x.mttr_s ?? "" }, seconds(x.mttr_s)) },
    ],
  });
  return h("div", {}, cardsOnPhone(recent), cardsOnPhone(figures));
}

export default {
  mount(root, ctx) {
    const admin = !!(ctx.key && ctx.key.admin);
    const counts = h("div", { class: "grid kpis four" });
    const open = h("div", {});
    const resolved = h("div", {});
    const rules = h("div", {});
    const incidents = h("div", {});
    const budgets = h("div", { class: "grid three ops", "data-budgets": "" });
    const hint = admin ? null : h("p", { class: "hint-line", "data-hint": "admin" },
      "Acknowledging and resolving need a key with the admin scope; this key can only read.");
    root.append(counts,
      card("Open alerts", h("div", {}, hint, open), { id: "open-alerts", sub: "firing, pending and acknowledged; newest first" }),
      card("Incidents", incidents, { id: "incidents", sub: "related alerts grouped; MTTA and MTTR over the last 30 days" }),
      h("h2", { class: "section-title" }, "Budgets and SLOs"), budgets,
      card("Rules", rules, { id: "alert-rules" }),
      backtestPanel(ctx),
      card("Recently resolved", resolved, { id: "resolved-alerts", sub: "last 10" }));
    let busy = false;
    const act = async (id, action, button) => {
      if (busy) return;
      busy = true;
      button.disabled = true;
      try {
        await ctx.api.post(`/v1/alerts/${encodeURIComponent(id)}/${action}`, { note: `${action}d from the dashboard` });
        window.dispatchEvent(new Event("pp:navigate"));
      } catch (err) {
        button.disabled = false;
        button.title = err.message;
        button.classList.add("failed");
      } finally {
        busy = false;
      }
    };
    const actions = (a) => {
      const can = (wanted) => admin && wanted;
      const title = admin ? null : "Needs a key with the admin scope";
      return h("div", { class: "row-actions" },
        h("button", { class: "btn small", "data-action": "acknowledge", "data-alert": a.id, disabled: !can(a.state === "firing" || a.state === "pending"), title,
          onclick: (e) => act(a.id, "acknowledge", e.currentTarget) }, "Acknowledge"),
        h("button", { class: "btn small", "data-action": "resolve", "data-alert": a.id, disabled: !can(true), title,
          onclick: (e) => act(a.id, "resolve", e.currentTarget) }, "Resolve"));
    };
    // an SLO alert compares burn rates; the others the watched metric
    const alertValue = (a, v) => (a.alert_type === "slo_burn" && v !== null ? `${v.toFixed(2)}×` : metricValue(ctx.catalog, a.metric, v));
    const alertColumns = (withActions) => [
      { key: "severity", label: "Severity", render: severity },
      { key: "name", label: "Alert", cls: () => "msg lead", render: (a) => h("div", {}, h("div", { class: "strong" }, a.name), h("div", { class: "muted small" }, a.reason || "")) },
      { key: "state", label: "State", render: (a) => h("span", { class: `badge ${STATE_CLASS[a.state] || ""}`, "data-state": a.state }, a.state) },
      { key: "value", label: "Value", align: "right", format: (a) => alertValue(a, a.value) },
      { key: "threshold", label: "Threshold", align: "right", format: (a) => alertValue(a, a.threshold) },
      { key: "started_at", label: withActions ? "Since (UTC)" : "Resolved (UTC)", format: (a) => fmt.dateTime(withActions ? a.started_at : a.resolved_at || a.started_at) },
      withActions
        ? { key: "acknowledged_by", label: "Acknowledged", format: (a) => (a.acknowledged_by ? `${a.acknowledged_by}` : fmt.DASH) }
        : { key: "resolved_by", label: "By", format: (a) => a.resolved_by || "auto" },
      ...(withActions ? [{ key: "id", label: "", sortable: false, cls: () => "actions", render: actions }] : []),
    ];
    return {
      title: "Alerts",
      ranged: false,
      async update() {
        const [o, r, rr, b, s, inc, st] = await Promise.all([
          ctx.api.get("/v1/alerts", new URLSearchParams({ state: "open", limit: "200" })),
          ctx.api.get("/v1/alerts", new URLSearchParams({ state: "resolved", limit: "10" })),
          ctx.api.get("/v1/alerts/rules"),
          ctx.api.get("/v1/budgets"),
          ctx.api.get("/v1/slos"),
          ctx.api.get("/v1/incidents", new URLSearchParams({ limit: "20" })),
          ctx.api.get("/v1/incidents/stats", new URLSearchParams({ by: "rule" })),
        ]);
        const histories = await Promise.all(s.slos.map((x) => ctx.api.get(`/v1/slos/${encodeURIComponent(x.id)}/history`)));
        const n = (st) => o.alerts.filter((a) => a.state === st).length;
        const count = (key, title, value, tone, hintText) => h("section", { class: `card kpi ${value && tone ? `tone-${tone}` : ""}`, "data-count": key, "data-value": value },
          h("div", { class: "label" }, title), h("div", { class: "value num" }, fmt.countFull(value)), h("div", { class: "hint" }, hintText));
        const enabled = rr.rules.filter((x) => x.enabled).length;
        counts.replaceChildren(
          count("firing", "Firing", n("firing"), "bad", "notified, not yet acknowledged"),
          count("acknowledged", "Acknowledged", n("acknowledged"), "info", "someone is on it"),
          count("pending", "Pending", n("pending"), "warn", "condition true, waiting for its `for`"),
          count("rules", "Rules", rr.rules.length, null, `${enabled} enabled · ${plural(b.budgets.length, "budget")} · ${plural(s.slos.length, "SLO")}`));
        const order = { firing: 0, pending: 1, acknowledged: 2 };
        const sev = { critical: 0, warning: 1, info: 2 };
        const openRows = [...o.alerts].sort((x, y) => (order[x.state] - order[y.state]) || (sev[x.severity] - sev[y.severity]));
        const table = dataTable({ id: "open-alerts", rows: openRows, empty: "Nothing is firing. All quiet.", columns: alertColumns(true) });
        table.querySelectorAll("tbody tr").forEach((tr, i) => { if (openRows[i]) { tr.dataset.alert = openRows[i].id; tr.dataset.state = openRows[i].state; } });
        open.replaceChildren(cardsOnPhone(table));
        resolved.replaceChildren(cardsOnPhone(dataTable({ id: "resolved-alerts", rows: r.alerts, empty: "No resolved alerts yet", columns: alertColumns(false) })));
        rules.replaceChildren(cardsOnPhone(dataTable({
          id: "alert-rules", rows: rr.rules, empty: "No rules yet: POST /v1/alerts/rules or promptpulse alerts apply rules.yaml",
          columns: [
            { key: "name", label: "Rule", cls: () => "lead", render: (x) => h("span", { class: "strong", "data-rule": x.id }, x.name) },
            { key: "metric", label: "Condition", format: condition },
            { key: "window", label: "Window · for", format: (x) => `${x.window} · ${x.for}` },
            { key: "filters", label: "Scope", sortable: false, format: (x) => scopeText(x.filters) + (x.group_by ? ` · per ${x.group_by}` : "") },
            { key: "severity", label: "Severity", render: severity },
            { key: "channels", label: "Channels", sortable: false, format: (x) => x.channels.map((c) => c.type).join(", ") || fmt.DASH },
            { key: "enabled", label: "Enabled", render: (x) => h("span", { class: `badge ${x.enabled ? "good" : ""}` }, x.enabled ? "on" : "off") },
          ],
        })));
        incidents.replaceChildren(incidentTables(inc.incidents, st.rows, rr.rules));
        disposeWithin(budgets);  // a budget is one column, an SLO two
        budgets.replaceChildren(...b.budgets.map((x) => budgetCard(x).card),
          ...s.slos.map((x, i) => { const c = sloCard(x, histories[i]).card; c.classList.add("span-2"); return c; }),
          ...(b.budgets.length || s.slos.length ? [] : [h("div", { class: "card empty span-all" },
            "No budgets or SLOs yet: POST /v1/budgets, POST /v1/slos, or promptpulse alerts apply rules.yaml")]));
      },
    };
  },
};
