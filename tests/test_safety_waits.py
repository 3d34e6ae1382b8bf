"""Lockout waits: never shorter than the unit needs, and what was served is what the ledger keeps.

How long a wait really lasted is read off the pins (how long the rails it
needs were on) and checked against the profile and the ledger's lockout rows.
A wait that ended early means the next code is entered into a unit that is
still locked out - a wasted attempt at best.
"""

from __future__ import annotations

import os
import sys
import textwrap

import pytest

from rig.run.waits import CHECKPOINT_VIRTUAL, CHECKPOINTS_PER_WAIT

from rig.bench.clock import VirtualClock
from rig.unit.profiles import load_profiles
from rig.records.report import read_events

from .safety_support import SimBench, sigkill_when_stopped


def _lockouts(b):
    led = b.ledger()
    try:
        return led.lockouts(b.SERIAL)
    finally:
        led.close()


def _wait_started(log) -> float:
    return next(e["t"] for e in read_events(log) if e["kind"] == "wait")


def _served_lockout(b, r):
    """Seconds the lockout's rails were all on during the run, from the pins."""
    p = load_profiles()[b.profile]
    return min(b.tape.on_time(rail) for rail in p.lockout.rails)


# -- lockouts that grow ------------------------------------------------------------
def test_the_nth_lockout_wait_follows_the_profile():
    profiles = load_profiles()
    renault, opel = profiles["renault"], profiles["vauxhall-opel"]
    assert [renault.lockout_wait(n) for n in (1, 2, 3, 4)] == [300, 600, 1200, 2400]
    assert [opel.lockout_wait(n) for n in (1, 2, 3)] == [10, 30, 600]
    assert opel.lockout_wait(9) == opel.lockout_wait(12) == 38400  # after the list the last one repeats
    assert profiles["ford"].lockout_wait(5) == 1800


def _after_one_lockout(tmp_path, **unit):
    """A renault unit that has sat out its first 5-minute lockout, by the ledger and by itself."""
    b = SimBench(tmp_path, "renault", "1234")
    b.edit_unit(**{"lockouts": 1, **unit})
    led = b.ledger()
    try:
        led.add_unit(b.SERIAL, "renault")
        led.resolve_attempt(led.begin_attempt(b.SERIAL, None), "rejected")
        led.end_lockout(led.start_lockout(b.SERIAL, 300, None))
    finally:
        led.close()
    return b


def test_a_wrong_code_after_a_lockout_opens_the_second_longer_wait_and_it_is_sat_out_whole(tmp_path):
    b = _after_one_lockout(tmp_path)
    refused = b.run("enter-code", "4321")
    assert refused.outcome == "refused" and "10:00 powered wait" in refused.message, refused.message
    r = b.run("enter-code", "4321", allow_lockout=True)
    assert r.outcome == "failed", r.message
    assert "a wrong code starts a 10:00 lockout" in b.screen.text().lower()
    assert [lk["wait"] for lk in _lockouts(b)] == [300, 600]
    assert b.unit.lockout_left == 600  # the unit's own second wait
    waited = b.run("lockout-wait")
    assert waited.outcome == "passed", waited.message
    assert _served_lockout(b, waited) >= 600
    second = _lockouts(b)[1]
    assert second["ended"] is not None and 600 <= second["powered"] <= 602


def test_a_second_lockout_the_ledger_did_not_know_of_is_waited_out_whole(tmp_path):
    b = _after_one_lockout(tmp_path, lockouts=2, wrong_in_window=1, lockout_left=600.0)
    refused = b.run("lockout-wait")  # Renault shows CODE locked and locked out: its display proves nothing
    assert refused.outcome == "refused" and "proves no lockout" in refused.message
    led = b.ledger()
    try:  # the technician records what the unit has used; its second lockout opens, twice as long
        led.set_attempts_used(b.SERIAL, 1, load_profiles()["renault"], "a second wrong code before the bench")
    finally:
        led.close()
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    assert [lk["wait"] for lk in _lockouts(b)] == [300, 600]
    assert _served_lockout(b, r) >= 600
    assert b.unit.lockout_left is None


