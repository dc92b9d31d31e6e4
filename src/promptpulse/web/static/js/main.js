// The dashboard shell: sign-in, navigation, global controls (range, filters, live, theme),
// and the refresh loop. Pages (pages/*.js) build their cards once and fill them on each refresh.
import { Api, ApiError, askKey, forgetKey, onSignedOutElsewhere, saveKey, savedKey } from "./api.js";
import { disposeAll } from "./charts.js";
import * as fmt from "./fmt.js";
import * as markers from "./markers.js";
import * as previous from "./previous.js";
import * as state from "./state.js";
import * as tz from "./tz.js";
import { h, icon } from "./ui.js";
import { connect } from "./live.js";
import overview from "./pages/overview.js";
import performance from "./pages/performance.js";
import prompts from "./pages/prompts.js";
import prompt from "./pages/prompt.js";
import compare from "./pages/compare.js";
import cost from "./pages/cost.js";
import errors from "./pages/errors.js";
import experiments from "./pages/experiments.js";
import alerts from "./pages/alerts.js";
import dashboards from "./pages/dashboards.js";
import users from "./pages/users.js";
import user from "./pages/user.js";
import metrics from "./pages/metrics.js";

const NAV = [
  { path: "/", label: "Overview", icon: "overview", page: overview },
  { path: "/performance", label: "Performance", icon: "performance", page: performance },
  { path: "/prompts", label: "Prompts", icon: "prompts", page: prompts },
  { path: "/compare", label: "Compare", icon: "compare", page: compare },
  { path: "/cost", label: "Cost", icon: "cost", page: cost },
  { path: "/errors", label: "Errors", icon: "errors", page: errors },
  { path: "/experiments", label: "Experiments", icon: "experiments", page: experiments },
  { path: "/alerts", label: "Alerts", icon: "alerts", page: alerts },
  { path: "/users", label: "Users", icon: "users", page: users },
  { path: "/dashboards", label: "Dashboards", icon: "dashboards", page: dashboards },
  { path: "/custom-metrics", label: "Metrics", icon: "metrics", page: metrics },
];
// Relative to this module, so it stays under the versioned prefix the shell loaded it from.
const LOGO = new URL("../favicon.svg", import.meta.url).href;

const root = document.getElementById("app");
const ctx = { api: null, catalog: {}, range: null, filters: null };
let view = null;
let viewKey = "";
let inflight = null;
let again = false;
let updates = 0;
let els = {};

function route() {
  const path = window.location.pathname.replace(/\/+$/, "") || "/";
  if (path.startsWith("/prompts/")) {
    return { nav: "/prompts", page: prompt, args: { promptId: decodeURIComponent(path.slice("/prompts/".length)) } };
  }
  if (path.startsWith("/users/")) {
    return { nav: "/users", page: user, args: { userId: decodeURIComponent(path.slice("/users/".length)) } };
  }
  if (path.startsWith("/experiments/")) {
    return { nav: "/experiments", page: experiments, args: { experimentId: decodeURIComponent(path.slice("/experiments/".length)) } };
  }
  if (path.startsWith("/dashboards/")) {
    return { nav: "/dashboards", page: dashboards, args: { dashboardId: decodeURIComponent(path.slice("/dashboards/".length)) } };
  }
  const item = NAV.find((n) => n.path === path) || NAV[0];
  return { nav: item.path, page: item.page, args: {} };
}

// ---------- sign-in ----------
function signIn(message = "") {
  stopLive();
  disposeAll();
  view = null;
  viewKey = "";
  document.body.dataset.state = "signin";
  const input = h("input", { type: "password", name: "api_key", autocomplete: "off", placeholder: "pp_…", required: true, "aria-label": "API key" });
  const error = h("div", { class: "error-text", role: "alert" }, message);
  const remember = h("input", { type: "checkbox", name: "remember" });
  const button = h("button", { class: "btn primary", type: "submit" }, "Sign in");
  const form = h("form", { class: "signin-form", "data-form": "signin" },
    h("div", { class: "brand" }, h("img", { src: LOGO, alt: "" }), "PromptPulse"),
    h("h1", {}, "Sign in to your dashboard"),
    h("p", {}, "Paste an API key with the read scope. It is kept for this browser session (this dashboard's open tabs share it) and sent only to this server."),
    input, h("label", { class: "remember" }, remember, "Remember on this device (until you sign out)"), error, button,
    h("p", { class: "muted", style: "font-size:12px" }, "No key yet? ", h("code", {}, "promptpulse keys create --project NAME --scopes read")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    button.disabled = true;
    error.textContent = "";
    const key = input.value.trim();
    try {
      const api = new Api(key);
      await api.get("/v1/metrics/catalog");
      saveKey(key, { remember: remember.checked });
      await start(api);
    } catch (err) {
      error.textContent = err instanceof ApiError && err.status === 401 ? "That key is unknown or revoked."
        : err instanceof ApiError && err.status === 403 ? "That key lacks the read scope." : err.message;
      button.disabled = false;
    }
  });
  root.replaceChildren(h("div", { class: "signin" }, form));
  input.focus();
}

