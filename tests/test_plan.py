"""Check the whole plan before the first pin moves: permissions and answers a run will need later."""

from rig.records.ledger import Ledger
from rig.sim.backend import reset_unit
from rig.sim.memory import UnitMemory

SIM = ("--backend", "sim")


def _runs_and_served(tmp_path, serial):
    led = Ledger(tmp_path / "ledger.sqlite")
    try:
        return len(led.runs(serial)), sum(lk["powered"] for lk in led.lockouts(serial))
    finally:
        led.close()


def test_unlock_on_a_unit_that_arrived_locked_out_asks_for_the_permission_before_the_wait(run_rig, tmp_path):
    reset_unit(tmp_path / "sim-unit.json", "ford", "2580", state="lockout", ideal=True)
    assert run_rig("units", "add", "F1", "--profile", "ford", "--attempts-used", "3").returncode == 0
    r = run_rig(*SIM, "run", "unlock", "--unit", "F1", env={"RIG_CODE": "2580"})
    assert r.returncode == 3, r.stderr
    assert "after its lockout wait, ford allows 1 attempt" in r.stderr and "--allow-lockout" in r.stderr
    assert _runs_and_served(tmp_path, "F1") == (0, 0)  # refused before it started: no run, no time served
    assert UnitMemory.load(tmp_path / "sim-unit.json").lockout_left == 30 * 60
    r = run_rig(*SIM, "run", "unlock", "--unit", "F1", "--allow-lockout", env={"RIG_CODE": "2580"})
    assert r.returncode == 0, r.stderr


def test_a_lockout_the_ledger_did_not_know_is_asked_about_before_it_is_sat_out(run_rig, tmp_path):
    reset_unit(tmp_path / "sim-unit.json", "ford", "2580", state="lockout", ideal=True)
    assert run_rig("units", "add", "F1", "--profile", "ford").returncode == 0  # nobody told the ledger
    r = run_rig(*SIM, "run", "unlock", "--unit", "F1", env={"RIG_CODE": "2580"})
    assert r.returncode == 3, r.stderr
    assert "after the lockout wait, ford allows 1 attempt" in r.stderr
    runs, served = _runs_and_served(tmp_path, "F1")
    assert runs == 1 and served == 0  # found from the display, refused before a second of it was served
    assert UnitMemory.load(tmp_path / "sim-unit.json").lockout_left > 29 * 60


def test_an_unattended_run_lists_every_answer_it_needs_at_once(run_rig, tmp_path):
    reset_unit(tmp_path / "sim-unit.json", "vw-safe", "5173", ideal=True)
    run_rig("units", "add", "VW1", "--profile", "vw-safe")
    r = run_rig(*SIM, "run", "read-serial", "--unit", "VW1", "--yes")
    assert r.returncode == 2
    assert "add --answer serial=... --answer model=... --answer vin=..." in r.stderr  # a VW shows no serial
    assert _runs_and_served(tmp_path, "VW1") == (0, 0)  # not a FAILED run in the history
    r = run_rig(*SIM, "run", "read-serial", "--unit", "VW1", "--yes", "--answer", "model=Gamma", "--answer", "vin=WVW1",
                "--answer", "serial=VWZ1")
    assert r.returncode == 0, r.stderr


def test_a_question_only_the_run_can_decide_is_named_but_not_required(run_rig, tmp_path):
    reset_unit(tmp_path / "sim-unit.json", "ford", "2580", ideal=True)
    run_rig("units", "add", "F1", "--profile", "ford")
    r = run_rig(*SIM, "run", "read-serial", "--unit", "F1", "--yes")
    assert r.returncode == 2
    assert "add --answer model=... --answer vin=... (and, if it asks: --answer serial=...)" in r.stderr
    r = run_rig(*SIM, "run", "read-serial", "--unit", "F1", "--yes", "--answer", "model=6000CD", "--answer", "vin=WF0X")
    assert r.returncode == 0, r.stderr  # the tap shows a Ford's serial: nobody is asked for it