def test_a_third_lockout_the_display_shows_is_the_profiles_third_wait(tmp_path):
    # becker-mercedes-long: 20 min, 20 min, then 24 h. The unit shows WAIT (not its CODE lock text),
    # which proves the lockout the ledger has not heard of; the rig must open the 24 h one.
    b = SimBench(tmp_path, "becker-mercedes-long", "1234", state="lockout")
    b.edit_unit(lockouts=3, lockout_left=86400.0)
    led = b.ledger()
    try:
        led.add_unit(b.SERIAL, "becker-mercedes-long")
        for _ in range(2):
            led.resolve_attempt(led.begin_attempt(b.SERIAL, None), "rejected")
            led.end_lockout(led.start_lockout(b.SERIAL, 1200, None))
    finally:
        led.close()
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    assert [lk["wait"] for lk in _lockouts(b)] == [1200, 1200, 86400]
    assert _served_lockout(b, r) >= 86400
    assert b.unit.lockout_left is None


# -- a wait that restarts after power loss -------------------------------------------
def test_a_wait_that_restarts_after_power_loss_does_not_resume_old_progress(tmp_path):
    # Ford's timer starts over when it loses power; the ledger remembers 1000 s from an earlier run.
    b = SimBench(tmp_path, "ford", "2580", state="lockout")
    led = b.ledger()
    try:
        led.add_unit(b.SERIAL, "ford")
        led.add_powered(led.start_lockout(b.SERIAL, 1800, None), 1000)
    finally:
        led.close()
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    served = _served_lockout(b, r)
    assert 1800 <= served <= 1815
    assert "starts over after a power loss" in b.screen.text()
    (lk,) = _lockouts(b)
    assert lk["ended"] is not None and 1800 <= lk["powered"] <= 1802  # what was served, not 1000 + it


# -- powered-time checkpoints ----------------------------------------------------------
_STOP_AT_TIME = r"""
import os, signal, sys
import rig.bench.clock as clock

STOP = float(os.environ["STOP_AT_T"])
_now = clock.VirtualClock.now
_fired = []

def now(self):
    t = _now(self)
    if t >= STOP and not _fired:
        _fired.append(t)
        os.kill(os.getpid(), signal.SIGSTOP)  # mid-wait: the parent kills us here
    return t

clock.VirtualClock.now = now
from rig.cli import main
sys.exit(main())
"""


def test_sigkill_mid_wait_loses_at_most_a_minute_of_served_time(tmp_path):
    from rig.sim.backend import reset_unit

    reset_unit(tmp_path / "unit.json", "becker-mercedes", "1234", state="lockout", attempts=3, ideal=True)
    env = dict(os.environ, RIG_SIM_STATE=str(tmp_path / "unit.json"), RIG_LEDGER=str(tmp_path / "l.sqlite"),
               RIG_LOG_DIR=str(tmp_path / "runs"), STOP_AT_T="1000", XDG_DATA_HOME=str(tmp_path / "data"))
    sigkill_when_stopped([sys.executable, "-c", _STOP_AT_TIME, "--backend", "sim", "run", "lockout-wait",
                          "--profile", "becker-mercedes", "--unit", "U1", "--new-unit"], env)
    served = 1000 - _wait_started(next((tmp_path / "runs").glob("*.jsonl")))
    from rig.records.ledger import Ledger

    led = Ledger(tmp_path / "l.sqlite")
    try:
        (lk,) = led.lockouts("U1")
    finally:
        led.close()
    assert lk["ended"] is None
    # the virtual clock checkpoints a few times a wait (a real one every 30 s): that is all a kill can lose
    p = load_profiles()["becker-mercedes"]
    every = max(CHECKPOINT_VIRTUAL, (3600 + p.lockout_margin(3600)) / CHECKPOINTS_PER_WAIT)
    assert served - every - 1 <= lk["powered"] <= served + 1, (lk["powered"], served)