// ---------- shell ----------
function shell() {
  const nav = h("nav", { class: "nav", "aria-label": "Pages" }, NAV.map((n) =>
    h("a", { href: n.path, "data-nav": n.path }, icon(n.icon), h("span", {}, n.label))));
  nav.addEventListener("click", (e) => {
    const a = e.target.closest("a[data-nav]");
    if (!a || e.metaKey || e.ctrlKey || e.shiftKey) return;
    e.preventDefault();
    go(a.getAttribute("data-nav"));
  });
  const themeBtn = h("button", { class: "btn ghost", "data-action": "theme", title: "Toggle dark mode", onclick: toggleTheme });
  const signOut = h("button", { class: "btn ghost", "data-action": "signout", onclick: () => { forgetKey(); ctx.api = null; signIn(); } }, icon("logout"), "Sign out");
  const sidebar = h("aside", { class: "sidebar" },
    h("a", { class: "brand", href: "/", onclick: (e) => { e.preventDefault(); go("/"); } }, h("img", { src: LOGO, alt: "" }), h("span", {}, "PromptPulse")),
    nav,
    h("div", { class: "sidebar-foot" }, signOut, h("a", { href: "/docs" }, "API docs")));
  const title = h("h1", { "data-title": "" });
  const presets = h("div", { class: "seg", role: "group", "aria-label": "Time range" },
    state.PRESETS.map((p) => h("button", { "data-range": p.id, title: p.title, onclick: () => state.update({ range: p.id, from: null, to: null }) }, p.label)),
    h("button", { "data-range": "custom", onclick: () => { els.custom.hidden = !els.custom.hidden; } }, "Custom"));
  const fromIn = h("input", { type: "datetime-local", name: "from" });
  const toIn = h("input", { type: "datetime-local", name: "to" });
  const tzTag = h("span", { class: "tz-tag", "data-tz-label": "" });
  const zone = h("select", { name: "tz", "aria-label": "Time zone", title: "Time zone of the axis labels and the custom range" },
    tz.zones().map((z) => h("option", { value: z, selected: z === tz.zone() }, z)));
  zone.addEventListener("change", () => { tz.setZone(zone.value); viewKey = ""; render(); });
  const custom = h("form", { class: "custom-range", hidden: true, "data-form": "custom-range" }, fromIn, h("span", { class: "muted" }, "→"), toIn, tzTag,
    h("button", { class: "btn small primary", type: "submit" }, "Apply"));
  custom.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!fromIn.value || !toIn.value) return;
    state.update({ range: null, from: tz.fromInput(fromIn.value), to: tz.fromInput(toIn.value) });
  });
  const liveBtn = h("button", { class: "btn live-toggle", "data-action": "live", "aria-pressed": "false", title: "Refresh as new calls arrive",
    onclick: () => state.update({ live: state.params().get("live") === "1" ? null : "1" }, { replace: true }) },
  h("span", { class: "live-dot" }), "Live");
  const prevBtn = h("button", { class: "btn ghost", "data-action": "previous", "aria-pressed": "false", title: "Compare to previous period: dashed lines on every time-series chart",
    onclick: () => state.update({ prev: previous.isOn() ? null : "1" }, { replace: true }) }, "vs previous");
  const markBtn = h("button", { class: "btn ghost", "data-action": "markers", "aria-pressed": "true", title: "Change markers (deploys, config, notes, new prompt versions) on every time-series chart",
    onclick: () => state.update({ markers: markers.isOn() ? "0" : null }, { replace: true }) }, "Changes");
  const topbar = h("header", { class: "topbar" }, title, presets, custom, h("div", { class: "spacer" }),
    h("span", { class: "range-label", "data-range-label": "" }), zone, markBtn, prevBtn, liveBtn, themeBtn);
  const filterbar = h("div", { class: "filterbar", "data-filters": "" });
  const banner = h("div", { class: "banner", role: "alert", hidden: true });
  const content = h("div", { class: "content" });
  const main = h("main", { class: "main" }, topbar, filterbar, h("div", { class: "content", style: "padding-bottom:0" }, banner), content);
  root.replaceChildren(sidebar, main);
  els = { nav, title, presets, custom, fromIn, toIn, tzTag, zone, markBtn, prevBtn, liveBtn, themeBtn, filterbar, banner, content, main, rangeLabel: topbar.querySelector("[data-range-label]") };
  banner.parentElement.hidden = true;
}

