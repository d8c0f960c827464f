// Areya dashboard: ward view (beds in a stable order, alerting ones pinned on top), alert inbox,
// patient timeline, and (for admins) rules and the audit log. Plain JS, no dependencies.
// Live updates patch a model of the ward (the events carry what changed) and the page is
// updated in place, so an open dialog, a chosen reason, focus and scroll survive every update.
"use strict";

const $ = (id) => document.getElementById(id);
const SVGNS = "http://www.w3.org/2000/svg";
let me = null, wardId = null, source = null, currentPatient = null, currentStay = null;
let skew = 0; // server clock minus this device's clock, so "3 min ago" is right on any tablet
const serverNow = () => Date.now() + skew;

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) el.append(k.nodeType ? k : String(k));
  return el;
}
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const k of kids) el.append(k);
  return el;
}
function svgText(x, y, text, attrs = {}) {
  const el = s("text", { x, y, "font-size": 11, fill: "#5d6873", ...attrs });
  el.textContent = text;
  return el;
}

// ---- languages: every word this page writes comes from here (English is the key) ----
// What the server writes comes as data (alert reasons, summaries, notices) or as words (its
// refusals, the audit log, a gateway's failures), and is written here in the user's language.
const LANGS = { en: "English", de: "Deutsch" };
// The German catalogue, DE, comes from /catalogue.js (assets/de.json, which the server uses too).
const CATALOGUE = { en: {}, de: DE };
let lang = "en";
// `text` in the user's language, with `{name}` filled from `vars`.
function t(text, vars) {
  const out = CATALOGUE[lang][text] || text;
  return vars ? out.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)) : out;
}
// Words the server sends (`{text, vars}`, its refusals, the audit log, a gateway's failure):
// the English sentence is the catalogue's key; a slot's value is shown as it is, a number in
// the reader's locale, a moment on the ward's clock, or words in turn.
function said(w) {
  if (!w || typeof w.text !== "string") return "";
  const vars = {};
  for (const [k, v] of Object.entries(w.vars || {})) vars[k] = slot(v);
  return t(w.text, vars);
}
function slot(v) {
  if (typeof v === "string") return v;
  if (typeof v === "number") return new Intl.NumberFormat(lang).format(v);
  if (v && typeof v.at_ms === "number") return fmt({ dateStyle: "short", timeStyle: "short" }).format(new Date(v.at_ms));
  return said(v);
}
// The user's language: chosen on this device for this user, else the one the directory gives
// them, else the browser's.
function pickLang() {
  const saved = me && localStorage.getItem("areya.lang." + me.id);
  const want = saved || (me && me.lang) || (navigator.language || "en").slice(0, 2);
  lang = LANGS[want] ? want : "en";
  document.documentElement.lang = lang;
  fmtCache.clear();
  translatePage();
}
// The page's own words (index.html marks them with data-i18n; titles and labels too).
function translatePage() {
  for (const el of document.querySelectorAll("[data-i18n]")) {
    el._en = el._en || el.dataset.i18n;
    el.textContent = t(el._en);
  }
  for (const el of document.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
}

// ---- talking to the server: every failure becomes a sentence for the person using the page ----
const UNREACHABLE = "Cannot reach the Areya server. Check your patients in person; this screen catches up when the connection is back.";
const unreachable = () => t(UNREACHABLE);

function plainError(status, data) {
  const text = data && typeof data.error === "string" ? data.error : "";
  if (status === 403) return t("You are not allowed to do this.");
  if (status === 404) return t("This is no longer there: someone may have closed it already.");
  if (status === 413) return t("This is too large for the server to take.");
  if (status === 429) return t("Too many tries. Wait a minute, then try again.");
  if (status >= 500) return t("The server could not do this just now. Try again in a moment.");
  if (data && data.said) return said(data.said);
  return text || t("That did not work (error {status}).", { status });
}

async function api(path, opts = {}) {
  const init = { method: opts.method || "GET", headers: {}, credentials: "same-origin", cache: "no-store" };
  if (opts.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.body);
  }
  let r;
  try { r = await fetch(path, init); } catch (_) { lostContact(); throw new Error(unreachable()); }
  let data = null;
  try { data = await r.json(); } catch (_) { /* empty body */ }
  if (r.status === 401 && path !== "/api/login") {
    showLogin(t("Your session has ended. Please log in again."));
    throw new Error(t("Please log in again."));
  }
  if (!r.ok) throw new Error(plainError(r.status, data));
  return data;
}

// ---- clocks: the ward's 24-hour clock (its IANA zone from the rules), and "… ago" ----
let wardZone;
const zoned = (o) => (wardZone ? { ...o, timeZone: wardZone } : o);
const fmtCache = new Map();
function fmt(opts) {
  const key = JSON.stringify(zoned(opts));
  if (!fmtCache.has(key)) fmtCache.set(key, new Intl.DateTimeFormat(lang, zoned({ hourCycle: "h23", ...opts })));
  return fmtCache.get(key);
}
const hm = (ms) => (Number.isFinite(ms) ? fmt({ hour: "2-digit", minute: "2-digit" }).format(new Date(ms)) : "–");
function ago(ms) {
  const sec = Math.max(0, Math.round((serverNow() - ms) / 1000));
  if (sec < 60) return t("just now");
  if (sec < 3600) return t("{n} min ago", { n: Math.round(sec / 60) });
  const hrs = Math.floor(sec / 3600), min = Math.round((sec % 3600) / 60);
  return min ? t("{h} h {m} min ago", { h: hrs, m: min }) : t("{h} h ago", { h: hrs });
}
// "02:41 (14 min ago)": the clock time to write down, and how long it has been.
const when = (ms) => `${hm(ms)} (${ago(ms)})`;
const pct = (x) => (x === null || x === undefined ? "–" : new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 }).format(x));

// ---- the connection: an unmistakable offline state, and a clean recovery ----
let offline = false, lastGood = null, recovering = false;

function lostContact() {
  if (!me) return;
  if (!offline) {
    offline = true;
    document.body.classList.add("offline");
    renderConnection();
    for (const b of document.querySelectorAll(".alert button, .alert select")) b.disabled = true;
  }
}
function renderConnection() {
  const l = $("live");
  l.hidden = !me;
  l.className = "live " + (offline ? "off" : "on");
  l.textContent = t(offline ? "offline" : "live");
  const b = $("offline");
  b.hidden = !(me && offline);
  if (me && offline) {
    b.replaceChildren(h("strong", {}, t("No connection to the Areya server") + (lastGood ? t(" since {time}", { time: hm(lastGood) }) : "") + "."),
      t(" This screen is not up to date and new alerts will not appear. Check your patients in person. Reconnecting…"));
  }
}
// Back in touch: reconnect the live stream, reload what is shown, then lift the banner.
async function recover() {
  if (recovering || !me) return;
  recovering = true;
  try {
    if (!source || source.readyState === EventSource.CLOSED) connect();
    // The page reloaded behind the stream: whatever it missed meanwhile.
    if (await loadCurrent()) {
      offline = false;
      document.body.classList.remove("offline");
      renderConnection();
      renderAll();
    }
  } finally { recovering = false; }
}
// The stream says "heartbeat" every 5 s when the ward is quiet: silence for 12 s means a dead
// link or a hung server, shown as offline like a refused connection.
let lastHeard = 0;
setInterval(() => {
  if (!me) return;
  if (!offline && source && Date.now() - lastHeard > 12000) lostContact();
  // The browser retries a dropped stream by itself, but not one it gave up on.
  if (offline && (!source || source.readyState === EventSource.CLOSED)) recover();
}, 2000);

function connect() {
  if (source) source.close();
  lastHeard = Date.now();
  source = new EventSource("/api/events");
  source.onopen = () => { lastHeard = Date.now(); if (offline) recover(); else renderConnection(); };
  source.onerror = () => lostContact();
  const heard = () => { lastHeard = Date.now(); lastGood = serverNow(); if (offline) recover(); };
  source.addEventListener("heartbeat", heard);
  for (const ev of ["score", "alert", "consent", "directory", "resync"]) {
    source.addEventListener(ev, (e) => {
      let data = null;
      try { data = JSON.parse(e.data); } catch (_) { /* not ours */ }
      heard();
      onEvent(ev, data);
    });
  }
}

