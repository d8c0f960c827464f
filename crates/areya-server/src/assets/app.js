// Areya dashboard: ward view ordered by attention, alert inbox, patient timeline, and (for
// admins) rules and the audit log. Plain JS, no dependencies; live updates by server-sent events.
"use strict";

const $ = (id) => document.getElementById(id);
const SVGNS = "http://www.w3.org/2000/svg";
let me = null, wardId = null, source = null, refreshTimer = null, currentPatient = null;
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

async function api(path, opts = {}) {
  const init = { method: opts.method || "GET", headers: {}, credentials: "same-origin" };
  if (opts.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.body);
  }
  const r = await fetch(path, init);
  let data = null;
  try { data = await r.json(); } catch (_) { /* empty body */ }
  if (r.status === 401 && path !== "/api/login") { showLogin(); throw new Error("log in first"); }
  if (!r.ok) throw new Error((data && data.error) || r.statusText);
  return data;
}

const pct = (x) => (x === null || x === undefined ? "–" : Math.round(x * 100) + "%");
function ago(ms) {
  const s = Math.max(0, Math.round((serverNow() - ms) / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}
// Times on the ward's clock (its IANA zone from the rules) when the rules name one.
let wardZone;
const zoned = (o) => (wardZone ? { ...o, timeZone: wardZone } : o);
const clock = (ms) => new Date(ms).toLocaleTimeString([], zoned({ hour: "2-digit", minute: "2-digit", second: "2-digit" }));
// Technical alerts say what is wrong in their title; patient alerts add the nurse-readable reason.
const hm = (ms) => new Date(ms).toLocaleTimeString([], zoned({ hour: "2-digit", minute: "2-digit" }));
// An alert whose patient has not been seen for a while says so first: it is neither confirmed
// nor over, and it no longer escalates.
const alertText = (a) => a.blind_since_ms ? `Cannot assess — face not seen since ${hm(a.blind_since_ms)}. ${KIND[a.kind]} before that: ${a.reason}`
  : a.kind === "sustained_negative" ? `${KIND[a.kind]}: ${a.reason}`
  : a.kind === "no_face" && a.reason ? a.reason[0].toUpperCase() + a.reason.slice(1) : KIND[a.kind] || a.kind;
const KIND = { sustained_negative: "Sustained negative emotion", source_offline: "Camera offline", no_face: "No face seen", model_error: "Model error" };
const WHO = { assigned_nurse: "assigned nurse", charge_nurse: "charge nurse", ward_failsafe: "ward failsafe" };

function alertColour(a) {
  if (a.blind_since_ms) return "blind";
  if (a.notified !== "assigned_nurse" && (a.state === "raised" || a.state === "delivered")) return "red";
  if (a.state === "acknowledged" || a.state === "snoozed") return "acked";
  if (a.kind !== "sustained_negative" || a.priority === "info") return "cyan";
  return "yellow";
}

// ---- login / session ----
function showLogin() {
  if (source) { source.close(); source = null; }
  me = null;
  for (const id of ["ward-view", "patient-view", "rules-view", "audit-view"]) $(id).hidden = true;
  $("login").hidden = false; $("ward").hidden = true; $("tabs").hidden = true; $("logout").hidden = true;
  $("who").textContent = ""; setLive(false);
}
async function start() {
  try { me = await api("/api/me"); } catch (_) { showLogin(); return; }
  $("login").hidden = true; $("logout").hidden = false;
  $("who").textContent = me.name + " · " + me.role.replace("_", " ");
  $("banner").hidden = !me.banner; $("banner").textContent = me.banner || "";
  const sel = $("ward"); sel.replaceChildren(...me.wards.map((w) => h("option", { value: w.id }, w.name)));
  sel.hidden = me.wards.length < 2;
  $("tabs").hidden = me.role !== "admin";
  wardId = (me.wards[0] || {}).id || null;
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
  } catch (err) { $("login-error").textContent = "Login failed: " + err.message; }
});
$("logout").addEventListener("click", async () => { try { await api("/api/logout", { method: "POST", body: {} }); } finally { showLogin(); } });
$("ward").addEventListener("change", (e) => { wardId = e.target.value; location.hash = ""; route(); });
$("back").addEventListener("click", () => { location.hash = ""; });
for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => { location.hash = b.dataset.tab === "ward" ? "" : b.dataset.tab; });
window.addEventListener("hashchange", route);

