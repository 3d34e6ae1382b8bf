"""Threat: a web page on another site reaches the bench through a DNS name of its own (DNS rebinding).

The attacker's name first points at the attacker, serving a page; then at the
bench's address, so the page's same-origin requests reach ``rig serve`` with
the attacker's name in ``Host`` - and pass any Origin check, since the page's
origin is that name too. The bench answers only to its own names: 421.
Replayed in Chromium (Debian's): the attacker's first answer is a routed page,
the second the resolver rule mapping the name to loopback.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.browser.served import serving

served = serving(state="locked", attempts=0, allow_hosts=("bench-07.lab",))


@pytest.mark.parametrize("host, status", [("evil.example", 421), ("127.0.0.1.evil.example", 421),
                                          ("localhost.", 200), ("bench-07.lab", 200), ("BENCH-07.LAB:8470", 200),
                                          ("", 421)])
def test_only_the_benchs_own_names_are_answered(served, host, status):
    r = served.client(served.viewer).get("/api/state", headers={"host": host})
    assert r.status_code == status, (host, r.text)


def test_a_rebound_page_in_chromium_reads_nothing_and_logs_in_nowhere(served):
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("no Chromium here: apt-get install chromium")
    port = served.url.rsplit(":", 1)[1]
    origin = f"http://evil.example:{port}"
    attack = f"""<!doctype html><title>cute cats</title><pre id=out></pre><script>
      (async () => {{
        const out = {{}};
        for (const [path, init] of [["/api/lab", {{}}], ["/login", {{}}],
             ["/api/login", {{method: "POST", headers: {{"content-type": "application/json"}},
                              body: JSON.stringify({{token: "guess"}})}}]]) {{
          try {{ const r = await fetch(path, init); out[path] = [r.status, (await r.text()).slice(0, 200)]; }}
          catch (e) {{ out[path] = ["error", String(e)]; }}
        }}
        document.getElementById("out").textContent = JSON.stringify(out);
      }})();
    </script>"""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium,
                                    args=["--no-sandbox", "--host-resolver-rules=MAP evil.example 127.0.0.1",
                                          # Chromium's own guard for loopback, off: the bench must hold alone
                                          # (older browsers, other browsers, a LAN address it does not cover)
                                          "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,"
                                          "PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults"])
        try:
            page = browser.new_page()
            # the first DNS answer: the attacker's own server gives the page; later ones reach the bench
            page.route(f"{origin}/cats.html", lambda route: route.fulfill(body=attack, content_type="text/html"))
            page.goto(f"{origin}/cats.html")
            page.wait_for_function("document.getElementById('out').textContent.length > 0", timeout=15000)
            out = json.loads(page.text_content("#out"))
        finally:
            browser.close()
    assert {path: status for path, (status, _text) in out.items()} == {"/api/lab": 421, "/login": 421,
                                                                      "/api/login": 421}, out
    assert all("host name" in text for _s, text in out.values())  # the refusal, and nothing of the bench
