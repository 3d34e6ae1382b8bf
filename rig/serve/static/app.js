// The bench page: live state over server-sent events, actions as POSTs with the CSRF header.
// Plain JavaScript, no build step, nothing from the network but this server.
"use strict";
const $ = (id) => document.getElementById(id);
let me = null, state = null, clockSkew = 0, audio = null;

async function api(path, body) {
  const opts = {credentials: "same-origin", headers: {}};
  if (body !== undefined) {
    opts.method = "POST";
    opts.headers = {"Content-Type": "application/json", "X-CSRF-Token": me ? me.csrf : ""};
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  if (r.status === 401) { location.replace("/login"); throw new Error("log in first"); }
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(data.error || r.statusText), {data});
  return data;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
function row(tbody, cells) {
  const tr = el("tr");
  for (const c of cells) { const td = el("td"); if (c instanceof Node) td.append(c); else td.textContent = c ?? ""; tr.append(td); }
  tbody.append(tr);
  return tr;
}
function link(href, text) { const a = el("a", text); a.href = href; return a; }
function clock(s) {
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}
function when(t) { return t ? new Date(t * 1000).toLocaleString() : "-"; }
function pill(on, yes = "on", no = "off") { return el("span", on ? yes : no, "pill " + (on ? "on" : "off")); }

// -- notifications: a browser notification and a beep when a long wait ends or the job needs you
function beep() {
  try {
    audio = audio || new AudioContext();
    const o = audio.createOscillator(), g = audio.createGain();
    o.frequency.value = 880; g.gain.value = 0.2; o.connect(g); g.connect(audio.destination);
    o.start(); o.stop(audio.currentTime + 0.4);
  } catch (e) { /* no sound on this device */ }
}
function notice(n) {
  document.title = n.kind === "question" ? "(!) rig bench" : "rig bench";
  if (n.kind === "result" && !state?.job) { /* a result is shown in the page */ }
  beep();
  if ("Notification" in window && Notification.permission === "granted") new Notification("rig bench", {body: n.text});
}
$("notify").addEventListener("click", () => {
  beep();
  if ("Notification" in window) Notification.requestPermission();
});

// -- live state
function render(s) {
  state = s;
  clockSkew = Date.now() / 1000 - s.wall;
  const b = s.bench;
  if (b) {
    $("bench-backend").textContent = `${b.backend}` + (b.speed && b.speed !== 1 ? `, simulated time x${b.speed}` : "");
    $("display").textContent = b.tap ? (b.display || "\u00a0") : "(no display tap)";
    const t = $("bench"); t.replaceChildren();
    for (const [n, v] of Object.entries(b.rails)) row(t, ["rail " + n, pill(v === "on")]);
    const down = Object.entries(b.keys).filter(([, v]) => v === "down").map(([k]) => k);
    row(t, ["keys", down.length ? el("span", down.join("+") + " DOWN", "pill warn") : el("span", "all up", "pill off")]);
    for (const [n, v] of Object.entries(b.senses)) row(t, ["sense " + n, pill(v)]);
    if (b.can) {  // the car's network: its health, and the wake frames that follow the rails
      const ok = b.can.state === "error-active" || b.can.state === "error-warning";
      row(t, ["CAN " + b.can.channel, el("span", b.can.state, ok ? "pill on" : "pill warn")]).id = "can-state";
      row(t, ["wake set", b.can.wake_set ? el("span", `${b.can.wake_set} (${b.can.wake})`,
                                            b.can.wake === "on" ? "pill on" : "pill off") : "none"]).id = "can-wake";
    }
    // in a lab, who may drive the bench: only jobs through the place that holds it (rig --place)
    if (s.place) row(t, ["lab place", el("span", `${s.place.place} holds it`, "pill warn")]);
    else if (s.lab) row(t, ["lab place", el("span", "none holds it: jobs wait for labgrid", "pill off")]);
  }
  const u = s.unit, ut = $("unit"); ut.replaceChildren();
  $("unit-none").hidden = !!u;
  if (u) {
    row(ut, ["serial", u.serial]); row(ut, ["profile", u.profile]);
    row(ut, ["state", u.state]).lastChild.id = "unit-state";  // moved on with the countdown by tick()
    if (u.allowed !== undefined) row(ut, ["attempts", `${u.used} used, ${u.left} of ${u.allowed} left`]);
    if (u.lockout_left !== null && u.lockout_left !== undefined) {
      const tr = row(ut, ["lockout left", clock(u.lockout_left)]);
      tr.lastChild.id = "unit-lockout-left";  // moved on with the job's countdown by tick()
    }
  }
  const j = s.job;
  $("job").hidden = !j; $("job-none").hidden = !!j;
  if (j) {
    $("job-title").textContent = `${j.procedure}` + (j.unit ? ` on ${j.unit}` : "") + (j.run_id ? ` (run ${j.run_id})` : "");
    $("job-by").textContent = `started by ${j.operator}`;
    $("job-step").textContent = j.step || "-";
    const notes = $("job-notes"); notes.replaceChildren();
    for (const n of j.notes) notes.append(el("li", n.text, n.kind));
    const q = j.question;
    $("question").hidden = !q;
    if (q) {
      $("q-text").textContent = q.text;
      $("q-yesno").hidden = q.kind !== "yesno"; $("q-form").hidden = q.kind === "yesno";
      $("question").dataset.id = q.id;
    }
  }
  const last = s.last;  // not under a running job: it would read as that job's
  $("last").textContent = last && !j ? `last: ${last.procedure} ${last.outcome}` + (last.run_id ? ` (run ${last.run_id})` : "") + ` - ${last.message}` : "";
  const qu = $("queue"); qu.replaceChildren();
  for (const q of s.queue) qu.append(el("li", `queued: ${q.procedure} (${q.operator})`));
  tick();
}

// The countdown as the server computed it when it sent the state (the figure `rig status` and
// `rig run` show), moved on at the bench clock's pace while it counts.
function countdownNow() {
  const p = state?.job?.progress;
  if (!p || p.done) return null;
  const now = Date.now() / 1000 - clockSkew;
  const gained = p.running && p.pace ? Math.max(0, now - p.at) * p.pace : 0;
  const served = Math.min(p.total, p.served + gained);
  return {...p, served, left: p.total - served,
          lockout_left: p.lockout !== undefined && p.lockout !== null ? Math.max(0, p.lockout - served) : null};
}
function endsAbout(p) {
  if (!p.running) return "not counting: the rails it needs are not powered";
  if (!p.ends_at) return "";
  return "ends about " + new Date((p.ends_at + clockSkew) * 1000).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", hourCycle: "h23"});
}
function tick() {
  const p = countdownNow();
  $("countdown").hidden = !p;
  if (!p) return;
  $("cd-label").textContent = p.label;
  $("cd-left").textContent = clock(p.left);
  $("cd-served").textContent = `(${clock(p.served)} of ${clock(p.total)} served)`;
  $("cd-ends").textContent = endsAbout(p);
  $("cd-bar").value = p.total ? p.served / p.total : 0;
  // the unit card's lockout is the job's countdown: moved on with it, in the ledger's words
  if (p.lockout_left !== null && state.job.unit === state.unit?.serial && $("unit-lockout-left")) {
    $("unit-lockout-left").textContent = clock(p.lockout_left);
    const end = endsAbout(p);
    $("unit-state").textContent = `locked out: ${clock(p.lockout_left)} of ${clock(p.lockout)} powered wait left` +
      (p.running ? ", counting" + (end ? ": " + end : "") : ` (${end})`);
  }
}
setInterval(tick, 250);

function logEvent(e) {
  const tb = $("events");
  const tr = el("tr");
  for (const c of [e.t.toFixed(2), e.kind, e.what ?? "", e.to ?? e.message ?? ""]) tr.append(el("td", typeof c === "string" ? c : JSON.stringify(c)));
  tb.prepend(tr);
  while (tb.children.length > 40) tb.lastChild.remove();
}

function connect() {
  const es = new EventSource("/api/stream");
  es.addEventListener("open", () => { $("conn").textContent = "live"; $("conn").className = "pill on"; });
  es.addEventListener("error", () => { $("conn").textContent = "reconnecting"; $("conn").className = "pill warn"; });
  es.addEventListener("state", (m) => render(JSON.parse(m.data)));
  es.addEventListener("log", (m) => logEvent(JSON.parse(m.data)));
  es.addEventListener("notice", (m) => notice(JSON.parse(m.data)));
  es.addEventListener("result", () => { if (location.hash.startsWith("#runs")) showRuns(); });
}

// -- actions (operator)
$("start").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("start-error").textContent = "";
  const code = $("start-code");
  // the unit card put the unit on record (registered only when said to be new): never new_unit here
  const body = {procedure: $("start-proc").value, profile: state?.unit?.profile, unit: state?.unit?.serial,
                allow_lockout: $("start-allow").checked};
  if (code.value) body.code = code.value;
  code.value = "";  // never kept in the page
  if (audio === null) beep();  // a click is the gesture browsers want before a page may make a sound
  try { await api("/api/runs", body); } catch (e) { $("start-error").textContent = e.message; }
});
// A stop that throws served time away (a unit whose wait starts over) says how much and asks;
// one that keeps it just stops.
async function stopJob() {
  const p = countdownNow();
  let body = {};
  if (p && p.keeps === false && p.served > 0) {
    if (!confirm(`Stopping now throws away ${clock(p.served)} of powered time: this unit's lockout wait starts over after a power loss. Stop anyway?`)) return;
    body = {discard_served: true};
  }
  try {
    await api("/api/stop", body);
  } catch (e) {
    if (!e.message.includes("throws away")) { alert(e.message); return; }
    if (confirm(e.message.split(". Stop anyway")[0] + ". Stop anyway?")) await api("/api/stop", {discard_served: true}).catch((e2) => alert(e2.message));
  }
}
$("stop").addEventListener("click", () => stopJob());
function answer(text) {
  $("question").hidden = true;  // answered once: a second click must not answer the next question
  api("/api/answer", {id: Number($("question").dataset.id), answer: text}).catch((e) => alert(e.message));
}
$("q-yes").addEventListener("click", () => answer("yes"));
$("q-no").addEventListener("click", () => answer("no"));
$("q-form").addEventListener("submit", (ev) => { ev.preventDefault(); answer($("q-answer").value); $("q-answer").value = ""; });
// The unit on the bench, checked against the ledger as `rig run` checks it. A serial it has never
// seen is not a new unit until the technician says so and chooses its profile (no default): a
// typo (two digits swapped) offers the known serials it looks like instead of a fresh record.
function unitNew(show) {
  $("unit-new").hidden = !show;
  if (!show) { $("unit-is-new").checked = false; $("unit-profile").value = ""; }
  newUnitChoice();
}
function newUnitChoice() {
  const yes = $("unit-is-new").checked;
  $("unit-profile").disabled = !yes;
  $("unit-register").disabled = !(yes && $("unit-profile").value);
  $("unit-set").disabled = !$("unit-new").hidden;  // one way on from here: a near match, or register
}
$("unit-is-new").addEventListener("change", newUnitChoice);
$("unit-profile").addEventListener("change", newUnitChoice);
$("unit-serial").addEventListener("input", () => unitNew(false));  // "new" was said of the serial typed then
async function putOnBench(serial) {
  $("unit-error").textContent = "";
  const body = {serial};
  if (!$("unit-new").hidden && $("unit-is-new").checked) { body.new_unit = true; body.profile = $("unit-profile").value; }
  let data;
  try { await api("/api/bench/unit", body); $("unit-serial").value = ""; unitNew(false); return; }
  catch (e) { data = e.data || {}; if (!data.unknown) { $("unit-error").textContent = e.message; return; } }
  $("unit-unknown").textContent = `The ledger has never seen a unit "${serial}".`;
  const near = $("unit-near"); near.replaceChildren();
  if (data.near.length) near.append(el("span", "Did you mean"));
  for (const s of data.near) {
    const b = el("button", s, "small near"); b.type = "button";
    b.addEventListener("click", () => { $("unit-serial").value = s; unitNew(false); putOnBench(s); });
    near.append(b);
  }
  unitNew(true);
}
$("unit-form").addEventListener("submit", (ev) => { ev.preventDefault(); putOnBench($("unit-serial").value.trim()); });
$("logout").addEventListener("click", async () => { await api("/api/logout", {}); location.replace("/login"); });

