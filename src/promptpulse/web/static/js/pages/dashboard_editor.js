// The widget editor of a custom dashboard: type, title, metric(s) from /v1/metrics/catalog,
// dimension, filters and the type's options. The server checks the whole dashboard on Save.
import * as state from "../state.js";
import { h } from "../ui.js";
import { HISTOGRAM_FIELDS, MULTI, NEEDS_DIMENSION, TYPES, TYPE_LABELS, metricsOf } from "./widgets.js";

const GRID = 12;
// A new widget's size: numbers are small, tables and charts wide.
const SIZES = { number: [3, 2], table: [6, 5], pivot: [12, 5], heatmap: [6, 5] };

/** The first spot, row by row, where a w × h widget overlaps none of `widgets`. */
export function firstFit(widgets, w, hgt) {
  const taken = (x, y) => widgets.some(({ position: p }) => x < p.x + p.w && p.x < x + w && y < p.y + p.h && p.y < y + hgt);
  for (let y = 0; y < 1000; y++) {
    for (let x = 0; x + w <= GRID; x++) if (!taken(x, y)) return { x, y, w, h: hgt };
  }
  return { x: 0, y: 1000, w, h: hgt };
}

const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** After widget `i` moved or grew: whatever it now covers moves down below it, and so on. */
export function settle(widgets, i) {
  const queue = [i];
  for (let guard = 0; queue.length && guard < 10000; guard++) {
    const a = widgets[queue.shift()].position;
    widgets.forEach((other, j) => {
      if (j !== i && other.position !== a && overlaps(a, other.position)) {
        other.position.y = a.y + a.h;
        queue.push(j);
      }
    });
  }
}

function field(name, text, input) {
  return h("label", { "data-field": name }, h("span", {}, text), input);
}

/** "model=gpt-4o, environment=prod" -> {model: ["gpt-4o"], environment: ["prod"]}. */
export function parseFilters(text) {
  const out = {};
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [name, ...rest] = part.split("=");
    const value = rest.join("=").trim();
    if (!name.trim() || !value) throw new Error(`filter '${part}': write name=value`);
    (out[name.trim()] ||= []).push(value);
  }
  return out;
}

function formatFilters(filters) {
  return Object.entries(filters || {}).flatMap(([n, vs]) => vs.map((v) => `${n}=${v}`)).join(", ");
}

/** The editor form; `existing` (with its `index`) or null for a new widget. */
export function editor(ctx, existing, save) {
  const w = existing || { type: "number", metric: "requests" };
  const metricNames = Object.keys(ctx.catalog);
  const type = h("select", { name: "type", "aria-label": "Widget type" }, TYPES.map((t) => h("option", { value: t, selected: t === w.type }, TYPE_LABELS[t])));
  const title = h("input", { name: "title", placeholder: "Title (optional)", value: w.title || "", maxlength: "200" });
  const first = metricsOf(w)[0] || "requests";
  const metric = h("select", { name: "metric", "aria-label": "Metric" }, metricNames.map((m) => h("option", { value: m, selected: m === first }, m)));
  const extra = h("select", { name: "metrics-extra", multiple: true, size: "4", "aria-label": "More metrics" },
    metricNames.map((m) => h("option", { value: m, selected: metricsOf(w).slice(1).includes(m) }, m)));
  const dims = state.API_FILTERS.filter((d) => d !== "tag");
  const onMetadata = (w.dimension || "").startsWith("metadata.");
  const dimension = h("select", { name: "dimension", "aria-label": "Dimension" }, h("option", { value: "" }, "—"),
    dims.map((d) => h("option", { value: d, selected: d === w.dimension }, d)),
    h("option", { value: "metadata.", selected: onMetadata }, "metadata.<key>…"));
  const metaKey = h("input", { name: "dimension-metadata", placeholder: "metadata key", value: onMetadata ? w.dimension.slice(9) : "", size: "12" });
  const filters = h("input", { name: "widget-filters", placeholder: "model=gpt-4o, environment=prod", value: formatFilters(w.filters), size: "28" });
  const limit = h("input", { name: "limit", type: "number", min: "1", max: "100", value: String(w.limit ?? 10), style: "width:64px" });
  const histField = h("select", { name: "field", "aria-label": "Field" }, HISTOGRAM_FIELDS.map((f) => h("option", { value: f, selected: f === w.field }, f)));
  const bins = h("input", { name: "bins", type: "number", min: "1", max: "200", value: String(w.bins ?? 40), style: "width:64px" });
  const error = h("div", { class: "error-text", role: "alert" });
  const parts = {
    metric: field("metric", "Metric", metric), extra: field("metrics-extra", "More metrics", extra),
    dimension: field("dimension", "Dimension", dimension), metaKey: field("dimension-metadata", "Metadata key", metaKey),
    limit: field("limit", "Rows", limit),
    field: field("field", "Field", histField), bins: field("bins", "Bins", bins),
  };
  const show = () => {
    const t = type.value;
    parts.metric.hidden = t === "histogram";
    parts.extra.hidden = !MULTI.has(t);
    parts.dimension.hidden = !NEEDS_DIMENSION.has(t);
    parts.metaKey.hidden = parts.dimension.hidden || dimension.value !== "metadata.";
    parts.limit.hidden = !["stacked", "pie", "donut", "table", "pivot"].includes(t);
    parts.field.hidden = parts.bins.hidden = t !== "histogram";
  };
  type.addEventListener("change", show);
  dimension.addEventListener("change", show);
  show();
  const form = h("form", { class: "card dash-editor", "data-form": "widget" },
    h("div", { class: "card-head" }, h("h2", {}, existing ? "Edit widget" : "Add widget")),
    h("div", { class: "card-body toolbar" }, field("type", "Type", type), field("title", "Title", title),
      parts.metric, parts.extra, parts.dimension, parts.metaKey, field("widget-filters", "Filters", filters), parts.limit, parts.field, parts.bins,
      h("button", { class: "btn primary small", type: "submit", "data-action": "save-widget" }, existing ? "Apply" : "Add"),
      h("button", { class: "btn small", type: "button", "data-action": "cancel-widget", onclick: () => form.remove() }, "Cancel"), error));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    try {
      save(build(), existing ? existing.index : null);
    } catch (err) { error.textContent = err.message; }
  });

  function build() {
    const t = type.value;
    const [wide, high] = SIZES[t] || [6, 4];
    const out = { id: existing?.id || `w${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`, type: t,
      title: title.value.trim(), filters: parseFilters(filters.value), position: existing?.position || { x: 0, y: 0, w: wide, h: high } };
    if (t === "histogram") return { ...out, field: histField.value, bins: Number(bins.value) || 40 };
    const more = MULTI.has(t) ? [...extra.selectedOptions].map((o) => o.value).filter((m) => m !== metric.value) : [];
    Object.assign(out, more.length ? { metrics: [metric.value, ...more] } : { metric: metric.value });
    if (NEEDS_DIMENSION.has(t)) {
      out.dimension = dimension.value === "metadata." ? (metaKey.value.trim() ? `metadata.${metaKey.value.trim()}` : null) : dimension.value || null;
    }
    if (!parts.limit.hidden) out.limit = Number(limit.value) || 10;
    if (existing?.interval) out.interval = existing.interval;
    if (existing && existing.compare === false) out.compare = false;
    if (out.dimension === null) throw new Error("choose a dimension");
    return out;
  }
  return form;
}
