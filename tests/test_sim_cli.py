"""The simulated unit through the CLI: a shell session, memory between commands, determinism."""

import json
import time

from rig.bench.bench import Bench
from rig.sim.backend import reset_unit, sim_backend
from rig.bench.wiring import load_wiring


def test_locked_seed_unit_in_a_piped_shell(run_rig):
    r = run_rig("sim", "reset", "--profile", "vw-safe", "--code", "5173")
    assert r.returncode == 0, r.stderr
    s = run_rig("--backend", "sim", "shell", input="power acc on\nwait 3s\nstatus\npress mode+scan 3s\nstatus\n")
    assert s.returncode == 0, s.stderr
    lines = s.stdout.splitlines()
    first, second = lines.index("acc on"), lines.index("pressed mode+scan for 3s")
    assert "display: SAFE" in lines[first:second] and "sense unit_on: on" in lines[first:second]
    assert "display: 1000" in lines[second:]


def test_the_unit_remembers_between_commands(run_rig):
    run_rig("sim", "reset", "--profile", "vw-safe", "--code", "5173")
    # one session opens entry and steps digit 1; the next command meets the same (still locked) unit
    run_rig("--backend", "sim", "shell", input="power acc on\nwait 3s\npress mode+scan 3s\npress preset1\n")
    shown = json.loads(run_rig("sim", "show", "--json").stdout)
    assert shown["locked"] is True and shown["wrong_total"] == 0
    s = run_rig("--backend", "sim", "shell", input="power acc on\nwait 3s\nstatus\n")
    assert "display: SAFE" in s.stdout  # entry progress was RAM, lost when ACC went off


def test_a_wrong_code_is_remembered_by_the_unit(run_rig):
    run_rig("sim", "reset", "--profile", "vw-safe", "--code", "5173")
    script = "power acc on\nwait 3s\npress mode+scan 3s\npress mode+scan 3s\nwait 2s\n"  # confirm 1000: wrong
    run_rig("--backend", "sim", "shell", input=script)
    shown = json.loads(run_rig("sim", "show", "--json").stdout)
    assert shown["wrong_total"] == 1 and shown["wrong_in_window"] == 1


def test_no_unit_yet_says_what_to_run(run_rig):
    r = run_rig("--backend", "sim", "status")
    assert r.returncode == 2
    assert "rig sim reset --profile vw-safe --code" in r.stderr


def test_simulated_hour_of_lockout_costs_well_under_a_second(tmp_path):
    state = tmp_path / "u.json"
    reset_unit(state, "vw-safe", "5173", state="lockout")
    w = load_wiring()
    backend = sim_backend(w, state)
    try:
        with Bench(w, backend) as bench:
            bench.power("acc", True)
            start = time.perf_counter()
            bench.clock.sleep(2 * 3600)  # the hour, on the unit's own (slow) clock, after its boot
            wall = time.perf_counter() - start
            assert backend.unit.mem.lockout_left is None  # served
    finally:
        backend.close()
    assert wall < 1.0


def _script(state):
    reset_unit(state, "ford", "2580")
    w = load_wiring()
    backend = sim_backend(w, state)
    events = []
    try:
        with Bench(w, backend) as bench:
            bench.events.subscribe(lambda e: events.append((round(e.t, 6), e.kind, e.what, e.old, e.new)))
            bench.power("acc", True)
            bench.clock.sleep(3)  # its boot and splash
            for key, n in (("preset1", 2), ("preset2", 5), ("preset3", 8), ("preset4", 10)):
                bench.press(key, times=n)
            bench.press("preset5", hold=0.5)
            bench.clock.sleep(2)
    finally:
        backend.close()
    return events


def test_the_same_inputs_give_the_same_event_log(tmp_path):
    a = _script(tmp_path / "a.json")
    b = _script(tmp_path / "b.json")
    assert a == b
    displays = [e[4] for e in a if e[1] == "display"]
    assert displays[-2:] == ["FM1 87.5", ""]  # unlocked, then dark when the bench released ACC
