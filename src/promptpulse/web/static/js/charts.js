// ECharts (vendored, window.echarts) with two themes, chart cards with CSV and PNG export.
import { overlayMarkers } from "./markers.js";
import { overlayPrevious } from "./previous.js";
import * as tz from "./tz.js";
import { h, icon } from "./ui.js";

export const PALETTE = ["#6366f1", "#10b981", "#f59e0b", "#ef4444", "#06b6d4", "#a855f7", "#ec4899", "#84cc16", "#f97316", "#64748b", "#a16207", "#1f2937"];
// The same hues, lighter, for dark mode (index i is the same series in both themes).
export const PALETTE_DARK = ["#818cf8", "#34d399", "#fbbf24", "#f87171", "#22d3ee", "#c084fc", "#f472b6", "#a3e635", "#fb923c", "#94a3b8", "#eab308", "#e5e7eb"];
// Series every chart names the same way keep fixed slots (no hash collisions between them).
const FIXED = { p50: 0, p95: 1, p99: 2, Input: 0, Output: 1, Requests: 0 };

/** A stable index into the palette from a series name (FNV-1a), the same on every page and range. */
export function colorIndex(name) {
  const key = String(name ?? "");
  if (key in FIXED) return FIXED[key];
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % PALETTE.length;
}

/** The colour of a series (a model, a prompt, a version) in the current theme. */
export function colorFor(name) { return (isDark() ? PALETTE_DARK : PALETTE)[colorIndex(name)]; }
export const ERROR_COLORS = {
  rate_limit: "#f59e0b", timeout: "#ef4444", llm_error: "#a855f7", validation: "#06b6d4",
  network: "#64748b", content_filter: "#ec4899", system: "#f97316", other: "#94a3b8",
};

// Chart text in each theme: app.css --muted, ≥ 4.5:1 against --panel (tested).
export const THEME_TEXT = { light: "#5d6679", dark: "#9aa4b6" };
// The heatmap's scale, light to strong, in each theme (dark starts at the panel's colour).
export const HEAT = {
  light: ["#eef2ff", "#a5b4fc", "#6366f1", "#3730a3"],
  dark: ["#1c2233", "#3730a3", "#6366f1", "#c7d2fe"],
};
export function heatColors() { return isDark() ? HEAT.dark : HEAT.light; }
/** Alternating row/column shading of category axes (the heatmap's grid). */
export function splitAreaColors() { return isDark() ? ["#151b24", "#18202b"] : ["#ffffff", "#fafbfd"]; }

function theme(dark) {
  const text = dark ? THEME_TEXT.dark : THEME_TEXT.light;  // app.css --muted
  const line = dark ? "#252d3a" : "#e9ecf2";
  const axis = { axisLine: { lineStyle: { color: line } }, axisTick: { show: false },
    axisLabel: { color: text, fontSize: 11 }, splitLine: { lineStyle: { color: line } } };
  return {
    color: dark ? PALETTE_DARK : PALETTE,
    backgroundColor: "transparent",
    textStyle: { fontFamily: "Inter, Segoe UI, system-ui, sans-serif", color: text },
    legend: { textStyle: { color: text, fontSize: 11.5 }, icon: "roundRect", itemWidth: 10, itemHeight: 10 },
    tooltip: { backgroundColor: dark ? "#1a212c" : "#ffffff", borderColor: dark ? "#323c4c" : "#e4e7ee",
      textStyle: { color: dark ? "#e6eaf2" : "#141a26", fontSize: 12 }, extraCssText: "box-shadow:0 4px 16px rgba(0,0,0,.12);border-radius:8px;" },
    categoryAxis: { ...axis, axisLabel: { ...axis.axisLabel, hideOverlap: true, alignMaxLabel: "right" } },
    valueAxis: { ...axis, axisLine: { show: false } }, timeAxis: axis,
    visualMap: { textStyle: { color: text } },
    markLine: { label: { color: text } },
    line: { symbol: "none", smooth: 0.2, lineStyle: { width: 2 } },
  };
}

let registered = false;
function ensureThemes() {
  if (registered) return;
  window.echarts.registerTheme("pp-light", theme(false));
  window.echarts.registerTheme("pp-dark", theme(true));
  registered = true;
}

export function isDark() { return document.documentElement.dataset.theme === "dark"; }

