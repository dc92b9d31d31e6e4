// The answer of /v1/compare (and an experiment's results) as a table: per-variant figures, each
// difference against the control with its CI (95 %, Holm-widened with 3+ variants) and p-value, the best of a row marked only when
// the API says it is significantly best, and the winner with the API's verdict sentence.
import * as fmt from "../fmt.js";
import { scrollCue, h } from "../ui.js";

export const ROWS = [
  { metric: "requests", label: "Requests" },
  { metric: "success_rate", label: "Success rate" },
  { metric: "error_rate", label: "Error rate" },
  { metric: "latency_p50_ms", label: "p50 latency" },
  { metric: "latency_p95_ms", label: "p95 latency" },
  { metric: "latency_mean_ms", label: "Mean latency" },
  { metric: "ttft_p95_ms", label: "p95 TTFT" },
  { metric: "tokens_per_request", label: "Avg tokens" },
  { metric: "cost_per_request_usd", label: "Cost / request" },
];
const LETTERS = "ABCDEFGHIJKLMNOPQRST";

/** A difference in the metric's unit, signed: rates in percentage points (fmt.difference). */
export function signed(unit, v) { return fmt.difference(v, unit); }

export const pValue = fmt.pValue;

/** Which way is better for a metric of this answer: the primary's direction may be overridden. */
function upFor(metric, answer, catalog, direction) {
  if (metric === answer.primary && direction) return direction === "higher";
  const m = catalog[metric];
  return m ? m.higher_is_better : null;
}

/** The rows the answer can fill: the usual ones present in it, then the primary and guardrails. */
function rowsOf(answer) {
  const v = answer.variants[0] || {};
  const tested = new Set(answer.comparisons.map((c) => c.metric));
  const rows = ROWS.filter((r) => r.metric in v && (r.metric === "requests" || tested.has(r.metric)
    || answer.variants.some((x) => x[r.metric] !== null && x[r.metric] !== undefined)));
  for (const metric of tested) if (!rows.some((r) => r.metric === metric)) rows.push({ metric, label: metric });
  // a row nobody has figures for (TTFT without streaming) says nothing
  return rows.filter((r) => r.metric === "requests" || answer.variants.some((x) => x[r.metric] !== null && x[r.metric] !== undefined));
}

/**
 * The comparison table. Hooks: tr[data-metric]; td[data-item][data-value]; on non-control cells
 * data-diff, data-ci-low, data-ci-high, data-p (Holm-adjusted), data-significant; td[data-best]
 * exactly where the API's `best` names the variant.
 */
export function comparisonTable(answer, catalog, { id = "compare", direction = null } = {}) {
  const control = answer.control;
  const by = new Map(answer.comparisons.map((c) => [`${c.metric}\u0000${c.variant}`, c]));
  const head = h("tr", {}, h("th", {}, "Metric"), answer.variants.map((v, i) => h("th", { class: "r", "data-item": v.value },
    h("span", { class: "badge letter" }, LETTERS[i]), " ", v.value,
    i === 0 ? h("span", { class: "tag" }, "control") : null)));
  const body = rowsOf(answer).map((row) => {
    const m = catalog[row.metric] || {};
    const up = upFor(row.metric, answer, catalog, direction);
    const role = row.metric === answer.primary ? "primary" : (answer.guardrails || []).includes(row.metric) ? "guardrail" : null;
    const bestOf = (answer.best || {})[row.metric] ?? null;
    return h("tr", { "data-metric": row.metric, class: role === "primary" ? "primary-row" : "" },
      h("td", {}, h("span", { title: m.description || "" }, row.label),
        role ? h("span", { class: `tag ${role}` }, role) : null),
      answer.variants.map((v) => {
        const raw = v[row.metric];
        const isBest = bestOf !== null && bestOf === v.value;
        const value = h("div", { class: "v" }, fmt.byUnit(m.unit, raw),
          isBest ? h("span", { class: "star", title: "significantly best of this row" }, " ★") : null);
        const attrs = { class: `r num cmp${isBest ? " best" : ""}`, "data-item": v.value, "data-value": raw ?? "", "data-best": isBest ? "true" : null };
        const c = v.value === control ? null : by.get(`${row.metric}\u0000${v.value}`);
        if (!c) return h("td", attrs, value, v.value === control && row.metric !== "requests" && answer.comparisons.some((x) => x.metric === row.metric) ? h("div", { class: "d muted" }, "baseline") : null);
        Object.assign(attrs, {
          "data-diff": c.difference ?? "", "data-ci-low": c.ci_low ?? "", "data-ci-high": c.ci_high ?? "",
          "data-p": c.p_value_adjusted ?? "", "data-significant": String(c.significant), "data-test": c.test,
        });
        if (c.difference === null) return h("td", attrs, value, h("div", { class: "d muted" }, "not enough data"));
        const good = up === null || up === undefined || !c.significant || c.difference === 0 ? "flat" : (c.difference > 0) === up ? "good" : "bad";
        // With 3+ variants the API widens each interval to its Holm level (ci_level).
        const level = c.ci_level ? fmt.pct(c.ci_level) : "95%";
        const ci = `${level} CI ${signed(m.unit, c.ci_low)} to ${signed(m.unit, c.ci_high)}`;
        return h("td", attrs, value,
          h("div", { class: `d ${good}`, title: `${c.test.replaceAll("_", " ")}; ${ci}; ${pValue(c.p_value)} before Holm` },
            signed(m.unit, c.difference), h("span", { class: "p" }, ` · ${pValue(c.p_value_adjusted)}`)),
          h("div", { class: "ci" }, ci));
      }));
  });
  return scrollCue(h("table", { class: "data cmp-table", "data-table": id, style: `--n:${answer.variants.length}` }, h("thead", {}, head), h("tbody", {}, body)));
}

/** The winner (or none) and the API's verdict sentence, as one banner. */
export function verdictBox(answer, { decision = null, srm = null } = {}) {
  const winner = answer.winner;
  const breached = / but significantly worse on /.test(answer.verdict);
  const kind = srm && srm.mismatch ? "alarm" : winner ? "win" : breached ? "warn" : "neutral";
  const title = decision ? decision : winner ? `Winner: ${winner}` : breached ? "No winner: a guardrail is worse" : "No winner";
  return h("div", { class: `verdict ${kind}`, "data-winner": winner ?? "", "data-verdict": answer.verdict, role: "status" },
    h("div", { class: "verdict-mark", "aria-hidden": "true" }, kind === "win" ? "✓" : kind === "alarm" ? "!" : kind === "warn" ? "⚠" : "="),
    h("div", {}, h("div", { class: "verdict-title", "data-decision": decision ?? null }, title),
      // the sample-ratio warning has its own banner above; the sentence keeps the rest
      h("div", { class: "verdict-text" }, srm && srm.mismatch ? answer.verdict.replace(`SAMPLE RATIO MISMATCH: ${srm.message} `, "Sample ratio mismatch (see above). ") : answer.verdict)));
}
