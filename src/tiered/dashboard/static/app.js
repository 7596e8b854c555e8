// The dashboard's state (route, window, view: kept in the URL's fragment, so a wall screen can be bookmarked),
// sign-in, and the refresh loop.
import { api, ApiError, forgetKey, storedKey, storeKey } from "./api.js";
import { costChart, escalationChart, histogramChart } from "./charts.js";
import { gradingKeys, renderAudits } from "./grading.js";
import { renderAlerts, renderDecisions, renderKpis, renderQuality, renderReasons, renderThresholds } from "./views.js";
import { renderShadow } from "./shadow.js";

const $ = (id) => document.getElementById(id);
const PAGE = 30;
const state = {
  route: "", window: "1h", view: "overview", refresh: 5, session: null, timer: null, abort: null, refreshes: 0, charts: null,
  // the decisions table: its filters, and the cursors of the pages before this one (none: the newest, live)
  table: { outcome: "", grade: "", cursors: [], last: null },
};

function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  if (p.has("route")) state.route = p.get("route");
  if (p.has("window")) state.window = p.get("window");
  if (p.get("view") === "grading") state.view = "grading";
  if (p.has("refresh") && /^\d+$/.test(p.get("refresh"))) state.refresh = Number(p.get("refresh"));
  if (p.has("outcome")) state.table.outcome = p.get("outcome");
  if (p.has("grade")) state.table.grade = p.get("grade");
}

function writeHash() {
  const p = new URLSearchParams();
  if (state.route) p.set("route", state.route);
  p.set("window", state.window);
  if (state.view !== "overview") p.set("view", state.view);
  if (state.refresh !== 5) p.set("refresh", String(state.refresh));
  if (state.table.outcome) p.set("outcome", state.table.outcome);
  if (state.table.grade) p.set("grade", state.table.grade);
  history.replaceState(null, "", `#${p}`);
}

function showLogin(message) {
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("login-key").focus();
}

async function signIn(event) {
  event.preventDefault();
  const key = $("login-key").value.trim();
  if (!key) return;
  storeKey(key, $("login-remember").checked);
  $("login-key").value = "";
  await start();
}

function signOut(message) {
  forgetKey();
  clearTimeout(state.timer);
  if (state.abort) state.abort.abort();
  state.session = null;
  showLogin(message);
}

async function start() {
  if (!storedKey()) return showLogin();
  try {
    state.session = await api.session();
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return signOut(err.message);
    return showLogin(err.message);
  }
  $("login").hidden = true;
  $("app").hidden = false;
  buildControls();
  await refresh();
}

