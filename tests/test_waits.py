"""The lockout wait on an imperfect bench: it never ends early, it says what it kept, it sees a bad supply.

Each unit here is given the faults a real one has (the simulated unit's knobs):
an amp-remote that rises late or never, a drifting timer, a fuse that blows, a
supply that folds back, a welded relay. The rig must never close a lockout the
unit is still in.
"""

import pytest

from rig.records.ledger import Ledger
from rig.unit.profiles import load_profiles
from rig.records.report import read_events
from rig.bench.signals import Terminated
from rig.cli.ui import Plain
from rig.bench.wiring import load_wiring

from .simbench import Bench, _Lines

PROFILES = load_profiles()


def arrived_locked_out(b: Bench) -> None:
    """The unit reached the bench in its lockout, and the technician told the ledger so."""
    p = PROFILES[b.profile]
    led = Ledger(b.ledger)
    led.add_unit("U1", b.profile)
    led.set_attempts_used("U1", p.attempts.before_lockout, p, "arrived locked out")
    led.close()


def locked_out_unit(tmp_path, profile, code, **knobs) -> Bench:
    p = PROFILES[profile]
    b = Bench(tmp_path, profile, code, state="lockout", attempts=p.attempts.before_lockout,
              ideal=knobs.pop("ideal", False), knobs=knobs)
    arrived_locked_out(b)
    return b


def measurement(result) -> dict:
    return next(e for e in read_events(result.log) if e["kind"] == "measurement")


def lockout_row(b: Bench) -> dict:
    led = Ledger(b.ledger)
    try:
        return led.lockouts("U1")[-1]
    finally:
        led.close()


def ledger_dump(path) -> list[str]:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return [line for line in db.iterdump() if "sqlite_sequence" not in line]
    finally:
        db.close()


@pytest.mark.parametrize("delay", [0.3, 2.0])
@pytest.mark.parametrize("profile, code", [("vw-safe", "5173"), ("ford", "2580")])
def test_a_late_amp_remote_never_ends_the_wait_early(tmp_path, profile, code, delay):
    p = PROFILES[profile]
    b = locked_out_unit(tmp_path, profile, code, ideal=True, boot_delay=1.0, amp_remote_delay=delay)
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    m = measurement(r)
    if m["ended"] == "display":          # Ford shows its ready text: the unit itself says it is over
        assert m["to"] >= p.lockout.wait
    else:                                # VW shows SAFE before and after: only the full wait + margin will do
        assert m["ended"] == "served" and m["to"] >= p.lockout.wait + p.lockout_margin(p.lockout.wait)
    assert b.unit.lockout_left is None   # the simulated unit's own truth: it is out of its lockout
    row = lockout_row(b)
    assert row["ended"] is not None and row["end_reason"] == m["ended"]


def test_the_count_starts_when_the_unit_is_seen_on_not_at_the_relay_click(tmp_path):
    b = locked_out_unit(tmp_path, "vw-safe", "5173", ideal=True, boot_delay=1.5, amp_remote_delay=0.5)
    r = b.run("lockout-wait")
    events = read_events(r.log)
    acc_on = next(e["t"] for e in events if e["kind"] == "rail" and e["what"] == "acc" and e["to"] == "on")
    counting = next(e for e in events if e["kind"] == "lockout" and e["what"] == "counting")
    assert counting["since"] - acc_on == pytest.approx(1.5, abs=0.01)  # its first display line, not the click


def test_an_amp_remote_that_never_rises_on_a_bench_without_a_tap_fails_and_counts_nothing(tmp_path, write_yaml):
    text = open(load_wiring().source).read()
    blind = write_yaml(text.split("display:")[0] + "timing:" + text.split("timing:")[1])
    b = Bench(tmp_path, "vw-safe", "5173", wiring=load_wiring(blind), state="lockout", attempts=2, ideal=True,
              knobs={"amp_remote": "stuck_low"})
    arrived_locked_out(b)
    before = lockout_row(b)
    r = b.run("lockout-wait")
    assert (r.outcome, r.exit_code) == ("failed", 1)
    assert "the unit never came on" in r.message and "amp-remote wire and the fuse" in r.message
    assert lockout_row(b) == before      # not a second of lockout time, and the lockout stays open


def test_an_amp_remote_that_stays_low_while_locked_still_counts_through_the_display(tmp_path):
    b = locked_out_unit(tmp_path, "ford", "2580", ideal=True, amp_remote="stuck_low")
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    assert b.unit.lockout_left is None