// -- runs and units
async function showRuns() {
  const tb = $("runs"); tb.replaceChildren();
  for (const r of await api("/api/runs")) {
    row(tb, [link(`/runs/${r.id}`, String(r.id)), r.procedure, r.serial || "-", el("span", r.outcome || "running", "badge " + (r.outcome || "")),
             r.duration !== null ? clock(r.duration) : "-", when(r.started)]);
  }
}
async function showUnits() {
  const tb = $("units"); tb.replaceChildren();
  for (const u of await api("/api/units")) {
    row(tb, [link(`#units/${encodeURIComponent(u.serial)}`, u.serial), u.profile || "-", u.state || "?",
             u.allowed !== undefined ? `${u.used} used, ${u.left} of ${u.allowed} left` : "?", u.lockouts, u.runs, u.notes || ""]);
  }
}
async function showUnit(serial) {
  const u = await api(`/api/units/${encodeURIComponent(serial)}`);
  $("u-title").textContent = `Unit ${u.serial}`;
  const t = $("u-info"); t.replaceChildren();
  for (const k of ["profile", "model", "vin", "state"]) row(t, [k, u[k] || "-"]);
  if (u.allowed !== undefined) row(t, ["attempts", `${u.used} used, ${u.left} of ${u.allowed} left`]);
  row(t, ["lockouts", u.lockouts.length]);
  $("u-notes").value = u.notes || "";
  $("u-save").dataset.serial = u.serial;
  const tb = $("u-runs"); tb.replaceChildren();
  for (const r of u.runs) row(tb, [link(`/runs/${r.id}`, String(r.id)), r.procedure, r.outcome || "running", when(r.started)]);
  const rec = $("u-records"); rec.replaceChildren();
  for (const c of u.changes || []) {
    const what = c.field === "registered" ? `registered as ${c.new}` : `${c.field}: ${c.old || "-"} -> ${c.new || "-"}`;
    rec.append(el("li", `${when(c.t)} ${what}` + (c.who ? ` by ${c.who}` : "") + (c.reason ? ` (${c.reason})` : "")));
  }
  for (const r of u.records) rec.append(el("li", `${when(r.t)} ${r.name}: ${r.value}`));
}
$("u-save").addEventListener("click", async () => {
  try { await api(`/api/units/${encodeURIComponent($("u-save").dataset.serial)}/notes`, {notes: $("u-notes").value}); $("u-saved").textContent = "saved"; }
  catch (e) { $("u-saved").textContent = e.message; }
});
$("add-unit").addEventListener("submit", async (ev) => {
  ev.preventDefault(); $("add-error").textContent = "";
  try {
    await api("/api/units", {serial: $("add-serial").value, profile: $("add-profile").value,
                             attempts_used: Number($("add-used").value), model: $("add-model").value});
    $("add-serial").value = ""; showUnits();
  } catch (e) { $("add-error").textContent = e.message; }
});

function route() {
  const h = location.hash || "#bench";
  const [page, arg] = h.slice(1).split("/");
  for (const p of ["bench", "runs", "units", "unit"]) $("page-" + p).hidden = true;
  for (const n of ["bench", "runs", "units"]) $("nav-" + n).classList.toggle("active", n === page);
  if (page === "runs") { $("page-runs").hidden = false; showRuns(); }
  else if (page === "units" && arg) { $("page-unit").hidden = false; showUnit(decodeURIComponent(arg)); }
  else if (page === "units") { $("page-units").hidden = false; showUnits(); }
  else $("page-bench").hidden = false;
}
window.addEventListener("hashchange", route);

(async function start() {
  me = await api("/api/session");
  $("who").textContent = `${me.name} (${me.role})`;
  document.body.classList.add("role-" + me.role);
  const cat = await api("/api/catalogue");
  for (const sel of [$("unit-profile"), $("add-profile")]) for (const p of cat.profiles) sel.append(new Option(`${p.id} - ${p.label}`, p.id));
  for (const n of cat.procedures) $("start-proc").append(new Option(n, n));
  $("start-proc").value = "unlock";
  route();
  connect();
})();
