// Cost: where the money goes (model, provider, prompt, user, environment), daily spend,
// month to date and projected, and spend by weekday and hour.
import { base, chartCard, heatColors, PALETTE, splitAreaColors } from "../charts.js";
import * as fmt from "../fmt.js";
import * as state from "../state.js";
import { h, kpiCard, label } from "../ui.js";
import { axisTooltip, optional, points, tsTable, xLabels, DAY_MS } from "./common.js";

const BREAKDOWNS = [
  { by: "model", title: "By model" },
  { by: "provider", title: "By provider" },
  { by: "prompt_id", title: "By prompt" },
  { by: "user_id", title: "By user", sub: "top 10" },
  { by: "environment", title: "By environment" },
];
const HEAT_DAYS = 31;

export default {
  mount(root) {
    const k = {
      cost: kpiCard("cost_usd", "Cost in range"),
      perReq: kpiCard("cost_per_request_usd", "Cost / request"),
      unpriced: kpiCard("unpriced_requests", "Unpriced calls"),
      mtd: kpiCard("cost_usd", "Month to date"),
      projected: kpiCard("cost_usd", "Projected month-end"),
    };
    k.mtd.card.dataset.forecast = "to_date";
    delete k.mtd.card.dataset.metric;
    k.projected.card.dataset.forecast = "projected";
    delete k.projected.card.dataset.metric;
    const daily = chartCard({ id: "daily-spend", title: "Spend over time" });
    const month = chartCard({ id: "month-forecast", title: "This month", sub: "actual and expected per day (UTC)" });
    const heat = chartCard({ id: "spend-heatmap", title: "Spend by weekday and hour", sub: "UTC · at least the last 7 days of the range", size: "tall" });
    const bars = BREAKDOWNS.map((b) => ({ ...b, chart: chartCard({ id: `cost-by-${b.by}`, title: b.title, sub: b.sub || "" }) }));
    root.append(
      h("div", { class: "grid kpis five" }, Object.values(k).map((x) => x.card)),
      h("div", { class: "grid two" }, daily.card, month.card),
      heat.card,
      h("div", { class: "grid three" }, bars.map((b) => b.chart.card)),
    );
    return {
      title: "Cost",
      async update(ctx) {
        const r = ctx.range;
        // At least a week (every weekday), at most HEAT_DAYS, ending where the range ends.
        const span = Math.min(Math.max(new Date(r.to) - new Date(r.from), 7 * DAY_MS), HEAT_DAYS * DAY_MS);
        const heatFrom = new Date(new Date(r.to).getTime() - span).toISOString();
        const fq = new URLSearchParams({ metric: "cost_usd", period: "month" });
        for (const [name, values] of state.filters()) values.forEach((v) => fq.append(name, v));
        const [o, ts, hourly, forecast, ...bds] = await Promise.all([
          ctx.api.get("/v1/metrics/overview", state.scopeParams(r, { compare: "previous" })),
          ctx.api.get("/v1/metrics/timeseries", state.scopeParams(r, { metrics: "cost_usd,requests" })),
          ctx.api.get("/v1/metrics/timeseries", state.scopeParams({ from: heatFrom, to: r.to }, { metrics: "cost_usd", interval: "hour" })),
          optional(ctx.api.get("/v1/forecast", fq)),
          ...BREAKDOWNS.map((b) => ctx.api.get("/v1/metrics/breakdown", state.scopeParams(r, { by: b.by, metrics: "cost_usd,requests,cost_per_request_usd", sort: "cost_usd", limit: 10 }))),
        ]);
        k.cost.set(o.cost_usd.total, fmt.usd(o.cost_usd.total), { previous: o.previous.cost_usd.total, higherIsBetter: false, baseline: o.previous.requests, unit: "usd" });
        k.perReq.set(o.cost_usd.per_request, fmt.usd(o.cost_usd.per_request), { previous: o.previous.cost_usd.per_request, higherIsBetter: false, baseline: o.previous.requests, unit: "usd" });
        k.unpriced.set(o.cost_usd.unpriced_requests, fmt.countFull(o.cost_usd.unpriced_requests), { hint: "calls with no known price" });
        if (forecast) {
          k.mtd.set(forecast.to_date, fmt.usd(forecast.to_date), { hint: `${forecast.period_start.slice(0, 10)} to now` });
          k.projected.set(forecast.projected, fmt.usd(forecast.projected), { hint: `95%: ${fmt.usd(forecast.low)} – ${fmt.usd(forecast.high)}` });
          month.set(base({ tooltip: axisTooltip("usd"),
            xAxis: { type: "category", data: forecast.daily.map((d) => d.date.slice(5)) }, yAxis: { type: "value", axisLabel: { formatter: fmt.axis("usd") } },
            series: [
              { name: "Actual", type: "bar", stack: "d", barMaxWidth: 14, color: "#f59e0b", data: forecast.daily.map((d) => d.actual) },
              { name: "Expected", type: "bar", stack: "d", barMaxWidth: 14, color: "#f59e0b55", itemStyle: { borderColor: "#f59e0b", borderType: "dashed" }, data: forecast.daily.map((d) => d.expected) },
            ] }), { columns: ["date", "actual", "expected"], rows: forecast.daily });
        } else {
          k.mtd.set(null, fmt.DASH, { hint: "forecast unavailable" });
          k.projected.set(null, fmt.DASH, { hint: "forecast unavailable" });
        }
        const pts = points(ts);
        daily.sub(ts.interval === "day" ? "per UTC day" : `per ${ts.interval}`);
        daily.set(base({ tooltip: axisTooltip("usd"), legend: { show: false },
          xAxis: { type: "category", data: xLabels(ts) }, yAxis: { type: "value", axisLabel: { formatter: fmt.axis("usd") } },
          series: [{ name: "Spend", metric: "cost_usd", type: "bar", barMaxWidth: 22, color: "#f59e0b", itemStyle: { borderRadius: [3, 3, 0, 0] }, data: pts.map((p) => p.cost_usd) }] }),
        tsTable(ts, ["cost_usd", "requests"]));
        const hp = points(hourly);
        const days = [...new Set(hp.map((p) => p.t.slice(0, 10)))];
        const cells = hp.map((p) => [new Date(p.t).getUTCHours(), days.indexOf(p.t.slice(0, 10)), p.cost_usd]);
        const max = Math.max(0, ...hp.map((p) => p.cost_usd || 0));
        heat.set({ animation: false,
          tooltip: { position: "top", confine: true, formatter: (p) => `${fmt.dayLabel(`${days[p.value[1]]}T00:00:00Z`)} ${String(p.value[0]).padStart(2, "0")}:00 UTC<br><b>${fmt.usd(p.value[2])}</b>` },
          grid: { left: 8, right: 12, top: 8, bottom: 44, containLabel: true },
          xAxis: { type: "category", data: Array.from({ length: 24 }, (_, i) => String(i).padStart(2, "0")), splitArea: { show: true, areaStyle: { color: splitAreaColors() } } },
          yAxis: { type: "category", data: days.map((d) => fmt.dayLabel(`${d}T00:00:00Z`)), inverse: true, splitArea: { show: true, areaStyle: { color: splitAreaColors() } } },
          // the scale with its values at both ends, in the theme's palette
          visualMap: { min: 0, max: max || 1, calculable: false, orient: "horizontal", left: "center", bottom: 0, itemHeight: 140, itemWidth: 10,
            text: [fmt.usd(max), fmt.usd(0)], inRange: { color: heatColors() }, textStyle: { fontSize: 11 } },
          series: [{ name: "Spend", type: "heatmap", data: cells, itemStyle: { borderColor: "transparent", borderWidth: 1, borderRadius: 2 } }] },
        tsTable(hourly, ["cost_usd"]));
        bars.forEach((b, i) => {
          const rows = bds[i].rows;
          b.chart.set(base({ tooltip: { trigger: "axis", confine: true, axisPointer: { type: "shadow" }, valueFormatter: (v) => fmt.usd(v) },
            legend: { show: false }, grid: { left: 8, right: 56, top: 6, bottom: 4, containLabel: true },
            yAxis: { type: "category", inverse: true, data: rows.map((row) => label(row[b.by])), axisLabel: { width: 120, overflow: "truncate" } },
            xAxis: { type: "value", axisLabel: { formatter: fmt.axis("usd") } },
            series: [{ name: "Cost", type: "bar", barMaxWidth: 14, color: PALETTE[i % PALETTE.length], itemStyle: { borderRadius: [0, 3, 3, 0] },
              label: { show: true, position: "right", formatter: (p) => fmt.usd(p.value), fontSize: 11, color: "inherit", textBorderWidth: 0 }, data: rows.map((row) => row.cost_usd) }] }),
          { columns: [b.by, "cost_usd", "requests", "cost_per_request_usd"], rows });
        });
      },
    };
  },
};