class _CtrlCAt(VirtualClock):
    """A virtual clock at which the technician presses Ctrl-C once, at time ``at`` (as a signal
    would: it lands in whatever sleep spans that moment)."""

    def __init__(self, at: float):
        super().__init__()
        self.at, self.fired = at, False

    def sleep_until(self, deadline: float) -> None:
        if not self.fired and self.now() <= self.at < deadline:
            super().sleep_until(self.at)
            self.fired = True
            raise KeyboardInterrupt
        super().sleep_until(deadline)


def test_ctrl_c_mid_wait_keeps_every_second_served_and_the_next_run_serves_only_the_rest(tmp_path):
    b = SimBench(tmp_path, "becker-mercedes", "1234", state="lockout", attempts=3)
    first = b.run("lockout-wait", clock=_CtrlCAt(1230.5))  # between two periodic saves
    assert first.outcome == "interrupted", first.message
    served = 1230.5 - _wait_started(first.log)  # every rail the wait needs was on from its start
    (lk,) = _lockouts(b)
    assert served - 1.5 <= lk["powered"] <= served + 0.5, (lk["powered"], served)
    second = b.run("lockout-wait")
    assert second.outcome == "passed", second.message
    full = 3600 + load_profiles()["becker-mercedes"].lockout_margin(3600)  # Becker's WAIT proves nothing: all of it
    assert full - lk["powered"] - 2 <= _served_lockout(b, second) <= full - lk["powered"] + 15
    (lk,) = _lockouts(b)
    assert lk["ended"] is not None and full - 1 <= lk["powered"] <= full + 2


