// Custom dashboards: `/dashboards` lists a project's own pages (new, import JSON) and
// `/dashboards/<id>` shows one, over the top bar's range and filters. A key with `admin` edits
// (add, edit, move and resize widgets, save, delete); a read-only key sees no edit controls.
// Everything goes through the public API: /v1/dashboards and the widgets' metric calls.
import { disposeWithin } from "../charts.js";
import * as fmt from "../fmt.js";
import * as state from "../state.js";
import { h, icon, scrollCue } from "../ui.js";
import { editor, firstFit, settle } from "./dashboard_editor.js";
import { widget } from "./widgets.js";

const SERVER_FIELDS = ["id", "project", "created_by", "created_at", "updated_at"];
// What is being edited, per dashboard: it survives the remounts a range or filter change makes.
const session = { id: null, draft: null, editing: false, defaulted: null };

export function exported(board) {
  return Object.fromEntries(Object.entries(board).filter(([k]) => !SERVER_FIELDS.includes(k)));
}

function download(name, text) {
  const a = h("a", { href: URL.createObjectURL(new Blob([text], { type: "application/json" })), download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

export default {
  mount(root, ctx, args) {
    return args.dashboardId ? board(root, ctx, args) : list(root, ctx, args);
  },
};

// ---------- the list ----------
function list(root, ctx, { go }) {
  const canEdit = Boolean(ctx.key?.admin);
  const problem = h("div", { class: "error-text", role: "alert", "data-error": "" });
  const body = h("div", { class: "card-body" });
  const forms = h("div", { class: "toolbar dash-forms" });
  const fail = (err) => { problem.textContent = err.message; };
  const tools = canEdit ? [
    h("button", { class: "btn primary", "data-action": "new-dashboard", onclick: () => forms.replaceChildren(newForm(ctx, go, fail)) }, icon("plus"), "New dashboard"),
    h("button", { class: "btn", "data-action": "import", onclick: () => forms.replaceChildren(importForm(ctx, go, fail)) }, icon("download"), "Import JSON"),
  ] : [h("span", { class: "muted" }, "Read-only key: dashboards can be viewed, not changed")];
  root.append(h("div", { class: "toolbar" }, ...tools), forms, problem,
    h("section", { class: "card", "data-card": "dashboards" }, h("div", { class: "card-head" }, h("h2", {}, "Dashboards")), body));
  Object.assign(session, { id: null, draft: null, editing: false, defaulted: null });
  return {
    title: "Dashboards",
    ranged: false,
    async update() {
      const { dashboards } = await ctx.api.get("/v1/dashboards");
      const rows = dashboards.map((d) => h("tr", { "data-dashboard": d.id },
        h("td", {}, h("a", { href: `/dashboards/${encodeURIComponent(d.id)}`, onclick: (e) => { e.preventDefault(); open(go, d.id); } }, d.name)),
        h("td", { class: "muted" }, d.description || ""),
        h("td", { class: "r num" }, String(d.widgets.length)),
        h("td", {}, fmt.dateTime(d.updated_at))));
      if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 4, class: "empty" }, canEdit ? "No dashboard yet: make one with New dashboard" : "No dashboard yet")));
      body.replaceChildren(scrollCue(h("table", { class: "data", "data-table": "dashboards" },
        h("thead", {}, h("tr", {}, ["Name", "Description", "Widgets", "Updated (UTC)"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows))));
    },
  };
}

/** A dashboard opens on its own range and filters, not the page's the user came from. */
function open(go, id) { goTo(`/dashboards/${encodeURIComponent(id)}`); }

function goTo(path) {
  window.history.pushState(null, "", path);
  window.dispatchEvent(new Event("pp:navigate"));
}

/** A key for every project names the project of a new dashboard (`?project=`). */
function projectInput(ctx) {
  if (ctx.key?.project) return null;
  const only = state.filters().get("project") || [];
  return h("input", { name: "dashboard-project", placeholder: "Project", required: true, value: only.length === 1 ? only[0] : "" });
}

function target(input) {
  return input ? new URLSearchParams({ project: input.value.trim() }) : null;
}

function newForm(ctx, go, fail) {
  const name = h("input", { name: "dashboard-name", placeholder: "Name", required: true, maxlength: "200" });
  const project = projectInput(ctx);
  const form = h("form", { class: "toolbar", "data-form": "new-dashboard" }, project, name,
    h("button", { class: "btn primary small", type: "submit", "data-action": "create-dashboard" }, "Create"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const made = await ctx.api.request("POST", "/v1/dashboards", target(project), { version: 1, name: name.value.trim(), widgets: [] });
      session.id = made.id; session.draft = structuredClone(exported(made)); session.editing = true;
      open(go, made.id);
    } catch (err) { fail(err); }
  });
  setTimeout(() => name.focus());
  return form;
}

