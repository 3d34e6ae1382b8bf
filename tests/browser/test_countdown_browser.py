"""The page's countdown in Chromium: the job card, the unit card and the units list say what
`rig status` says, the card says when the wait ends, no stale "last:" line sits under a running
job, and Stop on a unit whose wait starts over says how much it throws away and asks.
SCREENSHOTS_DIR=DIR keeps the screenshots."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.browser.served import serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[test]')")
if not Path(CHROMIUM).exists():
    pytest.skip("no Chromium here: apt-get install chromium (.ci/run does)", allow_module_level=True)

served = serving(code="61524", state="lockout", attempts=3, speed=100)


def _seconds(text: str) -> int:
    parts = [int(p) for p in text.strip().split(":")]
    return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))


def test_the_page_counts_down_as_the_cli_does_and_stop_asks_before_throwing_time_away(served, tmp_path, run_rig):
    expect = sync_api.expect
    out = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    served.station.set_unit("H1", "honda")
    c = served.client(served.operator)
    assert c.post("/api/runs", json={"procedure": "read-serial", "unit": "H1", "yes": True,
                                     "answers": {"model": "CD-R 2006", "vin": "WVWZZZ1JZXW000001"}}).status_code == 202
    served.wait(lambda s: s["last"] is not None)  # a finished job: its "last:" line must go once one runs
    assert c.post("/api/runs", json={"procedure": "lockout-wait", "unit": "H1"}).status_code == 202
    served.wait(lambda s: ((s["job"] or {}).get("progress") or {}).get("served", 0) > 60)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15000)
            page.goto(served.server.login_link("alice"))
            expect(page.locator("#countdown")).to_be_visible()
            expect(page.locator("#cd-ends")).to_have_text(re.compile(r"^ends about \d\d:\d\d"))
            expect(page.locator("#last")).to_have_text("")  # the earlier job's line is not under this one
            # the job card and the unit card, read at one moment: one countdown (the job's has the margin)
            card, unit = page.evaluate("[document.getElementById('cd-left').textContent,"
                                       " document.getElementById('unit-lockout-left').textContent]")
            state = served.station.state()
            margin = state["job"]["progress"]["total"] - state["job"]["progress"]["lockout"]
            assert 0 <= _seconds(card) - _seconds(unit) - margin <= 2, (card, unit, margin)
            # rig status, read between two readings of the page's figure, lies between them. The page
            # moves on at the pace the clock should keep; a paced simulation on a loaded machine lags it
            # by a fraction of a second of wall time, which at x100 is tens of simulated seconds.
            before = page.evaluate("countdownNow().left")
            r = run_rig("status", env={"RIG_LEDGER": str(served.ledger)})
            after = page.evaluate("countdownNow().left")
            status_left = re.search(r"lockout wait.*?: ([\d:]+) served, ([\d:]+) left", r.stdout)
            assert status_left, r.stdout
            assert after - 30 <= _seconds(status_left.group(2)) <= before + 30, (before, after, r.stdout)
            page.screenshot(path=str(out / "countdown-job-and-unit.png"), full_page=True)
            page.goto(served.url + "/#units")
            expect(page.locator("#units")).to_contain_text("counting")
            page.screenshot(path=str(out / "countdown-units.png"), full_page=True)

            page.goto(served.url + "/")
            expect(page.locator("#countdown")).to_be_visible()
            asked = []
            page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
            page.click("#stop")
            expect(page.locator("#countdown")).to_be_visible()
            assert asked and "throws away" in asked[0] and "of powered time" in asked[0], asked
            assert served.station.current is not None  # dismissed: the wait goes on
            page.once("dialog", lambda d: d.accept())
            page.click("#stop")
            expect(page.locator("#last")).to_contain_text("lockout-wait interrupted", timeout=30000)
            page.screenshot(path=str(out / "countdown-stopped.png"), full_page=True)
        finally:
            browser.close()
