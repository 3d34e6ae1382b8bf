"""What the unit itself says outranks what the rig counted: brown-outs, proof, drift, a refusal.

A unit that browns out mid-wait (the supply sags; the rail senses, which need ~2 V, never
see it) has lost what its profile says a power cut loses; a lockout is over when the unit
says so, not when the rig's count says so; a unit that shows it is still waiting gets no
code; a timer slower than a guessed margin must not cost the wait. Each test reads the
simulated unit's own memory afterwards: is it really out of its wait?
"""

from __future__ import annotations

import re

import pytest

from rig.bench.wiring import load_wiring
from rig.cli.ui import Plain
from rig.records.report import read_events
from rig.unit.profiles import load_profiles

from .simbench import Bench, _Lines
from .test_waits import arrived_locked_out, lockout_row, measurement

PROFILES = load_profiles()
SPLASH = {"boot_delay": 1.2, "splash": "BLAUPUNKT", "splash_for": 1.5, "amp_remote_delay": 0.5}


def _bench(tmp_path, write_yaml, profile, code, amp_wired=True, **knobs) -> Bench:
    wiring = load_wiring()
    if not amp_wired:  # a bench whose amp-remote lead is not wired: only the display tells
        text = re.sub(r"\n  unit_on:.*?\n(?=  \w)", "\n", open(wiring.source).read(), flags=re.S)
        wiring = load_wiring(write_yaml(text))
        assert "unit_on" not in wiring.senses
    p = PROFILES[profile]
    b = Bench(tmp_path, profile, code, wiring=wiring, state="lockout", attempts=p.attempts.before_lockout,
              ideal=True, knobs=knobs)
    arrived_locked_out(b)
    return b


class _Countdown(Plain):
    """The technician's screen, and every served figure its countdown was given."""

    def __init__(self, redact, lines, served):
        super().__init__(redact, stream=_Lines(lines))
        self.served = served

    def progress(self, label, served, total, done=False):
        if label.startswith("lockout wait"):
            self.served.append(served)
        return super().progress(label, served, total, done)


# -- a unit that reboots has not served its wait ---------------------------------------
@pytest.mark.parametrize("amp_wired", [True, False], ids=["amp-remote wired", "display only"])
def test_a_brown_out_mid_wait_starts_the_wait_over_on_a_unit_that_restarts(tmp_path, write_yaml, amp_wired):
    """vw-safe (rail_off: restart) browns out 20 min into its hour: its own timer starts over."""
    b = _bench(tmp_path, write_yaml, "vw-safe", "5173", amp_wired, **SPLASH,
               rail_fault={"rail": "acc", "kind": "sag", "after": 1200, "for": 0.3})
    served = []
    r = b.run("lockout-wait", ui=lambda bench, redact: _Countdown(redact, b.lines, served))
    assert r.outcome == "passed", r.message
    assert b.unit.lockout_left is None and not b.unit.locked_out   # the unit itself has served its hour
    assert sum("the unit restarted" in line and "starts over" in line for line in b.lines) == 1, b.lines
    back = next(i for i, (a, later) in enumerate(zip(served, served[1:])) if later < a)  # the countdown went back
    assert served[back] >= 1195 and served[back + 1] < 5, served
    events = read_events(r.log)
    restarted = next(e for e in events if e["kind"] == "lockout" and e.get("what") == "restarted")
    assert 1195 <= restarted["lost"] <= 1205                      # the 20 minutes before it, in the record
    p = PROFILES["vw-safe"]
    assert measurement(r)["to"] >= p.lockout.wait + p.lockout_margin(p.lockout.wait)  # counted afresh, all of it
    assert lockout_row(b)["end_reason"] == "served"


def test_a_long_sag_mid_wait_pauses_a_unit_whose_wait_pauses(tmp_path, write_yaml):
    """Becker (rail_off: pause), with no amp-remote wired: its supply sags for 10 min, 20 min in.
    Its timer stood still while it was off; the rig, which saw only the display go dark and the
    splash come, must not count those minutes."""
    b = _bench(tmp_path, write_yaml, "becker-mercedes", "1234", amp_wired=False, **SPLASH,
               rail_fault={"rail": "acc", "kind": "sag", "after": 1200, "for": 600})
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    assert b.unit.lockout_left is None and not b.unit.locked_out
    assert any("wait pauses while it is off" in line for line in b.lines), b.lines
    paused = next(e for e in read_events(r.log) if e["kind"] == "lockout" and e.get("what") == "paused")
    assert paused["lost"] >= 600                                   # the dark minutes are not counted