const live = new Set();
// A chart follows its box. The observer also reports every box once when first observed, at
// the size the chart was drawn at: skipping that saves a second full render of every chart on
// each page load (~60 ms for the Overview's 13).
const observer = new ResizeObserver((entries) => {
  for (const e of entries) {
    const chart = window.echarts.getInstanceByDom(e.target);
    const { width, height } = e.contentRect;
    if (!chart || width <= 0) continue;
    if (Math.abs(chart.getWidth() - width) >= 1 || Math.abs(chart.getHeight() - height) >= 1) chart.resize();
  }
});

export function init(el) {
  ensureThemes();
  const chart = window.echarts.init(el, isDark() ? "pp-dark" : "pp-light", { renderer: "canvas" });
  live.add(chart);
  observer.observe(el);
  return chart;
}

export function disposeAll() {
  for (const chart of live) {
    observer.unobserve(chart.getDom());
    chart.dispose();
  }
  live.clear();
}

/** Dispose the charts inside an element about to be replaced (cards rebuilt on each refresh). */
export function disposeWithin(root) {
  for (const chart of [...live]) {
    if (root.contains(chart.getDom())) {
      observer.unobserve(chart.getDom());
      chart.dispose();
      live.delete(chart);
    }
  }
}

/** Defaults every chart shares: no animation (live refreshes must not flicker), tight grid. */
export function base(extra = {}) {
  return {
    animation: false,
    grid: { left: 8, right: 12, top: 34, bottom: 4, containLabel: true },
    tooltip: { trigger: "axis", confine: true },
    legend: { top: 0, left: 0, type: "scroll" },
    ...extra,
  };
}

/** Series without a colour of their own get their name's stable colour (pie slices too). */
function stableColors(option) {
  for (const s of [option.series || []].flat()) {
    if (s.type === "pie") {
      s.data = (s.data || []).map((d) => (d.itemStyle?.color ? d : { ...d, itemStyle: { ...d.itemStyle, color: colorFor(d.name) } }));
    } else if (!s.color && !s.itemStyle?.color && !s.lineStyle?.color && s.name !== undefined && s.type !== "heatmap" && s.type !== "gauge") {
      s.color = colorFor(s.name);
    }
  }
  return option;
}

/** On a narrow card a pie's side legend would sit on the pie: it goes below it instead. */
function fitPie(option, el) {
  const pie = [option.series || []].flat().find((s) => s.type === "pie");
  if (!pie || !option.legend || option.legend.orient !== "vertical" || el.clientWidth >= 520) return;
  option.legend = { ...option.legend, orient: "horizontal", left: "center", right: null, top: null, bottom: 0 };
  pie.center = ["50%", "44%"];
  pie.radius = ["44%", "70%"];
}

const esc = (v) => String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (v) => (v && typeof v === "object" ? v.value : v);

/**
 * The last bucket of a timeseries is still filling when the range ends inside it
 * (`xAxis.data.partial`, set by pages/common.js): its bars are drawn lighter, the last segment
 * of each line dashed, and the tooltip says "partial: up to now". The figures are unchanged.
 */
