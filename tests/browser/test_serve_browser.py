"""The page in headless Chromium (Debian's chromium; Playwright's own browser download is not reachable).

Log in, answer the bench-removal checklist in the page, start unlock on a
simulated unit in lockout and watch the countdown move, then find the run in
the history with its timeline. SCREENSHOTS_DIR=DIR keeps the screenshots
(docs/serve/ holds the README's).
"""

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

CODE = "61524"


served = serving(code=CODE, state="lockout", attempts=3, speed=3000, register=False)


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module (its start is ~0.6 s); each test gets its own context."""
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # its own cookies and storage
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()


def shot(page, tmp_path, name):
    out = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)


def test_a_technician_at_the_page(served, page, tmp_path):
    expect = sync_api.expect
    page.goto(served.url + "/")
    expect(page).to_have_url(re.compile(r"/login$"))  # no session: the login page
    shot(page, tmp_path, "login")
    page.goto(served.server.login_link("alice"))
    expect(page.locator("#who")).to_have_text("alice (operator)")
    expect(page.locator("#conn")).to_have_text("live")

    # the unit on the bench, then the checklist answered in the page
    page.fill("#unit-serial", "H1")
    page.click("#unit-set")
    page.check("#unit-is-new")  # new to the ledger: said so, and its profile chosen
    page.select_option("#unit-profile", "honda")
    page.click("#unit-register")
    expect(page.locator("#unit")).to_contain_text("3 of 3 left")
    page.select_option("#start-proc", "bench-removal")
    page.click("#start button")
    def question(n):
        q = page.locator(f'#question[data-id="{n}"]')
        expect(q).to_be_visible()
        return q

    for n in range(1, 4):
        question(n)
        if n == 1:
            shot(page, tmp_path, "bench-question")
        page.click("#q-yes")
    expect(question(4).locator("#q-form")).to_be_visible()  # "Model, as printed on the label"
    page.fill("#q-answer", "CD-R 2006")
    page.click("#q-form button")
    for n in (5, 6):
        question(n)
        page.click("#q-yes")
    expect(page.locator("#last")).to_contain_text("bench-removal passed")

    # unlock: the code goes in a password field and is never shown back
    page.select_option("#start-proc", "unlock")
    page.fill("#start-code", CODE)
    page.check("#start-allow")
    page.click("#start button")
    assert page.input_value("#start-code") == ""
    expect(page.locator("#countdown")).to_be_visible()
    first = page.inner_text("#cd-left")
    page.wait_for_function("t => document.getElementById('cd-left').textContent !== t", arg=first,
                           timeout=5000)  # the countdown moves
    shot(page, tmp_path, "bench-countdown")
    expect(page.locator("#last")).to_contain_text("unlock passed", timeout=30000)
    assert CODE not in page.content()

    # history, then the run's page with its timeline and event table
    page.click("#nav-runs")
    expect(page.locator("#runs tr").first).to_contain_text("unlock")
    shot(page, tmp_path, "runs")
    page.locator("#runs tr").first.locator("a").click()
    expect(page.locator("h1")).to_contain_text("unlock")
    page.wait_for_load_state("load")  # run.js is deferred: a change before it runs would be missed
    assert page.locator(".timeline svg").count() == 1
    total = page.locator("#events tbody tr").count()
    page.select_option("#kind", "step")
    expect(page.locator("#events tbody tr:visible")).not_to_have_count(total)  # the filter has run
    visible = page.locator("#events tbody tr:visible").count()
    assert 0 < visible < total  # the event table filters
    shot(page, tmp_path, "run")
    assert CODE not in page.content()

    page.goto(served.url + "/#units")
    expect(page.locator("#units")).to_contain_text("H1")
    page.click("#units a")
    expect(page.locator("#u-title")).to_have_text("Unit H1")
    page.fill("#u-notes", "arrived in lockout; unlocked on the bench")
    page.click("#u-save")
    expect(page.locator("#u-saved")).to_have_text("saved")
    shot(page, tmp_path, "unit")


def test_a_lab_bench_shows_which_place_holds_it(served, page, tmp_path):
    expect = sync_api.expect
    served.station.lease.lab = True
    page.goto(served.server.login_link("alice"))
    expect(page.locator("#bench")).to_contain_text("none holds it: jobs wait for labgrid")
    served.station.lease.hold("bench-03", "exporter")
    served.station.changed()
    expect(page.locator("#bench")).to_contain_text("bench-03 holds it")
    shot(page, tmp_path, "lab-held")
    served.station.release_place("bench-03", "released")
    expect(page.locator("#bench")).to_contain_text("none holds it")
