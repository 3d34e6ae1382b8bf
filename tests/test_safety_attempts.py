"""The attempt guard: counted before the confirm press, and refusals that keep a unit from locking.

Each test reads what a technician would check afterwards: the ledger's rows
(as another process sees them: committed), the pins' history (was any key
pressed at all?), and what the screen said.
"""

from __future__ import annotations

import os
import sqlite3
import sys

import pytest

from rig.records.ledger import Ledger
from rig.unit.profiles import load_profiles

from .safety_support import SimBench, committed_attempts, sigkill_when_stopped, write_profile

CONFIRM_EDGES = {  # profile -> (code, wrong code); the confirm press is read from the profile
    "ford": ("2580", "1111"),            # increment digits, preset5 confirms
    "vw-safe": ("5173", "6284"),         # increment digits, a held combo confirms
    "honda": ("12345", "54321"),         # direct digits, the last digit press is the confirm
}


def _confirm_press(profile_id, presses):
    """Index of the press that submits the code: the first confirm-key press after the last
    digit press, or (a unit with no confirm key checks by itself) the last digit press."""
    p = load_profiles()[profile_id]
    digit_keys = set(p.digits.keys.values() if isinstance(p.digits.keys, dict) else p.digits.keys)
    last_digit = max(i for i, k in enumerate(presses) if k in digit_keys)
    if not p.confirm.keys:
        return last_digit
    return next(i for i, k in enumerate(presses) if i > last_digit and k in p.confirm.keys)


@pytest.mark.parametrize("profile_id", sorted(CONFIRM_EDGES))
def test_the_attempt_is_committed_before_the_confirm_key_goes_down(tmp_path, profile_id):
    right, wrong = CONFIRM_EDGES[profile_id]
    b = SimBench(tmp_path, profile_id, right)
    seen = []  # (key, committed attempts at the instant its pin went down)

    def on_edge(edge):
        if edge.kind == "key" and edge.on:
            seen.append((edge.name, committed_attempts(b.ledger_path, b.SERIAL)))

    r = b.run("enter-code", wrong, on_edge=on_edge)
    assert r.outcome == "failed" and "wrong code" in r.message, r.message
    confirm = _confirm_press(profile_id, [k for k, _ in seen])
    assert seen[confirm][1] == ["pending"], \
        f"{seen[confirm][0]} went down to confirm before the attempt was committed to the ledger"
    assert all(rows in ([], ["pending"]) for _, rows in seen[:confirm + 1]), seen  # no verdict before the press
    assert b.attempts() == ["rejected"]  # and resolved once the unit answered
    assert b.unit.wrong_total == 1


# Run by the child: freeze the process at the instant the confirm key's pin goes down.
_STOP_AT_PIN = r"""
import os, signal, sys
import rig.bench.backends as backends

GPIO = "GPIO" + os.environ["STOP_AT_GPIO"]
_change = backends.ClockedMockPin._change_state

def _change_state(self, value):
    changed = _change(self, value)
    if changed and value and self.info.name == GPIO and self.function == "output":
        os.kill(os.getpid(), signal.SIGSTOP)  # the confirm key is down; nothing else has run yet
    return changed

backends.ClockedMockPin._change_state = _change_state
from rig.cli import main
sys.exit(main())
"""


def test_sigkill_at_the_confirm_press_leaves_the_attempt_counted(tmp_path):
    from rig.sim.backend import reset_unit
    from rig.bench.wiring import load_wiring

    reset_unit(tmp_path / "unit.json", "ford", "2580", ideal=True)
    gpio = load_wiring().keys["preset5"].pin  # ford's confirm key
    env = dict(os.environ, RIG_SIM_STATE=str(tmp_path / "unit.json"), RIG_LEDGER=str(tmp_path / "l.sqlite"),
               RIG_LOG_DIR=str(tmp_path / "runs"), RIG_CODE="2580", STOP_AT_GPIO=str(gpio),
               XDG_DATA_HOME=str(tmp_path / "data"))
    sigkill_when_stopped([sys.executable, "-c", _STOP_AT_PIN, "--backend", "sim", "run", "enter-code",
                          "--profile", "ford", "--unit", "U1", "--new-unit"], env)
    db = sqlite3.connect(tmp_path / "l.sqlite")
    try:
        assert db.execute("SELECT outcome FROM attempts").fetchall() == [("pending",)]
        assert db.execute("SELECT outcome FROM runs").fetchall() == [(None,)]
    finally:
        db.close()
    led = Ledger(tmp_path / "l.sqlite")
    try:
        st = led.standing("U1", load_profiles()["ford"])
    finally:
        led.close()
    assert (st.used, st.left) == (1, 2)  # the next run counts it


# -- refusals -------------------------------------------------------------------
@pytest.fixture
def ford_p3(tmp_path, monkeypatch):
    """Ford with 5 tries before a lockout and a permanent lock at the 3rd wrong code."""
    write_profile(tmp_path / "notes", "ford.md", "ford-p3", before_lockout=5, permanent_after=3)
    monkeypatch.setenv("RIG_PROFILES", str(tmp_path / "notes"))
    return "ford-p3"


def _no_key_pressed(b):
    assert b.tape.downs() == [], f"keys were pressed: {b.tape.downs()}"