function importForm(ctx, go, fail) {
  const text = h("textarea", { name: "dashboard-json", rows: "6", cols: "60", placeholder: "Paste a dashboard's JSON (Export JSON)" });
  const file = h("input", { type: "file", name: "dashboard-file", accept: "application/json,.json" });
  file.addEventListener("change", async () => { if (file.files[0]) text.value = await file.files[0].text(); });
  const project = projectInput(ctx);
  const form = h("form", { class: "toolbar", "data-form": "import" }, project, text, file,
    h("button", { class: "btn primary small", type: "submit", "data-action": "import-dashboard" }, "Import"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    let body;
    try { body = JSON.parse(text.value); } catch (err) { fail(new Error(`not JSON: ${err.message}`)); return; }
    try {
      const made = await ctx.api.request("POST", "/v1/dashboards", target(project), body);
      open(go, made.id);
    } catch (err) { fail(err); }
  });
  return form;
}

// ---------- one dashboard ----------
function board(root, ctx, { dashboardId }) {
  const canEdit = Boolean(ctx.key?.admin);
  if (session.id !== dashboardId) Object.assign(session, { id: dashboardId, draft: null, editing: false });
  const head = h("div", { class: "toolbar dash-head" });
  const problem = h("div", { class: "error-text", role: "alert", "data-error": "" });
  const grid = h("div", { class: "dash-grid", "data-dashboard": dashboardId });
  const side = h("div", { class: "dash-side" });
  root.append(h("div", { class: "dash-page", "data-readonly": canEdit ? "false" : "true" }, head, problem, side, grid));
  let stored = null;
  let widgets = [];
  const view = { title: "Dashboard", ranged: true };

  const paint = (ctxNow) => {
    const shown = session.editing ? session.draft : exported(stored);
    document.title = `${shown.name} · PromptPulse`;
    head.replaceChildren(...header(shown, ctxNow));
    widgets = shown.widgets.map((w, i) => widget(w, session.editing ? arrangeTools(i) : []));
    if (session.editing) widgets.forEach((x, i) => draggable(x.el, i));
    grid.classList.toggle("editing", session.editing);
    disposeWithin(grid);  // each paint draws new charts: the old ones go
    grid.replaceChildren(...widgets.map((x) => x.el));
    if (!shown.widgets.length) grid.append(h("div", { class: "empty", style: "grid-column: 1 / -1" }, session.editing ? "No widget yet: Add widget" : "This dashboard has no widget"));
  };
  const redraw = async () => { paint(ctx); await Promise.all(widgets.map((x) => x.update(ctx, stored))); };

  function header(shown) {
    const out = [h("span", { class: "muted", "data-project": stored.project }, `project ${stored.project}`)];
    if (shown.description) out.push(h("span", { class: "muted" }, `· ${shown.description}`));
    out.push(h("div", { class: "spacer" }));
    const shareUrl = h("input", { name: "share-url", readonly: true, value: window.location.href, size: "40", hidden: true, "aria-label": "Link to this view" });
    out.push(shareUrl, h("button", { class: "btn small", "data-action": "share", onclick: () => {
      shareUrl.value = window.location.href;
      shareUrl.hidden = false;
      shareUrl.select();
      navigator.clipboard?.writeText(shareUrl.value).catch(() => {});
    } }, "Share link"));
    out.push(h("button", { class: "btn small", "data-action": "export", onclick: () => download(`${shown.name}.json`, JSON.stringify(exported(shown), null, 2)) }, icon("download"), "Export JSON"));
    if (!canEdit) return out;
    if (!session.editing) {
      out.push(h("button", { class: "btn small primary", "data-action": "edit", onclick: () => {
        session.draft = structuredClone(exported(stored)); session.editing = true; redraw();
      } }, "Edit"));
      return out;
    }
    out.push(
      h("button", { class: "btn small", "data-action": "add-widget", onclick: () => side.replaceChildren(editor(ctx, null, save)) }, icon("plus"), "Add widget"),
      h("button", { class: "btn small primary", "data-action": "save", onclick: () => persist() }, "Save"),
      h("button", { class: "btn small", "data-action": "cancel", onclick: () => { session.editing = false; session.draft = null; side.replaceChildren(); redraw(); } }, "Cancel"),
      deleteButton());
    return out;
  }

  function deleteButton() {
    const b = h("button", { class: "btn small ghost", "data-action": "delete-dashboard", onclick: async () => {
      if (b.dataset.armed !== "1") { b.dataset.armed = "1"; b.textContent = "Really delete?"; return; }
      try {
        await ctx.api.request("DELETE", `/v1/dashboards/${encodeURIComponent(dashboardId)}`);
        Object.assign(session, { id: null, draft: null, editing: false });
        goTo("/dashboards");
      } catch (err) { problem.textContent = err.message; }
    } }, "Delete dashboard");
    return b;
  }

  // A widget from the editor: replaced in place, or placed at the first free spot.
  function save(w, index) {
    const list = session.draft.widgets;
    if (index === null) list.push({ ...w, position: firstFit(list, w.position.w, w.position.h) });
    else list[index] = { ...w, position: list[index].position };
    side.replaceChildren();
    redraw();
  }

  function arrangeTools(i) {
    const moves = [
      ["move-left", "←", "Move left", (p) => { p.x = Math.max(0, p.x - 1); }],
      ["move-right", "→", "Move right", (p) => { p.x = Math.min(12 - p.w, p.x + 1); }],
      ["move-up", "↑", "Move up", (p) => { p.y = Math.max(0, p.y - 1); }],
      ["move-down", "↓", "Move down", (p) => { p.y += 1; }],
      ["narrower", "−w", "Narrower", (p) => { p.w = Math.max(1, p.w - 1); }],
      ["wider", "+w", "Wider", (p) => { p.w = Math.min(12 - p.x, p.w + 1); }],
      ["shorter", "−h", "Shorter", (p) => { p.h = Math.max(1, p.h - 1); }],
      ["taller", "+h", "Taller", (p) => { p.h = Math.min(24, p.h + 1); }],
    ];
    const tools = moves.map(([action, text, title, change]) => h("button", { class: "btn ghost small", "data-action": action, title, "aria-label": title,
      onclick: () => { change(session.draft.widgets[i].position); settle(session.draft.widgets, i); redraw(); } }, text));
    tools.push(
      h("button", { class: "btn ghost small", "data-action": "edit-widget", title: "Edit", onclick: () => side.replaceChildren(editor(ctx, { ...session.draft.widgets[i], index: i }, save)) }, "✎"),
      h("button", { class: "btn ghost small", "data-action": "remove-widget", title: "Remove", onclick: () => { session.draft.widgets.splice(i, 1); redraw(); } }, "×"));
    return [h("span", { class: "dash-tools" }, ...tools)];
  }

  // Drag a widget by its card to a cell of the grid: its top-left corner goes there.
  let dragging = null;
  function draggable(el, i) {
    el.draggable = true;
    el.addEventListener("dragstart", (e) => { dragging = i; e.dataTransfer.setData("text/plain", String(i)); });
    el.addEventListener("dragend", () => { dragging = null; });
  }
  grid.addEventListener("dragover", (e) => { if (session.editing && dragging !== null) e.preventDefault(); });
  grid.addEventListener("drop", (e) => {
    if (!session.editing || dragging === null) return;
    e.preventDefault();
    const box = grid.getBoundingClientRect();
    const gap = parseFloat(getComputedStyle(grid).columnGap) || 0;
    const row = parseFloat(getComputedStyle(grid).gridAutoRows) || 72;
    const p = session.draft.widgets[dragging].position;
    p.x = Math.max(0, Math.min(12 - p.w, Math.floor((e.clientX - box.left) / ((box.width + gap) / 12))));
    p.y = Math.max(0, Math.floor((e.clientY - box.top) / (row + gap)));
    settle(session.draft.widgets, dragging);
    dragging = null;
    redraw();
  });

  async function persist() {
    const body = { ...session.draft, ...pageRange() };
    try {
      stored = await ctx.api.request("PUT", `/v1/dashboards/${encodeURIComponent(dashboardId)}`, null, body);
      Object.assign(session, { draft: null, editing: false });
      problem.textContent = "";
      side.replaceChildren();
      await redraw();
      grid.dataset.saved = stored.updated_at;
    } catch (err) { problem.textContent = err.message; }
  }

  view.update = async (ctxNow) => {
    stored = await ctxNow.api.get(`/v1/dashboards/${encodeURIComponent(dashboardId)}`);
    if (session.defaulted !== dashboardId) {
      session.defaulted = dashboardId;
      if (applyDefaults(stored)) return;  // the page is redrawn over the dashboard's own range
    }
    view.title = stored.name;
    document.querySelector("[data-title]").textContent = stored.name;
    await redraw();
  };
  return view;
}

/** The page's range and filters, as the dashboard keeps them when saved. */
function pageRange() {
  const p = state.params();
  const range = p.get("from") ? { from: state.resolveRange().from, to: state.resolveRange().to } : (p.get("range") || state.DEFAULT_RANGE);
  const filters = Object.fromEntries([...state.filters()].filter(([name]) => name !== "project"));
  return { range, filters };
}

/** A dashboard opened without a range or filters in its URL gets its own (a shared link has them). */
function applyDefaults(stored) {
  const p = state.params();
  const changes = {};
  if (!p.get("range") && !p.get("from")) {
    if (typeof stored.range === "string") changes.range = stored.range;
    else if (stored.range) Object.assign(changes, { from: stored.range.from, to: stored.range.to });
  }
  if (!state.filters().size) Object.assign(changes, stored.filters || {});
  if (!Object.keys(changes).length) return false;
  state.update(changes, { replace: true });
  return true;
}
