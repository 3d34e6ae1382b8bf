// Log in: a one-time link (#once=..., never sent to the server in the URL) or a token.
"use strict";
async function login(body) {
  const r = await fetch("/api/login", {method: "POST", headers: {"Content-Type": "application/json"},
                                        body: JSON.stringify(body), credentials: "same-origin"});
  if (r.ok) { location.replace("/#bench"); return; }
  const e = await r.json().catch(() => ({error: r.statusText}));
  document.getElementById("error").textContent = e.error;
}
function fromLink() {
  const m = location.hash.match(/once=([^&]+)/);
  if (!m) return;
  history.replaceState(null, "", "/login");  // the code is spent either way: keep it out of history
  document.getElementById("status").textContent = "Logging in ...";
  login({once: decodeURIComponent(m[1])});
}
fromLink();
window.addEventListener("hashchange", fromLink);  // a link opened on this very page
document.getElementById("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const t = document.getElementById("token");
  login({token: t.value});
  t.value = "";
});
