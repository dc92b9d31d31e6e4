// Formatting only: the figures themselves come from the API untouched.
const nf = (opts) => new Intl.NumberFormat("en-US", opts);
const compact = nf({ notation: "compact", maximumFractionDigits: 1 });
const int = nf({ maximumFractionDigits: 0 });

export const DASH = "—";

export function count(v) {
  if (v === null || v === undefined) return DASH;
  return Math.abs(v) >= 10000 ? compact.format(v) : int.format(v);
}
export function countFull(v) { return v === null || v === undefined ? DASH : int.format(v); }
export function pct(v, digits = 1) {
  if (v === null || v === undefined) return DASH;
  const p = v * 100;
  const d = p !== 0 && Math.abs(p) < 1 ? 2 : digits;
  return `${p.toFixed(d)}%`;
}
export function ms(v) {
  if (v === null || v === undefined) return DASH;
  if (v >= 60000) return `${(v / 60000).toFixed(1)} min`;
  if (v >= 1000) return `${(v / 1000).toFixed(v >= 10000 ? 1 : 2)} s`;
  return `${v.toFixed(v < 10 ? 1 : 0)} ms`;
}
export function usd(v) {
  if (v === null || v === undefined) return DASH;
  const a = Math.abs(v);
  if (a === 0) return "$0.00";
  if (a < 0.01) return `$${v.toPrecision(2)}`;
  if (a >= 100000) return `$${compact.format(v)}`;
  return `$${nf({ minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v)}`;
}
export function tokens(v) {
  if (v === null || v === undefined) return DASH;
  return Math.abs(v) >= 10000 ? compact.format(v) : int.format(Math.round(v));
}
export function rate(v) { return v === null || v === undefined ? DASH : `${v.toFixed(v < 10 ? 2 : 1)}/min`; }

/** A value in the unit the catalog gives it. */
export function byUnit(unit, v) {
  switch (unit) {
    case "ratio": return pct(v);
    case "ms": return ms(v);
    case "usd": return usd(v);
    case "tokens": return tokens(v);
    case "requests/min": return rate(v);
    default: return count(v);
  }
}

/** Axis labels: short forms of the same units. */
export function axis(unit) {
  return (v) => {
    if (unit === "ratio") return `${+(v * 100).toFixed(1)}%`;
    if (unit === "ms") return v >= 1000 ? `${+(v / 1000).toFixed(1)}s` : `${v}ms`;
    if (unit === "usd") return v === 0 ? "$0" : Math.abs(v) < 1 ? `$${+v.toPrecision(2)}` : `$${compact.format(v)}`;
    return compact.format(v);
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

/** Relative change of a figure against the previous period, for the KPI delta. */
export function change(current, previous) {
  if (current === null || previous === null || current === undefined || previous === undefined) return null;
  if (previous === 0) return current === 0 ? 0 : null;
  return (current - previous) / Math.abs(previous);
}