@pytest.mark.parametrize("profile, code", [("vw-safe", "5173"), ("ford", "2580")])
def test_a_unit_whose_timer_runs_2_percent_slow_is_out_of_its_lockout_when_the_run_says_so(tmp_path, profile, code):
    b = locked_out_unit(tmp_path, profile, code, timer_drift=0.02)
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    assert b.unit.lockout_left is None and not b.unit.locked_out
    assert b.run("enter-code", code, allow_lockout=True).outcome == "passed"


def test_the_backend_with_nothing_attached_cannot_pass_a_lockout_wait(run_rig, tmp_path):
    r = run_rig("--backend", "mock", "run", "lockout-wait", "--profile", "vw-safe", "--unit", "X", "--new-unit",
                env={"RIG_CLOCK": "virtual"})
    assert r.returncode != 0, r.stdout + r.stderr
    assert "PASSED" not in r.stderr
    led = Ledger(tmp_path / "ledger.sqlite")
    assert [lk for lk in led.lockouts("X") if lk["ended"]] == []


@pytest.mark.parametrize("profile, kept", [("vw-safe", "lost"), ("becker-mercedes", "kept")])
def test_a_fuse_that_blows_mid_wait_stops_the_run_with_honest_served_time(tmp_path, profile, kept):
    p = PROFILES[profile]
    b = locked_out_unit(tmp_path, profile, "1234", ideal=True,
                        rail_fault={"rail": "acc", "kind": "fuse", "after": 600})
    r = b.run("lockout-wait")
    assert (r.outcome, r.exit_code) == ("failed", 1)
    assert "no voltage at the connector" in r.message and "fuse" in r.message
    served = measurement(r)["to"]
    assert 590 <= served <= 600.5                 # what was powered before the fuse went, no more
    row = lockout_row(b)
    assert row["ended"] is None                   # still locked out, and the ledger says so
    if kept == "lost":                            # vw-safe starts over after a power loss
        assert row["powered"] == 0 and "the served time is lost" in r.message
        assert p.lockout.rail_off == "restart"
    else:
        assert row["powered"] == pytest.approx(served, abs=0.01) and "is kept in the ledger" in r.message


def test_a_supply_that_folds_back_when_acc_switches_on_stops_before_any_wait(tmp_path):
    b = locked_out_unit(tmp_path, "vw-safe", "5173", ideal=True,
                        rail_fault={"rail": "acc", "kind": "foldback", "for": 3})
    r = b.run("lockout-wait")
    assert r.outcome == "failed"
    assert "battery is switched on but there is no voltage at the connector" in r.message
    assert lockout_row(b)["powered"] == 0


def test_a_welded_acc_relay_is_caught(tmp_path, write_yaml):
    proc = write_yaml("name: click\nsteps:\n  - power: {acc: on}\n  - power: {acc: off}\n  - wait: 5s\n",
                      "click.yaml")
    b = Bench(tmp_path, "vw-safe", "5173", ideal=True, knobs={"rail_fault": {"rail": "acc", "kind": "welded"}})
    r = b.run(str(proc))
    assert (r.outcome, r.exit_code) == ("failed", 1)
    assert "acc is switched off but the connector (A7) still has voltage" in r.message and "welded" in r.message


class CtrlC(Plain):
    """A technician who presses Ctrl-C (or a CI runner that sends SIGTERM) once the wait has run a while."""

    def __init__(self, lines, at: float, times: int, exc=KeyboardInterrupt):
        super().__init__(stream=_Lines(lines))
        self.at, self.left, self.exc = at, times, exc

    def progress(self, label, served, total, done=False):
        if label.startswith("lockout wait") and served >= self.at and self.left and not done:
            self.left -= 1
            raise self.exc()
        return super().progress(label, served, total, done)


def test_one_ctrl_c_on_a_wait_that_restarts_asks_first_and_the_wait_goes_on(tmp_path):
    b = locked_out_unit(tmp_path, "vw-safe", "5173", ideal=True)
    r = b.run("lockout-wait", ui=lambda bench, redact: CtrlC(b.lines, at=900, times=1))
    assert r.outcome == "passed", r.message
    assert any("throws away 15:00 of powered time" in line.lower() and "again within 5 s" in line.lower()
               for line in b.lines)
    assert measurement(r)["to"] >= 3600