function markPartial(option, el) {
  const x = Array.isArray(option.xAxis) ? option.xAxis[0] : option.xAxis;
  const i = x?.data?.partial;
  delete el.dataset.partial;
  if (i === null || i === undefined || i < 0 || i >= x.data.length) return option;
  el.dataset.partial = String(i);
  const until = x.data.partialUntil && Math.abs(new Date(x.data.partialUntil) - Date.now()) > 120e3
    ? `${tz.dateTime(x.data.partialUntil)} ${tz.label()}` : "now";
  const out = [];
  const stacked = new Map();
  for (const s of option.series) {
    out.push(s);
    if (s.previousOf) continue;  // a previous period's line (previous.js) is drawn whole
    if (s.type === "bar") {
      s.data = s.data.map((v, j) => (j !== i ? v : v && typeof v === "object"
        ? { ...v, partial: true, itemStyle: { ...v.itemStyle, opacity: 0.4 } } : { value: v, partial: true, itemStyle: { opacity: 0.4 } }));
    } else if (s.type === "line") {
      const raw = [num(s.data[i - 1]), num(s.data[i])];
      let shown = raw;
      if (s.stack) {  // the overlay is not stacked: draw it at the stacked height
        const base = stacked.get(s.stack) || [0, 0];
        shown = raw.map((v, k) => (v === null || v === undefined ? null : v + base[k]));
        stacked.set(s.stack, base.map((b, k) => b + (raw[k] || 0)));
      }
      s.data = s.data.map((v, j) => (j === i ? null : v));
      const data = s.data.map(() => null);
      if (i > 0) data[i - 1] = { value: shown[0], raw: raw[0], symbol: "none" };
      data[i] = { value: shown[1], raw: raw[1], partial: true };
      out.push({ name: s.name, type: "line", partialOf: s.name, color: s.color, yAxisIndex: s.yAxisIndex, smooth: false,
        symbol: "emptyCircle", symbolSize: 6, showSymbol: true, connectNulls: false,
        lineStyle: { ...s.lineStyle, type: "dashed" }, data });
    }
  }
  option.series = out;
  if (option.tooltip?.trigger === "axis" && !option.tooltip.formatter) {
    const format = option.tooltip.valueFormatter || ((v) => String(v));
    option.tooltip = { ...option.tooltip, formatter: (params) => {
      const list = [params].flat();
      const rows = new Map();
      for (const p of list) {
        const v = p.data && typeof p.data === "object" && "raw" in p.data ? p.data.raw : num(p.value);
        if (!rows.has(p.seriesName) || (rows.get(p.seriesName).v == null && v != null)) rows.set(p.seriesName, { p, v });
      }
      const head = esc(list[0]?.axisValueLabel ?? "") + (list[0]?.dataIndex === i ? ` <i data-partial>(partial: up to ${until})</i>` : "");
      return [head, ...[...rows.values()].map(({ p, v }) =>
        `${p.marker}${esc(p.seriesName)}<b style="float:right;margin-left:18px">${esc(v === null || v === undefined ? "—" : format(v))}</b>`)].join("<br>");
    } };
  }
  return option;
}

function download(name, href) {
  const a = h("a", { href, download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

function csvCell(v) {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function toCsv(columns, rows) {
  return [columns.map(csvCell).join(","), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(","))].join("\r\n") + "\r\n";
}

/**
 * A card holding one chart, with CSV and PNG export of exactly what it shows.
 * `card.set(option, {columns, rows})` draws it and keeps the table behind it for CSV.
 */
export function chartCard({ id, title, sub = "", size = "", extraTools = [] }) {
  const el = h("div", { class: `chart ${size}`, "data-chart": id, role: "img", "aria-label": title });
  let chart = null;
  let table = { columns: [], rows: [] };
  const subEl = h("span", { class: "sub" }, sub);
  const csv = h("button", { class: "btn ghost small", title: "Download CSV", "data-export": "csv",
    onclick: () => download(`${id}.csv`, URL.createObjectURL(new Blob([toCsv(table.columns, table.rows)], { type: "text/csv" }))) },
  icon("download"), "CSV");
  const png = h("button", { class: "btn ghost small", title: "Download PNG", "data-export": "png",
    onclick: () => chart && download(`${id}.png`, chart.getDataURL({ type: "png", pixelRatio: 2,
      backgroundColor: getComputedStyle(document.body).getPropertyValue("--panel").trim() || "#fff" })) },
  icon("image"), "PNG");
  const card = h("section", { class: "card", "data-card": id },
    h("div", { class: "card-head" }, h("h2", {}, title), subEl, h("div", { class: "tools" }, ...extraTools, csv, png)),
    h("div", { class: "card-body" }, el));
  return {
    card, el,
    sub(text) { subEl.textContent = text; },
    set(option, data) {
      if (!chart) chart = init(el);
      overlayMarkers(markPartial(overlayPrevious(stableColors(option), el), el), el);
      fitPie(option, el);
      chart.setOption(option, { notMerge: true, lazyUpdate: false });
      if (data) table = data;
      el.dataset.drawn = "1";
    },
    get chart() { return chart; },
  };
}

/** A small line with no axes for KPI cards and table rows. */
export function sparkOption(values, color = PALETTE[0]) {
  return {
    animation: false,
    grid: { left: 0, right: 0, top: 4, bottom: 0 },
    xAxis: { type: "category", show: false, boundaryGap: false, data: values.map((_, i) => i) },
    yAxis: { type: "value", show: false, scale: true },
    series: [{ type: "line", data: values, symbol: "none", smooth: 0.3, lineStyle: { width: 1.6, color },
      areaStyle: { color: new window.echarts.graphic.LinearGradient(0, 0, 0, 1,
        [{ offset: 0, color: `${color}55` }, { offset: 1, color: `${color}00` }]) } }],
  };
}
