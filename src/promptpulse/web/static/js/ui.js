// Tiny DOM helpers: h() builds elements (text is always text, never HTML), icons, KPI cards, tables.
import * as fmt from "./fmt.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const PATHS = {
  overview: "M3 12h4l3-8 4 16 3-8h4",
  performance: "M4 18a8 8 0 1 1 16 0M12 18l4-6",
  prompts: "M4 6h16M4 12h16M4 18h10",
  compare: "M8 4v16M16 4v16M4 8h8M12 16h8",
  cost: "M12 3v18M16.5 7.5c0-1.7-2-3-4.5-3s-4.5 1.3-4.5 3 2 2.6 4.5 3 4.5 1.3 4.5 3-2 3-4.5 3-4.5-1.3-4.5-3",
  errors: "M12 8v5M12 16.5v.5M10.3 3.9 2.4 17.6A2 2 0 0 0 4.1 20.6h15.8a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z",
  experiments: "M9 3h6M10 3v6l-5 9a2 2 0 0 0 1.7 3h10.6a2 2 0 0 0 1.7-3l-5-9V3M7.5 14h9",
  alerts: "M6 8a6 6 0 1 1 12 0c0 7 3 9 3 9H3s3-2 3-9M10.3 21a1.9 1.9 0 0 0 3.4 0",
  dashboards: "M4 4h7v9H4zM13 4h7v5h-7zM13 11h7v9h-7zM4 15h7v5H4z",
  download: "M12 4v11m0 0-4-4m4 4 4-4M5 20h14",
  image: "M4 5h16v14H4zM4 16l5-5 4 4 3-3 4 4",
  moon: "M20 14.5A8 8 0 0 1 9.5 4 8 8 0 1 0 20 14.5z",
  sun: "M12 4V2m0 20v-2m8-8h2M2 12h2m13.7-5.7 1.4-1.4M4.9 19.1l1.4-1.4m0-11.4L4.9 4.9m14.2 14.2-1.4-1.4M12 8a4 4 0 1 0 0 8 4 4 0 0 0 0-8z",
  plus: "M12 5v14M5 12h14",
  logout: "M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10",
  users: "M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM2 21v-1a6 6 0 0 1 12 0v1M16 3.1a4 4 0 0 1 0 7.8M22 21v-1a6 6 0 0 0-4-5.7",
  metrics: "M18 4H6l6 8-6 8h12",
};

export function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "1.9");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", PATHS[name] || "");
  svg.append(path);
  return svg;
}

/**
 * A KPI card. `data-metric` is the catalog name and `data-value` the API's raw number, so
 * scripts read exactly what the API said; the text is only its formatted form.
 */
export function kpiCard(metric, label, { spark = false, hint = "" } = {}) {
  const value = h("div", { class: "value num" }, fmt.DASH);
  const delta = h("div", { class: "delta flat" });
  const hintEl = h("div", { class: "hint" }, hint);
  const sparkEl = spark ? h("div", { class: "spark" }) : null;
  const card = h("section", { class: "card kpi", "data-metric": metric, "data-value": "" },
    h("div", { class: "label" }, label), value, delta, hintEl, sparkEl);
  return {
    card, sparkEl,
    set(raw, text, { previous = undefined, higherIsBetter = null, hint: hintText = null, baseline = null, unit = null } = {}) {
      card.dataset.value = raw === null || raw === undefined ? "" : String(raw);
      value.textContent = text;
      if (hintText !== null) hintEl.textContent = hintText;
      delta.textContent = "";
      if (previous === undefined) return;
      // One rule (fmt.delta): "new" from 0, "n/a" on a previous period under MIN_BASELINE calls.
      const said = fmt.delta(raw, previous, baseline, unit);
      const c = fmt.change(raw, previous, baseline);
      delta.dataset.delta = said;
      delta.dataset.change = c === null ? "" : String(c);
      if (said === fmt.DASH) { delta.className = "delta flat"; delta.append(h("span", { class: "vs" }, "no previous data")); return; }
      if (c === null) { delta.className = "delta flat"; delta.append(said, h("span", { class: "vs" }, "vs previous")); return; }
      const arrow = c > 0 ? "▲" : c < 0 ? "▼" : "■";
      const good = higherIsBetter === null || c === 0 ? "flat" : (c > 0) === higherIsBetter ? "good" : "bad";
      delta.className = `delta ${good}`;
      delta.append(`${arrow} ${said.replace(/^[+-]/, "")}`, h("span", { class: "vs" }, "vs previous"));
    },
  };
}