// ---- login / session ----
const VIEWS = ["ward-view", "patient-view", "doctor-view", "stay-view", "rules-view", "audit-view", "deliveries-view"];
function showLogin(message) {
  if (source) { source.close(); source = null; }
  me = null; offline = false;
  document.body.classList.remove("offline");
  for (const id of VIEWS) $(id).hidden = true;
  $("login").hidden = false; $("ward").hidden = true; $("tabs").hidden = true; $("logout").hidden = true; $("notify").hidden = true; $("lang").hidden = true;
  $("who").textContent = "";
  $("login-error").textContent = message || "";
  renderConnection();
}
async function start() {
  try { me = await api("/api/me"); } catch (_) { showLogin(); return; }
  pickLang();
  $("login").hidden = true; $("logout").hidden = false; $("lang").hidden = false; $("lang").value = lang;
  $("who").textContent = me.name + " · " + t(me.role.replace("_", " "));
  $("banner").hidden = !me.banner; $("banner").textContent = t(me.banner || "");
  const sel = $("ward"); sel.replaceChildren(...me.wards.map((w) => h("option", { value: w.id }, w.name)));
  sel.hidden = me.wards.length < 2;
  $("tabs").hidden = me.role !== "admin";
  renderNotify();
  wardId = (me.wards[0] || {}).id || null;
  lastGood = serverNow();
  renderConnection();
  connect();
  route();
}
$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  $("login-error").textContent = "";
  try {
    await api("/api/login", { method: "POST", body: { user: f.user.value, password: f.password.value } });
    f.password.value = "";
    start();
  } catch (err) {
    const m = err.message;
    $("login-error").textContent = m === unreachable() ? t("Cannot reach the Areya server. Try again in a moment.")
      : m === t("Too many tries. Wait a minute, then try again.") ? m : t("Wrong user name or password.");
  }
});
$("logout").addEventListener("click", async () => { try { await api("/api/logout", { method: "POST", body: {} }); } catch (_) { /* logged out here anyway */ } finally { showLogin(); } });
$("ward").addEventListener("change", (e) => { wardId = e.target.value; W.view = null; location.hash = ""; route(); });
$("back").addEventListener("click", () => { location.hash = ""; });
$("lang").addEventListener("change", (e) => { if (me) localStorage.setItem("areya.lang." + me.id, e.target.value); location.reload(); });
for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => { location.hash = b.dataset.tab === "ward" ? "" : b.dataset.tab; });
for (const b of document.querySelectorAll("#scope button")) b.addEventListener("click", () => { localStorage.setItem("areya.scope", b.dataset.scope); renderWard(); });
window.addEventListener("hashchange", route);

function route() {
  if (!me) return;
  const hash = location.hash.slice(1);
  for (const id of VIEWS) $(id).hidden = true;
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("on", (b.dataset.tab === "ward" && (!hash || hash.startsWith("patient/"))) || b.dataset.tab === hash);
  currentPatient = null; currentStay = null;
  $("back").textContent = t(me.role === "doctor" ? "← My patients" : "← Ward");
  if (hash.startsWith("patient/")) { currentPatient = decodeURIComponent(hash.slice(8)); P.data = null; $("patient-alerts").replaceChildren(); $("patient-view").hidden = false; loadPatient(currentPatient); }
  else if (hash.startsWith("stay/")) { currentStay = decodeURIComponent(hash.slice(5)); $("stay-view").hidden = false; loadStay(currentStay); }
  else if (!hash && me.role === "doctor") { $("doctor-view").hidden = false; loadDoctor(); }
  else if (hash === "rules" && me.role === "admin") { $("rules-view").hidden = false; loadRules(); }
  else if (hash === "audit" && me.role === "admin") { $("audit-view").hidden = false; loadAudit(); }
  else if (hash === "deliveries" && me.role === "admin") { $("deliveries-view").hidden = false; loadDeliveries(); }
  else { $("ward-view").hidden = false; loadWard(); }
}
async function loadCurrent() {
  if (!$("ward-view").hidden) return loadWard();
  if (!$("patient-view").hidden && currentPatient) return loadPatient(currentPatient);
  if (!$("doctor-view").hidden) return loadDoctor();
  if (!$("stay-view").hidden && currentStay) return loadStay(currentStay);
  try { await api("/api/me"); return true; } catch (_) { return false; }
}

// ---- the ward model, patched by live events ----
const W = { view: null, alerts: new Map(), staff: new Map(), kpi: null };
let reloadTimer = null, renderTimer = null;
function scheduleReload() {
  if (reloadTimer) return;
  reloadTimer = setTimeout(() => { reloadTimer = null; loadCurrent(); }, 400);
}
function scheduleRender() {
  if (renderTimer) return;
  renderTimer = requestAnimationFrame(() => { renderTimer = null; renderAll(); });
}
function renderAll() {
  if (!me) return;
  if (!$("ward-view").hidden) renderWard();
  if (!$("patient-view").hidden) renderPatient();
}
const bedOf = (patient) => (W.view ? W.view.beds.find((b) => b.patient === patient) : undefined);

// Events heard so far: a full load that overlapped an event may answer with the state before
// it and would undo the patch, so such a load is followed by another.
let heard = 0;
function onEvent(name, data) {
  heard++;
  if (!data) { scheduleReload(); return; }
  let patient = null;
  if (name === "score") {
    patient = data.patient;
    const b = bedOf(patient);
    if (b && data.assessment) {
      b.assessment = data.assessment;
      if (data.camera_seen_ms && data.camera_seen_ms > (b.camera.last_seen_ms || 0)) {
        b.camera.last_seen_ms = data.camera_seen_ms;
        b.camera.online = data.assessment.at_ms - data.camera_seen_ms < (W.view.offline_after_ms || 60e3);
      }
      const at = data.assessment.at_ms;
      b.sparkline = [...(b.sparkline || []).filter(([x]) => x > at - 3600e3 && x < at), [at, data.assessment.score]];
    }
  } else if (name === "alert") {
    const a = data.alert;
    if (a) {
      patient = a.patient;
      const b = bedOf(a.patient);
      if (b) W.alerts.set(a.id, { alert: a, bed: b.bed });
    } else {
      const old = W.alerts.get(data.event && data.event.id);
      if (old) patient = old.alert.patient;
      W.alerts.delete(data.event && data.event.id);
    }
    maybeNotify(data);
    // The 24-hour counts above the inbox must agree with it: refetch them when one changes.
    const ev = data.event && data.event.event;
    if (ev === "raised" || ev === "acknowledged") scheduleKpi();
  } else {
    scheduleReload();
    return;
  }
  scheduleRender();
  if (currentPatient && patient === currentPatient) scheduleReload();
}

// ---- one word and one colour per state, everywhere ----
const KIND = { sustained_negative: "Sustained negative emotion", source_offline: "Camera offline", no_face: "No face seen", model_error: "Model error" };
const TECH = { source_offline: "camera offline", no_face: "no face seen", model_error: "model error" };
const RANK = { red: 5, yellow: 4, cyan: 3, blind: 2, grey: 2, acked: 1 };

function alertState(a) {
  // An alert that is over asks nothing of anyone, whoever it reached: never red or yellow.
  if (a.state === "resolved") return { cls: "acked", word: t("over") };
  if (a.state === "acknowledged") return { cls: "acked", word: t("acknowledged") };
  if (a.state === "snoozed") return { cls: "acked", word: t("snoozed") };
  if (a.blind_since_ms) return { cls: "blind", word: t("cannot assess") };
  if (a.notified !== "assigned_nurse") return { cls: "red", word: t("escalated") };
  if (a.kind !== "sustained_negative") return { cls: "grey", word: t(TECH[a.kind] || "technical") };
  if (a.priority === "info") return { cls: "cyan", word: t("information") };
  return { cls: "yellow", word: t("needs attention") };
}
const needsAction = (a) => a.state === "raised" || a.state === "delivered";