def test_the_attempt_that_would_lock_the_unit_for_good_is_refused(tmp_path, ford_p3):
    b = SimBench(tmp_path, ford_p3, "2580", attempts=2)
    b.spend(2)
    st = b.standing()
    assert (st.permanent_left, st.left) == (1, 3)
    r = b.run("enter-code", "2580")
    assert (r.outcome, r.exit_code) == ("refused", 3), r.message
    assert "PERMANENTLY" in r.message and "--allow-permanent-lock" in r.message
    _no_key_pressed(b)
    assert b.attempts() == ["rejected", "rejected"]  # nothing spent


def test_one_more_than_the_last_permanent_attempt_is_not_refused(tmp_path, ford_p3):
    b = SimBench(tmp_path, ford_p3, "2580", attempts=1)
    b.spend(1)
    assert b.standing().permanent_left == 2
    r = b.run("enter-code", "2580")
    assert r.outcome == "passed", r.message
    assert "permanent" not in b.screen.text().lower()


def test_allow_permanent_lock_enters_the_code_and_says_so_on_the_screen(tmp_path, ford_p3):
    b = SimBench(tmp_path, ford_p3, "2580", attempts=2)
    b.spend(2)
    r = b.run("enter-code", "2580", allow_permanent=True)
    assert r.outcome == "passed", r.message
    assert b.unit.locked is False
    assert "a wrong code now locks the unit for good" in b.screen.text().lower(), b.screen.lines
    assert b.attempts() == ["rejected", "rejected", "accepted"]


def test_a_wrong_last_code_marks_the_unit_permanent_and_nothing_is_entered_after(tmp_path, ford_p3):
    b = SimBench(tmp_path, ford_p3, "2580", attempts=2)
    b.spend(2)
    r = b.run("enter-code", "1111", allow_permanent=True)
    assert r.outcome == "failed"
    assert b.unit.permanent is True  # the simulated unit's own truth
    led = b.ledger()
    try:
        assert led.unit(b.SERIAL)["permanent"] == 1
    finally:
        led.close()
    st = b.standing()
    assert st.permanent and st.permanent_left == 0 and st.describe() == "PERMANENTLY LOCKED"
    for flags in ({}, {"allow_permanent": True, "allow_lockout": True}):
        again = b.run("enter-code", "2580", **flags)
        assert (again.outcome, again.exit_code) == ("refused", 3)
        assert "the ledger marks U1 as permanently locked" in again.message
        _no_key_pressed(b)
    assert b.attempts() == ["rejected"] * 3


def test_no_attempts_left_without_an_open_lockout_is_refused(tmp_path):
    # A unit that arrived with its tries used up (rig units add --attempts-used 3), no lockout known.
    b = SimBench(tmp_path, "ford", "2580", attempts=2)
    b.spend(3, outcome="unknown")
    st = b.standing()
    assert (st.left, st.lockout) == (0, None)
    for flags in ({}, {"allow_lockout": True}):
        r = b.run("enter-code", "2580", **flags)
        assert (r.outcome, r.exit_code) == ("refused", 3), r.message
        assert "no attempts left" in r.message
        _no_key_pressed(b)
    assert b.attempts() == ["unknown"] * 3


def test_allow_lockout_reaches_the_technicians_screen(run_rig):
    assert run_rig("units", "add", "F1", "--profile", "ford", "--attempts-used", "2").returncode == 0
    run_rig("sim", "reset", "--profile", "ford", "--code", "2580")
    r = run_rig("--backend", "sim", "run", "enter-code", "--profile", "ford", "--unit", "F1", "--allow-lockout",
                env={"RIG_CODE": "2580"})
    assert r.returncode == 0, r.stderr
    warned = [line for line in (r.stdout + r.stderr).lower().splitlines() if "--allow-lockout" in line]
    assert warned and "last attempt" in warned[0] and "30:00" in warned[0], r.stdout + r.stderr


def test_runs_of_one_unit_are_only_that_units(tmp_path):
    led = Ledger(tmp_path / "l.sqlite")
    try:
        ids = {s: [] for s in ("A1", "B2")}
        for s in ("A1", "B2", "A1", "B2", "B2"):
            ids[s].append(led.start_run("enter-code", s, "ford", "sim", ""))
        assert [r["id"] for r in led.runs("A1")] == ids["A1"][::-1]
        assert {r["serial"] for r in led.runs("B2")} == {"B2"} and len(led.runs("B2")) == 3
        assert len(led.runs()) == 5
    finally:
        led.close()


# -- the run's own record of the attempt -------------------------------------------------------
def _attempt_story(r):
    from rig.records.report import read_events

    events = read_events(r.log)
    told = [(e["what"], e["to"], e["attempt"]) for e in events if e["kind"] == "attempt"]
    notes = [e["note"] for e in events if e["kind"] == "note" and e.get("what") == "confirm"]
    return told, notes


@pytest.mark.parametrize("code, outcome", [("5173", "accepted"), ("6284", "rejected")])
def test_the_run_log_tells_how_each_attempt_ended_as_the_ledger_has_it(tmp_path, code, outcome):
    """A CI maintainer reads a run's log (and the page streams it) to learn what the unit answered:
    every attempt counted there is resolved there, as the ledger has it; and a confirm whose display
    came in time (VW holds its confirm until SAFE shows, at most 10 s) is not said to have missed it."""
    b = SimBench(tmp_path, "vw-safe", "5173")
    r = b.run("enter-code", code)
    assert r.outcome == ("passed" if outcome == "accepted" else "failed"), r.message
    told, notes = _attempt_story(r)
    assert told == [("counted", "pending", 1), ("resolved", outcome, 1)]
    assert b.attempts() == [outcome]
    assert notes == [], notes