function buildControls() {
  const s = state.session;
  const routes = $("route");
  const names = s.routes.includes(state.route) || !state.route ? s.routes : [...s.routes, state.route];
  routes.replaceChildren(new Option("All routes", ""), ...names.map((r) => new Option(r, r)));
  routes.value = state.route;
  const windows = $("windows");
  const list = s.windows.includes(state.window) ? s.windows : [...s.windows, state.window];
  windows.replaceChildren(
    ...list.map((w) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = w;
      b.dataset.window = w;
      b.setAttribute("aria-pressed", String(w === state.window));
      return b;
    }),
  );
  $("refresh").value = String(state.refresh);
  const note = $("scope-note");
  note.hidden = s.scope !== "key";
  note.textContent = "Pass-through mode: you see the calls made with your own key. Route-wide panels (threshold, alerts, false-confident rate) cover everyone.";
  for (const tab of document.querySelectorAll(".tab")) {
    if (tab.dataset.view === state.view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  $("view-overview").hidden = state.view !== "overview";
  $("view-grading").hidden = state.view !== "grading";
}

function drawCharts() {
  const c = state.charts;
  if (!c || $("view-overview").hidden) return;
  escalationChart($("chart-escalation"), c.series, { storm: state.session.storm_rate, changes: c.changes });
  costChart($("chart-cost"), c.series);
  histogramChart($("chart-confidence"), c.o.histogram, c.q.threshold);
}

function tableQuery(p) {
  const t = state.table;
  const cursor = t.cursors[t.cursors.length - 1];
  return { ...p, limit: PAGE, outcome: t.outcome, grade: t.grade, before: cursor && cursor.at, before_id: cursor && cursor.id };
}

function filtered() {
  return Boolean(state.table.outcome || state.table.grade);
}

function renderPager(page) {
  const rows = page.decisions;
  state.table.last = rows.length ? rows[rows.length - 1] : null;
  const first = page.newer + 1;
  $("decision-range").textContent = rows.length
    ? `${first.toLocaleString("en-US")}–${(page.newer + rows.length).toLocaleString("en-US")} of ${page.total.toLocaleString("en-US")}`
    : `0 of ${page.total.toLocaleString("en-US")}`;
  const paged = state.table.cursors.length > 0;
  $("page-newest").disabled = !paged;
  $("page-newer").disabled = !paged;
  $("page-older").disabled = page.newer + rows.length >= page.total;
}

// A page back is anchored at the last row shown, so rows arriving meanwhile do not shift it; the first page is live.
function turnPage(where) {
  const t = state.table;
  if (where === "older" && t.last) t.cursors.push({ at: t.last.created_at, id: t.last.id });
  else if (where === "newer") t.cursors.pop();
  else if (where === "newest") t.cursors = [];
  refresh();
}

function setStatus(text, cls) {
  const node = $("status");
  node.textContent = text;
  node.className = `status ${cls || ""}`;
}

function schedule() {
  clearTimeout(state.timer);
  if (state.refresh > 0) state.timer = setTimeout(refresh, state.refresh * 1000);
}

async function refresh() {
  clearTimeout(state.timer);
  if (!state.session) return;
  if (document.visibilityState === "hidden") return schedule(); // nobody is looking: ask again later
  if (state.abort) state.abort.abort();
  const abort = new AbortController();
  state.abort = abort;
  const p = { route: state.route, window: state.window };
  const signal = abort.signal;
  try {
    const audits = state.session.admin ? api.audits({ route: state.route, limit: 100 }, signal) : Promise.resolve(null);
    audits.catch(() => {}); // awaited below; this keeps a failure while the others run from going unhandled
    if (state.view === "overview") {
      const [o, series, q, decisions, thresholds, alerts, shadow] = await Promise.all([
        api.overview(p, signal), api.series(p, signal), api.quality(p, signal), api.decisions(tableQuery(p), signal),
        api.thresholds({ route: state.route }, signal), api.alerts({ route: state.route }, signal),
        api.shadow(p, signal),
      ]);
      renderKpis(o, q, state.session.storm_rate);
      state.charts = { o, series, q, changes: thresholds.changes };
      drawCharts();
      renderQuality($("quality"), q);
      renderReasons($("reasons"), o);
      renderThresholds($("thresholds"), thresholds.changes);
      renderAlerts($("alerts"), alerts.alerts);
      renderShadow($("shadow-panel"), $("shadow"), shadow.projections);
      renderDecisions($("decisions").tBodies[0], decisions.decisions, filtered());
      renderPager(decisions);
    }
    const pending = await audits;
    const pill = $("pending-count");
    pill.hidden = !pending || !pending.audits.length;
    if (pending) pill.textContent = pending.audits.length >= 100 ? "100+" : String(pending.audits.length);
    if (state.view === "grading") {
      renderAudits($("audits"), pending ? pending.audits : [], { admin: state.session.admin, onGraded: () => refresh() });
    }
    $("error").hidden = true;
    state.refreshes += 1;
    document.body.dataset.refreshes = String(state.refreshes);
    setStatus(`updated ${new Date().toLocaleTimeString()}`, state.refresh ? "" : "paused");
  } catch (err) {
    if (err.name === "AbortError") return;
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return signOut(err.message);
    $("error").textContent = `Could not refresh: ${err.message}`;
    $("error").hidden = false;
    setStatus("stale", "stale");
  } finally {
    if (state.abort === abort) {
      state.abort = null;
      schedule();
    }
  }
}

function wire() {
  $("login-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", () => signOut());
  $("detail-close").addEventListener("click", () => $("detail").close());
  $("route").addEventListener("change", (e) => {
    state.route = e.target.value;
    state.table.cursors = [];
    writeHash();
    refresh();
  });
  $("windows").addEventListener("click", (e) => {
    const w = e.target.dataset && e.target.dataset.window;
    if (!w) return;
    state.window = w;
    state.table.cursors = [];
    for (const b of $("windows").children) b.setAttribute("aria-pressed", String(b.dataset.window === w));
    writeHash();
    refresh();
  });
  for (const [id, key] of [["decision-outcome", "outcome"], ["decision-grade", "grade"]]) {
    $(id).value = state.table[key];
    $(id).addEventListener("change", (e) => {
      state.table[key] = e.target.value;
      state.table.cursors = [];
      writeHash();
      refresh();
    });
  }
  $("page-older").addEventListener("click", () => turnPage("older"));
  $("page-newer").addEventListener("click", () => turnPage("newer"));
  $("page-newest").addEventListener("click", () => turnPage("newest"));
  $("refresh").addEventListener("change", (e) => {
    state.refresh = Number(e.target.value);
    writeHash();
    refresh();
  });
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => {
      state.view = tab.dataset.view;
      writeHash();
      buildControls();
      refresh();
    });
  }
  document.addEventListener("keydown", gradingKeys);
  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(drawCharts, 150);
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.session) refresh();
  });
}

readHash();
wire();
start();
