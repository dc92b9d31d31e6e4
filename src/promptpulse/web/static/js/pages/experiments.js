// Experiments: the list (/v1/experiments) and one experiment's results
// (/v1/experiments/{id}/results): the sample-ratio check first and loudly, the sequential decision,
// the plan (calls needed, days to go), per-variant figures against the control, the always-valid
// tests, and calls and the primary metric per day. An experiment has its own range (start to end
// or now); the range control does not change it.
import { base, chartCard } from "../charts.js";
import * as fmt from "../fmt.js";
import * as state from "../state.js";
import { card, cardsOnPhone, dataTable, h } from "../ui.js";
import { bucketEnd } from "./common.js";
import { comparisonTable, pValue, signed, verdictBox } from "./comparison.js";

function decisionKind(decision) {
  if (decision.startsWith("stop: guardrail")) return "bad";
  if (decision.startsWith("stop: no meaningful")) return "flat";
  if (decision.startsWith("stop:")) return "good";
  return "running";
}

function statusBadge(status) {
  return h("span", { class: `badge ${status === "running" ? "good" : ""}`, "data-status": status }, status);
}

function stat(key, title, value, hint = "", raw = "") {
  return h("section", { class: "card kpi", "data-plan": key, "data-value": raw ?? "" },
    h("div", { class: "label" }, title), h("div", { class: "value num" }, value), h("div", { class: "hint" }, hint));
}

function list(root, { go }) {
  const body = h("div", {});
  root.append(card("Experiments", body, { id: "experiments", sub: "newest first" }));
  const open = (e, id) => { e.preventDefault(); go(`/experiments/${encodeURIComponent(id)}`); };
  return {
    title: "Experiments",
    ranged: false,
    async update(ctx) {
      const { experiments } = await ctx.api.get("/v1/experiments");
      const rows = [...experiments].sort((a, b) => (b.created_at || "").localeCompare(a.created_at || ""));
      if (!rows.length) {
        body.replaceChildren(h("div", { class: "empty" }, "No experiments yet. Create one with ",
          h("code", {}, "promptpulse experiments create --name … --variant v1:prompt_version=v1:50 --variant v2:prompt_version=v2:50"),
          " (docs/experiments.md)."));
        return;
      }
      body.replaceChildren(dataTable({
        id: "experiments", rows,
        columns: [
          { key: "name", label: "Experiment", render: (x) => h("a", { href: state.carry(`/experiments/${encodeURIComponent(x.id)}`), "data-experiment": x.id, onclick: (e) => open(e, x.id) }, x.name) },
          { key: "status", label: "Status", render: (x) => statusBadge(x.status) },
          { key: "variants", label: "Variants", sortable: false, format: (x) => x.variants.map((v) => `${v.name} (${v.weight})`).join(" · ") },
          { key: "dimension", label: "On" },
          { key: "primary_metric", label: "Primary" },
          { key: "mde", label: "MDE", align: "right", format: (x) => x.mde ?? fmt.DASH },
          { key: "start", label: "Start (UTC)", format: (x) => fmt.dateTime(x.start) },
          { key: "end", label: "End (UTC)", format: (x) => (x.end ? fmt.dateTime(x.end) : "open") },
        ],
      }));
    },
  };
}

