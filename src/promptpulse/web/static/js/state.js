// View state lives in the URL so that a link reproduces the view: range, from, to, the API's
// filter names (repeatable), live, and a few page options. Nothing else is remembered.
export const PRESETS = [
  { id: "1h", label: "1h", ms: 3600e3, title: "Last hour" },
  { id: "24h", label: "24h", ms: 86400e3, title: "Last 24 hours" },
  { id: "7d", label: "7d", ms: 7 * 86400e3, title: "Last 7 days" },
  { id: "30d", label: "30d", ms: 30 * 86400e3, title: "Last 30 days" },
];
export const DEFAULT_RANGE = "24h";
// Filters offered in the filter bar; any other filter of the API still works from the URL.
export const FILTER_DIMS = ["project", "prompt_id", "prompt_version", "model", "provider", "environment", "user_id"];
export const FILTER_LABELS = {
  project: "Project", prompt_id: "Prompt", prompt_version: "Version", model: "Model",
  provider: "Provider", environment: "Environment", feature: "Feature", user_id: "User",
  session_id: "Session", service: "Service", status: "Status", error_type: "Error type", tag: "Tag",
};
export let API_FILTERS = [...Object.keys(FILTER_LABELS)];

export function setApiFilters(names) {
  API_FILTERS = names.filter((n) => !n.includes("<"));
}

export function isFilter(name) {
  return API_FILTERS.includes(name) || name.startsWith("metadata.");
}

export function params() { return new URLSearchParams(window.location.search); }

/** The view's half-open UTC range as ISO strings, with what the range controls show. */
export function resolveRange(p = params(), now = new Date()) {
  const from = p.get("from");
  const to = p.get("to");
  if (from) {
    const end = to ? new Date(to) : now;
    const start = new Date(from);
    if (!isNaN(start) && !isNaN(end) && start < end) {
      return { preset: "custom", from: start.toISOString(), to: end.toISOString(), sliding: !to };
    }
  }
  const preset = PRESETS.find((x) => x.id === p.get("range")) || PRESETS.find((x) => x.id === DEFAULT_RANGE);
  return {
    preset: preset.id, from: new Date(now.getTime() - preset.ms).toISOString(), to: now.toISOString(),
    sliding: true,
  };
}

// Bucket size follows the range, in this one place, for every page's timeseries: enough
// buckets to see a shape, few enough that one call in a bucket does not read as a 100 % rate.
export const INTERVALS = [
  { max: 6 * 3600e3, interval: "minute" },
  { max: 2 * 86400e3, interval: "hour" },
  { max: 60 * 86400e3, interval: "day" },
  { max: Infinity, interval: "week" },
];
export const INTERVAL_MS = { minute: 60e3, hour: 3600e3, day: 86400e3, week: 7 * 86400e3 };

/** The API interval for a range ({from, to} as ISO strings). */
export function intervalFor(range) {
  const span = new Date(range.to) - new Date(range.from);
  return INTERVALS.find((x) => span <= x.max).interval;
}

/** The API filters present in the URL, as [name, [values]] pairs. */
export function filters(p = params()) {
  const out = new Map();
  for (const [name, value] of p) {
    if (isFilter(name) && value !== "") {
      if (!out.has(name)) out.set(name, []);
      out.get(name).push(value);
    }
  }
  return out;
}

/** Query parameters for an API call over the view's range and filters, plus extras. */
export function scopeParams(range, extra = {}, p = params()) {
  const q = new URLSearchParams();
  q.set("from", range.from);
  q.set("to", range.to);
  for (const [name, values] of filters(p)) {
    if (name in extra) continue;
    for (const v of values) q.append(name, v);
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value === null || value === undefined) continue;
    if (Array.isArray(value)) value.forEach((v) => q.append(name, v));
    else q.set(name, value);
  }
  return q;
}

/** Change the URL (push a history entry) and tell the app to redraw (unless silent). */
export function update(changes, { replace = false, path = null, silent = false } = {}) {
  const p = params();
  for (const [name, value] of Object.entries(changes)) {
    p.delete(name);
    if (value === null || value === undefined || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => p.append(name, v));
    else p.set(name, String(value));
  }
  const search = p.toString();
  const url = (path || window.location.pathname) + (search ? `?${search}` : "");
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  if (!silent) window.dispatchEvent(new Event("pp:navigate"));
}

/** Keep the view's range, filters and live flag when moving to another page. */
export function carry(path, extra = {}) {
  const p = params();
  const keep = new URLSearchParams();
  for (const [name, value] of p) {
    if (["range", "from", "to", "live", "prev", "markers"].includes(name) || isFilter(name)) keep.append(name, value);
  }
  for (const [name, value] of Object.entries(extra)) keep.set(name, value);
  const search = keep.toString();
  return path + (search ? `?${search}` : "");
}
