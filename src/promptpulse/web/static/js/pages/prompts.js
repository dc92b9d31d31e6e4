// Prompts: every prompt with its figures; search, sort, and open a prompt's page.
import * as fmt from "../fmt.js";
import * as state from "../state.js";
import { card, dataTable, h, label, sortRows } from "../ui.js";

const METRICS = "requests,success_rate,latency_p50_ms,latency_p95_ms,tokens_per_request,cost_per_request_usd,cost_usd";

/** A tiny inline SVG line of the API's per-bucket counts (drawing only). */
export function trendSvg(values) {
  const w = 110;
  const hgt = 28;
  const nums = values.map((v) => v ?? 0);
  const max = Math.max(1, ...nums);
  const step = nums.length > 1 ? w / (nums.length - 1) : w;
  const d = nums.map((v, i) => `${i ? "L" : "M"}${(i * step).toFixed(1)},${(hgt - 2 - (v / max) * (hgt - 4)).toFixed(1)}`).join("");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  svg.setAttribute("class", "trend");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", d);
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "var(--accent)");
  path.setAttribute("stroke-width", "1.5");
  svg.append(path);
  return svg;
}

export default {
  mount(root, ctx, { go }) {
    const p = state.params();
    let sort = { key: p.get("sort") || "requests", desc: p.get("order") !== "asc" };
    const search = h("input", { type: "search", name: "q", placeholder: "Search prompts…", value: p.get("q") || "", style: "width:240px" });
    const count = h("span", { class: "muted", style: "font-size:12.5px" });
    const holder = h("div", {});
    let data = null;
    search.addEventListener("input", () => { state.update({ q: search.value || null }, { replace: true, silent: true }); draw(); });
    root.append(card("All prompts", h("div", {}, h("div", { class: "toolbar", style: "margin-bottom:10px" }, search, count), holder), { id: "prompts" }));

    function draw() {
      if (!data) return;
      const q = search.value.trim().toLowerCase();
      const rows = sortRows(data.rows.filter((r) => label(r.prompt_id).toLowerCase().includes(q)), sort.key, sort.desc);
      count.textContent = `${rows.length} of ${data.rows.length} prompts`;
      const link = (r) => h("a", { href: state.carry(`/prompts/${encodeURIComponent(r.prompt_id ?? "")}`), "data-prompt": r.prompt_id ?? "",
        onclick: (e) => { e.preventDefault(); go(`/prompts/${encodeURIComponent(r.prompt_id ?? "")}`); } }, label(r.prompt_id));
      holder.replaceChildren(dataTable({
        id: "prompts", rows, sort,
        onSort: (key) => { sort = { key, desc: sort.key === key ? !sort.desc : true }; state.update({ sort: sort.key, order: sort.desc ? null : "asc" }, { replace: true, silent: true }); draw(); },
        columns: [
          { key: "prompt_id", label: "Prompt", render: link },
          { key: "requests", label: "Requests", align: "right", format: (r) => fmt.countFull(r.requests) },
          { key: "success_rate", label: "Success", align: "right", format: (r) => fmt.pct(r.success_rate),
            cls: (r) => (r.success_rate !== null && r.success_rate < 0.95 ? "bad-text" : "") },
          { key: "latency_p50_ms", label: "p50", align: "right", format: (r) => fmt.ms(r.latency_p50_ms) },
          { key: "latency_p95_ms", label: "p95", align: "right", format: (r) => fmt.ms(r.latency_p95_ms) },
          { key: "tokens_per_request", label: "Avg tokens", align: "right", format: (r) => fmt.tokens(r.tokens_per_request) },
          { key: "cost_per_request_usd", label: "Cost / req", align: "right", format: (r) => fmt.usd(r.cost_per_request_usd) },
          { key: "cost_usd", label: "Cost share", align: "right", render: (r) => {
            const share = data.total ? (r.cost_usd || 0) / data.total : 0;
            return h("div", { class: "bar-cell" }, h("span", { class: "num" }, `${fmt.usd(r.cost_usd)} · ${fmt.pct(share)}`),
              h("div", { class: "bar-track" }, h("div", { class: "bar", style: `width:${(share * 100).toFixed(1)}%` })));
          } },
          { key: "trend", label: "Trend", sortable: false, render: (r) => trendSvg(data.trends.get(r.prompt_id) || []) },
        ],
      }));
    }

    return {
      title: "Prompts",
      async update(ctx) {
        const r = ctx.range;
        const [bd, o, ts] = await Promise.all([
          ctx.api.get("/v1/metrics/breakdown", state.scopeParams(r, { by: "prompt_id", metrics: METRICS, limit: 1000 })),
          ctx.api.get("/v1/metrics/overview", state.scopeParams(r)),
          ctx.api.get("/v1/metrics/timeseries", state.scopeParams(r, { metrics: "requests", group_by: "prompt_id" })),
        ]);
        data = { rows: bd.rows, total: o.cost_usd.total, trends: new Map(ts.series.map((s) => [s.group, s.points.map((p) => p.requests)])) };
        draw();
      },
    };
  },
};
