// Formatting only: the figures themselves come from the API untouched.
// The rule (docs/metrics.md, "How figures read") is the twin of src/promptpulse/model/fmt.py;
// tests/model/test_fmt.py runs one table of cases through both.

export const DASH = "—";
/** Below this many calls in the previous period a relative change says "n/a" (or "new"). */
export const MIN_BASELINE = 100;
/** "Top issues" lists rank only prompts with at least this many calls (the reports' movers too). */
export const MIN_ISSUE_CALLS = 20;
const SUFFIXES = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "k"]];
const none = (v) => v === null || v === undefined || Number.isNaN(v);

function roundHalfUp(x, digits = 0) {
  const q = 10 ** digits;
  return Math.sign(x) * Math.floor(Math.abs(x) * q + 0.5 + 1e-9) / q;
}
function sig(x, digits = 3) {
  if (x === 0) return "0";
  const places = digits - 1 - Math.floor(Math.log10(x));
  if (places < 0) return (roundHalfUp(x / 10 ** -places) * 10 ** -places).toFixed(0);
  const text = roundHalfUp(x, places).toFixed(places);
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}
function grouped(x, places = 0) {
  const [i, f] = roundHalfUp(x, places).toFixed(places).split(".");
  const g = i.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return f === undefined ? g : `${g}.${f}`;
}

/** Counts and tokens: 1,234; 16.7k, 1.23M from 10,000 (3 significant digits); 2.5 below 10. */
export function count(v) {
  if (none(v)) return DASH;
  const sign = v < 0 ? "-" : "", a = Math.abs(v);
  if (roundHalfUp(a) < 10000) {
    if (a < 10 && roundHalfUp(a, 1) !== roundHalfUp(a)) return sign + grouped(a, 1);
    return sign + grouped(a);
  }
  for (const [size, suffix] of SUFFIXES) if (Number(sig(a)) >= size) return `${sign}${sig(a / size)}${suffix}`;
  return sign + grouped(a);
}
/** A count in full (tables of exact counts): 12,345. */
export function countFull(v) { return none(v) ? DASH : grouped(v); }
/** Money: $1,234.56 from $1; 3 significant digits below ($0.0123, $0.000251); <$0.000001; $0.00. */
export function usd(v) {
  if (none(v)) return DASH;
  const sign = v < 0 ? "-" : "", a = Math.abs(v);
  if (a === 0) return "$0.00";
  if (a < 0.000001) return "<$0.000001";
  if (Number(sig(a)) < 1) return `${sign}$${sig(a)}`;
  return `${sign}$${grouped(a, 2)}`;
}
/** Durations: 850 ms (2.5 ms below 10); 1.23 s, 45.6 s to 2 min; then 2.5 min; from 2 h, 2.5 h. */
export function ms(v) {
  if (none(v)) return DASH;
  const sign = v < 0 ? "-" : "", a = Math.abs(v);
  if (roundHalfUp(a) < 1000) {
    if (a < 10 && roundHalfUp(a, 1) !== roundHalfUp(a)) return `${sign}${grouped(a, 1)} ms`;
    return `${sign}${grouped(a)} ms`;
  }
  if (Number(sig(a / 1000)) < 120) return `${sign}${sig(a / 1000)} s`;
  if (roundHalfUp(a / 60000, 1) < 120) return `${sign}${grouped(a / 60000, 1)} min`;
  return `${sign}${grouped(a / 3600000, 1)} h`;
}
/** Rates (a fraction of 1): 12.3%, 0.1% resolution: <0.1%, >99.9%. (`digits` is ignored: one rule.) */
export function pct(v, digits = 1) { // eslint-disable-line no-unused-vars
  if (none(v)) return DASH;
  const p = v * 100;
  if (p > 0 && p < 0.05) return "<0.1%";
  if (p >= 99.95 && p < 100) return ">99.9%";
  return `${grouped(p, 1)}%`;
}
/** Requests per minute: 3 significant digits below 1,000 (0.5/min, 12.3/min), then counts. */
export function perMin(v) {
  if (none(v)) return DASH;
  const a = Math.abs(v);
  return `${v < 0 ? "-" : ""}${roundHalfUp(a) >= 1000 ? count(a) : sig(a)}/min`;
}
export const rate = perMin;
export const tokens = count;
/** p-values: p < 0.001, else 3 decimals (p = 0.034). */
export function pValue(v) {
  if (none(v)) return DASH;
  return v < 0.001 ? "p < 0.001" : `p = ${roundHalfUp(v, 3).toFixed(3)}`;
}
/** A figure without a unit: 3 significant digits below 1,000, else a count. */
export function number(v) {
  if (none(v)) return DASH;
  const a = Math.abs(v);
  return (v < 0 ? "-" : "") + (roundHalfUp(a) >= 1000 ? count(a) : sig(a));
}

