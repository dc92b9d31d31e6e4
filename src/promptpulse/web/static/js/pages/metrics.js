// Metrics: the project's custom metrics (GET /v1/metrics/custom) and, with an admin key, a form
// that defines one (POST /v1/metrics/custom). A wrong formula shows the API's message, which
// names the part and its position; nothing is saved then. A metric defined here is at once in
// the catalog the other pages read (Compare's "Decide by").
import { card, dataTable, h } from "../ui.js";

const COLUMNS = [
  { key: "name", label: "Name", sortable: false },
  { key: "formula", label: "Formula", sortable: false, render: (m) => h("code", {}, m.formula) },
  { key: "unit", label: "Unit", sortable: false },
  { key: "higher_is_better", label: "Better", sortable: false,
    format: (m) => (m.higher_is_better === null ? "—" : m.higher_is_better ? "higher" : "lower") },
  { key: "description", label: "Description", sortable: false },
];

function field(label, input) {
  return h("label", { class: "field" }, label, input);
}

export default {
  mount(root, ctx) {
    const admin = !!(ctx.key && ctx.key.admin);
    const list = h("div", { "data-custom-metrics": "" });
    root.append(card("Custom metrics", list, { id: "custom-metrics",
      sub: "formulas over catalog metrics and scores; see docs/metrics.md" }));
    if (admin) root.append(card("Define a custom metric", defineForm(ctx), { id: "define-metric" }));
    else root.append(h("p", { class: "hint-line", "data-hint": "admin" }, "Defining a metric needs a key with the admin scope."));
    return {
      title: "Metrics",
      ranged: false,
      async update() {
        const answer = await ctx.api.get("/v1/metrics/custom");
        list.replaceChildren(dataTable({ id: "custom-metrics", columns: COLUMNS, rows: answer.custom_metrics,
          empty: "No custom metric yet" }));
      },
    };
  },
};

function defineForm(ctx) {
  const name = h("input", { name: "name", required: true, placeholder: "satisfaction", autocomplete: "off" });
  const formula = h("input", { name: "formula", required: true, size: 60, autocomplete: "off",
    placeholder: "count(score.thumbs = 1) / count(score.thumbs)" });
  const unit = h("input", { name: "unit", placeholder: "ratio", autocomplete: "off" });
  const better = h("select", { name: "higher_is_better" },
    [["", "no direction"], ["true", "higher is better"], ["false", "lower is better"]]
      .map(([v, t]) => h("option", { value: v }, t)));
  const error = h("div", { class: "error-text", role: "alert", "data-define-error": "" });
  const submit = h("button", { type: "submit", class: "btn" }, "Define");
  const form = h("form", { "data-define": "" }, field("Name", name), field("Formula", formula),
    field("Unit", unit), field("Direction", better), submit, error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.textContent = "";
    const body = { name: name.value.trim(), formula: formula.value, unit: unit.value.trim(),
      higher_is_better: better.value === "" ? null : better.value === "true" };
    try {
      await ctx.api.post("/v1/metrics/custom", body);
      const catalog = await ctx.api.get("/v1/metrics/catalog");
      ctx.catalog = Object.fromEntries(catalog.metrics.map((m) => [m.name, m]));
      form.reset();
      window.dispatchEvent(new Event("pp:navigate"));
    } catch (err) {
      error.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