function toggleTheme() {
  const dark = document.documentElement.dataset.theme !== "dark";
  document.documentElement.dataset.theme = dark ? "dark" : "light";
  try { localStorage.setItem("pp-theme", dark ? "dark" : "light"); } catch { /* private mode */ }
  viewKey = "";
  render();
}

function paintControls(r) {
  const range = state.resolveRange();
  for (const b of els.presets.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.range === range.preset));
  if (range.preset === "custom") els.custom.hidden = false;
  els.fromIn.value = tz.inputValue(range.from);
  els.toIn.value = tz.inputValue(range.to);
  els.tzTag.textContent = tz.label();
  els.fromIn.setAttribute("aria-label", `From (${tz.label()})`);
  els.toIn.setAttribute("aria-label", `To (${tz.label()})`);
  els.zone.value = tz.zone();
  const isLive = state.params().get("live") === "1";
  els.liveBtn.setAttribute("aria-pressed", String(isLive));
  els.prevBtn.setAttribute("aria-pressed", String(previous.isOn()));
  els.markBtn.setAttribute("aria-pressed", String(markers.isOn()));
  els.themeBtn.replaceChildren(icon(document.documentElement.dataset.theme === "dark" ? "sun" : "moon"));
  for (const a of els.nav.querySelectorAll("a")) {
    a.classList.toggle("active", a.dataset.nav === r.nav);
    a.href = state.carry(a.dataset.nav);
  }
  paintFilters();
}

function paintFilters() {
  const bar = els.filterbar;
  const active = state.filters();
  const chips = [];
  for (const [name, values] of active) {
    for (const v of values) {
      chips.push(h("span", { class: "chip", "data-filter": name, "data-filter-value": v },
        `${state.FILTER_LABELS[name] || name}: `, h("b", {}, v),
        h("button", { title: "Remove filter", "aria-label": `Remove ${name} ${v}`, onclick: () => {
          state.update({ [name]: values.filter((x) => x !== v) });
        } }, "×")));
    }
  }
  const dim = h("select", { name: "filter-dim", "aria-label": "Filter by" },
    h("option", { value: "" }, "Add filter…"),
    state.FILTER_DIMS.map((d) => h("option", { value: d }, state.FILTER_LABELS[d])));
  const value = h("select", { name: "filter-value", "aria-label": "Filter value", hidden: true });
  dim.addEventListener("change", async () => {
    value.hidden = true;
    if (!dim.value) return;
    value.replaceChildren(h("option", { value: "" }, "loading…"));
    value.hidden = false;
    try {
      const q = state.scopeParams(ctx.range || state.resolveRange(), { by: dim.value, metrics: "requests", sort: "requests", limit: 200 });
      q.delete(dim.value);
      const data = await ctx.api.get("/v1/metrics/breakdown", q);
      const taken = active.get(dim.value) || [];
      const options = data.rows.filter((r) => r[dim.value] !== null && !taken.includes(r[dim.value]));
      value.replaceChildren(h("option", { value: "" }, options.length ? `Choose ${state.FILTER_LABELS[dim.value].toLowerCase()}…` : "no values in range"),
        ...options.map((r) => h("option", { value: r[dim.value] }, `${r[dim.value]} (${fmt.count(r.requests)})`)));
    } catch (err) {
      showError(err);
    }
  });
  value.addEventListener("change", () => {
    if (!value.value) return;
    state.update({ [dim.value]: [...(active.get(dim.value) || []), value.value] });
  });
  const clear = active.size ? h("button", { class: "btn ghost small", "data-action": "clear-filters", onclick: () => {
    const changes = {};
    for (const name of active.keys()) changes[name] = null;
    state.update(changes);
  } }, "Clear all") : null;
  bar.replaceChildren(...[h("span", { class: "muted", style: "font-size:12.5px" }, "Filters"), ...chips, dim, value, clear].filter(Boolean));
}

function showError(err) {
  if (err instanceof ApiError && err.status === 401) {
    forgetKey();
    signIn("Your key is no longer valid; sign in again.");
    return;
  }
  els.banner.textContent = `Could not load: ${err.message}`;
  els.banner.hidden = false;
  els.banner.parentElement.hidden = false;
}

function clearError() {
  if (!els.banner) return;
  els.banner.hidden = true;
  els.banner.parentElement.hidden = true;
}

// ---------- render and refresh ----------
export function go(path) {
  window.history.pushState(null, "", state.carry(path));
  window.dispatchEvent(new Event("pp:navigate"));
}

async function render() {
  if (!ctx.api) return;
  const r = route();
  const key = `${window.location.pathname}?${window.location.search}`;
  if (key !== viewKey) {
    disposeAll();
    els.content.replaceChildren();
    ctx.range = state.resolveRange();
    view = r.page.mount(els.content, ctx, { ...r.args, go });
    els.main.classList.toggle("no-range", view.ranged === false);  // alerts, experiments: own windows
    els.title.textContent = view.title || "";
    document.title = `${view.title || "Dashboard"} · PromptPulse`;
    viewKey = key;
  }
  paintControls(r);
  syncLive();
  await refresh();
}