# -- wait end conditions ------------------------------------------------------------------
def _procedure(tmp_path, name, wait_until):
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: {name}
        needs: [profile]
        steps:
          - power: {{battery: on, acc: on}}
          - name: soak
            wait_until: {wait_until}
        """))
    return str(path)


def test_a_wait_ends_when_its_condition_is_met_not_at_its_maximum(tmp_path):
    b = SimBench(tmp_path, "ford", "2580", state="lockout")  # shows WAIT for 30 min, then its ready display
    proc = _procedure(tmp_path, "soak-until-ready",
                      "{label: soak, rails: [battery, acc], max: 2h, until: {display: ready}}")
    r = b.run(proc)
    assert r.outcome == "passed", r.message
    assert 1800 <= b.tape.on_time("acc") <= 1815
    measured = next(e for e in read_events(r.log) if e["kind"] == "measurement")
    assert measured["ended"] == "condition"


@pytest.mark.parametrize("on_max, outcome", [("failed", "failed"), ("passed", "passed")])
def test_a_wait_that_reaches_its_maximum_ends_as_on_max_says(tmp_path, on_max, outcome):
    b = SimBench(tmp_path, "vw-safe", "5173")
    proc = _procedure(tmp_path, "soak-until-never",
                      f"{{label: soak, rails: [acc], max: 1min, until: {{display: NEVER SHOWN}}, on_max: {on_max}}}")
    r = b.run(proc)
    assert r.outcome == outcome, r.message
    if outcome == "failed":
        assert "soak: nothing happened within 1:00 of powered time" in r.message
    assert 60 <= b.tape.on_time("acc") <= 62


# -- a realistic unit ------------------------------------------------------------------------
def _sat_out_whole(b, r, wait):
    (lk,) = _lockouts(b)
    assert r.outcome == "passed", r.message
    assert b.unit.lockout_left is None, "the rig ended the wait with the unit still locked out"
    assert lk["ended"] is not None and lk["powered"] >= wait
    assert _served_lockout(b, r) >= wait


@pytest.mark.parametrize("knobs", [{"amp_remote_delay": 0.5}, {"boot_delay": 1.2}], ids=["late-amp-remote", "boot"])
def test_a_unit_that_boots_slowly_is_waited_out_whole(tmp_path, knobs):
    b = SimBench(tmp_path, "ford", "2580", state="lockout", knobs=knobs)
    _sat_out_whole(b, b.run("lockout-wait"), 1800)


def test_a_unit_whose_timer_runs_slow_is_waited_for(tmp_path):
    b = SimBench(tmp_path, "ford", "2580", state="lockout", knobs={"timer_drift": 0.01})
    _sat_out_whole(b, b.run("lockout-wait"), 1800 * 1.01)


# -- a plain powered wait: only the time its rails really powered the unit -------------------------
def test_a_plain_wait_stops_when_its_rail_loses_voltage_and_counts_none_of_the_dead_time(tmp_path):
    """A soak on [acc] whose fuse blows after 10 min: the wait stops there with what it served,
    instead of counting the rest of its 2 h with the unit dead (a `rails` lost on the way into
    the wait counts every rail as powered and watches none)."""
    b = SimBench(tmp_path, "vw-safe", "5173", knobs={"rail_fault": {"rail": "acc", "kind": "fuse", "after": 600}})
    proc = _procedure(tmp_path, "soak-on-acc",
                      "{label: soak, rails: [acc], max: 2h, until: {display: NEVER SHOWN}, on_max: passed}")
    r = b.run(proc)
    assert r.outcome == "failed", r.message
    assert "soak: acc is switched on but there is no voltage at the connector" in r.message
    assert "10:00 of powered time served" in r.message
    assert b.tape.on_time("acc") < 605  # the relay let go once the dead rail was seen, not 2 h later


def _no_tap_wiring(write_yaml):
    from rig.bench.wiring import load_wiring

    text = open(load_wiring().source).read()
    return load_wiring(write_yaml(text.split("display:")[0] + "timing:" + text.split("timing:")[1]))


def test_a_wait_on_a_bench_with_no_tap_ends_on_its_sense_and_never_asks_mid_wait(tmp_path, write_yaml):
    """No display tap: the technician answers display questions. A wait checks its conditions
    at every wake-up, so it never asks there (a display condition waits for its maximum), and a
    sense condition still ends it the moment the sense says so."""
    from rig.cli.ui import Plain

    from .simbench import Bench, _Lines

    b = Bench(tmp_path, "vw-safe", "5173", wiring=_no_tap_wiring(write_yaml), ideal=True)
    asked = []
    ui = lambda bench, redact: Plain(redact, stream=_Lines(b.lines),  # noqa: E731
                                     ask=lambda question, kind: asked.append(question) or "n")
    on = _procedure(tmp_path, "until-unit-on", "{label: soak, rails: [acc], max: 1h, until: {sense: {unit_on: true}}}")
    r = b.run(on, ui=ui)
    assert r.outcome == "passed", r.message
    measured = next(e for e in read_events(r.log) if e["kind"] == "measurement")
    assert (measured["ended"], measured["to"]) == ("condition", 0.0)  # unit_on was up at once: not an hour
    shown = _procedure(tmp_path, "until-shown", "{label: soak, rails: [acc], max: 10min, until: {display: ready}}")
    r = b.run(shown, ui=ui)
    assert r.outcome == "passed", r.message
    assert asked == [], "the wait asked the technician at its wake-ups"


def test_a_plain_wait_on_a_rail_that_is_off_says_so_at_once_instead_of_waiting_forever(tmp_path):
    """Nothing counts while a powered wait's rail is off, and nothing in the wait switches it on:
    it waited for ever (50 simulated days a minute; a frozen countdown on a real bench)."""
    b = SimBench(tmp_path, "vw-safe", "5173")
    path = tmp_path / "soak-off.yaml"
    path.write_text(textwrap.dedent("""\
        name: soak-off
        needs: [profile]
        steps:
          - power: {battery: on}
          - name: soak
            wait_until: {label: soak, rails: [battery, acc], max: 1min}
        """))
    import signal
    import threading

    # should the wait hang again, a SIGTERM after 30 s unwinds it (the run ends "interrupted"), not the suite
    stop = threading.Timer(30, os.kill, (os.getpid(), signal.SIGTERM))
    stop.start()
    try:
        r = b.run(str(path))
    finally:
        stop.cancel()
    assert (r.outcome, r.exit_code) == ("failed", 1), r.message
    assert "soak: acc is switched off, and a powered wait counts only while its rails are on" in r.message
    assert b.tape.on_time("acc") == 0 and b.backend.clock.now() < 60


def test_a_rail_a_wait_does_not_need_losing_voltage_does_not_stop_it(tmp_path, write_yaml):
    """A soak on [battery, acc] on a bench whose ignition has a sense: the ignition fuse blowing does
    not stop it - the unit does not run on ignition, and a technician's soak is not failed for it.
    (A welded contact on such a rail is caught as its relay opens, by the power step's own check.)"""
    from rig.bench.wiring import load_wiring

    text = open(load_wiring().source).read()  # the CAN HAT's pins give way to an ignition sense
    text = text.split("\ncan:")[0] + "\n  ign_v:\n    pin: 23\n    pull: up\n    active: low\n    rail: ignition\n" \
        + "\ndisplay:" + text.split("\ndisplay:")[1]
    b = SimBench(tmp_path, "vw-safe", "5173", wiring=load_wiring(write_yaml(text)),
                 knobs={"rail_fault": {"rail": "ignition", "kind": "fuse", "after": 60}})
    path = tmp_path / "soak-ign.yaml"
    path.write_text("name: soak-ign\nneeds: [profile]\nsteps:\n  - power: {battery: on, acc: on, ignition: on}\n"
                    "  - name: soak\n    wait_until: {label: soak, rails: [battery, acc], max: 20min}\n")
    r = b.run(str(path))
    assert r.outcome == "passed", r.message
    assert 1200 <= b.tape.on_time("acc") <= 1202


def test_on_the_real_clock_a_stretch_that_ends_unpowered_is_not_counted(tmp_path):
    """The real clock wakes once a second and cannot know when in that second ACC's fuse blew: the
    wait counts none of that stretch (short by under a second), never a dead unit's second. A
    virtual clock that wakes as the real one does (``virtual = False``) plays it in no time."""
    from rig.bench.clock import VirtualClock

    class WakesLikeTheRealClock(VirtualClock):
        virtual = False

    b = SimBench(tmp_path, "vw-safe", "5173", knobs={"rail_fault": {"rail": "acc", "kind": "fuse", "after": 1.4}})
    proc = _procedure(tmp_path, "soak-real", "{label: soak, rails: [battery, acc], max: 1h}")
    r = b.run(proc, clock=WakesLikeTheRealClock())
    assert r.outcome == "failed" and "no voltage at the connector" in r.message, r.message
    assert r.message.endswith("1s of powered time served")  # the fuse blew 1.4 s in: not 2 s


def test_a_lockout_wait_on_a_rail_that_is_off_is_refused_before_any_time_counts(tmp_path):
    """A procedure of one's own that forgot to switch ACC on: the lockout wait names the rail
    at once, rather than waiting out a boot allowance for a unit that cannot come on."""
    b = SimBench(tmp_path, "ford", "2580", state="lockout", attempts=3)
    b.spend(3)
    path = tmp_path / "forgot-acc.yaml"
    path.write_text(textwrap.dedent("""\
        name: forgot-acc
        needs: [profile, unit]
        steps:
          - power: {battery: on}
          - name: sit it out
            wait_until: {label: lockout wait, lockout: true}
        """))
    r = b.run(str(path))
    assert (r.outcome, r.exit_code) == ("failed", 1), r.message
    assert "acc is switched off, and the lockout wait counts only while its rails are on" in r.message
    assert all(lk["powered"] == 0 for lk in _lockouts(b))


def test_a_fault_on_a_unit_whose_wait_starts_over_leaves_no_served_time_in_the_ledger(tmp_path):
    """Ford starts its wait over after a power loss: ACC's fuse blowing after a checkpoint saved
    15 served minutes loses them, in the ledger too (`rig units show` must not offer them)."""
    b = SimBench(tmp_path, "ford", "2580", state="lockout", attempts=3,
                 knobs={"rail_fault": {"rail": "acc", "kind": "fuse", "after": CHECKPOINT_VIRTUAL + 100}})
    b.spend(3)
    r = b.run("lockout-wait")
    assert r.outcome == "failed" and "the served time is lost" in r.message, r.message
    (lk,) = _lockouts(b)
    assert lk["powered"] == 0 and lk["ended"] is None