/**
 * A sortable table. columns: [{key, label, format(row), value(row), align, sortable}].
 * Sorting orders the API's rows; it never changes a figure.
 */
export function dataTable({ id, columns, rows, sort = null, onSort = null, empty = "No data in this range" }) {
  const thead = h("thead", {}, h("tr", {}, columns.map((c) => {
    const sorted = sort && sort.key === c.key ? (sort.desc ? "descending" : "ascending") : null;
    return h("th", {
      class: `${c.align === "right" ? "r" : ""} ${c.sortable === false ? "" : "sortable"}`,
      "aria-sort": sorted, "data-key": c.key, scope: "col",
      onclick: c.sortable === false || !onSort ? null : () => onSort(c.key),
    }, c.label);
  })));
  const tbody = h("tbody", {});
  if (!rows.length) tbody.append(h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, empty)));
  for (const row of rows) {
    tbody.append(h("tr", {}, columns.map((c) => {
      const content = c.render ? c.render(row) : c.format ? c.format(row) : row[c.key];
      return h("td", { class: `${c.align === "right" ? "r num" : ""} ${c.cls ? c.cls(row) : ""}`, "data-key": c.key }, content);
    })));
  }
  return scrollCue(h("table", { class: "data", "data-table": id }, thead, tbody));
}

const cued = new ResizeObserver((entries) => entries.forEach((e) => e.target.pp_cue?.()));

/**
 * A table in a horizontally scrolling box that says when columns are hidden: the wrapper gets
 * `data-overflow="left right"` (either or both) and app.css draws a shadow on that side.
 */
export function scrollCue(table) {
  const scroller = h("div", { class: "table-scroll" }, table);
  const wrap = h("div", { class: "table-wrap" }, scroller);
  const cue = () => {
    const sides = [];
    if (scroller.scrollLeft > 1) sides.push("left");
    if (scroller.scrollLeft + scroller.clientWidth < scroller.scrollWidth - 1) sides.push("right");
    if (sides.length) wrap.dataset.overflow = sides.join(" ");
    else delete wrap.dataset.overflow;
  };
  scroller.pp_cue = cue;
  scroller.addEventListener("scroll", cue, { passive: true });
  cued.observe(scroller);
  cued.observe(table);
  table.pp_cue = cue;
  return wrap;
}

export function sortRows(rows, key, desc) {
  const dir = desc ? -1 : 1;
  return [...rows].sort((a, b) => {
    const x = a[key];
    const y = b[key];
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    if (typeof x === "string" || typeof y === "string") return String(x).localeCompare(String(y)) * dir;
    return (x - y) * dir;
  });
}

export function card(title, body, { sub = "", id = null, cls = "" } = {}) {
  return h("section", { class: `card ${cls}`, "data-card": id },
    h("div", { class: "card-head" }, h("h2", {}, title), sub ? h("span", { class: "sub" }, sub) : null),
    h("div", { class: "card-body" }, body));
}

export function label(value) {
  return value === null || value === undefined || value === "" ? "(none)" : String(value);
}

/** On a phone the table's rows become cards: each cell labelled with its column's title. */
export function cardsOnPhone(wrap) {
  const table = wrap.querySelector("table");
  table.classList.add("cards");
  const labels = [...table.querySelectorAll("thead th")].map((th) => th.textContent);
  for (const tr of table.querySelectorAll("tbody tr")) {
    [...tr.children].forEach((td, i) => { if (labels[i]) td.dataset.label = labels[i]; });
  }
  return wrap;
}