// ---- live updates ----
function setLive(on) { const l = $("live"); l.className = "live " + (on ? "on" : "off"); l.textContent = on ? "live" : "reconnecting…"; }
function connect() {
  if (source) source.close();
  source = new EventSource("/api/events");
  source.onopen = () => setLive(true);
  source.onerror = () => setLive(false);
  for (const ev of ["score", "alert", "consent", "directory", "resync"]) source.addEventListener(ev, () => scheduleRefresh());
}
function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, 400);
}
function refresh() {
  if (!me) return;
  if (!$("ward-view").hidden) loadWard();
  else if (!$("patient-view").hidden && currentPatient) loadPatient(currentPatient);
}

function route() {
  if (!me) return;
  const hash = location.hash.slice(1);
  for (const id of ["ward-view", "patient-view", "rules-view", "audit-view"]) $(id).hidden = true;
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("on", (b.dataset.tab === "ward" && (!hash || hash.startsWith("patient/"))) || b.dataset.tab === hash);
  currentPatient = null;
  if (hash.startsWith("patient/")) { currentPatient = decodeURIComponent(hash.slice(8)); $("patient-view").hidden = false; loadPatient(currentPatient); }
  else if (hash === "rules" && me.role === "admin") { $("rules-view").hidden = false; loadRules(); }
  else if (hash === "audit" && me.role === "admin") { $("audit-view").hidden = false; loadAudit(); }
  else { $("ward-view").hidden = false; loadWard(); }
}

// ---- ward view ----
function sparkline(points, now) {
  // The last hour, or less while there is less data (at least 10 minutes).
  const first = points.length ? points[0][0] : now;
  const w = 220, ht = 30, span = Math.min(3600e3, Math.max(600e3, now - first));
  const svg = s("svg", { class: "spark", viewBox: `0 0 ${w} ${ht}`, preserveAspectRatio: "none", role: "img", "aria-label": "attention score, last hour" });
  svg.append(s("line", { x1: 0, x2: w, y1: ht - 0.5, y2: ht - 0.5, stroke: "#d5dbe1" }));
  if (points.length > 1) {
    const d = points.map(([t, v], i) => `${i ? "L" : "M"}${(w * (1 - (now - t) / span)).toFixed(1)},${(ht - 2 - (v / 100) * (ht - 4)).toFixed(1)}`).join(" ");
    svg.append(s("path", { d, fill: "none", stroke: "#1d4f91", "stroke-width": 1.5 }));
  }
  return svg;
}

