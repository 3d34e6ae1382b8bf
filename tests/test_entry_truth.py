"""Code entry goes by what the unit shows: its own pace, an entry it opens by itself, and
how it stands right before the confirm.

Each case reads the simulated unit's memory afterwards (did it check a code, which one was
right?) and the ledger's committed attempts: a real attempt must never be spent on a code
the rig did not mean, and an attempt the unit made must never be missing from the ledger.
"""

from __future__ import annotations

import re

import pytest

from rig.bench.wiring import load_wiring
from rig.records.report import read_events

from .safety_support import SimBench


def _wiring(write_yaml, unit_on=True, display=True, rail_senses=True):
    """The default pin map less what a bench may lack: the amp-remote lead, the tap, the rail senses."""
    text = open(load_wiring().source).read()
    if not unit_on:
        text = re.sub(r"\n  unit_on:.*?\n(?=  \w)", "\n", text, flags=re.S)
    if not rail_senses:
        text = re.sub(r"\n  (battery_v|acc_v):.*?\n(?=  \w|\n\w)", "\n", text, flags=re.S)
    if not display:
        text = text.split("display:")[0] + "timing:" + text.split("timing:")[1]
    return load_wiring(write_yaml(text))


def _masked(result) -> dict:
    return next(e for e in read_events(result.log) if e["kind"] == "masked")


# -- read-back that follows the unit's pace -----------------------------------------------------
@pytest.mark.parametrize("answer", [0.0, 0.5, 1.05, 2.0, 3.0])
@pytest.mark.parametrize("profile, code", [("vw-safe", "5173"), ("ford", "2580"), ("becker-mercedes", "2413")])
def test_the_right_code_is_accepted_whatever_the_units_answer_time(tmp_path, profile, code, answer):
    """The unit draws every answer ``answer`` s after the key (digit steps on release) and gives
    its verdict as late. A fixed 1 s read-back overshot at 1.05 s (5173 went in as 6284, a real
    attempt spent), and an answer drawn in the instant of the release was never read."""
    b = SimBench(tmp_path, profile, code, knobs={"display_lag": [answer, answer], "result_delay": answer,
                                                 "step_on": "release"})
    r = b.run("enter-code", code, allow_lockout=True)
    assert r.outcome == "passed", r.message
    assert b.unit.locked is False and b.unit.wrong_total == 0
    assert b.attempts() == ["accepted"]
    assert _masked(r)["corrected"] is False          # no press was "corrected" into an overshoot
    assert any(e.get("what") == "read-back" and f"{answer:.2f} s" in e.get("note", "")
               for e in read_events(r.log))          # it learned the unit's pace, and says so after the entry


def test_a_unit_too_slow_to_read_back_gets_no_attempt(tmp_path):
    """Answers 6 s after a key, longer than the 5 s the profile gives a verdict: the rig cannot
    tell what the display shows, so it stops before the confirm."""
    b = SimBench(tmp_path, "vw-safe", "5173", knobs={"display_lag": [6.0, 6.0], "step_on": "release"})
    r = b.run("enter-code", "5173", allow_lockout=True)
    assert (r.outcome, r.exit_code) == ("failed", 1), r.message
    assert "no attempt used" in r.message and "cannot be read back" in r.message
    assert b.attempts() == [] and b.unit.wrong_total == 0


def test_a_unit_slower_than_its_first_press_showed_is_waited_for(tmp_path):
    """Its display lag varies from 0.15 s to 1.2 s per answer: a read-back that trusted the first,
    quick one would judge digits too early; the rig learns the longer answers as they come."""
    b = SimBench(tmp_path, "vw-safe", "5173", knobs={"display_lag": [0.15, 1.2], "step_on": "release", "seed": 4})
    r = b.run("enter-code", "5173", allow_lockout=True)
    assert r.outcome == "passed", r.message
    assert b.attempts() == ["accepted"] and b.unit.wrong_total == 0