def test_a_brown_out_with_the_amp_remote_wired_pauses_the_count_exactly(tmp_path, write_yaml):
    b = _bench(tmp_path, write_yaml, "becker-mercedes", "1234", **SPLASH,
               rail_fault={"rail": "acc", "kind": "sag", "after": 1200, "for": 600})
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    assert b.unit.lockout_left is None
    started = next(e["t"] for e in read_events(r.log) if e["kind"] == "wait")
    m = measurement(r)
    p = PROFILES["becker-mercedes"]
    total = p.lockout.wait + p.lockout_margin(p.lockout.wait)
    assert m["to"] == pytest.approx(total, abs=1)
    assert m["t"] - started >= total + 600                           # the 10 dark minutes on top


@pytest.mark.parametrize("amp_wired", [True, False], ids=["amp-remote wired", "display only"])
def test_a_brown_out_keeps_every_minute_served_before_it(tmp_path, write_yaml, amp_wired):
    """Becker (rail_off: pause) shows WAIT, unchanged, for 20 min, then its supply sags for 10 min.
    The count takes back only what it counted while the unit was off: nothing once the amp-remote
    was seen to fall, else the time since its display went dark - never the 20 served minutes
    before (it took them back: the wait ran 20 min longer than the unit's)."""
    b = _bench(tmp_path, write_yaml, "becker-mercedes", "1234", amp_wired=amp_wired, **SPLASH,
               rail_fault={"rail": "acc", "kind": "sag", "after": 1200, "for": 600})
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    events = read_events(r.log)
    paused = next(e for e in events if e["kind"] == "lockout" and e.get("what") == "paused")
    assert paused["lost"] == (0.0 if amp_wired else pytest.approx(600 + SPLASH["boot_delay"]))
    p = PROFILES["becker-mercedes"]
    total = p.lockout.wait + p.lockout_margin(p.lockout.wait)
    started = next(e["t"] for e in events if e["kind"] == "wait")
    assert measurement(r)["t"] - started <= total + 600 + 5                 # the dark minutes, and a boot


# -- the ledger's lockout closes only when the unit proves it ------------------------------
def test_a_lockout_closes_only_on_the_units_proof(tmp_path, write_yaml):
    """A Ford whose timer runs 10 % slow: the rig's count ends before the unit's does. It keeps
    waiting while the display shows WAIT, and the ledger closes the lockout on CODE - - - -."""
    b = _bench(tmp_path, write_yaml, "ford", "2580", timer_drift=0.10)
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    assert b.unit.lockout_left is None
    row = lockout_row(b)
    assert row["ended"] is not None and row["end_reason"] == "display"
    assert measurement(r)["to"] >= 1800 * 1.10 - 1                   # as long as the unit took, not the count
    assert b.standing().left == 1 and b.standing().lockout is None


def test_a_lockout_the_unit_never_proves_over_stays_open(tmp_path, write_yaml):
    """The unit's real wait is 2 h where the notes say 30 min: after another whole wait of
    WAIT the rig stops, and the ledger still holds the lockout open."""
    from .safety_support import SimBench, write_profile

    b = SimBench(tmp_path, "ford", "2580", state="lockout", attempts=3)
    led = b.ledger()
    led.add_unit(b.SERIAL, "ford")
    led.set_attempts_used(b.SERIAL, 3, PROFILES["ford"], "arrived locked out")
    led.close()
    really = load_profiles([write_profile(tmp_path / "the-units-truth", "ford.md", None, wait='"2h"')])
    r = b.run("lockout-wait", sim_profiles=really)
    assert (r.outcome, r.exit_code) == ("failed", 1), r.message
    assert "the display still shows 'WAIT" in r.message and "the lockout stays open in the ledger" in r.message
    led = b.ledger()
    row = led.lockouts(b.SERIAL)[-1]
    led.close()
    assert row["ended"] is None
    st = b.standing()
    assert st.lockout is not None and st.left == 0