function bedCard(b, now) {
  const a = b.assessment, alerts = b.alerts || [];
  const cam = b.camera.online ? h("span", { class: "cam ok" }, "camera ok")
    : h("span", { class: "cam down" }, b.camera.last_seen_ms ? "camera silent " + ago(b.camera.last_seen_ms) : "camera not seen");
  if (!b.patient) {
    return h("div", { class: "bed off" }, h("div", { class: "row" }, h("span", { class: "name" }, b.bed), h("span", { class: "tag" }, "empty")), h("div", { class: "nurse" }, b.nurse ? b.nurse.name : ""));
  }
  const consent = b.consent && b.consent.consent;
  if (consent && consent !== "active") {
    const label = consent === "opted_out" ? "opted out — not monitored" : "paused until " + clock(b.consent.until_ms);
    return h("div", { class: "bed off" }, h("div", { class: "row" }, h("span", { class: "name" }, b.bed + " · " + b.patient), h("span", { class: "tag" }, label)), h("div", { class: "nurse" }, b.nurse ? b.nurse.name : ""));
  }
  const worst = alerts.map(alertColour).sort((x, y) => ["red", "yellow", "cyan", "acked"].indexOf(x) - ["red", "yellow", "cyan", "acked"].indexOf(y))[0];
  let cls = "bed";
  if (worst === "red") cls += " red";
  // Yellow needs attention: an unacknowledged patient alert, or a high score.
  else if (worst === "yellow" || (a && a.status === "elevated" && a.score >= 50)) cls += " attn";
  else if (worst === "cyan") cls += " info";
  if (!a || a.status === "unknown") cls += " unknown";
  const score = a ? a.score : "–";
  // "elevated" by a hair (score under 10) reads as settled: the number says the rest.
  const status = !a ? "waiting for data" : a.status === "unknown" ? "unknown (too little face)"
    : a.status === "elevated" && a.score < 10 ? "settled" : a.status;
  const emotion = a && a.dominant ? `mostly ${a.dominant} · negative ${pct(a.negative)}` : "";
  const trend = a && a.trend !== null && a.trend !== undefined ? (a.trend > 0.05 ? " ↑" : a.trend < -0.05 ? " ↓" : " →") : "";
  return h("div", { class: cls, role: "button", tabindex: 0, "data-patient": b.patient, onclick: () => { location.hash = "patient/" + encodeURIComponent(b.patient); } },
    h("div", { class: "row" }, h("span", { class: "name" }, b.bed + " · " + b.patient), alerts.length ? h("span", { class: "tag " + (worst === "acked" ? "" : worst) }, alerts.length + " alert" + (alerts.length > 1 ? "s" : "")) : null),
    h("div", { class: "nurse" }, b.nurse ? b.nurse.name : "no nurse assigned"),
    h("div", { class: "row" }, h("span", { class: "score" }, score, h("small", {}, trend + " " + status)), cam),
    sparkline(b.sparkline || [], now),
    h("div", { class: "emotion" }, emotion),
    h("div", { class: "meta" }, a ? `face visible ${pct(a.coverage)}` : ""));
}

function alertCard(item, onDone) {
  const a = item.alert, colour = alertColour(a);
  const acts = h("div", { class: "actions" });
  const clinical = me && me.role !== "admin";
  if (clinical && (a.state === "raised" || a.state === "delivered" || a.state === "snoozed")) {
    const act = async (path, body) => { try { await api(`/api/alerts/${a.id}/${path}`, { method: "POST", body }); onDone(); } catch (e) { alert(e.message); } };
    const reasons = h("select", { "aria-label": "Reason" }, ["", "patient in pain, being treated", "watching TV / talking", "camera angle or lighting", "visitor upset, not patient", "already known to team"].map((r) => h("option", { value: r }, r || "Reason it was not actionable…")));
    const box = h("div", { class: "reasonbox", hidden: true }, reasons, h("button", { onclick: () => { if (!reasons.value) { reasons.focus(); return; } act("ack", { actionable: false, reason: reasons.value }); } }, "Confirm"));
    acts.append(
      h("button", { class: "primary", "data-act": "ack", onclick: () => act("ack", { actionable: true }) }, "Acknowledge"),
      h("button", { "data-act": "not-actionable", onclick: () => { box.hidden = !box.hidden; } }, "Not actionable"),
      h("button", { "data-act": "snooze", onclick: () => act("snooze", { seconds: 600 }) }, "Snooze 10 min"));
    return h("div", { class: "alert " + colour, "data-alert": a.id },
      h("div", { class: "head" }, h("span", {}, (item.bed || "") + " · " + a.patient), h("span", { class: "tag " + (colour === "acked" ? "" : colour) }, a.blind_since_ms ? "cannot assess" : a.priority)),
      h("div", { class: "body" }, alertText(a)),
      h("div", { class: "meta" }, `raised ${ago(a.raised_ms)} · ${a.state} · notified ${WHO[a.notified] || a.notified}` + (a.snoozed_until_ms ? ` · snoozed until ${clock(a.snoozed_until_ms)}` : "")),
      acts, box);
  }
  const ack = a.ack ? ` · acknowledged by ${a.ack.by}${a.ack.actionable ? "" : " (not actionable: " + (a.ack.reason || "") + ")"}` : "";
  return h("div", { class: "alert " + colour, "data-alert": a.id },
    h("div", { class: "head" }, h("span", {}, (item.bed || "") + " · " + a.patient), h("span", { class: "tag" + (a.blind_since_ms ? " blind" : "") }, a.blind_since_ms ? "cannot assess" : a.state)),
    h("div", { class: "body" }, alertText(a)),
    h("div", { class: "meta" }, `raised ${ago(a.raised_ms)}${ack}`));
}