function detail(root, ref, { go }) {
  const crumbs = h("div", { class: "crumbs" }, h("a", { href: state.carry("/experiments"), onclick: (e) => { e.preventDefault(); go("/experiments"); } }, "Experiments"), " / ", h("b", { "data-experiment-title": "" }, ref));
  const srm = h("div", {});
  const stats = h("div", { class: "grid kpis four" });
  const verdict = h("div", {});
  const table = h("div", {});
  const seq = h("div", {});
  const about = h("div", {});
  const calls = chartCard({ id: "experiment-daily-calls", title: "Calls per day", sub: "by variant" });
  const metric = chartCard({ id: "experiment-daily-primary", title: "Primary metric per day", sub: "by variant" });
  root.append(crumbs, srm, stats,
    card("Variants against the control", h("div", { class: "stack" }, verdict, table,
      h("p", { class: "footnote" }, "Fixed-horizon tests over the experiment's whole range: difference (variant − control), 95% CI, Holm-adjusted p. Valid if you look once; the decision above uses the always-valid tests below.")),
    { id: "experiment-variants" }),
    card("Sequential tests (always valid)", seq, { id: "experiment-sequential", sub: "mSPRT confidence sequences: safe to look every day" }),
    h("div", { class: "grid two" }, calls.card, metric.card),
    card("About this experiment", about, { id: "experiment-about" }));
  const view = { title: "Experiment", ranged: false };
  view.update = async (ctx) => {
    const res = await ctx.api.get(`/v1/experiments/${encodeURIComponent(ref)}/results`);
    const exp = res.experiment;
    const m = ctx.catalog[res.primary] || {};
    view.title = exp.name;
    document.querySelector("[data-title]").textContent = `Experiment · ${exp.name}`;
    crumbs.querySelector("[data-experiment-title]").textContent = exp.name;
    // 1. the sample-ratio check, loudly when it fails
    const s = res.srm;
    srm.replaceChildren(s.mismatch
      ? h("div", { class: "alarm-banner", role: "alert", "data-srm": "mismatch" },
        h("div", { class: "alarm-title" }, "Sample ratio mismatch — do not trust these results"),
        h("div", {}, s.message), h("div", { class: "alarm-sub" }, `Observed ${s.source}: ${s.observed.join(" / ")}; expected ${s.expected.map((x) => x.toFixed(0)).join(" / ")}; χ² = ${s.chi2?.toFixed(1)}, ${pValue(s.p_value)}.`))
      : h("div", { class: "ok-line", "data-srm": "ok" }, h("span", { class: "badge good" }, "split OK"), ` ${s.message}`));
    // 2. decision and plan
    const plan = res.plan;
    const kind = decisionKind(res.decision);
    const progress = plan.per_variant ? Math.min(1, (plan.calls_so_far || 0) / plan.per_variant) : null;
    stats.replaceChildren(
      h("section", { class: `card kpi decision ${kind}`, "data-decision": res.decision },
        h("div", { class: "label" }, "Decision (sequential)"), h("div", { class: "value" }, res.decision),
        h("div", { class: "hint" }, kind === "running" ? "no always-valid conclusion yet" : `at α = ${res.sequential.alpha}`)),
      stat("per_variant", "Calls needed per variant", plan.per_variant ? fmt.countFull(plan.per_variant) : fmt.DASH,
        plan.note || `to detect ${signed(m.unit, exp.mde)} at ${Math.round(exp.power * 100)}% power`, plan.per_variant),
      h("section", { class: "card kpi", "data-plan": "calls_so_far", "data-value": plan.calls_so_far ?? "" },
        h("div", { class: "label" }, "Calls so far (smallest arm)"), h("div", { class: "value num" }, plan.calls_so_far === undefined ? fmt.DASH : fmt.countFull(plan.calls_so_far)),
        progress === null ? h("div", { class: "hint" }, "") : h("div", { class: "progress", title: fmt.pct(progress) }, h("div", { style: `width:${(progress * 100).toFixed(1)}%` })),
        h("div", { class: "hint" }, progress === null ? "" : `${fmt.pct(progress, 0)} of the plan`)),
      stat("days_to_go", "Days to go", plan.days_to_go === null || plan.days_to_go === undefined ? fmt.DASH : plan.days_to_go === 0 ? "done" : plan.days_to_go.toFixed(1),
        plan.calls_per_day ? `at ${fmt.count(Math.round(plan.calls_per_day))} calls/day per variant` : "", plan.days_to_go));
    // 3. figures and fixed-horizon tests
    verdict.replaceChildren(verdictBox(res, { srm: s }));
    table.replaceChildren(comparisonTable(res, ctx.catalog, { id: "experiment", direction: exp.direction }));
    // 4. sequential tests
    const unit = (row) => (ctx.catalog[row.metric] || {}).unit;
    seq.replaceChildren(cardsOnPhone(dataTable({
      id: "sequential", rows: res.sequential.tests, empty: "No tests yet",
      columns: [
        { key: "metric", label: "Metric", cls: () => "lead", render: (r) => h("span", {}, r.metric, r.metric === res.primary ? h("span", { class: "tag primary" }, "primary") : h("span", { class: "tag guardrail" }, "guardrail")) },
        { key: "variant", label: "Variant" },
        { key: "difference", label: "Difference", align: "right", format: (r) => signed(unit(r), r.difference) },
        { key: "cs_low", label: "Confidence sequence", align: "right", format: (r) => (r.cs_low === null ? fmt.DASH : `${signed(unit(r), r.cs_low)} to ${signed(unit(r), r.cs_high)}`) },
        { key: "p_value_adjusted", label: "Always-valid p", align: "right", format: (r) => pValue(r.p_value_adjusted) },
        { key: "significant", label: "", render: (r) => (r.significant ? h("span", { class: "badge good" }, "significant") : h("span", { class: "muted" }, "not yet")) },
      ],
    })));
    // 5. per day
    const days = [...new Set(res.daily.map((d) => d.t))].sort();
    const names = exp.variants.map((v) => v.name);
    const cell = new Map(res.daily.map((d) => [`${d.t}\u0000${d.variant}`, d]));
    const x = days.map((t) => fmt.time(t, "day"));
    // a running experiment's last UTC day is still filling: charts.js draws it as partial
    x.partial = days.length > 0 && bucketEnd(days[days.length - 1], "day") > new Date(res.to).getTime() ? days.length - 1 : null;
    x.partialUntil = res.to;
    const csv = { columns: ["t", "variant", "requests", res.primary], rows: res.daily };
    calls.set(base({ tooltip: { trigger: "axis", confine: true, valueFormatter: (v) => fmt.count(v) },
      xAxis: { type: "category", data: x }, yAxis: { type: "value", axisLabel: { formatter: fmt.axis("count") } },
      series: names.map((n) => ({ name: n, type: "bar", barMaxWidth: 16, data: days.map((t) => cell.get(`${t}\u0000${n}`)?.requests ?? 0) })) }), csv);
    metric.sub(`${res.primary}, by variant`);
    metric.set(base({ tooltip: { trigger: "axis", confine: true, valueFormatter: (v) => fmt.byUnit(m.unit, v) },
      xAxis: { type: "category", data: x, boundaryGap: days.length < 2 }, yAxis: { type: "value", scale: true, axisLabel: { formatter: fmt.axis(m.unit) } },
      series: names.map((n) => ({ name: n, type: "line", symbol: days.length < 3 ? "circle" : "none", symbolSize: 7, connectNulls: true,
        data: days.map((t) => cell.get(`${t}\u0000${n}`)?.[res.primary] ?? null) })) }), csv);
    // 6. what was planned
    const dl = (k, v) => [h("dt", {}, k), h("dd", {}, v)];
    about.replaceChildren(h("dl", { class: "facts" },
      dl("Hypothesis", exp.hypothesis || fmt.DASH),
      dl("Status", statusBadge(exp.status)),
      dl("Key", h("code", {}, exp.key)),
      dl("Variants", exp.variants.map((v, i) => h("span", { class: "chip plain" }, `${v.name}${i === 0 ? " (control)" : ""}: ${v.filter} · weight ${v.weight}`))),
      dl("Primary metric", `${exp.primary_metric}${exp.direction ? ` (${exp.direction} is better)` : ""}`),
      dl("Guardrails", exp.guardrails.join(", ") || "none"),
      dl("MDE · α · power", `${exp.mde ?? fmt.DASH} · ${exp.alpha} · ${exp.power}`),
      dl("Range (UTC)", `${fmt.dateTime(res.from)} – ${fmt.dateTime(res.to)}${exp.end ? "" : " (running: up to now)"}`)));
  };
  return view;
}

export default {
  mount(root, ctx, args) {
    return args.experimentId ? detail(root, args.experimentId, args) : list(root, args);
  },
};