def test_without_a_tap_the_technician_proves_the_end_or_the_lockout_stays_open(tmp_path, write_yaml):
    """No display tap: when the count is done, the rig asks whether the Ford shows its ready
    display. "No" is no proof: the run fails and the ledger keeps the lockout open; "yes" closes it."""
    text = open(load_wiring().source).read()
    blind = load_wiring(write_yaml(text.split("display:")[0] + "timing:" + text.split("timing:")[1]))
    b = Bench(tmp_path, "ford", "2580", wiring=blind, state="lockout", attempts=3, ideal=True)
    arrived_locked_out(b)
    asked = []

    def technician(says):
        def answer(question, kind):
            asked.append(question)
            if question.startswith("What does the display show"):
                return "CODE - - - -"
            return says if question.startswith("Does the display show its ready display") else "y"
        return lambda bench, redact: Plain(redact, stream=_Lines(b.lines), ask=answer)

    no = b.run("lockout-wait", ui=technician("n"))
    assert (no.outcome, no.exit_code) == ("failed", 1), no.message
    assert "the operator does not see the ready display" in no.message and "stays open" in no.message
    assert lockout_row(b)["ended"] is None and b.standing().lockout is not None
    yes = b.run("lockout-wait", ui=technician("y"))
    assert yes.outcome == "passed", yes.message
    assert lockout_row(b)["end_reason"] == "display"
    assert sum(q.startswith("Does the display show its ready display") for q in asked) == 2  # once a run


def test_a_unit_whose_display_says_it_still_waits_is_refused_a_code(tmp_path, write_yaml):
    """The ledger knows no lockout (a rig that closed it too early, a record typed in), but the
    Ford shows WAIT: no key is pressed, and the refusal says why."""
    b = Bench(tmp_path, "ford", "2580", state="lockout", attempts=3, ideal=True)
    led_unit = b.run("enter-code", "2580")   # the ledger has the unit with every attempt left
    assert (led_unit.outcome, led_unit.exit_code) == ("refused", 3), led_unit.message
    assert "shows 'WAIT" in led_unit.message and "lockout-wait" in led_unit.message
    assert b.presses("preset1") == b.presses("preset5") == 0
    assert b.unit.wrong_total == 3                                # the unit counted nothing new


# -- a margin for timers that drift ------------------------------------------------------
def test_a_timer_5_percent_slow_is_waited_out_where_only_time_ends_the_wait(tmp_path, write_yaml):
    """vw-safe shows SAFE before and after its hour: the margin is all there is. Its notes give
    no measured one, so the rig allows for a timer up to 10 % slow (the old 2 % + 30 s lost the
    wait, and with rail_off: restart, the whole hour at the release)."""
    b = _bench(tmp_path, write_yaml, "vw-safe", "5173", timer_drift=0.05)
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    assert b.unit.lockout_left is None and not b.unit.locked_out
    assert any("no measured margin" in line for line in b.lines)
    assert b.run("enter-code", "5173", allow_lockout=True).outcome == "passed"


def test_a_margin_measured_on_the_bench_is_the_one_used(tmp_path, write_yaml, monkeypatch):
    """README: a bench that timed its unit writes the margin, with where it comes from, into a
    profile of its own; a sourced margin is used as it is."""
    notes = tmp_path / "bench-notes"
    notes.mkdir()
    (notes / "vw-safe-bench3.md").write_text(
        "---\nfamily: vw-safe-bench3\ntitle: the VW on bench 3\nprofiles:\n  - id: vw-safe-bench3\n"
        "    extends: vw-safe\n    confidence: assumed\n    lockout:\n"
        "      margin: {value: \"3% + 30s\", confidence: single-report, source: \"timed on bench 3, 2 Dec 2026\"}\n"
        "---\n")
    monkeypatch.setenv("RIG_PROFILES", str(notes))
    p = load_profiles()["vw-safe-bench3"]
    assert p.margin_sourced and p.lockout_margin(3600) == 138.0
    assert load_profiles()["vw-safe"].lockout_margin(3600) == 420.0