function staffName(id) { const p = W.staff.get(id); return p ? p.name : id; }
function notifiedText(a, bed) {
  if (a.notified === "assigned_nurse") {
    const n = bed && bed.nurse;
    return n ? t("notified {name} (assigned nurse)", { name: n.name }) : t("notified the assigned nurse");
  }
  if (a.notified === "charge_nurse") {
    const names = [...W.staff.values()].filter((p) => p.role === "charge_nurse").map((p) => p.name);
    // "(charge nurse)" unless the names say so already.
    const role = names.every((n) => /charge nurse/i.test(n)) ? "" : t(" (charge nurse)");
    return t("escalated to {who}", { who: names.length ? names.join(", ") + role : t("the charge nurse") });
  }
  return t("escalated to every nurse on the ward");
}
// A reason the server sends as data (`said`) in the user's words; its English text otherwise.
function why(x) {
  const said = x.said;
  if (!said) return x.reason;
  const u = said.usual === null || said.usual === undefined ? null : pct(said.usual);
  switch (said.says) {
    case "run": return t("negative {neg} for {min} min, mostly {emotion}", { neg: pct(said.negative), min: said.minutes, emotion: t(said.mostly) }) + (u ? t(", usual {pct}", { pct: u }) : "");
    case "horizon": return t("negative {neg} of the last {min} min", { neg: pct(said.negative), min: said.minutes }) + (u ? t(" (usual {pct})", { pct: u }) : "") + t(", face visible {face}, mostly {emotion}", { face: pct(said.face), emotion: t(said.mostly) });
    case "too_little_face": return t("face visible {face} of the last {min} min: not enough to judge", { face: pct(said.face), min: said.minutes });
    case "no_face_for": return t("no face seen for {min} min", { min: said.minutes });
    case "model_failed": return t("emotion model failed: {error}", { error: said.error });
    default: return x.reason;
  }
}
// What raised the alert, in a nurse's words, with the clock time.
function alertText(a) {
  if (a.blind_since_ms) return t("Cannot assess: face not seen since {time}. Before that: {reason}.", { time: hm(a.blind_since_ms), reason: why(a) });
  if (a.kind === "sustained_negative") return `${t(KIND[a.kind])}: ${why(a)}.`;
  return t(KIND[a.kind]) + (a.reason && a.kind !== "source_offline" ? ": " + why(a) : "") + ".";
}
function ackText(k) {
  return t("Acknowledged by {name} at {time}", { name: staffName(k.by), time: hm(k.at_ms) }) + (k.actionable ? "" : t(" — not actionable: {reason}", { reason: t(k.reason || "") }));
}

// Reasons a nurse may give for "not actionable", by what raised the alert.
const REASONS = {
  sustained_negative: ["patient in pain, being treated", "watching TV / talking", "camera angle or lighting", "visitor upset, not patient", "already known to team"],
  source_offline: ["camera moved or unplugged, being fixed", "camera switched off for care or privacy", "patient out of bed or off the ward", "known outage, IT told"],
  no_face: ["patient out of bed or off the ward", "patient turned away or face covered", "camera moved, being fixed", "staff or visitor in the way"],
  model_error: ["known to IT", "camera picture unusable"],
};

// ---- keyed rendering: elements are kept and updated, never rebuilt under the user's hands ----
function reconcile(box, items, key, sig, build, update, empty) {
  const old = new Map();
  for (const e of box.children) if (e.dataset.key) old.set(e.dataset.key, e);
  const want = items.map((it) => {
    const k = String(key(it));
    let el = old.get(k);
    if (el && update) update(el, it);
    else {
      const sg = sig ? sig(it) : "";
      if (!el || el.dataset.sig !== sg) {
        const n = build(it);
        n.dataset.key = k; n.dataset.sig = sg;
        if (el) el.replaceWith(n);
        el = n;
      }
    }
    el.dataset.key = k;
    return el;
  });
  const keep = new Set(want);
  for (const e of [...box.children]) if (!keep.has(e)) e.remove();
  // Reorder by moving the others around the element that holds the focus: moving a node
  // blurs what is inside it (an alert escalating moves up; its open reason box must not blur).
  const f = want.findIndex((el) => el.contains(document.activeElement));
  if (f < 0) {
    want.forEach((el, i) => { if (box.children[i] !== el) box.insertBefore(el, box.children[i] || null); });
  } else {
    for (let i = 0; i < f; i++) if (box.children[i] !== want[i]) box.insertBefore(want[i], box.children[i]);
    let ref = want[f];
    for (let i = f + 1; i < want.length; i++) {
      if (ref.nextElementSibling !== want[i]) box.insertBefore(want[i], ref.nextElementSibling);
      ref = want[i];
    }
  }
  if (!want.length && empty) box.append(h("p", { class: "empty" }, empty));
}

// ---- ward view ----
function sparkline(points, now) {
  // The last hour, or less while there is less data (at least 10 minutes).
  const first = points.length ? points[0][0] : now;
  const w = 220, ht = 30, span = Math.min(3600e3, Math.max(600e3, now - first));
  const svg = s("svg", { class: "spark", viewBox: `0 0 ${w} ${ht}`, preserveAspectRatio: "none", role: "img", "aria-label": t("attention score, last hour") });
  svg.append(s("line", { x1: 0, x2: w, y1: ht - 0.5, y2: ht - 0.5, stroke: "#d5dbe1" }));
  if (points.length > 1) {
    const d = points.map(([t, v], i) => `${i ? "L" : "M"}${(w * (1 - (now - t) / span)).toFixed(1)},${(ht - 2 - (v / 100) * (ht - 4)).toFixed(1)}`).join(" ");
    svg.append(s("path", { d, fill: "none", stroke: "#1d4f91", "stroke-width": 1.5 }));
  }
  return svg;
}
const alertsOfBed = (b) => [...W.alerts.values()].filter((x) => x.alert.patient === b.patient).map((x) => x.alert);
const worstOf = (alerts) => alerts.map(alertState).sort((x, y) => RANK[y.cls] - RANK[x.cls])[0];
const pinned = (b) => alertsOfBed(b).some(needsAction);
const bedOrder = (x, y) => (pinned(y) - pinned(x)) || x.bed.localeCompare(y.bed, undefined, { numeric: true });
const cameraDown = (b, alerts) => !b.camera.online || alerts.some((a) => a.kind === "source_offline" && a.state !== "resolved");
// While the usual is still being learned the status is judged against an assumed one: say which,
// or "above usual" reads as a contradiction.
function usualText(a) { const p = { pct: pct(a.baseline) }; return a.baseline_learned ? t(" (usual {pct})", p) : t(" (usual: still learning, {pct} assumed)", p); }
function statusWord(a) { return t(a.status === "elevated" && a.score >= 10 ? "above usual" : "settled"); }

function bedCard(b) {
  const a = b.assessment, alerts = alertsOfBed(b);
  const nurse = h("div", { class: "nurse" }, b.nurse ? b.nurse.name : t("no nurse assigned"));
  if (!b.patient) return h("div", { class: "bed off" }, h("div", { class: "row" }, h("span", { class: "name" }, b.bed), h("span", { class: "tag" }, t("empty bed"))), nurse);
  const consent = b.consent && b.consent.consent;
  if (consent && consent !== "active") {
    const label = consent === "opted_out" ? t("opted out: not monitored") : t("paused until {time}", { time: hm(b.consent.until_ms) });
    return h("div", { class: "bed off" }, h("div", { class: "row" }, h("span", { class: "name" }, b.bed + " · " + b.patient), h("span", { class: "tag" }, label)), nurse);
  }
  const worst = worstOf(alerts);
  const tag = worst ? h("span", { class: "tag " + worst.cls }, worst.word + (alerts.length > 1 ? ` +${alerts.length - 1}` : "")) : null;
  const head = h("div", { class: "row" }, h("span", { class: "name" }, b.bed + " · " + b.patient), tag);
  const open = { role: "button", tabindex: 0, "data-patient": b.patient, onclick: () => { location.hash = "patient/" + encodeURIComponent(b.patient); } };
  // A silent camera says so, greyed, and shows nothing that looks like a reading.
  if (cameraDown(b, alerts)) {
    const since = b.camera.last_seen_ms ? t("No camera since {time}", { time: hm(b.camera.last_seen_ms) }) : t("No camera picture yet");
    return h("div", { class: "bed grey nocam", ...open }, head, nurse,
      h("div", { class: "note" }, since), h("div", { class: "meta" }, t("The patient cannot be watched until the camera is back.")));
  }
  const cls = "bed " + (worst ? worst.cls : !a || a.status === "unknown" ? "grey" : "");
  if (!a) return h("div", { class: cls, ...open }, head, nurse, h("div", { class: "note" }, t("Waiting for the first readings")), h("div", { class: "meta cam-ok" }, t("camera ok")));
  if (a.status === "unknown") {
    return h("div", { class: cls, ...open }, head, nurse,
      h("div", { class: "row" }, h("span", { class: "score" }, "–", h("small", {}, t(" not enough face to judge"))), h("span", { class: "cam ok" }, t("camera ok"))),
      sparkline(b.sparkline || [], a.at_ms),
      h("div", { class: "meta" }, t("face seen {pct} of the time", { pct: pct(a.coverage) })));
  }
  const trend = a.trend !== null && a.trend !== undefined ? (a.trend > 0.05 ? " ↑" : a.trend < -0.05 ? " ↓" : " →") : "";
  return h("div", { class: cls, ...open }, head, nurse,
    h("div", { class: "row" }, h("span", { class: "score", title: t("attention score, 0–100") }, a.score, h("small", {}, trend + " " + statusWord(a))), h("span", { class: "cam ok" }, t("camera ok"))),
    sparkline(b.sparkline || [], a.at_ms),
    // The card's figures span the score's horizon; an alert beside it tells its own, often
    // shorter, run. Naming the span keeps "negative 42%" and the alert's "78%" from reading as a
    // contradiction.
    h("div", { class: "emotion" }, a.dominant ? t("last {min} min: mostly {emotion} · negative {pct}", { min: Math.round(W.view.horizon_ms / 6e4), emotion: t(a.dominant), pct: pct(a.negative) }) + usualText(a) : ""),
    h("div", { class: "meta" }, t("face visible {pct}", { pct: pct(a.coverage) })));
}

