// The time zone of axis labels and of the custom range inputs: UTC by default, or one the user
// picks (remembered in localStorage). The API is always asked and answered in UTC; daily,
// weekly and monthly buckets are UTC days, so their labels stay UTC whatever the setting.
const KEY = "pp-tz";
export const UTC = "UTC";
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n) => String(n).padStart(2, "0");

export function zone() {
  let z = null;
  try { z = localStorage.getItem(KEY); } catch { /* storage off */ }
  return z && valid(z) ? z : UTC;
}
export function setZone(z) {
  try {
    if (!z || z === UTC) localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, z);
  } catch { /* storage off */ }
}
function valid(z) {
  try { new Intl.DateTimeFormat("en-US", { timeZone: z }); return true; } catch { return false; }
}
/** The zones offered: UTC, the browser's own, then every zone the browser knows. */
export function zones() {
  const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const all = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return [...new Set([UTC, own, ...all].filter(Boolean))];
}

const formatters = new Map();
/** Wall-clock fields of an instant in a zone. */
function parts(ms, z = zone()) {
  if (z === UTC) {
    const d = new Date(ms);
    return { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(), mi: d.getUTCMinutes(), s: d.getUTCSeconds() };
  }
  if (!formatters.has(z)) {
    formatters.set(z, new Intl.DateTimeFormat("en-US", { timeZone: z, hourCycle: "h23", year: "numeric", month: "numeric",
      day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" }));
  }
  const f = Object.fromEntries(formatters.get(z).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return { y: +f.year, mo: +f.month, d: +f.day, h: +f.hour % 24, mi: +f.minute, s: +f.second };
}
/** The zone's offset from UTC at an instant, in ms. */
function offset(ms, z) {
  const p = parts(ms, z);
  return Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s) - Math.floor(ms / 1000) * 1000;
}

/** A short name for the zone: "UTC" or e.g. "Europe/Berlin". */
export function label() { return zone(); }

/** An axis label for a bucket start (sub-day buckets in the chosen zone, days in UTC). */
export function time(iso, interval) {
  const z = interval === "minute" || interval === "hour" || !interval ? zone() : UTC;
  const p = parts(new Date(iso).getTime(), z);
  const day = `${MONTHS[p.mo - 1]} ${p.d}`;
  const hm = `${pad(p.h)}:${pad(p.mi)}`;
  if (interval === "day" || interval === "week") return day;
  if (interval === "month") return `${MONTHS[p.mo - 1]} ${p.y}`;
  if (interval === "minute") return hm;
  return `${day} ${hm}`;
}
export function dateTime(iso) {
  const p = parts(new Date(iso).getTime());
  return `${MONTHS[p.mo - 1]} ${p.d}, ${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}`;
}
export function rangeText(from, to) { return `${dateTime(from)} – ${dateTime(to)} ${label()}`; }

/** For <input type=datetime-local>: the wall time in the chosen zone. */
export function inputValue(iso) {
  const p = parts(new Date(iso).getTime());
  return `${p.y}-${pad(p.mo)}-${pad(p.d)}T${pad(p.h)}:${pad(p.mi)}`;
}
/** The instant (ISO, UTC) of a datetime-local value read as wall time in the chosen zone. */
export function fromInput(value) {
  const [date, hm] = value.split("T");
  const [y, mo, d] = date.split("-").map(Number);
  const [h, mi] = hm.split(":").map(Number);
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  const z = zone();
  if (z === UTC) return new Date(wall).toISOString().replace(".000Z", "Z");
  let ms = wall - offset(wall, z);
  ms = wall - offset(ms, z);  // once more across a DST change
  return new Date(ms).toISOString().replace(".000Z", "Z");
}
