"""The first contact records the unit completely: its profile with it, who put it there and why.

A unit is registered with its profile (asked for at a terminal, refused without one); a unit
recorded without one (by an older rig) gets it on the first run that names one; a different
profile is always refused (exit 3); and the rig's own hints work as printed.
"""

import os
import pty
import re
import select
import subprocess
import sys

from rig.records.ledger import Ledger

from .test_waits import ledger_dump

SIM = ("--backend", "sim")


def _units(path) -> dict:
    led = Ledger(path)
    try:
        return {u["serial"]: u["profile"] for u in led.units()}
    finally:
        led.close()


def test_a_new_unit_without_a_profile_is_refused_before_anything_moves(run_rig, tmp_path):
    run_rig(*SIM, "sim", "reset", "--profile", "vw-safe", "--code", "5173", "--state", "unlocked", "--ideal")
    r = run_rig(*SIM, "run", "bench-removal", "--unit", "VW123", "--new-unit", "--yes", "--answer", "model=Gamma")
    assert r.returncode == 2, r.stderr
    assert "registered with its profile" in r.stderr and "--profile" in r.stderr
    assert _units(tmp_path / "ledger.sqlite") == {}  # no record, and no run either
    assert not list((tmp_path / "data").rglob("*.jsonl"))


def test_the_natural_first_step_registers_the_unit_with_its_profile_and_who(run_rig, tmp_path):
    run_rig(*SIM, "sim", "reset", "--profile", "vw-safe", "--code", "5173", "--state", "unlocked", "--ideal")
    r = run_rig(*SIM, "run", "bench-removal", "--unit", "VW123", "--new-unit", "--profile", "vw-safe", "--yes",
                "--answer", "model=Gamma")
    assert r.returncode == 0, r.stderr
    listed = run_rig("units", "list").stdout
    assert "vw-safe" in listed and "unknown profile" not in listed
    shown = run_rig("units", "show", "VW123").stdout
    assert "registered as vw-safe" in shown and "bench-removal" in shown
    led = Ledger(tmp_path / "ledger.sqlite")
    assert led.changes("VW123")[0]["who"]  # the login name of whoever ran it
    led.close()


def test_a_unit_recorded_without_a_profile_gets_it_on_the_first_run_that_names_one(run_rig, tmp_path):
    led = Ledger(tmp_path / "ledger.sqlite")
    led.add_unit("VW123", None)  # what an older rig's bench-removal left behind
    led.close()
    run_rig(*SIM, "sim", "reset", "--profile", "vw-safe", "--code", "5173", "--state", "unlocked", "--ideal")
    r = run_rig(*SIM, "run", "lockout-wait", "--unit", "VW123")
    assert r.returncode == 2 and "VW123 has no profile on record" in r.stderr and "--profile" in r.stderr
    assert ".yaml" not in r.stderr  # the user's unit is to blame, not a packaged file
    r = run_rig(*SIM, "run", "reproduce-safe", "--unit", "VW123", "--profile", "vw-safe")
    assert r.returncode == 0, r.stderr
    assert _units(tmp_path / "ledger.sqlite") == {"VW123": "vw-safe"}
    before = ledger_dump(tmp_path / "ledger.sqlite")
    r = run_rig(*SIM, "run", "enter-code", "--unit", "VW123", "--profile", "ford", env={"RIG_CODE": "5173"})
    assert r.returncode == 3 and "VW123 is recorded as vw-safe" in r.stderr
    assert ledger_dump(tmp_path / "ledger.sqlite") == before


def test_a_mistyped_serial_without_a_profile_is_an_unknown_serial_with_near_matches(run_rig, tmp_path):
    led = Ledger(tmp_path / "ledger.sqlite")
    led.add_unit("VW123", "vw-safe")
    led.close()
    r = run_rig(*SIM, "run", "lockout-wait", "--unit", "VW132")
    assert r.returncode == 2
    assert "never seen a unit 'VW132'" in r.stderr and "Did you mean VW123?" in r.stderr
    assert "needs a profile" not in r.stderr and ".yaml" not in r.stderr


def test_the_hint_after_a_lockout_works_as_printed(run_rig, tmp_path):
    led = Ledger(tmp_path / "ledger.sqlite")
    led.add_unit("VW123", None)  # on record from an older rig's bench-removal, without its profile
    led.close()
    run_rig(*SIM, "sim", "reset", "--profile", "vw-safe", "--code", "5173", "--ideal")
    run_rig(*SIM, "run", "enter-code", "--unit", "VW123", "--profile", "vw-safe", env={"RIG_CODE": "1111"})
    r = run_rig(*SIM, "run", "enter-code", "--unit", "VW123", "--profile", "vw-safe", "--allow-lockout",
                env={"RIG_CODE": "2222"})
    assert r.returncode == 1 and "locked out" in r.stderr
    hint = re.search(r"run `rig (--backend sim )?run lockout-wait --unit VW123`", r.stderr)
    assert hint, r.stderr
    r = run_rig(*SIM, "run", "lockout-wait", "--unit", "VW123")  # the hint, word for word
    assert r.returncode == 0, r.stderr
    assert "locked: 2 of 2 attempt(s) left" in r.stderr


def test_at_a_terminal_a_new_unit_is_asked_for_and_so_is_its_profile(tmp_path):
    """No default: the answer is typed, and a near miss is told its near match, not taken."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIG_")}
    env.update(RIG_LEDGER=str(tmp_path / "ledger.sqlite"), RIG_SIM_STATE=str(tmp_path / "sim.json"),
               RIG_LOG_DIR=str(tmp_path / "runs"), RIG_BACKEND="sim", TERM="dumb", COLUMNS="100")
    subprocess.run([sys.executable, "-m", "rig", "sim", "reset", "--profile", "vw-safe", "--code", "5173",
                    "--state", "unlocked", "--ideal"], env=env, check=True, capture_output=True)
    master, slave = pty.openpty()
    child = subprocess.Popen([sys.executable, "-m", "rig", "run", "reproduce-safe", "--unit", "VW9"],
                             stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    seen = b""

    def until(text: bytes) -> None:
        nonlocal seen
        while text not in seen:
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, seen.decode(errors="replace")
            seen += os.read(master, 4096)

    until(b"new unit")
    os.write(master, b"y\n")
    until(b"Profile of this unit")
    os.write(master, b"vw-saef\n")
    until(b"did you mean vw-safe")
    os.write(master, b"vw-safe\n")
    assert child.wait(60) == 0, seen.decode(errors="replace")
    os.close(master)
    assert _units(tmp_path / "ledger.sqlite") == {"VW9": "vw-safe"}