@pytest.mark.parametrize("amp_wired", [True, False], ids=["amp-remote wired", "display only"])
def test_a_unit_that_proves_its_end_is_waited_for_past_the_margin_only_time_would_get(tmp_path, write_yaml,
                                                                                       amp_wired):
    """A Ford whose timer runs 15 % slow, past the 10 % a wait only time can end allows: its display
    proves the end (with or without an amp-remote lead), so the rig waits for CODE - - - - however
    long the unit takes, and never closes the lockout on its own count while the unit shows WAIT."""
    b = _bench(tmp_path, write_yaml, "ford", "2580", amp_wired=amp_wired, timer_drift=0.15)
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    assert b.unit.lockout_left is None and not b.unit.locked_out
    assert lockout_row(b)["end_reason"] == "display"
    assert measurement(r)["to"] >= 1800 * 1.15 - 1


def test_a_bench_that_cannot_see_the_unit_come_on_counts_from_its_whole_boot_allowance(tmp_path, write_yaml):
    """No amp-remote lead, no tap: nothing shows the Ford wake, so the wait counts from its boot
    allowance after power, never from the relay's click (time it spent booting is not served)."""
    text = open(load_wiring().source).read()
    text = re.sub(r"\n  unit_on:.*?\n(?=  \w)", "\n", text, flags=re.S)
    blind = load_wiring(write_yaml(text.split("display:")[0] + "timing:" + text.split("timing:")[1]))
    b = Bench(tmp_path, "ford", "2580", wiring=blind, state="lockout", attempts=3, ideal=True)
    arrived_locked_out(b)
    answer = lambda question, kind: "CODE - - - -" if question.startswith("What does") else "y"  # noqa: E731
    r = b.run("lockout-wait", ui=lambda bench, redact: Plain(redact, stream=_Lines(b.lines), ask=answer))
    assert r.outcome == "passed", r.message
    events = read_events(r.log)
    acc_on = next(e["t"] for e in events if e["kind"] == "rail" and e["what"] == "acc" and e["to"] == "on")
    counting = next(e for e in events if e["kind"] == "lockout" and e["what"] == "counting")
    assert counting["since"] == pytest.approx(acc_on + PROFILES["ford"].lockout.boot_within)
    assert measurement(r)["t"] - acc_on >= PROFILES["ford"].lockout.boot_within + measurement(r)["to"]


def test_a_locked_display_never_proves_a_lockout_over_where_the_profile_names_no_ready(tmp_path, write_yaml):
    """Becker names no `ready` display (its end display, CODE ****, is assumed in its notes). A
    unit that browns out mid-wait and comes back showing CODE **** for a moment before WAIT has
    not served its wait: its locked display is what it shows at every boot, so only time (with
    the unproven margin) ends the wait, and the ledger closes the lockout on that."""
    p = PROFILES["becker-mercedes"]
    assert "ready" not in p.display and p.wait_proof == "time"
    assert p.templates("ready") == p.templates("locked")  # still recognised as the unit's own display
    b = _bench(tmp_path, write_yaml, "becker-mercedes", "1234", boot_delay=1.2, splash="CODE ****", splash_for=3.0,
               amp_remote_delay=0.5, rail_fault={"rail": "acc", "kind": "sag", "after": 600, "for": 5})
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    assert b.unit.lockout_left is None and not b.unit.locked_out  # the unit itself is out of its wait
    assert lockout_row(b)["end_reason"] == "served"
    assert measurement(r)["to"] >= p.lockout.wait + p.lockout_margin(p.lockout.wait) - 1


def test_a_unit_already_showing_its_ready_display_closes_the_lockout_on_it_once_the_wait_is_served(tmp_path):
    """The ledger holds the Ford's lockout open, but the unit already shows CODE - - - - when the
    wait starts (it sat its wait out off the bench): no change of display comes to end the wait,
    so the count runs out first, and the lockout then closes on what the display shows."""
    b = Bench(tmp_path, "ford", "2580", state="locked", attempts=0, ideal=True)
    arrived_locked_out(b)
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    assert lockout_row(b)["end_reason"] == "display"
    p = PROFILES["ford"]
    assert measurement(r)["to"] == pytest.approx(p.lockout.wait + p.lockout_margin(p.lockout.wait, "display"), abs=1)