function alertCard(item) {
  const el = h("div", { class: "alert", "data-alert": item.alert.id });
  el._p = { head: h("div", { class: "head" }), body: h("div", { class: "body" }), meta: h("div", { class: "meta" }), acts: h("div", { class: "actions" }), msg: h("p", { class: "msg", role: "alert" }) };
  el.append(el._p.head, el._p.body, el._p.meta, el._p.acts, el._p.msg);
  fillAlert(el, item);
  return el;
}
// "Delivered" is this page saying a card is on a clinician's visible screen (reading the
// alert list changes nothing on the server).
const deliveredSent = new Set(), toDeliver = new Set();
let deliverTimer = null;
function shown(a) {
  if (!me || me.role === "admin" || a.state !== "raised" || offline || document.visibilityState !== "visible") return;
  if (deliveredSent.has(a.id)) return;
  deliveredSent.add(a.id);
  toDeliver.add(a.id);
  if (!deliverTimer) deliverTimer = setTimeout(sendDelivered, 200);
}
async function sendDelivered() {
  deliverTimer = null;
  const ids = [...toDeliver];
  toDeliver.clear();
  if (!ids.length) return;
  // Not sent: tried again when the card is drawn next.
  try { await api("/api/alerts/delivered", { method: "POST", body: { ids } }); } catch (_) { for (const id of ids) deliveredSent.delete(id); }
}
document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") renderAll(); });

// Updates a card in place; its buttons and reason box are made once and kept.
function fillAlert(el, item) {
  const a = item.alert, st = alertState(a), bed = W.view && bedOf(a.patient);
  shown(a);
  el.className = "alert " + st.cls;
  el._p.head.replaceChildren(h("span", {}, (item.bed || "") + " · " + a.patient), h("span", { class: "tag " + st.cls }, st.word));
  el._p.body.textContent = alertText(a);
  const bits = [t("Raised {when}", { when: when(a.raised_ms) })];
  if (a.state === "resolved") bits.push(a.ack ? ackText(a.ack) : t("over by itself, not acknowledged"));
  else if (a.state === "acknowledged" && a.ack) bits.push(ackText(a.ack));
  else if (a.state === "snoozed" && a.snoozed_until_ms) bits.push(t("snoozed until {time}", { time: hm(a.snoozed_until_ms) }));
  else bits.push(notifiedText(a, bed || (P.data && P.data.patient === a.patient ? { nurse: P.data.nurse } : null)));
  el._p.meta.textContent = bits.join(" · ");
  const canAct = me && me.role !== "admin" && (needsAction(a) || a.state === "snoozed");
  if (canAct && !el._acts) {
    el._acts = true;
    // The reason is recorded in English (the audit log and the KPI count it), shown translated.
    const reasons = h("select", { "aria-label": t("Reason it was not actionable") }, ["", ...(REASONS[a.kind] || REASONS.sustained_negative)].map((r) => h("option", { value: r }, r ? t(r) : t("Reason it was not actionable…"))));
    const box = h("div", { class: "reasonbox", hidden: true }, reasons,
      h("button", { "data-act": "confirm", onclick: () => { if (!reasons.value) { reasons.focus(); return; } act(el, "ack", { actionable: false, reason: reasons.value }); } }, t("Confirm")));
    el._p.acts.append(
      h("button", { class: "primary", "data-act": "ack", onclick: () => act(el, "ack", { actionable: true }) }, t("Acknowledge")),
      h("button", { "data-act": "not-actionable", onclick: () => { box.hidden = !box.hidden; if (!box.hidden) reasons.focus(); } }, t("Not actionable")),
      h("button", { "data-act": "snooze", onclick: () => act(el, "snooze", { seconds: 600 }) }, t("Snooze 10 min")));
    el.insertBefore(box, el._p.msg);
  } else if (!canAct && el._acts) {
    el._acts = false;
    el._p.acts.replaceChildren();
    const box = el.querySelector(".reasonbox");
    if (box) box.remove();
  }
  for (const b of el.querySelectorAll("button, select")) b.disabled = offline || el._busy === true;
}
async function act(el, path, body) {
  if (offline) return;
  const id = el.dataset.alert;
  el._p.msg.textContent = "";
  el._busy = true;
  for (const b of el.querySelectorAll("button, select")) b.disabled = true;
  try {
    const r = await api(`/api/alerts/${id}/${path}`, { method: "POST", body });
    const old = W.alerts.get(Number(id));
    if (r && r.alert) W.alerts.set(r.alert.id, { alert: r.alert, bed: old ? old.bed : "" });
    el._busy = false;
    renderAll();
    scheduleReload();
  } catch (e) {
    el._busy = false;
    el._p.msg.textContent = e.message;
    for (const b of el.querySelectorAll("button, select")) b.disabled = offline;
  }
}

const scope = () => localStorage.getItem("areya.scope") || (me && me.role === "nurse" ? "mine" : "all");
function inboxOrder(x, y) {
  const a = x.alert, b = y.alert, pr = { high: 2, low: 1, info: 0 };
  const esc = (z) => needsAction(z) && z.notified !== "assigned_nurse" && !z.blind_since_ms;
  return (esc(b) - esc(a)) || ((a.kind !== "sustained_negative") - (b.kind !== "sustained_negative")) || ((pr[b.priority] || 0) - (pr[a.priority] || 0)) || (a.raised_ms - b.raised_ms);
}

function renderWard() {
  const v = W.view;
  if (!v) return;
  // Pages that did not go out: the dashboard is then the only way alerts arrive.
  const d = v.deliveries, failing = d && (d.dead || d.retrying);
  $("delivery-warning").hidden = !failing;
  if (failing) {
    const n = d.dead + d.retrying;
    $("delivery-warning").textContent = t("Pager and phone messages are not getting through: {n} since {time} ({state}){error}. New alerts still appear on this screen. Tell the charge nurse and IT.", {
      n: n === 1 ? t("1 message") : t("{n} messages", { n }), time: hm(d.since_ms),
      state: d.dead ? t("{n} given up", { n: d.dead }) : t("still being retried"), error: gatewayError(d) });
  }
  const mineBeds = v.beds.filter((b) => b.nurse && b.nurse.id === me.id);
  const canFilter = mineBeds.length > 0 && mineBeds.length < v.beds.length;
  const mine = canFilter && scope() === "mine";
  $("scope").hidden = !canFilter;
  for (const b of document.querySelectorAll("#scope button")) { const on = (b.dataset.scope === "mine") === mine; b.classList.toggle("on", on); b.setAttribute("aria-pressed", on); }
  const beds = (mine ? mineBeds : v.beds).slice().sort(bedOrder);
  const minute = Math.floor(serverNow() / 60000);
  reconcile($("beds"), beds, (b) => b.bed, (b) => JSON.stringify([b, alertsOfBed(b), minute]), bedCard, null, t(mine ? "None of your patients are in a bed." : "No beds on this ward."));

  // The inbox: with "my patients", her beds' alerts and those escalated to everyone.
  const myPatients = new Set(mineBeds.map((b) => b.patient));
  const all = [...W.alerts.values()];
  const shown = mine ? all.filter((x) => myPatients.has(x.alert.patient) || x.alert.notified === "ward_failsafe") : all;
  const open = shown.filter((x) => x.alert.state !== "acknowledged").sort(inboxOrder);
  const acked = shown.filter((x) => x.alert.state === "acknowledged").sort(inboxOrder);
  $("alert-count").textContent = open.length;
  reconcile($("inbox"), open, (x) => x.alert.id, null, alertCard, fillAlert, t("No alerts waiting."));
  $("acked-head").hidden = acked.length === 0;
  reconcile($("acked"), acked, (x) => x.alert.id, null, alertCard, fillAlert);
  const others = all.length - shown.length;
  $("more-alerts").hidden = others === 0;
  $("more-alerts").textContent = others ? (others === 1 ? t("1 more alert on the ward — show the whole ward") : t("{n} more alerts on the ward — show the whole ward", { n: others })) : "";
  const k = W.kpi;
  if (k) {
    const share = k.actionable_share === null ? "" : t(" · {pct} actionable", { pct: pct(k.actionable_share) });
    const wait = k.median_seconds_to_acknowledge === null ? "" : t(" · median {n} min to acknowledge", { n: Math.round(k.median_seconds_to_acknowledge / 60) });
    const alerts = k.patient_alerts === 1 ? t("1 patient alert") : t("{n} patient alerts", { n: k.patient_alerts });
    $("kpi").textContent = t("Whole ward, last 24 h: {alerts}, {acked} acknowledged{share}{wait}; {tech} technical", { alerts, acked: k.acknowledged, share, wait, tech: k.technical_alerts });
  }
}
$("more-alerts").addEventListener("click", () => { localStorage.setItem("areya.scope", "all"); renderWard(); });

