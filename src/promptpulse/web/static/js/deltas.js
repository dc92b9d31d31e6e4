// Live deltas (GET /v1/changes/stream) folded into the API's answers a page already holds:
// counts and sums add up, the newest bucket grows (or a new one starts), the newest calls go
// on top. Percentiles and distinct counts cannot be merged; pages re-query them (debounced).

/**
 * Whether a delta can be folded into a view of `ctx.range` and `ctx.filters`: "apply",
 * "ignored" (another project, or outside the range: nothing on the page changes) or false
 * (the view narrows by something the delta does not carry: re-query instead).
 */
export function fits(d, ctx) {
  const projects = ctx.filters?.get("project");
  if (projects && !projects.includes(d.project)) return "ignored";
  const from = Date.parse(ctx.range.from);
  const to = ctx.range.sliding ? Infinity : Date.parse(ctx.range.to);
  const first = Date.parse(d.first);
  const last = Date.parse(d.last);
  if (last < from || first >= to) return "ignored";
  if (first < from || last >= to || !d.minutes_complete) return false;  // partly in range
  for (const name of ctx.filters?.keys() ?? []) if (name !== "project") return false;
  return "apply";
}

/** An overview answer plus one delta (its percentiles and active users stay as they were). */
export function addTotals(o, d) {
  o.requests += d.requests;
  o.successes += d.successes;
  o.errors += d.errors;
  o.success_rate = o.requests ? o.successes / o.requests : null;
  o.error_rate = o.requests ? o.errors / o.requests : null;
  o.tokens.input += d.input_tokens;
  o.tokens.output += d.output_tokens;
  o.tokens.cached += d.cached_tokens;
  o.tokens.total += d.tokens;
  o.tokens.per_request = o.requests ? o.tokens.total / o.requests : null;
  o.cost_usd.total = (o.cost_usd.total ?? 0) + d.cost_usd;
  o.cost_usd.unpriced_requests += d.unpriced_requests;
  o.cost_usd.per_request = o.requests ? o.cost_usd.total / o.requests : null;
}

const ADDED = ["requests", "successes", "errors", "input_tokens", "output_tokens", "tokens", "cost_usd"];

/** A timeseries answer (ungrouped) plus a delta's minutes, folded into the answer's interval. */
export function addBuckets(ts, d, sliding) {
  const pts = ts.series.length ? ts.series[0].points : null;
  if (!pts || !pts.length) return;
  for (const m of d.minutes) {
    const start = bucketStart(Date.parse(m.t), ts.interval);
    let p = null;
    for (let i = pts.length - 1; i >= 0 && !p; i -= 1) {
      const t = Date.parse(pts[i].t);
      if (t === start) p = pts[i];
      else if (t < start) break;
    }
    if (!p && start > Date.parse(pts[pts.length - 1].t) && sliding) {
      p = { t: new Date(start).toISOString().replace(".000Z", "Z") };
      for (const name of Object.keys(pts[0])) if (name !== "t") p[name] = null;
      pts.push(p);
    }
    if (!p) continue;  // before the range's first bucket
    for (const name of ADDED) if (name in p) p[name] = (p[name] ?? 0) + m[name];
    if ("success_rate" in p) p.success_rate = p.requests ? p.successes / p.requests : null;
  }
  if (sliding) ts.to = new Date(Math.max(Date.parse(ts.to), Date.now())).toISOString();
}

/** The newest `limit` calls of a list plus a delta's, newest first, each id once. */
export function newestCalls(calls, d, limit, fromIso) {
  const from = Date.parse(fromIso);
  const byId = new Map(calls.map((c) => [c.id, c]));
  for (const c of d.calls) if (Date.parse(c.timestamp) >= from) byId.set(c.id, { project: d.project, ...c });
  return [...byId.values()].sort((a, b) => Date.parse(b.timestamp) - Date.parse(a.timestamp)).slice(0, limit);
}

/** The UTC start of the bucket of `interval` holding `ms` (ISO weeks start on Monday). */
export function bucketStart(ms, interval) {
  const d = new Date(ms);
  if (interval === "minute") return Math.floor(ms / 60e3) * 60e3;
  if (interval === "hour") return Math.floor(ms / 3600e3) * 3600e3;
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  if (interval === "day") return day;
  if (interval === "week") return day - ((d.getUTCDay() + 6) % 7) * 86400e3;
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}