def test_two_ctrl_c_stop_and_say_the_served_time_is_lost(tmp_path):
    b = locked_out_unit(tmp_path, "vw-safe", "5173", ideal=True)
    r = b.run("lockout-wait", ui=lambda bench, redact: CtrlC(b.lines, at=900, times=2))
    assert (r.outcome, r.exit_code) == ("interrupted", 130)
    assert "the served time (15:00) is lost" in r.message
    assert lockout_row(b)["powered"] == 0 and lockout_row(b)["ended"] is None


def test_sigterm_stops_a_restarting_wait_at_once(tmp_path):
    b = locked_out_unit(tmp_path, "vw-safe", "5173", ideal=True)
    r = b.run("lockout-wait", ui=lambda bench, redact: CtrlC(b.lines, at=900, times=1, exc=Terminated))
    assert r.outcome == "interrupted" and "is lost" in r.message
    assert not any("again within" in line for line in b.lines)


def test_ctrl_c_on_a_wait_that_pauses_stops_at_once_and_keeps_the_time(tmp_path):
    b = locked_out_unit(tmp_path, "becker-mercedes", "1234", ideal=True)
    r = b.run("lockout-wait", ui=lambda bench, redact: CtrlC(b.lines, at=900, times=1))
    assert r.outcome == "interrupted"
    assert "15:00 of 1:00:00 served is kept; the same command resumes the wait" in r.message
    assert 900 <= lockout_row(b)["powered"] < 901


def test_lockout_wait_on_a_unit_that_is_not_locked_out_is_refused_and_changes_nothing(tmp_path):
    b = Bench(tmp_path, "renault", "1234", ideal=True)      # Renault's waits double: a made-up one would cost
    led = Ledger(b.ledger)
    led.add_unit("U1", "renault")
    led.close()
    before = ledger_dump(b.ledger)
    r = b.run("lockout-wait")
    assert (r.outcome, r.exit_code) == ("refused", 3)
    assert "shows no lockout for U1" in r.message and "rig units set U1 --attempts-used" in r.message
    assert "a renault shows when it is locked, too" in r.message
    unit_rows = lambda dump: [x for x in dump if not x.startswith('INSERT INTO "runs"')]  # the refused run is history
    after = ledger_dump(b.ledger)
    assert unit_rows(after) == unit_rows(before) and not [x for x in after if x.startswith('INSERT INTO "lockouts"')]


def test_a_unit_that_switches_itself_off_ends_its_wait_only_after_the_hour(tmp_path):
    b = locked_out_unit(tmp_path, "vw-safe-seed", "5173", ideal=True, amp_remote_delay=0.5)
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    m = measurement(r)
    assert m["ended"] == "power_off" and m["to"] >= 3600 * (1 - PROFILES["vw-safe-seed"].lockout.tolerance)
    assert lockout_row(b)["end_reason"] == "power_off"
    assert b.run("enter-code", "5173", allow_lockout=True).outcome == "passed"


def test_a_unit_that_ends_its_wait_by_switching_off_is_waited_for_past_the_margin(tmp_path):
    """Its timer 15 % slow: the count and its margin are done long before it switches itself off,
    and only that proves the wait over - the rig waits for it rather than give up at its count."""
    b = locked_out_unit(tmp_path, "vw-safe-seed", "5173", ideal=True, timer_drift=0.15)
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    assert measurement(r)["ended"] == "power_off" and measurement(r)["to"] >= 3600 * 1.15 - 1
    assert lockout_row(b)["end_reason"] == "power_off"


def test_a_unit_that_switches_off_long_before_its_hour_has_not_served_it(tmp_path):
    """Its supply sags for 10 min, 20 min in: the amp-remote falls and stays down past off_settle,
    which is how it says "over", but an hour has not been served. The run stops with what to
    check, and the ledger keeps the lockout open."""
    b = locked_out_unit(tmp_path, "vw-safe-seed", "5173", ideal=True,
                        rail_fault={"rail": "acc", "kind": "sag", "after": 1200, "for": 600})
    r = b.run("lockout-wait")
    assert (r.outcome, r.exit_code) == ("failed", 1), r.message
    assert "the unit switched itself off after only 20:00 of powered time" in r.message
    assert "Check the supply and the amp-remote wire" in r.message
    assert lockout_row(b)["ended"] is None and b.standing().lockout is not None