async function loadWard() {
  if (!wardId) { $("beds").replaceChildren(h("p", { class: "empty" }, "You are not assigned to a ward.")); return; }
  try {
    const ward = encodeURIComponent(wardId);
    const [w, al, k] = await Promise.all([api("/api/wards/" + ward), api("/api/alerts?ward=" + ward), api(`/api/wards/${ward}/kpi?hours=24`)]);
    const share = k.actionable_share === null ? "" : ` · ${pct(k.actionable_share)} actionable`;
    const wait = k.median_seconds_to_acknowledge === null ? "" : ` · median ${Math.round(k.median_seconds_to_acknowledge / 60)} min to acknowledge`;
    $("kpi").textContent = `Last 24 h: ${k.patient_alerts} patient alert${k.patient_alerts === 1 ? "" : "s"}, ${k.acknowledged} acknowledged${share}${wait}; ${k.technical_alerts} technical`;
    skew = w.now_ms - Date.now();
    wardZone = w.ward.time_zone || undefined;
    $("ward-title").textContent = w.ward.name;
    document.title = "Areya — " + w.ward.name;
    $("beds").replaceChildren(...w.beds.map((b) => bedCard(b, w.now_ms)));
    const open = al.alerts.filter((x) => x.alert.state !== "acknowledged");
    const acked = al.alerts.filter((x) => x.alert.state === "acknowledged");
    $("alert-count").textContent = open.length;
    const cards = open.map((x) => alertCard(x, loadWard));
    $("inbox").replaceChildren(...(cards.length ? cards : [h("p", { class: "empty" }, "No alerts waiting.")]));
    $("acked-head").hidden = acked.length === 0;
    $("acked").replaceChildren(...acked.map((x) => alertCard(x, loadWard)));
  } catch (e) { if (me) $("beds").replaceChildren(h("p", { class: "error" }, "Could not load the ward: " + e.message)); }
}

// ---- patient page ----
function timeline(p) {
  const W = 900, H = 260, top = 10, mid = 170, bottom = 240, left = 36;
  // The requested span, zoomed in to where there is data (at least 10 minutes).
  const to = p.now_ms;
  const first = Math.min(to, ...p.windows.map((w) => w.start_ms), ...p.alerts.map((i) => i.alert.raised_ms));
  const from = Math.max(p.from_ms, Math.min(first, to - 600e3) - 30e3);
  const x = (t) => left + ((t - from) / (to - from)) * (W - left - 4);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "timeline" });
  for (const item of p.alerts) {
    const a = item.alert, end = a.state === "resolved" ? a.updated_ms : to;
    if (end < from) continue;
    svg.append(s("rect", { x: x(Math.max(a.raised_ms, from)), y: top, width: Math.max(2, x(end) - x(Math.max(a.raised_ms, from))), height: bottom - top, fill: "#fff6d6", stroke: "#f2b705" }));
  }
  for (const v of [0, 0.5, 1]) {
    const y = mid - v * (mid - top);
    svg.append(s("line", { x1: left, x2: W, y1: y, y2: y, stroke: "#e3e7eb" }));
    const t = s("text", { x: 2, y: y + 4, "font-size": 11, fill: "#5d6873" }); t.textContent = Math.round(v * 100) + "%"; svg.append(t);
  }
  const bw = Math.max(1, x(from + p.window_ms) - x(from) - 0.5);
  for (const w of p.windows) {
    svg.append(s("rect", { x: x(w.start_ms), y: bottom - 40 * w.coverage, width: bw, height: 40 * w.coverage, fill: "#cfd8dc" }));
    if (w.negative !== null) svg.append(s("rect", { x: x(w.start_ms), y: mid - w.negative * (mid - top), width: bw, height: w.negative * (mid - top), fill: "#8c6bb1" }));
  }
  if (p.scores.length > 1) {
    const d = p.scores.map(([t, v], i) => `${i ? "L" : "M"}${x(t).toFixed(1)},${(mid - (v / 100) * (mid - top)).toFixed(1)}`).join(" ");
    svg.append(s("path", { d, fill: "none", stroke: "#1d4f91", "stroke-width": 2 }));
  }
  for (const [t, label] of [[from, clock(from)], [to, clock(to)]]) {
    const el = s("text", { x: Math.min(x(t), W - 60), y: H - 4, "font-size": 11, fill: "#5d6873" }); el.textContent = label; svg.append(el);
  }
  const cap = s("text", { x: 2, y: bottom - 16, "font-size": 11, fill: "#5d6873" }); cap.textContent = "face"; svg.append(cap);
  return svg;
}

