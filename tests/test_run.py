"""Built-in procedures against the simulated unit, through the same job the CLI runs."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from xml.etree import ElementTree

import pytest

from rig.run.job import Job, run_job
from rig.records.ledger import Ledger
from rig.unit.profiles import load_profiles
from rig.records.report import read_events
from rig.records.secret import Code
from rig.sim.backend import reset_unit, sim_backend
from rig.sim.memory import UnitMemory
from rig.cli.ui import Plain
from rig.bench.wiring import load_wiring

from .simbench import Bench, _Lines, drivable


def outcomes(results):
    return [(r.outcome, r.exit_code) for r in results]


def test_vw_reproduce_wrong_then_right(tmp_path):
    b = Bench(tmp_path, "vw-safe", "5173", state="unlocked")
    rs = [b.run("reproduce-safe"), b.run("enter-code", "6284"), b.run("enter-code", "5173"),
          b.run("enter-code", "5173", allow_lockout=True)]
    assert outcomes(rs) == [("passed", 0), ("failed", 1), ("refused", 3), ("passed", 0)]
    assert "wrong code: the unit shows 'SAFE'; 1 attempt(s) left before a lockout" in rs[1].message
    assert "last attempt before U1 locks out" in rs[2].message
    assert b.unit.locked is False  # the simulated unit's own truth
    led = Ledger(b.ledger)
    assert [a["outcome"] for a in led.attempts("U1")] == ["rejected", "accepted"]
    assert [r["outcome"] for r in led.runs("U1")][::-1] == ["passed", "failed", "refused", "passed"]


def test_ford_attempts_exhausted_refused_then_lockout_wait_then_success(tmp_path):
    b = Bench(tmp_path, "ford", "2580")
    wrong = [b.run("enter-code", c, allow_lockout=True) for c in ("1111", "2222", "3333")]
    assert outcomes(wrong) == [("failed", 1)] * 3
    assert "locked out" in wrong[-1].message and "rig run lockout-wait" in wrong[-1].message
    assert b.standing().describe() == "locked out: 30:00 of 30:00 powered wait left"
    refused = b.run("enter-code", "2580")
    assert (refused.outcome, refused.exit_code) == ("refused", 3)
    assert "locked out: 30:00 of powered wait left" in refused.message
    started = time.perf_counter()
    waited = b.run("lockout-wait")
    assert waited.outcome == "passed", waited.message
    assert time.perf_counter() - started < 10
    assert sum("lockout wait (+1:06 margin): " in line for line in b.lines) >= 5  # the countdown moved
    assert "lockout over: the unit shows its ready display (CODE - - - -)" in b.lines[-1] or any(
        "lockout over: the unit shows its ready display" in line for line in b.lines)
    assert b.standing().lockout is None
    ok = b.run("enter-code", "2580", allow_lockout=True)
    assert ok.outcome == "passed", ok.message
    assert b.unit.locked is False


def test_unlock_waits_out_a_lockout_first_and_never_exceeds_attempts(tmp_path):
    b = Bench(tmp_path, "honda", "12345", state="lockout", attempts=3)
    r = b.run("unlock", "12345", allow_lockout=True)
    assert r.outcome == "passed", r.message
    events = read_events(r.log)
    steps = [e["what"] for e in events if e["kind"] == "step" and e.get("to") == "started"]
    assert steps.index("lockout wait") < steps.index("enter the code")
    assert b.unit.locked is False


def test_interrupted_lockout_wait_resumes_from_the_ledger(tmp_path):
    # Becker counts the wait only while switched on, and keeps its progress (rail_off: pause)
    b = Bench(tmp_path, "becker-mercedes", "1234", state="lockout", attempts=3)
    profile = load_profiles()["becker-mercedes"]
    assert profile.lockout.rail_off == "pause"

    class Impatient(Plain):
        def progress(self, label, served, total, done=False):
            if label.startswith("lockout wait") and served >= 900 and not done:
                raise KeyboardInterrupt  # the technician pressed Ctrl-C a quarter of an hour in
            return super().progress(label, served, total, done)

    first = b.run("lockout-wait", ui=lambda bench, redact: Impatient(redact, stream=_Lines(b.lines)),
                  junit=str(tmp_path / "first.xml"))
    assert (first.outcome, first.exit_code) == ("interrupted", 130)
    # its JUnit says how long the cut-short step ran (CI dashboards showed 0.000 s)
    case = ElementTree.parse(tmp_path / "first.xml").find("testcase[@name='lockout wait']")
    assert 900 <= float(case.get("time")) < 960 and case.find("failure").get("message") == "interrupted"
    assert "15:00 of 1:00:00 served is kept; the same command resumes the wait" in first.message
    lk = Ledger(b.ledger).open_lockout("U1")
    assert 900 <= lk["powered"] < 902
    assert 2698 <= b.unit.lockout_left <= 2700 * 1.02  # the unit paused too (its own timer drifts a little)
    second = b.run("lockout-wait")
    assert second.outcome == "passed", second.message
    assert any("resuming: 15:00 of 1:00:00 already served" in line for line in b.lines)
    events = read_events(second.log)
    started = next(e for e in events if e["kind"] == "wait")
    served = next(e for e in events if e["kind"] == "measurement")
    assert 900 <= started["served"] < 902 and served["to"] >= 3600      # never less than the hour in all
    margin = profile.lockout_margin(3600)                               # time alone ends Becker's wait
    assert served["t"] - started["t"] <= 3600 + margin - 900 + 1        # and only what was left of it
    assert b.standing().lockout is None and b.unit.lockout_left is None


def test_blind_increment_entry_with_an_operator(tmp_path, write_yaml):
    text = (load_wiring().source and open(load_wiring().source).read())
    blind = load_wiring(write_yaml(text.split("display:")[0] + "timing:" + text.split("timing:")[1]))
    assert blind.display is None
    b = Bench(tmp_path, "vw-safe", "5173", wiring=blind)
    questions = []

    def operator(question, kind):
        questions.append(question)
        return "SAFE" if question.startswith("What does the display show") else "y"

    r = b.run("enter-code", "5173", ui=lambda bench, redact: Plain(redact, stream=_Lines(b.lines), ask=operator))
    assert r.outcome == "passed", r.message
    assert b.unit.locked is False  # the presses computed from the profile's start value were right
    assert len(questions) == 2     # what it shows before entry, and the verdict: nothing else
    assert "normal radio display" in questions[-1]
    presses = {k: b.presses(k) for k in ("preset1", "preset2", "preset3", "preset4")}
    assert presses == {"preset1": 4, "preset2": 1, "preset3": 7, "preset4": 3}  # 1000 -> 5173


def test_tap_verified_entry_corrects_a_dropped_press(tmp_path):
    b = Bench(tmp_path, "vw-safe", "5173")
    mem = b.unit
    mem.drop_presses = [3]  # the unit misses the third digit press (preset1's third)
    mem.save(b.state)
    r = b.run("enter-code", "5173")
    assert r.outcome == "passed", r.message
    assert b.unit.locked is False
    events = read_events(r.log)
    # the log keeps which digit and how many presses to itself: one span, corrected
    assert [(e["kind"], e["corrected"]) for e in events if e["kind"] in ("masked", "correction")] == [("masked", True)]
    assert b.presses("preset1") == 5


def test_no_file_a_run_writes_holds_the_code(tmp_path):
    code = "5173"
    b = Bench(tmp_path, "vw-safe", code, state="unlocked")
    b.run("reproduce-safe")
    b.run("enter-code", "6284")
    b.run("enter-code", code, allow_lockout=True, junit=str(tmp_path / "junit.xml"))
    assert b.unit.locked is False
    # every file the rig wrote (the simulated unit's own memory holds a salted hash, as an EEPROM would)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith("unit.json")]
    assert any(p.suffix == ".jsonl" for p in written) and (tmp_path / "junit.xml").exists()
    import re

    for p in written:
        data = p.read_bytes()
        for digits in (code, "6284"):  # as itself, not four digits inside a longer number
            assert not re.search(rb"(?<![\d.])" + digits.encode() + rb"(?![\d.])", data), p


def test_junit_has_a_case_per_step(tmp_path):
    b = Bench(tmp_path, "vw-safe", "5173")
    r = b.run("enter-code", "6284", junit=str(tmp_path / "j.xml"))
    xml = (tmp_path / "j.xml").read_text()
    assert r.outcome == "failed"
    assert 'name="enter the code"' in xml and "<failure" in xml and "wrong code" in xml
    assert 'name="profile" value="vw-safe"' in xml


def test_read_serial_on_a_unit_that_shows_it(tmp_path):
    b = Bench(tmp_path, "honda", "12345", serial="87654321")
    r = b.run("read-serial", answers={"model": "39100-S84-A310", "vin": "1HGCG5655WA000000"})
    assert r.outcome == "passed", r.message
    recs = {x["name"]: x["value"] for x in Ledger(b.ledger).records("U1")}
    assert recs["model"] == "39100-S84-A310" and recs["vin"] == "1HGCG5655WA000000"
    assert recs["serial"] == "87654321"  # read off the display, from its two halves U8765 and L4321
    assert any("Radio code request" in line for line in b.lines)


def test_unattended_prompt_without_an_answer_fails_clearly(tmp_path):
    b = Bench(tmp_path, "vw-safe", "5173")
    r = b.run("bench-removal")
    assert r.outcome == "failed"
    assert "needs an operator" in r.message and "--yes" in r.message
    r = b.run("bench-removal", yes=True, answers={"model": "Gamma"})
    assert r.outcome == "passed", r.message


# The test's own seam (the rig has none in its production path): the child freezes itself the
# moment the attempt is counted - committed to the ledger and told - before anything else runs.
_STOP_AFTER_COUNTING = r"""
import os, signal, sys
from rig.records.events import EventBus