let kpiTimer = null;
function scheduleKpi() {
  if (kpiTimer || !wardId) return;
  kpiTimer = setTimeout(async () => {
    kpiTimer = null;
    try { W.kpi = await api(`/api/wards/${encodeURIComponent(wardId)}/kpi?hours=24`); scheduleRender(); } catch (_) { /* the 30 s full load retries */ }
  }, 500);
}

async function loadWard() {
  if (!wardId) { $("beds").replaceChildren(h("p", { class: "empty" }, t("You are not assigned to a ward."))); return true; }
  try {
    const ward = encodeURIComponent(wardId);
    const mark = heard;
    const [w, al, k] = await Promise.all([api("/api/wards/" + ward), api("/api/alerts?ward=" + ward), api(`/api/wards/${ward}/kpi?hours=24`)]);
    skew = w.now_ms - Date.now();
    lastGood = w.now_ms;
    wardZone = w.ward.time_zone || undefined;
    fmtCache.clear();
    W.view = w;
    W.staff = new Map((w.staff || []).map((p) => [p.id, p]));
    W.alerts = new Map(al.alerts.map((x) => [x.alert.id, { alert: x.alert, bed: x.bed }]));
    W.kpi = k;
    $("ward-title").textContent = w.ward.name;
    document.title = "Areya — " + w.ward.name;
    $("ward-error").textContent = "";
    renderWard();
    if (heard !== mark) scheduleReload();
    return true;
  } catch (e) {
    // Keep what is shown (greyed while offline) and say what went wrong above it.
    if (me && !offline) $("ward-error").textContent = t("Could not update the ward: {error}", { error: e.message });
    return false;
  }
}

