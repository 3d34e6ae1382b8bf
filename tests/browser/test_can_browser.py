"""The simulated CAN units through the page: every built-in procedure fails there, saying why, while the
bench sends another car's frames, and passes once it sends the unit's own; the bench panel names the bus
and its wake set.

One server per unit (its pin map's can.wake is a file this test rewrites between the two halves: a run
reads the wake set when it starts, as a technician's edited file would be read).
(The CLI and the pytest plugin's side of the same is tests/test_can_cli.py.)
"""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from rig.bench.wiring import load_wiring
from rig.can.wakeset import shipped_wake_sets
from tests.browser.served import Served
from tests.browser.test_serve_browser import browser, page, sync_api  # noqa: F401  (the fixtures: one Chromium)
from tests.canbench import lockout_attempts, opel_wake_set

WRONG = "frames: [{id: 0x2C3, data: '07', period: 100ms}]\n"   # another car's ignition: none of these wakes on it


def bench_with_wake(wake: str):
    w = load_wiring()
    return dataclasses.replace(w, can=dataclasses.replace(w.can, wake=wake))


def right_frames(profile, path):
    """The frames the unit needs: its profile's shipped set, or the one picked from the simulated Astra."""
    if profile == "opel-cd30":
        opel_wake_set(path)
    else:
        shutil.copyfile(shipped_wake_sets()[{"vw-rcd310": "vw-pq", "ford-6000cd-can": "ford-sync2"}[profile]], path)


class Runs:
    """Start procedures from the page, one after another, and wait for each one's result."""

    def __init__(self, page, served, profile):
        self.page, self.n = page, 0
        page.goto(served.server.login_link("alice"))
        sync_api.expect(page.locator("#conn")).to_have_text("live")
        page.fill("#unit-serial", "H1")  # the unit on the bench (Served put it in the ledger, locked out)
        page.click("#unit-set")
        sync_api.expect(page.locator("#unit")).to_contain_text(profile)

    def run(self, procedure, outcome):
        page = self.page
        page.select_option("#start-proc", procedure)
        if page.locator("#start-code").is_visible():
            page.fill("#start-code", "1234")
            page.check("#start-allow")
        page.click("#start button")
        self.n += 1
        last = page.locator("#last")
        sync_api.expect(last).to_contain_text(f"{procedure} {outcome} (run {self.n})", timeout=30000)
        return last.text_content()


@pytest.mark.parametrize("profile", ["vw-rcd310", "ford-6000cd-can", "opel-cd30"])
def test_every_procedure_on_a_can_unit_from_the_page(page, tmp_path, monkeypatch, profile):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    wake = tmp_path / "wake.yaml"
    wake.write_text(WRONG)
    served = Served(tmp_path, profile=profile, code="1234", state="lockout", attempts=lockout_attempts(profile),
                    wiring=bench_with_wake(str(wake)))
    try:
        runs = Runs(page, served, profile)
        for proc in ("reproduce-safe", "enter-code", "lockout-wait", "unlock"):
            said = runs.run(proc, "failed")
            assert "CAN: the wake frames 0x2C3 (wake) are going out" in said, f"{proc}: {said}"
        sync_api.expect(page.locator("#can-wake")).to_contain_text("wake: 0x2C3 every 100ms")
        right_frames(profile, wake)  # the car's own frames, as recorded and picked
        for proc in ("lockout-wait", "unlock", "reproduce-safe", "enter-code"):
            runs.run(proc, "passed")
        sync_api.expect(page.locator("#can-state")).to_contain_text("error-active")
        page.screenshot(path=str(tmp_path / f"{profile}.png"), full_page=True)
        assert "1234" not in page.content()
    finally:
        served.close()