_emit = EventBus.emit

def emit(self, kind, what="", old=None, new=None, **data):
    event = _emit(self, kind, what, old, new, **data)
    if kind == "attempt" and new == "pending":
        os.kill(os.getpid(), signal.SIGSTOP)  # the confirm press is next
    return event

EventBus.emit = emit
from rig.cli import main
sys.exit(main())
"""


def test_sigkill_between_attempt_and_confirm_leaves_the_attempt_counted(tmp_path):
    env = dict(os.environ, RIG_SIM_STATE=str(tmp_path / "unit.json"), RIG_LEDGER=str(tmp_path / "l.sqlite"),
               RIG_LOG_DIR=str(tmp_path / "runs"), RIG_CODE="5173", XDG_DATA_HOME=str(tmp_path / "data"))
    reset_unit(tmp_path / "unit.json", "vw-safe", "5173")
    child = subprocess.Popen([sys.executable, "-c", _STOP_AFTER_COUNTING, "--backend", "sim", "run", "enter-code",
                              "--profile", "vw-safe", "--unit", "U1", "--new-unit"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until it has stopped itself just before the confirm press
        with open(f"/proc/{child.pid}/stat") as fh:
            if fh.read().split(") ")[1].startswith("T"):
                break
        time.sleep(0.02)
    else:
        child.kill()
        pytest.fail("the child never reached the confirm")
    with open(f"/proc/{child.pid}/cmdline", "rb") as fh:  # what ps and top show, mid-entry
        assert b"5173" not in fh.read()
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    db = sqlite3.connect(tmp_path / "l.sqlite")
    assert db.execute("SELECT outcome FROM attempts").fetchall() == [("pending",)]
    assert db.execute("SELECT outcome FROM runs").fetchall() == [(None,)]
    log = next((tmp_path / "runs").glob("*.jsonl"))
    events = read_events(log)
    counted = next(i for i, e in enumerate(events) if e["kind"] == "attempt")
    assert not [e for e in events[counted:] if e["kind"] == "key"]  # no confirm press after it
    # and the next run counts it: one of two attempts is used
    b = Ledger(tmp_path / "l.sqlite").standing("U1", load_profiles()["vw-safe"])
    assert (b.used, b.left) == (1, 1)


def test_demo_from_the_cli(run_rig):
    r = run_rig("demo")
    assert r.returncode == 0, r.stderr
    assert "the unit is UNLOCKED." in r.stdout
    assert "REFUSED (exit 3)" in r.stdout and "FAILED (exit 1)" in r.stdout
    assert "event logs:" in r.stdout
    # the wrong code is the demo's, on purpose, and said so before it goes in
    assert -1 < r.stdout.find("wrong code on purpose") < r.stdout.find("rig run enter-code") < r.stdout.find("FAILED")


def test_demo_with_a_one_hour_lockout_takes_seconds(run_rig):
    started = time.perf_counter()
    r = run_rig("demo", "--with-lockout")
    assert r.returncode == 0, r.stderr
    assert time.perf_counter() - started < 20
    # vw-safe's SAFE looks the same before and after its wait: only time ends it, with a margin for
    # a timer up to 10 % slow (its notes give no measured one)
    for line in ("lockout wait (+7:00 margin): 0:00 served, 1:07:00 left",
                 "lockout wait (+7:00 margin): 1:07:00 served, 0:00 left (done)",
                 "lockout over: the whole wait and its margin were served (1:07:00)"):
        assert line in r.stdout
    assert r.stdout.count("lockout wait (+7:00 margin): ") >= 3  # the countdown moved as it went
    assert "the unit is UNLOCKED." in r.stdout


def test_units_and_runs_commands(run_rig, tmp_path):
    run_rig("sim", "reset", "--profile", "vw-safe", "--code", "5173")
    r = run_rig("--backend", "sim", "run", "enter-code", "--profile", "vw-safe", "--unit", "U9", "--new-unit",
                env={"RIG_CODE": "6284"})
    assert r.returncode == 1
    shown = run_rig("units", "show", "U9")
    assert shown.returncode == 0
    assert "state: locked: 1 of 2 attempt(s) left before a lockout; attempts: 1 used" in shown.stdout
    listed = run_rig("runs", "list")
    assert "enter-code" in listed.stdout and "failed" in listed.stdout


def test_each_run_leaves_a_timeline_picture(tmp_path):
    b = Bench(tmp_path, "ford", "2580", state="lockout")
    r = b.run("lockout-wait")
    svg = (tmp_path / "runs" / (os.path.basename(r.log)[:-6] + ".svg")).read_text()
    assert svg.startswith("<svg") and "power the rails" in svg
    import re  # the half hour (and its drift) of waiting is folded into a labelled gap, not 72,000 px wide
    assert re.search(r">30:\d\d<", svg)


def test_a_unit_that_switches_itself_off_after_the_wait(tmp_path):
    # vw-safe-seed: the seed article's unit goes dark when the hour is up, then shows SAFE again
    b = Bench(tmp_path, "vw-safe-seed", "5173", state="lockout", attempts=2, ideal=True,
              knobs={"amp_remote_delay": 0.5})
    led = Ledger(b.ledger)
    led.add_unit("U1", "vw-safe-seed")
    led.set_attempts_used("U1", 2, load_profiles()["vw-safe-seed"], "arrived locked out")
    led.close()
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    events = read_events(r.log)
    senses = [(round(e["t"]), e["to"]) for e in events if e["kind"] == "sense" and e["what"] == "unit_on"]
    assert (3600, False) in senses  # the unit switched itself off at the end of the hour
    served = next(e for e in events if e["kind"] == "measurement")
    assert served["ended"] == "power_off" and 3599 <= served["to"] <= 3601
    displays = [e["to"] for e in events if e["kind"] == "display"]
    assert displays == ["SAFE", "", "SAFE", ""]  # locked, dark, woken by cycling ACC, released
    ok = b.run("enter-code", "5173")
    assert ok.outcome == "passed", ok.message


def test_sigterm_mid_run_is_recorded_as_interrupted(tmp_path, write_yaml):
    proc = write_yaml("name: soak\nsteps:\n  - power: {acc: on}\n  - press: {keys: mode, hold: 1h}\n", "soak.yaml")
    text = open(load_wiring().source).read()  # bare mocked pins: nothing at the connector for a rail sense to see
    bare = write_yaml(text.split("  battery_v:")[0] + "\ntiming:" + text.split("timing:")[1])
    env = dict(os.environ, RIG_LEDGER=str(tmp_path / "l.sqlite"), RIG_LOG_DIR=str(tmp_path / "runs"),
               XDG_DATA_HOME=str(tmp_path / "data"), RIG_WIRING=str(bare))
    child = subprocess.Popen([sys.executable, "-m", "rig", "--backend", "mock", "run", str(proc)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = list((tmp_path / "runs").glob("*.jsonl")) if (tmp_path / "runs").exists() else []
        if logs and any(e["kind"] == "key" and e.get("to") == "down" for e in read_events(logs[0])):
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=20)
    assert child.returncode == 130, err
    assert "INTERRUPTED" in err and "keys released, rails safe" in err
    events = read_events(logs[0])
    tail = [(e["kind"], e.get("what"), e.get("to")) for e in events if e["kind"] in ("key", "rail", "bench")][-3:]
    assert tail == [("key", "mode", "up"), ("rail", "acc", "off"), ("bench", "released", None)]
    db = sqlite3.connect(tmp_path / "l.sqlite")
    assert db.execute("SELECT outcome FROM runs").fetchall() == [("interrupted",)]


DRIVABLE = drivable()


@pytest.mark.parametrize("profile_id", DRIVABLE)
def test_every_drivable_profile_wrong_then_right(tmp_path, profile_id):
    p = load_profiles()[profile_id]
    digits = sorted(p.digits.allowed)
    right = "".join(digits[(i + 1) % len(digits)] for i in range(p.digits.count))
    wrong = digits[0] * p.digits.count
    b = Bench(tmp_path, profile_id, right)
    first = b.run("enter-code", wrong)
    if p.attempts.before_lockout > 1:
        assert first.outcome == "failed" and "wrong code" in first.message, first.message
        assert b.unit.wrong_total == 1
    else:  # a single attempt before a lockout: the rig will not spend it without being told
        assert first.outcome == "refused" and "--allow-lockout" in first.message
        assert b.unit.wrong_total == 0
    last = b.run("enter-code", right, allow_lockout=True)
    assert last.outcome == "passed", last.message
    assert b.unit.locked is False


def test_attempts_used_before_the_bench_count(run_rig):
    r = run_rig("units", "add", "OPEL1", "--profile", "ford", "--attempts-used", "2", "--model", "6000CD")
    assert r.returncode == 0, r.stderr
    assert "OPEL1: ford, 2 attempt(s) used; locked: 1 of 3 attempt(s) left before a lockout" in r.stdout
    run_rig("sim", "reset", "--profile", "ford", "--code", "2580")
    refused = run_rig("--backend", "sim", "run", "enter-code", "--profile", "ford", "--unit", "OPEL1",
                      env={"RIG_CODE": "2580"})
    assert refused.returncode == 3 and "last attempt before OPEL1 locks out" in refused.stderr