async function refresh({ partial = false } = {}) {
  if (!view) return;
  if (inflight) { again = true; return inflight; }
  const current = view;
  ctx.range = state.resolveRange();
  ctx.filters = state.filters();
  els.main.dataset.from = ctx.range.from;
  els.main.dataset.to = ctx.range.to;
  els.rangeLabel.textContent = tz.rangeText(ctx.range.from, ctx.range.to);
  document.body.dataset.state = "loading";
  during = [];
  inflight = (async () => {
    try {
      await current.update(ctx, { partial });
      // Deltas that came while it loaded, into the new answers that lack them (api.lacks: a
      // commit before the queries ran is in them already); the debounced refresh follows.
      if (current === view && current.applyDelta && during.length) {
        for (const d of during) current.applyDelta(d, ctx);
        soon(false);
      }
      during = [];
      if (current === view) clearError();
    } catch (err) {
      if (current === view) showError(err);
    }
  })();
  await inflight;
  inflight = null;
  // A page that navigated while it loaded (a dashboard opening on its own range): the new view
  // asked for a refresh meanwhile.
  if (current !== view) { if (again) { again = false; refresh(); } return; }
  await new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)));
  updates += 1;
  document.body.dataset.updates = String(updates);
  document.body.dataset.apiRequests = String(ctx.api.requests);
  document.body.dataset.state = "ready";
  if (again) { again = false; refresh(); }
}

// Live: one Server-Sent Events stream per tab (live.js). A commit's delta updates the page's
// mergeable panels at once with no query (counts, sums, the newest bucket, the newest calls);
// panels that cannot be merged from deltas (percentiles, distinct users, breakdowns) re-query
// on a debounce: at most once every DEBOUNCE_MS while calls stream in. "changed" (a commit
// with no delta) and "resync" (this tab fell behind) re-query everything.
const DEBOUNCE_MS = 2000;
let live = null;
let debounced = null;
let fullNext = false;  // the debounced refresh re-queries everything (a delta not applied)
let during = [];  // deltas that arrived while a refresh was in flight
let deltas = 0;

function syncLive() {
  const on = state.params().get("live") === "1";
  if (on && !live) {
    live = connect(ctx.api.key, {
      open: () => { document.body.dataset.live = "open"; },
      delta: onDelta,
      changed: () => soon(true),
      resync: () => { clearTimeout(debounced); debounced = null; refresh(); },
      denied: () => { live = null; showError(new ApiError(401, "Unauthorized")); },
    });
  }
  if (!on) stopLive();
}

function onDelta(delta) {
  const applied = view?.applyDelta ? view.applyDelta(delta, ctx) : false;
  if (applied === "ignored") return;  // another project than this view shows
  deltas += 1;
  document.body.dataset.liveDeltas = String(deltas);
  document.body.dataset.requestsAtDelta = String(ctx.api.requests);
  if (inflight) during.push(delta);  // the refresh may not have seen it: applied again after
  soon(!applied);
}

/** A refresh DEBOUNCE_MS after the first change of a burst; `full` when a panel is stale. */
function soon(full) {
  fullNext = fullNext || full;
  if (debounced) return;
  debounced = setTimeout(() => {
    debounced = null;
    if (document.hidden) { document.addEventListener("visibilitychange", () => soon(false), { once: true }); return; }
    const partial = !fullNext;
    fullNext = false;
    refresh({ partial });
  }, DEBOUNCE_MS);
}

function stopLive() {
  delete document.body.dataset.live;
  live?.close();
  live = null;
  clearTimeout(debounced);
  debounced = null;
}

async function start(api) {
  ctx.api = api;
  // The catalog and what this key may do (admin: acknowledge, resolve), asked together.
  const [catalog, key] = await Promise.all([api.get("/v1/metrics/catalog"), api.get("/dashboard/key")]);
  ctx.catalog = Object.fromEntries(catalog.metrics.map((m) => [m.name, m]));
  ctx.key = key;
  state.setApiFilters(catalog.filters);
  shell();
  await render();
}

window.addEventListener("popstate", () => render());
window.addEventListener("pp:navigate", () => render());

// Signed out in another tab: this one forgets the key too.
onSignedOutElsewhere(() => { ctx.api = null; signIn("Signed out (in another tab)."); });

function boot(key) {
  start(new Api(key)).catch((err) => {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) { forgetKey(); signIn("Your key is no longer valid; sign in again."); }
    else signIn(err.message);
  });
}

// This tab's key, the device's (remembered), or one an open tab of this session hands over.
const key = savedKey();
if (key) boot(key);
else askKey().then((k) => (k ? boot(k) : signIn()));
