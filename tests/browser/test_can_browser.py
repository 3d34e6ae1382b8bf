"""The simulated CAN units through the page: a job started in the page passes with the car's frames,
the bench panel names the bus and its wake set, and without the frames the job fails saying so.

(The CLI and the pytest plugin's side of the same is tests/test_can_cli.py.)
"""

from __future__ import annotations

import dataclasses

import pytest

from rig.bench.wiring import load_wiring
from tests.browser.served import Served
from tests.browser.test_serve_browser import browser, page, sync_api  # noqa: F401  (the fixtures: one Chromium)
from tests.canbench import opel_wake_set


def bench_with_wake(wake: str | None):
    w = load_wiring()
    return w if wake is None else dataclasses.replace(w, can=dataclasses.replace(w.can, wake=wake))


def served_unit(tmp_path, monkeypatch, profile, wake=None):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    return Served(tmp_path, profile=profile, code="1234", state="locked", attempts=0, wiring=bench_with_wake(wake))


def start(page, served, procedure, profile):
    page.goto(served.server.login_link("alice"))
    sync_api.expect(page.locator("#conn")).to_have_text("live")
    page.fill("#unit-serial", "H1")  # the unit on the bench (Served put it in the ledger, with its profile)
    page.click("#unit-set")
    sync_api.expect(page.locator("#unit")).to_contain_text(profile)
    page.select_option("#start-proc", procedure)
    if page.locator("#start-code").is_visible():
        page.fill("#start-code", "1234")
        page.check("#start-allow")
    page.click("#start button")


@pytest.mark.parametrize("profile", ["vw-rcd310", "ford-6000cd-can", "opel-cd30"])
def test_a_can_unit_is_unlocked_from_the_page(page, tmp_path, monkeypatch, profile):
    wake = str(opel_wake_set(tmp_path / "astra.yaml")) if profile == "opel-cd30" else None
    served = served_unit(tmp_path, monkeypatch, profile, wake)
    try:
        start(page, served, "enter-code", profile)
        sync_api.expect(page.locator("#last")).to_contain_text("enter-code passed", timeout=30000)
        sync_api.expect(page.locator("#can-state")).to_contain_text("error-active")
        page.screenshot(path=str(tmp_path / f"{profile}.png"), full_page=True)
        assert "1234" not in page.content()
    finally:
        served.close()


def test_without_its_wake_frames_the_page_says_why_the_unit_stayed_dark(page, tmp_path, monkeypatch):
    (tmp_path / "wrong.yaml").write_text("frames: [{id: 0x2C3, data: '07', period: 100ms}]\n")
    served = served_unit(tmp_path, monkeypatch, "vw-rcd310", str(tmp_path / "wrong.yaml"))
    try:
        start(page, served, "reproduce-safe", "vw-rcd310")
        last = page.locator("#last")
        sync_api.expect(last).to_contain_text("reproduce-safe failed", timeout=30000)
        sync_api.expect(last).to_contain_text("CAN: the wake frames 0x2C3 (wrong) are going out")
        sync_api.expect(page.locator("#can-wake")).to_contain_text("wrong: 0x2C3 every 100ms")
    finally:
        served.close()