async function loadPatient(id) {
  try {
    const p = await api(`/api/patients/${encodeURIComponent(id)}?hours=1`);
    $("patient-title").textContent = `${p.bed} · ${p.patient} — ${p.ward.name}`;
    const a = p.assessment;
    $("patient-summary").textContent = a ? `Attention ${a.score}/100 (${a.status}). ${a.reason}` : (p.consent.consent !== "active" ? "Not monitored (" + p.consent.consent.replace("_", " ") + ")." : "No data yet.");
    $("timeline").replaceChildren(timeline(p));
    $("patient-alerts").replaceChildren(...(p.alerts.length ? p.alerts.map((x) => h("div", { class: "palert" },
      alertCard({ alert: x.alert, bed: p.bed }, () => loadPatient(id)),
      h("ol", {}, x.events.map((e) => h("li", {}, (e.event === "cannot_assess" ? `cannot assess (face not seen since ${hm(e.since_ms)})` : e.event) + " " + clock(e.at_ms || (e.alert && e.alert.raised_ms) || (e.ack && e.ack.at_ms) || e.until_ms || 0) + (e.to ? " → " + (WHO[e.to] || e.to) : "") + (e.ack ? ` by ${e.ack.by}` + (e.ack.actionable ? "" : ` (not actionable: ${e.ack.reason})`) : "")))))) : [h("p", { class: "empty" }, "No alerts in this period.")]));
    $("fhir").href = `/api/patients/${encodeURIComponent(id)}/fhir?hours=24`;
    $("fhir").setAttribute("download", `areya-${id}-fhir.json`);
  } catch (e) { $("patient-title").textContent = "Could not load the patient: " + e.message; }
}

// ---- admin ----
async function loadRules() {
  const r = await api("/api/rules");
  $("rules-text").value = r.toml || "";
  $("rules-msg").textContent = r.version ? "version " + r.version : "defaults (no rule file saved yet)";
}
$("rules-save").addEventListener("click", async () => {
  try { const r = await api("/api/rules", { method: "PUT", body: { toml: $("rules-text").value } }); $("rules-msg").textContent = "saved as version " + r.version; }
  catch (e) { $("rules-msg").textContent = e.message; }
});
async function loadAudit() {
  const r = await api("/api/audit");
  $("audit-rows").replaceChildren(...r.entries.slice().reverse().map((e) => h("tr", {}, h("td", {}, new Date(e.at_ms).toLocaleString([], zoned({}))), h("td", {}, e.actor), h("td", {}, e.action), h("td", {}, e.target), h("td", {}, e.detail))));
}

setInterval(() => { if (me && !$("ward-view").hidden) loadWard(); }, 30000);
start();
