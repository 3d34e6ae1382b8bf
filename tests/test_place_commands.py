"""`rig --place P COMMAND`: every command --place accepts acts on that lab bench; the rest refuse.

A CI job or a technician who names a place expects the bench's answer. Before, `wiring check`,
`ledger check`, `sim reset`, `selftest` and `can watch` quietly acted on the machine they ran on.
The lab's own tests (tests/test_lab.py) show the commands that reach the bench doing so; these
show the others refused before they touch anything here, cheaply (no coordinator is needed:
a command that reaches for the bench fails on the missing coordinator instead).
"""

from __future__ import annotations

import pytest

from rig.cli import COMMANDS
from rig.cli.placed import HERE, NO_BENCH, ON_THE_BENCH

NO_COORDINATOR = {"LG_COORDINATOR": "127.0.0.1:1"}


def test_every_command_is_either_on_the_bench_or_said_to_act_here():
    named = ON_THE_BENCH | {k for k in (*HERE, *NO_BENCH) if isinstance(k, str)} | {"can"}
    assert set(COMMANDS) == named, "a new command must say what --place does to it (rig/cli/placed.py)"
    assert {k[1] for k in (*HERE, *NO_BENCH) if isinstance(k, tuple)} | {"status"} == {"status", "watch", "record",
                                                                                        "pick"}


@pytest.mark.parametrize("args, said", [
    (["--backend", "mock", "selftest"], "measures this machine's own wiring"),
    (["wiring", "check"], "reads this machine's pin map"),
    (["ledger", "check"], "checks a ledger file on this machine"),
    (["sim", "reset", "--profile", "ford", "--code", "1234"], "drives this machine's simulated unit"),
    (["demo"], "runs a simulated unit on this machine"),
    (["serve", "token", "list"], "serves this machine's bench"),
    (["--backend", "mock", "can", "watch", "--for", "1s"], "listens to this machine's CAN interface"),
    (["--backend", "sim", "can", "record", "car.log", "--for", "1s"], "records this machine's CAN interface"),
    (["profiles", "list"], "shows the profiles installed here"),
    (["lab", "release"], "rig lab release --place NAME lets go of one place"),
])
def test_a_command_that_acts_here_is_refused_with_place_before_it_does_anything(run_rig, tmp_path, args, said):
    r = run_rig("--place", "bench-01", *args, env=NO_COORDINATOR)
    assert r.returncode == 2 and f"--place bench-01: `rig " in r.stderr and said in r.stderr, r.stderr
    assert "leave out --place" in r.stderr
    assert not (tmp_path / "sim-unit.json").exists() and not (tmp_path / "car.log").exists()


@pytest.mark.parametrize("var", ["RIG_PLACE", "LG_PLACE"])
def test_a_place_from_the_environment_refuses_what_acts_here_and_leaves_what_reads_no_bench(run_rig, tmp_path, var):
    env = dict(NO_COORDINATOR, **{var: "bench-02"})
    r = run_rig("sim", "reset", "--profile", "ford", "--code", "1234", env=env)
    assert r.returncode == 2 and f"{var}=bench-02 is set: `rig sim` drives this machine's simulated unit" in r.stderr
    assert f"run it with {var} unset (or rig --place '' sim ...)" in r.stderr, r.stderr
    assert not (tmp_path / "sim-unit.json").exists()
    assert run_rig("--place", "", "sim", "reset", "--profile", "ford", "--code", "1234", env=env).returncode == 0
    assert run_rig("profiles", "show", "ford", env=env).returncode == 0  # the same profiles on every machine


@pytest.mark.parametrize("args", [["units", "list"], ["runs", "list"], ["status"], ["can", "status"],
                                  ["report", "1", "-o", "r.html"], ["press", "mode"], ["stop"]])
def test_a_command_on_the_bench_goes_to_the_place_and_never_to_this_machine(run_rig, args):
    r = run_rig("--backend", "sim", "--place", "bench-01", *args, env=NO_COORDINATOR)
    assert r.returncode == 2 and "no labgrid coordinator answers at 127.0.0.1:1" in r.stderr, r.stderr