# -- entry that opens by itself ------------------------------------------------------------
def test_an_entry_that_opens_by_itself_while_the_combo_is_held_is_an_attempt_counted(tmp_path):
    """A seed-scheme unit opens code entry by itself 1.9 s after SAFE, while the rig still holds
    mode+scan to open it; its long-press timer runs on and takes the hold for a confirm of 1000.
    The unit counted a wrong code: so does the ledger."""
    b = SimBench(tmp_path, "vw-safe", "5173", knobs={"self_entry": 1.9, "display_lag": [0.15, 0.15]})
    r = b.run("enter-code", "5173", allow_lockout=True)
    assert (r.outcome, r.exit_code) == ("failed", 1), r.message
    assert "the unit checked a code the rig did not confirm" in r.message and "1 attempt(s) left" in r.message
    assert b.unit.wrong_total == 1
    assert b.attempts() == ["rejected"]              # the ledger is not one short of the unit
    held = [e for e in b.tape.of("key") if e.name == "mode"]
    assert held[1].t - held[0].t < 2.5               # let go as the entry display came, not at max_hold


def test_a_combo_held_to_open_entry_is_let_go_when_the_display_changes(tmp_path):
    b = SimBench(tmp_path, "vw-safe", "5173", knobs={"display_lag": [0.3, 0.3]})
    r = b.run("enter-code", "5173", allow_lockout=True)
    assert r.outcome == "passed", r.message
    held = [e for e in b.tape.of("key") if e.name == "mode"]
    assert held[1].t - held[0].t == pytest.approx(2.3, abs=0.06)  # 2 s to open + the 0.3 s its display took


# -- before the confirm press --------------------------------------------------------------------
def _blind_run(tmp_path, wiring, knobs):
    """enter-code on a bench with no tap: the technician answers (the unit shows SAFE; yes)."""
    from rig.cli.ui import Plain
    from rig.records.ledger import Ledger

    from .simbench import Bench, _Lines

    b = Bench(tmp_path, "vw-safe", "5173", wiring=wiring, ideal=True, knobs=knobs)
    asked = lambda question, kind: "SAFE" if question.startswith("What does the display show") else "y"  # noqa: E731
    r = b.run("enter-code", "5173", allow_lockout=True,
              ui=lambda bench, redact: Plain(redact, stream=_Lines(b.lines), ask=asked))
    led = Ledger(b.ledger)
    try:
        return r, [a["outcome"] for a in led.attempts("U1")], b.unit
    finally:
        led.close()


def test_a_fuse_that_blows_during_entry_stops_before_the_confirm(tmp_path, write_yaml):
    """A bench with no tap and no amp-remote, with rail senses: ACC's fuse blows during the digits.
    Nothing but the rail sense says so; the rig must not confirm into a dead unit."""
    r, attempts, unit = _blind_run(tmp_path, _wiring(write_yaml, unit_on=False, display=False),
                                   {"rail_fault": {"rail": "acc", "kind": "fuse", "after": 25}})
    assert (r.outcome, r.exit_code) == ("failed", 1), r.message
    assert "no voltage at the connector" in r.message and "no attempt used" in r.message
    assert attempts == []


def test_an_amp_remote_that_falls_during_entry_stops_before_the_confirm(tmp_path, write_yaml):
    """No tap, no rail senses: the supply sags during the digits (a brown-out); only the amp-remote
    shows the unit restarted, and with it the entry is gone."""
    r, attempts, unit = _blind_run(tmp_path, _wiring(write_yaml, display=False, rail_senses=False),
                                   {"rail_fault": {"rail": "acc", "kind": "sag", "after": 25, "for": 0.3}})
    assert (r.outcome, r.exit_code) == ("failed", 1), r.message
    assert "amp-remote (unit_on) fell" in r.message and "no attempt used" in r.message
    assert attempts == [] and unit.wrong_total == 0


def test_a_display_read_again_after_the_idle_time_stops_a_confirm_into_a_changed_unit(tmp_path, write_yaml):
    """A tap, no amp-remote: every digit read back right, then the unit browns out in the idle
    time that hides the press count (no splash: it comes back straight to SAFE). Read again,
    the display no longer shows the code."""
    b = SimBench(tmp_path, "vw-safe", "5173", wiring=_wiring(write_yaml, unit_on=False),
                 knobs={"rail_fault": {"rail": "acc", "kind": "sag", "after": 20, "for": 0.3}})
    r = b.run("enter-code", "5173", allow_lockout=True)
    assert (r.outcome, r.exit_code) == ("failed", 1), r.message
    assert "read again after the entry's idle time" in r.message and "no attempt used" in r.message
    assert "5173" not in r.message
    assert b.attempts() == [] and b.unit.wrong_total == 0