const BY_UNIT = { count, tokens: count, usd, ms, ratio: pct, "requests/min": perMin, p: pValue };
/** A value in the unit the catalog gives it. */
export function byUnit(unit, v) { return (BY_UNIT[unit] || number)(v); }
export function value(v, unit) { return byUnit(unit, v); }

/**
 * The relative change a headline shows (0.25 = +25 %), or null when it would mislead: no figure,
 * a previous value of 0, or a previous period with fewer than MIN_BASELINE calls.
 */
export function change(current, previous, baselineRequests = null) {
  if (none(current) || none(previous) || previous === 0) return null;
  if (!none(baselineRequests) && baselineRequests < MIN_BASELINE) return null;
  return (current - previous) / Math.abs(previous);
}
/** A relative change: +12.3% (0.1% resolution below 100%), +250% from 100%, ±0. */
export function signedPct(r) {
  const p = r * 100, a = Math.abs(p);
  if (a < 0.05) return a === 0 ? "±0" : `${p > 0 ? "+" : "-"}<0.1%`;
  return `${p > 0 ? "+" : "-"}${roundHalfUp(a, 1) < 100 ? grouped(a, 1) : grouped(a)}%`;
}
/**
 * A change against the previous period, as text: rates in points (+1.2 pts), the rest relative
 * (+12.3%); "new" when the previous value is 0 (or the previous period has no calls), "n/a" when
 * it holds fewer than MIN_BASELINE calls, "±0" when nothing changed, "—" without figures.
 */
export function delta(current, previous, baselineRequests = null, unit = null) {
  if (none(current) || none(previous)) return DASH;
  if (current === previous) return "±0";
  if (previous === 0 || baselineRequests === 0) return "new";
  if (!none(baselineRequests) && baselineRequests < MIN_BASELINE) return "n/a";
  if (unit === "ratio") {
    const pts = roundHalfUp((current - previous) * 100, 1);
    return pts === 0 ? "±0" : `${pts > 0 ? "+" : "-"}${Math.abs(pts).toFixed(1)} pts`;
  }
  return signedPct((current - previous) / Math.abs(previous));
}

/**
 * A signed difference in the metric's unit (experiments): rates in points (+2.0 pts, +<0.1 pts),
 * everything else by its unit's rule with a sign (+$0.0123, -1.23 s); ±0.
 */
export function difference(d, unit) {
  if (none(d)) return DASH;
  if (d === 0) return "±0";
  const sign = d > 0 ? "+" : "-", a = Math.abs(d);
  if (unit === "ratio") return a * 100 < 0.05 ? `${sign}<0.1 pts` : `${sign}${grouped(a * 100, 1)} pts`;
  return sign + value(a, unit);
}

/** Axis labels: short forms of the same units. */
export function axis(unit) {
  // Ticks are round numbers: the rule's units, spacing and suffixes (850 ms, 1.5 s, 12k), shortest.
  const short = (v) => {
    for (const [size, suffix] of SUFFIXES) if (Math.abs(v) >= size) return `${+(v / size).toFixed(1)}${suffix}`;
    return String(+v.toFixed(2));
  };
  const duration = (v) => {
    const a = Math.abs(v);
    if (a >= 7.2e6) return `${+(v / 3.6e6).toFixed(1)} h`;
    if (a >= 1.2e5) return `${+(v / 6e4).toFixed(1)} min`;
    if (a >= 1000) return `${+(v / 1000).toFixed(1)} s`;
    return `${+v.toFixed(1)} ms`;
  };
  return (v) => {
    if (unit === "ratio") return `${+(v * 100).toFixed(1)}%`;
    if (unit === "ms") return duration(v);
    if (unit === "usd") return v === 0 ? "$0" : Math.abs(v) < 1 ? `$${+v.toPrecision(2)}` : `$${short(v)}`;
    return short(v);
  };
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const pad = (n) => String(n).padStart(2, "0");

/** Times are shown in UTC, like the API's buckets. */
export function time(iso, interval) {
  const d = new Date(iso);
  const day = `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
  const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  if (interval === "day" || interval === "week") return day;
  if (interval === "month") return `${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
  if (interval === "minute") return hm;
  return `${day} ${hm}`;
}
export function dateTime(iso) {
  const d = new Date(iso);
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}
export function weekday(iso) { return DAYS[new Date(iso).getUTCDay()]; }
export function dayLabel(iso) {
  const d = new Date(iso);
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
}
export function rangeText(from, to) { return `${dateTime(from)} – ${dateTime(to)} UTC`; }
/** For <input type=datetime-local>, in UTC. */
export function localInput(iso) { return new Date(iso).toISOString().slice(0, 16); }