// ---- patient page ----
const P = { data: null };
function timeline(p) {
  // As wide as its box (a phone or a desktop), so text and bars keep their size.
  const W_ = Math.max(320, Math.round(($("timeline").clientWidth || 916) - 16)), H = 270, top = 10, mid = 170, bottom = 240, left = 36;
  // The requested span, zoomed in to where there is data (at least 10 minutes).
  const to = p.now_ms;
  const first = Math.min(to, ...p.windows.map((w) => w.start_ms), ...p.alerts.map((i) => i.alert.raised_ms));
  const from = Math.max(p.from_ms, Math.min(first, to - 600e3) - 30e3);
  const x = (t) => left + ((Math.min(Math.max(t, from), to) - from) / (to - from)) * (W_ - left - 4);
  const svg = s("svg", { viewBox: `0 0 ${W_} ${H}`, role: "img", "aria-label": t("timeline of the last hour") });
  for (const item of p.alerts) {
    const a = item.alert, end = a.state === "resolved" ? a.updated_ms : to;
    // Technical alerts show as the labelled gaps they leave.
    if (end < from || a.kind === "source_offline") continue;
    svg.append(s("rect", { x: x(a.raised_ms), y: top, width: Math.max(2, x(end) - x(a.raised_ms)), height: bottom - top, fill: "#fff6d6", stroke: "#f2b705" }));
  }
  // Hour (or finer) ticks on the ward's 24-hour clock.
  const span = to - from, step = [5, 10, 15, 30, 60, 120, 180, 360].map((m) => m * 60e3).find((st) => span / st <= 7) || 720 * 60e3;
  const offset = zoneOffset(from);
  for (let t = Math.ceil((from + offset) / step) * step - offset; t <= to; t += step) {
    svg.append(s("line", { x1: x(t), x2: x(t), y1: top, y2: bottom, stroke: "#eef1f4" }));
    // The label stays inside the chart at its edges.
    svg.append(svgText(Math.min(Math.max(x(t) - 15, left - 15), W_ - 34), H - 14, hm(t)));
  }
  for (const v of [0, 0.5, 1]) {
    const y = mid - v * (mid - top);
    svg.append(s("line", { x1: left, x2: W_, y1: y, y2: y, stroke: "#e3e7eb" }));
    svg.append(svgText(2, y + 4, String(Math.round(v * 100))));
  }
  const bw = Math.max(1, x(from + p.window_ms) - x(from) - 0.5);
  for (const w of p.windows) {
    svg.append(s("rect", { x: x(w.start_ms), y: bottom - 40 * w.coverage, width: bw, height: 40 * w.coverage, fill: "#cfd8dc" }));
    if (w.negative !== null) svg.append(s("rect", { x: x(w.start_ms), y: mid - w.negative * (mid - top), width: bw, height: w.negative * (mid - top), fill: "#8c6bb1" }));
  }
  // Gaps say why there is nothing: no readings at all (camera offline, paused) or no face.
  for (const g of gaps(p, from, to)) {
    const x0 = x(g.from), x1 = Math.max(x0 + 2, x(g.to));
    svg.append(s("rect", { x: x0, y: top, width: x1 - x0, height: bottom - top, fill: "url(#hatch)", class: "gap" }));
    if (x1 - x0 > 40) svg.append(svgText(x0 + 3, top + 14, g.label, { fill: "#3b4650" }));
  }
  if (p.scores.length > 1) {
    const d = p.scores.filter(([t]) => t >= from).map(([t, v], i) => `${i ? "L" : "M"}${x(t).toFixed(1)},${(mid - (v / 100) * (mid - top)).toFixed(1)}`).join(" ");
    svg.append(s("path", { d, fill: "none", stroke: "#1d4f91", "stroke-width": 2 }));
  }
  svg.append(svgText(2, bottom - 16, t("face")));
  const defs = s("defs", {}, s("pattern", { id: "hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, s("rect", { width: 6, height: 6, fill: "#f4f6f8" }), s("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#c3ccd5", "stroke-width": 2 })));
  svg.prepend(defs);
  return svg;
}
// Minutes the ward's clock is ahead of UTC at `ms` (so ticks fall on its whole hours).
function zoneOffset(ms) {
  const parts = Object.fromEntries(fmt({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(new Date(ms)).map((q) => [q.type, q.value]));
  const local = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24, +parts.minute, +parts.second);
  return Math.round((local - ms) / 60e3) * 60e3;
}
function consentAt(p, t) {
  let c = "active";
  for (const ch of p.consent_changes || []) if (ch.at_ms <= t) c = ch.consent.consent === "paused" && ch.consent.until_ms <= t ? "active" : ch.consent.consent;
  return c;
}
function gaps(p, from, to) {
  const out = [], wins = p.windows.slice().sort((a, b) => a.start_ms - b.start_ms);
  // A camera-offline alert is raised a while after the last frame: any overlap names the gap.
  const offline = (a, b) => p.alerts.some((i) => i.alert.kind === "source_offline" && i.alert.raised_ms < b && (i.alert.state !== "resolved" || i.alert.updated_ms > a));
  const label = (a, b) => { const c = consentAt(p, (a + b) / 2); return t(c === "paused" ? "paused" : c === "opted_out" ? "opted out" : offline(a, b) ? "camera offline" : "no readings"); };
  let at = from;
  const push = (a, b, l) => { if (b - a >= p.window_ms * 1.5) out.push({ from: a, to: b, label: l || label(a, b) }); };
  let noFace = null;
  for (const w of wins) {
    if (w.end_ms < from) continue;
    push(at, w.start_ms);
    if (w.negative === null) { if (!noFace) noFace = { from: w.start_ms, to: w.end_ms, label: t("no face") }; else noFace.to = w.end_ms; }
    else if (noFace) { push(noFace.from, noFace.to, t("no face")); noFace = null; }
    at = Math.max(at, w.end_ms);
  }
  if (noFace) push(noFace.from, noFace.to, t("no face"));
  push(at, to);
  return out;
}
function summaryText(p) {
  const a = p.assessment;
  if (p.consent.consent !== "active") return t("Not monitored: ") + (p.consent.consent === "opted_out" ? t("the patient opted out.") : t("paused until {time}.", { time: hm(p.consent.until_ms) }));
  if (!a) return t("No readings yet.");
  if (a.status === "unknown") return t("Not enough face to judge: {reason}.", { reason: why(a) });
  return t("Attention {score} of 100, {status}: {reason}.", { score: a.score, status: statusWord(a), reason: why(a) });
}
function renderPatient() {
  const p = P.data;
  if (!p) return;
  $("patient-title").textContent = `${p.bed} · ${p.patient} — ${p.ward.name}`;
  $("patient-nurse").textContent = p.nurse ? t("Assigned nurse: {name}", { name: p.nurse.name }) : t("No nurse assigned");
  $("patient-summary").textContent = summaryText(p);
  $("timeline").replaceChildren(timeline(p));
  reconcile($("patient-alerts"), p.alerts, (x) => x.alert.id, null,
    (x) => { const el = h("div", { class: "palert" }); el._card = alertCard({ alert: x.alert, bed: p.bed }); el._ol = h("ol"); el.append(el._card, el._ol); fillPatientAlert(el, x); return el; },
    fillPatientAlert, t("No alerts in this period."));
}
function fillPatientAlert(el, x) {
  const live = W.alerts.get(x.alert.id);
  fillAlert(el._card, { alert: live ? live.alert : x.alert, bed: P.data.bed });
  el._ol.replaceChildren(...x.events.map((e) => h("li", {}, eventText(e))));
}
function eventText(e) {
  const at = e.at_ms || (e.alert && e.alert.raised_ms) || (e.ack && e.ack.at_ms) || e.until_ms || 0;
  const to = { assigned_nurse: "the assigned nurse", charge_nurse: "the charge nurse", ward_failsafe: "every nurse on the ward" };
  let what;
  switch (e.event) {
    case "raised": what = t("raised"); break;
    case "notified": what = t("notified {who}", { who: t(to[e.to] || e.to) }); break;
    case "delivered": what = t("shown on a dashboard"); break;
    case "acknowledged": what = !e.ack ? t("acknowledged") : e.ack.actionable ? t("acknowledged by {name}", { name: staffName(e.ack.by) }) : t("marked not actionable by {name} ({reason})", { name: staffName(e.ack.by), reason: t(e.ack.reason || "") }); break;
    case "snoozed": what = t("snoozed until {time}", { time: hm(e.until_ms) }); break;
    case "realarmed": what = t("alarmed again"); break;
    case "resolved": what = t("over"); break;
    case "cannot_assess": what = t("cannot assess (face not seen since {time})", { time: hm(e.since_ms) }); break;
    default: what = String(e.event || "").replace("_", " ");
  }
  return hm(at) + " — " + what;
}
async function loadPatient(id) {
  try {
    const mark = heard;
    const p = await api(`/api/patients/${encodeURIComponent(id)}?hours=1`);
    if (currentPatient !== id) return true;
    if (heard !== mark) scheduleReload();
    skew = p.now_ms - Date.now();
    lastGood = p.now_ms;
    if (p.staff) W.staff = new Map(p.staff.map((q) => [q.id, q]));
    if ((p.ward.time_zone || undefined) !== wardZone) { wardZone = p.ward.time_zone || undefined; fmtCache.clear(); }
    P.data = p;
    renderPatient();
    $("fhir").href = `/api/patients/${encodeURIComponent(id)}/fhir?hours=24`;
    $("fhir").setAttribute("download", `areya-${id}-fhir.json`);
    return true;
  } catch (e) {
    if (!P.data) $("patient-title").textContent = t("Could not load the patient: {error}", { error: e.message });
    return false;
  }
}

// ---- the doctor's view: their patients' stays, day by day ----
const EMO = ["relaxed", "happy", "sad", "angry"];
function dur(ms) {
  const m = Math.round(ms / 60e3);
  if (m < 60) return t("{m} min", { m });
  const hh = Math.floor(m / 60), mm = m % 60;
  return mm ? t("{h} h {m} min", { h: hh, m: mm }) : t("{h} h", { h: hh });
}
// A ward date ("2026-11-30") as people read it: "Mon 30 Nov".
function dayName(date) {
  const [y, m, d] = date.split("-").map(Number);
  return new Intl.DateTimeFormat(lang, { timeZone: "UTC", weekday: "short", day: "numeric", month: "short" }).format(new Date(Date.UTC(y, m - 1, d)));
}
function emotionBar(e) {
  const label = e ? EMO.map((k) => `${t(k)} ${pct(e[k])}`).join(", ") : t("not enough face seen to judge");
  const bar = h("div", { class: "ebar", title: label, role: "img", "aria-label": label });
  for (const k of e ? EMO : []) {
    const part = h("span", { class: k });
    part.style.width = (e[k] * 100).toFixed(1) + "%";
    bar.append(part);
  }
  return bar;
}
function alertsCell(a) {
  if (!a.raised) return a.technical ? t("none ({n} technical)", { n: a.technical }) : t("none");
  const bits = [t("{n} raised", { n: a.raised })];
  if (a.actionable) bits.push(t("{n} actionable", { n: a.actionable }));
  if (a.not_actionable) bits.push(t("{n} not actionable", { n: a.not_actionable }));
  if (a.unanswered) bits.push(t("{n} unanswered", { n: a.unanswered }));
  if (a.median_minutes_to_acknowledge !== null) bits.push(t("answered in {n} min (median)", { n: Math.max(1, Math.round(a.median_minutes_to_acknowledge)) }));
  return bits.join(", ");
}
// One row a day, newest first: what the face showed, for how long, against the patient's usual.
function daysTable(stay, today) {
  const head = h("tr", {}, h("th", {}, t("Day")), h("th", {}, t("Face seen")), h("th", { class: "wide" }, t("Not seen")), h("th", {}, t("Emotions")), h("th", {}, t("Negative (usual)")), h("th", { class: "wide" }, t("Score avg / peak")), h("th", {}, t("Alerts")));
  const rows = stay.days.slice().reverse().map((d) => {
    const up = d.negative !== null && d.baseline !== null && d.negative >= d.baseline + 0.05;
    const neg = d.negative === null ? t("not enough face") : pct(d.negative) + (d.baseline === null ? t(" (usual: learning)") : ` (${pct(d.baseline)})`);
    return h("tr", { class: up ? "up" : null },
      h("td", {}, d.date === today ? t("Today (so far)") : dayName(d.date)),
      h("td", { class: "num" }, dur(d.seen_ms)),
      h("td", { class: "num wide" }, dur(d.not_seen_ms)),
      h("td", {}, emotionBar(d.emotions)),
      h("td", { class: "neg" }, neg + (up ? " ↑" : "")),
      h("td", { class: "num wide" }, d.score_mean === null ? "–" : `${Math.round(d.score_mean)} / ${d.score_peak}`),
      h("td", {}, alertsCell(d.alerts)));
  });
  return h("div", { class: "days-wrap" }, h("table", { class: "days" }, h("thead", {}, head), h("tbody", {}, ...rows)));
}
function nowLine(p) {
  if (p.consent.consent !== "active") return t("Not monitored now: ") + (p.consent.consent === "opted_out" ? t("the patient opted out.") : t("paused until {time}.", { time: hm(p.consent.until_ms) }));
  const a = p.assessment;
  if (!a) return t("No readings now.");
  if (a.status === "unknown") return t("Now: not enough face to judge.");
  const waiting = !p.waiting_alerts ? "" : p.waiting_alerts === 1 ? t(" · 1 alert waiting for a nurse") : t(" · {n} alerts waiting for a nurse", { n: p.waiting_alerts });
  return t("Now: attention {score} of 100, {status}{waiting}.", { score: a.score, status: statusWord(a), waiting });
}
// A stay's summary line from its parts (the server's English line for older answers).
function summaryOf(stay) {
  if (!stay.parts) return stay.summary;
  return stay.parts.map((x) => {
    const u = x.usual === null || x.usual === undefined ? "" : t("; usual {pct}", { pct: pct(x.usual) });
    switch (x.part) {
      case "not_enough": return t("Not enough face seen on any day to judge.");
      case "rising": return (x.days ? t("Negative share rising for {n} days: {from} → {to}", { n: x.days, from: pct(x.from), to: pct(x.to) }) : t("Negative share rising: {from} → {to}", { from: pct(x.from), to: pct(x.to) })) + u + ".";
      case "falling": return t("Negative share falling: {from} → {to}", { from: pct(x.from), to: pct(x.to) }) + u + ".";
      case "level": return stop(t("Negative share {pct} on {date}", { pct: pct(x.negative), date: dayName(x.date) }) + u);
      case "above_on": return t("Above usual on {n} of {of} days.", { n: x.days, of: x.of });
      case "highest": return stop(t("Highest {pct} on {date}", { pct: pct(x.negative), date: dayName(x.date) }));
      case "alerts": return alertCount(x.raised) + ": " + answers(x, "{n} actionable") + ".";
      default: return "";
    }
  }).join(" ");
}
// A sentence's full stop, unless it already ends in one ("29. Nov.").
const stop = (text) => (text.endsWith(".") ? text : text + ".");
const alertCount = (n) => (n === 1 ? t("1 alert") : t("{n} alerts", { n }));
function answers(x, actionable) {
  return [[x.actionable, actionable], [x.not_actionable, "{n} not actionable"], [x.unanswered, "{n} unanswered"]].filter(([n]) => n > 0).map(([n, k]) => t(k, { n })).join(", ");
}
// A notice from what it says (its English text for older ones).
function noticeText(n) {
  const x = n.said;
  if (!x) return n.text;
  const label = n.bed && n.patient ? `${n.bed} · ${n.patient}: ` : "";
  switch (x.says) {
    case "persisting": return label + t("Negative share above usual for {h} h: {mean} (usual {usual}).", { h: x.hours, mean: pct(x.mean), usual: pct(x.usual) });
    case "rising": return label + t("Negative share rising for {n} days: {from} → {to}", { n: x.days, from: pct(x.from), to: pct(x.to) }) + (x.usual === null || x.usual === undefined ? "" : t(" (usual {pct})", { pct: pct(x.usual) })) + ".";
    case "digest": {
      if (!x.of) return t("No patients name you as their doctor.");
      const since = t(x.since_last ? "the last digest" : "24 h ago");
      const concern = (c) => c.concern === "rising" ? t("negative share rising for {n} days ({from} → {to})", { n: c.days, from: pct(c.from), to: pct(c.to) })
        : c.concern === "above" ? t("negative share {neg} (usual {usual})", { neg: pct(c.negative), usual: pct(c.usual) })
        : `${alertCount(c.raised)} (${answers(c, "{n} acknowledged as actionable")})`;
      const lines = x.look.map((l) => l.label + ": " + l.concerns.map(concern).join("; "));
      let out = !lines.length ? t("None of your {of} patients needs a look (alerts since {since}).", { of: x.of, since })
        : t(lines.length === 1 ? "1 of your {of} patients needs a look (alerts since {since}): {lines}." : "{n} of your {of} patients need a look (alerts since {since}): {lines}.", { n: lines.length, of: x.of, since, lines: lines.join(" — ") });
      if (x.settled.length && lines.length) out += " " + t("Settled: {list}.", { list: x.settled.join(", ") });
      if (x.unwatched.length) out += " " + t("Not monitored: {list}.", { list: x.unwatched.join(", ") });
      return out;
    }
    default: return n.text;
  }
}
function mrn(p) { return p.identifiers.length ? " · " + p.identifiers.map((i) => i.value).join(", ") : ""; }
function stayCard(p) {
  const today = p.stay.days.length ? p.stay.days[p.stay.days.length - 1].date : null;
  const open = () => { location.hash = "stay/" + encodeURIComponent(p.patient); };
  return h("article", { class: "stay", tabindex: 0, onclick: open, onkeydown: (e) => { if (e.key === "Enter") open(); } },
    h("div", { class: "row" }, h("span", { class: "name" }, `${p.bed} · ${p.patient}${mrn(p)}`), h("span", { class: "meta" }, `${p.ward.name} · ${t(p.care === "team" ? "on the team" : "attending")}`)),
    h("p", { class: "line" }, summaryOf(p.stay)),
    h("p", { class: "meta" }, nowLine(p) + (p.nurse ? t(" Nurse: {name}.", { name: p.nurse.name }) : "")),
    daysTable(p.stay, today));
}
const NOTICE = { persisting: "Above usual for hours", rising: "Rising over days", digest: "Daily digest" };
function noticeCard(n) {
  const when = fmt({ weekday: "short", hour: "2-digit", minute: "2-digit" }).format(new Date(n.at_ms));
  const el = h("article", { class: "notice" + (n.ack ? " read" : ""), "data-notice": n.id },
    h("div", { class: "head" }, h("span", {}, t(NOTICE[n.kind] || n.kind)), h("span", {}, when)),
    h("p", { class: "text" }, noticeText(n)));
  const acts = h("div", { class: "actions" });
  if (n.patient) acts.append(h("button", { onclick: () => { location.hash = "stay/" + encodeURIComponent(n.patient); } }, t("Open the patient")));
  if (n.ack) acts.append(h("span", { class: "meta" }, t("Read {time}", { time: fmt({ weekday: "short", hour: "2-digit", minute: "2-digit" }).format(new Date(n.ack.at_ms)) })));
  else {
    const msg = h("span", { class: "meta", role: "alert" });
    acts.append(h("button", { class: "primary", "data-act": "read", onclick: async (e) => {
      e.target.disabled = true;
      try { await api(`/api/doctor/notices/${n.id}/ack`, { method: "POST", body: {} }); loadDoctor(); }
      catch (err) { e.target.disabled = false; msg.textContent = err.message; }
    } }, t("Acknowledge")), msg);
  }
  el.append(acts);
  return el;
}
async function loadNotices() {
  const v = await api("/api/doctor/notices?days=14");
  const waiting = v.notices.filter((n) => !n.ack), read = v.notices.filter((n) => n.ack);
  $("notice-count").textContent = String(waiting.length);
  $("notice-list").replaceChildren(...(waiting.length ? waiting.map(noticeCard) : [h("p", { class: "empty" }, t("Nothing waiting."))]));
  $("notices-done").hidden = read.length === 0;
  $("notice-read").replaceChildren(...read.slice(0, 20).map(noticeCard));
}
async function loadDoctor() {
  try {
    const [v] = await Promise.all([api("/api/doctor/patients?days=7"), loadNotices()]);
    for (const p of v.patients) for (const q of p.staff) W.staff.set(q.id, q);
    skew = v.now_ms - Date.now();
    lastGood = v.now_ms;
    const zone = v.patients.length ? v.patients[0].ward.time_zone || undefined : wardZone;
    if (zone !== wardZone) { wardZone = zone; fmtCache.clear(); }
    $("doctor-title").textContent = t("My patients — {name}", { name: v.doctor.name });
    $("doctor-error").textContent = "";
    $("doctor-patients").replaceChildren(...(v.patients.length ? v.patients.map(stayCard) : [h("p", { class: "empty" }, t("No patient names you as their doctor yet."))]));
    return true;
  } catch (e) {
    if (!offline) $("doctor-error").textContent = t("Could not load your patients: {error}", { error: e.message });
    return false;
  }
}
async function loadStay(id) {
  try {
    const p = await api(`/api/patients/${encodeURIComponent(id)}/stay?days=7`);
    if (currentStay !== id) return true;
    for (const q of p.staff) W.staff.set(q.id, q);
    skew = p.now_ms - Date.now();
    lastGood = p.now_ms;
    if ((p.ward.time_zone || undefined) !== wardZone) { wardZone = p.ward.time_zone || undefined; fmtCache.clear(); }
    const today = p.stay.days.length ? p.stay.days[p.stay.days.length - 1].date : null;
    $("stay-title").textContent = `${p.bed} · ${p.patient}${mrn(p)} — ${p.ward.name}`;
    const people = [p.attending ? t("Attending: {name}", { name: p.attending.name }) : t("No attending doctor named"), p.care_team.length ? t("team: {names}", { names: p.care_team.map((q) => q.name).join(", ") }) : null, p.nurse ? t("nurse: {name}", { name: p.nurse.name }) : null].filter(Boolean);
    $("stay-people").textContent = people.join(" · ");
    $("stay-summary").textContent = summaryOf(p.stay) + " " + nowLine(p);
    $("stay-days").replaceChildren(daysTable(p.stay, today));
    const alerts = p.alerts.filter((a) => a.kind === "sustained_negative");
    $("stay-alerts").replaceChildren(...(alerts.length ? [h("ul", {}, ...alerts.map((a) => h("li", {}, stayAlertText(a))))] : [h("p", { class: "empty" }, t("No alerts in these days."))]));
    const from = p.stay.days.length ? p.stay.days[0].start_ms : p.now_ms;
    $("stay-foot").textContent = t("Areya, {now} ({zone}). Shares are of the time the face was seen; days with under 10 minutes of face are not judged. Covers {from} to now.", {
      now: fmt({ dateStyle: "medium", timeStyle: "short" }).format(new Date(p.now_ms)), zone: wardZone || t("ward time"), from: fmt({ dateStyle: "medium" }).format(new Date(from)) });
    $("stay-timeline").href = "#patient/" + encodeURIComponent(p.patient);
    $("stay-back").hidden = me.role !== "doctor";
    return true;
  } catch (e) {
    $("stay-title").textContent = t("Could not load the patient: {error}", { error: e.message });
    return false;
  }
}
function stayAlertText(a) {
  const when = fmt({ weekday: "short", hour: "2-digit", minute: "2-digit" }).format(new Date(a.raised_ms));
  const k = a.ack;
  const answer = !k ? t(a.state === "resolved" ? "over by itself, not acknowledged" : "not acknowledged yet")
    : t("{answer} — {name}, after {n} min", { answer: k.actionable ? t("actionable") : t("not actionable: {reason}", { reason: t(k.reason || "") }), name: staffName(k.by), n: Math.max(1, Math.round((k.at_ms - a.raised_ms) / 60e3)) });
  return `${when}: ${why(a)} — ${answer}`;
}
$("stay-back").addEventListener("click", () => { location.hash = ""; });
$("stay-print").addEventListener("click", () => window.print());

// ---- admin ----
async function loadRules() {
  try {
    const r = await api("/api/rules");
    $("rules-text").value = r.toml || "";
    $("rules-msg").textContent = r.version ? t("Version {n}", { n: r.version }) : t("The defaults (no rule file saved yet)");
    return true;
  } catch (e) { $("rules-msg").textContent = e.message; return false; }
}
$("rules-save").addEventListener("click", async () => {
  try { const r = await api("/api/rules", { method: "PUT", body: { toml: $("rules-text").value } }); $("rules-msg").textContent = t("Saved as version {n}.", { n: r.version }); }
  catch (e) { $("rules-msg").textContent = t("Not saved: {error}", { error: e.message }); }
});
// Who acted, where it was not a person on the staff list.
const ACTOR = { anonymous: "not logged in", setup: "first setup", demo: "the demo", areya: "Areya", "areya serve": "the server, at its start" };
async function loadAudit() {
  try {
    const r = await api("/api/audit");
    $("audit-rows").replaceChildren(...r.entries.slice().reverse().map((e) => h("tr", {},
      h("td", {}, fmt({ dateStyle: "short", timeStyle: "short" }).format(new Date(e.at_ms))), h("td", {}, ACTOR[e.actor] ? t(ACTOR[e.actor]) : e.actor), h("td", {}, t(e.action)),
      h("td", {}, e.said ? said(e.said.target) : e.target), h("td", {}, e.said ? said(e.said.detail) : e.detail))));
    return true;
  } catch (e) { $("audit-rows").replaceChildren(h("tr", {}, h("td", { colspan: 5 }, e.message))); return false; }
}

async function loadDeliveries() {
  try {
    const r = await api("/api/admin/deliveries");
    $("deliveries-note").textContent = t(r.configured ? "Every alert notification, escalation step and doctor's notice is posted, signed, to the messaging gateway; failed posts are retried, then given up (dead)." : "No messaging gateway is configured (areya serve --webhook URL --webhook-secret-file FILE): alerts reach the dashboard only.");
    const type = (d) => { try { return JSON.parse(d.body).type; } catch (_) { return d.key; } };
    const when = (ms) => fmt({ dateStyle: "short", timeStyle: "short" }).format(new Date(ms));
    $("delivery-rows").replaceChildren(...r.deliveries.map((d) => h("tr", { class: d.state === "dead" ? "dead" : null }, h("td", {}, when(d.created_ms)), h("td", {}, t(type(d))), h("td", {}, d.ward || ""), h("td", {}, t(d.state)), h("td", {}, String(d.attempts)), h("td", {}, d.last_said ? said(d.last_said) : d.last_error || ""))));
    return true;
  } catch (e) { $("delivery-rows").replaceChildren(h("tr", {}, h("td", { colspan: 6 }, e.message))); return false; }
}

// What went wrong with the gateway, for the ward, in the user's words (a message failed
// before there were words says its English only to an English reader).
function gatewayError(d) {
  if (d.last_said) return ": " + said(d.last_said);
  return d.last_error && lang === "en" ? ": " + d.last_error : "";
}

// ---- a notification with a sound when an alert comes for this person (if they allowed it) ----
let audio = null;
function notifyOn() { return localStorage.getItem("areya.notify") === "on" && typeof Notification !== "undefined" && Notification.permission === "granted"; }
function renderNotify() {
  const clinical = me && ["nurse", "charge_nurse", "doctor"].includes(me.role);
  $("notify").hidden = !clinical || typeof Notification === "undefined";
  $("notify").textContent = t(notifyOn() ? "Notifications on" : "Notify me");
}
$("notify").addEventListener("click", async () => {
  if (notifyOn()) { localStorage.setItem("areya.notify", "off"); renderNotify(); return; }
  // A click is what lets a page make a sound later.
  try { audio = audio || new AudioContext(); } catch (_) { audio = null; }
  const p = await Notification.requestPermission();
  localStorage.setItem("areya.notify", p === "granted" ? "on" : "off");
  renderNotify();
});
function beep() {
  if (!audio) { try { audio = new AudioContext(); } catch (_) { return; } }
  const o = audio.createOscillator(), g = audio.createGain();
  o.frequency.value = 880; g.gain.value = 0.15;
  o.connect(g); g.connect(audio.destination);
  o.start(); o.stop(audio.currentTime + 0.35);
}
// An alert notified to this person: the assigned nurse of the bed, the ward's charge nurse on
// escalation, every nurse at the failsafe.
function forMe(a, to) {
  if (!me) return false;
  const bed = bedOf(a.patient);
  if (to === "assigned_nurse") return !!(bed && bed.nurse && bed.nurse.id === me.id);
  if (to === "charge_nurse") return me.role === "charge_nurse";
  return to === "ward_failsafe" && ["nurse", "charge_nurse"].includes(me.role);
}
function maybeNotify(data) {
  const ev = data.event;
  if (!ev || ev.event !== "notified" || !data.alert || !notifyOn() || !forMe(data.alert, ev.to)) return;
  const bed = bedOf(data.alert.patient);
  const n = new Notification(`Areya: ${bed ? bed.bed + " · " : ""}${data.alert.patient}`, { body: alertText(data.alert), tag: "areya-alert-" + data.alert.id });
  n.onclick = () => { window.focus(); n.close(); };
  beep();
}

// The full picture every 30 s (camera health, KPI), and "… ago" kept current in between.
setInterval(() => { if (me && !offline && !$("ward-view").hidden) loadWard(); }, 30000);
// A stay changes by the minute, not by the second: the doctor's pages refresh once a minute.
setInterval(() => { if (me && !offline && (!$("doctor-view").hidden || !$("stay-view").hidden)) loadCurrent(); }, 60000);
setInterval(() => { if (me) { renderConnection(); renderAll(); } }, 15000);
window.addEventListener("resize", () => { if (me && !$("patient-view").hidden) renderPatient(); });
pickLang();
start();
