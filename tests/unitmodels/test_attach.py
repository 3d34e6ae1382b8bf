"""A unit model the project did not ship, attached through the public seam (rig.sim.model).

The model (alpine_psa.py) and the profile the technician wrote for it (notes/) live only
here. The rig drives it from the command line in child processes, as a user would:
``rig --backend sim --unit-model alpine_psa:factory run enter-code ...``.
"""

import json
import os

import pytest
from pathlib import Path

from rig.bench.bench import Bench
from rig.sim.backend import sim_backend
from rig.sim.model import UnitModel
from rig.bench.wiring import load_wiring

from . import alpine_psa

HERE = Path(__file__).resolve().parent


def _env(tmp_path, *extra_paths):
    path = os.pathsep.join([str(HERE), *map(str, extra_paths), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {"PYTHONPATH": path, "RIG_PROFILES": str(HERE / "notes"), "RIG_SERVER": "off"}


def test_an_unshipped_unit_model_unlocks_from_the_cli(run_rig, tmp_path):
    state = tmp_path / "sim-unit.json"          # run_rig's RIG_SIM_STATE: the model keeps its memory there
    alpine_psa.new_unit(state, "12345")
    env = _env(tmp_path)
    model = ("--backend", "sim", "--unit-model", "alpine_psa:factory")
    r = run_rig("units", "add", "P1", "--profile", "alpine-psa", "--attempts-used", "0", env=env)
    assert r.returncode == 0, r.stderr
    wrong = run_rig.child(*model, "run", "enter-code", "--profile", "alpine-psa", "--unit", "P1",
                    env={**env, "RIG_CODE": "11111"})
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert json.loads(state.read_text())["failures"] == 1      # the model's own count
    right = run_rig.child(*model, "run", "enter-code", "--profile", "alpine-psa", "--unit", "P1",
                    env={**env, "RIG_CODE": "12345"})
    assert right.returncode == 0, right.stdout + right.stderr
    assert "unlocked" in right.stdout and "12345" not in right.stdout + right.stderr
    assert json.loads(state.read_text())["locked"] is False


def test_a_unit_model_by_entry_point_name(run_rig, tmp_path):
    """The rig.unit_models entry-point group: an installed distribution names its factory."""
    site = tmp_path / "site"
    dist = site / "alpine_models-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: alpine-models\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[rig.unit_models]\nalpine = alpine_psa:factory\n")
    alpine_psa.new_unit(tmp_path / "sim-unit.json", "12345")
    r = run_rig.child("--backend", "sim", "--unit-model", "alpine", "shell", input="power acc on\nwait 2s\nstatus\n",
                env=_env(tmp_path, site))
    assert r.returncode == 0, r.stderr
    assert "display: CODE" in r.stdout and "sense unit_on: on" in r.stdout


def test_a_unit_model_that_cannot_be_loaded_is_a_clear_error(run_rig, tmp_path):
    env = _env(tmp_path)
    # only the model found through PYTHONPATH needs a process of its own (this one's sys.path is set)
    for args, says, run in [(("--backend", "sim", "--unit-model", "no_such_module:factory"), "cannot import no_such_module",
                             run_rig),
                            (("--backend", "sim", "--unit-model", "alpine_psa:nope"), "has no 'nope'", run_rig.child),
                            (("--backend", "sim", "--unit-model", "nameless"), "no unit model of that name", run_rig),
                            (("--backend", "mock", "--unit-model", "alpine_psa:factory"), "needs --backend sim", run_rig)]:
        r = run(*args, "status", env=env)
        assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)


class _Glow(UnitModel):
    """Drives unit_on before the bench opens, and counts what it is told, by name."""

    def __init__(self, io):
        super().__init__(io)
        self.seen = []
        io.drive("unit_on", True)
        io.watch_rail(lambda name, on: self.seen.append(("rail", name, on)), "acc")
        io.watch_key(lambda name, down: self.seen.append(("key", name, down)), "mode")
        io.watch_key(lambda name, down: self.io.show(f"{name} {'down' if down else 'up'}"))


def test_the_seam_in_process(tmp_path):
    w = load_wiring()
    backend = sim_backend(w, tmp_path / "glow", unit_model=_Glow)
    try:
        with Bench(w, backend) as bench:
            assert bench.read("unit_on") is True          # opening the bench kept the level the unit drives
            bench.power("acc", True)
            bench.press("scan", hold=0.2)
            bench.press("mode", hold=0.2)
            shown = [line.text for line in bench.display.history()]
    finally:
        backend.close()
    assert backend.unit.seen == [("rail", "acc", True), ("key", "mode", True), ("key", "mode", False),
                                 ("rail", "acc", False)]
    assert shown == ["scan down", "scan up", "mode down", "mode up"]


# -- a model's bug never stops the rails going safe ------------------------------------------
def _faulty_bench(tmp_path, fail_on):
    from rig.records.events import EventBus

    from . import faulty

    w = load_wiring()
    backend = sim_backend(w, tmp_path / "faulty", unit_model=faulty.factory, settings={"fail_on": fail_on},
                          name="faulty:factory")
    events = EventBus(backend.clock)
    seen = []
    events.subscribe(lambda e: seen.append((e.kind, e.what, e.new)))
    return Bench(w, backend, events=events), backend, seen


def _went_safe(bench, seen):
    """The rig itself let every key go and switched ACC off, before it called the bench released."""
    released = seen.index(("bench", "released", None))
    last = {(kind, what): new for kind, what, new in seen[:released] if kind in ("key", "rail")}
    assert last[("rail", "acc")] == "off", seen
    assert [k for (kind, k), new in last.items() if kind == "key" and new != "up"] == [], seen


def test_a_model_raising_as_a_combo_is_let_go_leaves_no_key_down(tmp_path, caplog):
    from rig.sim.model import UnitModelFailed

    bench, backend, seen = _faulty_bench(tmp_path, "key_up")
    try:
        with bench:
            bench.power("acc", True)
            bench.press("mode+scan", hold=0.5)           # the model raises as mode comes up
            assert not bench.keys["scan"].is_down          # the rest of the combo came up all the same
            with pytest.raises(UnitModelFailed, match=r"faulty:factory raised ZeroDivisionError.*Keys released"):
                bench.clock.sleep(1)                       # told at the next moment the rig looks
    finally:
        backend.close()
    _went_safe(bench, seen)
    assert "while releasing the bench" not in caplog.text


@pytest.mark.parametrize("fail_on", ["acc_off", "timer"])
def test_a_model_raising_during_the_release_never_stops_the_rails_going_safe(tmp_path, caplog, fail_on):
    """acc_off: the model raises on the release's own ACC-off edge. timer: it raises in a callback
    that falls inside the relay's dwell, which the release waits out before switching ACC off."""
    bench, backend, seen = _faulty_bench(tmp_path, fail_on)
    try:
        with bench:
            bench.power("acc", True)
            bench.clock.sleep(0.1)                         # the release comes within the relay's dwell
    finally:
        backend.close()
    _went_safe(bench, seen)
    assert "while releasing the bench" not in caplog.text
    assert "ZeroDivisionError" in caplog.text              # the model's traceback is in the log
    assert "faulty:factory raised ZeroDivisionError" in str(backend.fault())  # and the command says so


def test_a_model_raising_fails_the_command_clearly(run_rig, tmp_path):
    env = _env(tmp_path)
    (tmp_path / "sim-unit.json").write_text("")
    model = "tests.unitmodels.faulty:factory"              # in-process: the module by its package
    r = run_rig("--backend", "sim", "--unit-model", model + ",fail_on=key_up", "press", "mode+scan",
                "--hold", "1", env=env)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert f"the unit model {model} raised ZeroDivisionError" in r.stderr
    r = run_rig("--backend", "sim", "--unit-model", model + ",fail_on=acc_off", "power", "acc", "on",
                "--for", "2s", env=env)
    assert r.returncode == 1 and f"{model} raised ZeroDivisionError" in r.stderr, (r.stdout, r.stderr)
    assert "while releasing the bench" not in r.stderr


# -- a model's own settings, through the CLI and the plugin ------------------------------------------
ALPINE = "tests.unitmodels.alpine_psa:factory"   # in-process: the module by its package


def test_a_model_configured_through_the_cli(run_rig, tmp_path):
    """Settings after the factory reach the model in every command: rig sim reset/show, a run, the
    shell; RIG_UNIT_MODEL works as --unit-model does, and the default memory file is the model's own."""
    env = {**_env(tmp_path), "RIG_SIM_STATE": ""}   # the default --sim-state
    model = ("--backend", "sim", "--unit-model", ALPINE + ",wait=10min,radio=FM 101.1")
    r = run_rig(*model, "sim", "reset", "--profile", "alpine-psa", "--code", "12345", "--state", "lockout", env=env)
    assert r.returncode == 0, r.stderr
    assert "wait=600.0" in r.stdout and "radio=FM 101.1" in r.stdout
    state = tmp_path / "data" / "rig" / "sim-tests.unitmodels.alpine_psa-factory.json"
    assert json.loads(state.read_text())["wait_left"] == 600     # its own file, in its own format
    assert not (tmp_path / "data" / "rig" / "sim-unit.json").exists()
    r = run_rig(*model, "sim", "show", env=env)
    assert r.returncode == 0 and "wait_left: 600" in r.stdout and "code_hash" not in r.stdout, r.stdout + r.stderr
    assert run_rig("units", "add", "P1", "--profile", "alpine-psa", "--attempts-used", "3", env=env).returncode == 0
    by_env = {**env, "RIG_UNIT_MODEL": ALPINE + ",wait=10min,radio=FM 101.1", "RIG_BACKEND": "sim"}
    r = run_rig("run", "lockout-wait", "--unit", "P1", env=by_env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "lockout over" in r.stdout and json.loads(state.read_text())["wait_left"] is None  # its 10 min are over
    r = run_rig("run", "enter-code", "--unit", "P1", env={**by_env, "RIG_CODE": "12345"})
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_rig("shell", input="power acc on\nwait 2s\nstatus\n", env=by_env)
    assert "display: FM 101.1" in r.stdout, r.stdout + r.stderr


def test_a_model_setting_it_does_not_have_is_refused_before_anything_opens(run_rig, tmp_path):
    env = _env(tmp_path)
    alpine_psa.new_unit(tmp_path / "sim-unit.json", "12345")
    r = run_rig("--backend", "sim", "--unit-model", ALPINE + ",colour=red", "status", env=env)
    assert r.returncode == 2 and "no setting 'colour' (its settings: wait, check, radio)" in r.stderr, r.stderr
    r = run_rig("--backend", "sim", "--unit-model", ALPINE + ",wait=soon", "status", env=env)
    assert r.returncode == 2 and "setting wait:" in r.stderr, r.stderr


PLUGIN_SUITE = '''
import pytest


@pytest.mark.rig_unit("alpine-psa", code="12345", state="lockout")
def test_sits_out_its_wait_then_unlocks(rig_run, rig_sim_state):
    import json
    assert json.loads(open(rig_sim_state).read())["wait_left"] == 600   # the setting reached reset
    result = rig_run("unlock", profile="alpine-psa", unit="P1", code="12345", allow_lockout=True)
    assert result.outcome == "passed", result.message


@pytest.mark.rig_unit("alpine-psa", code="12345", state="unlocked")
def test_the_bench_on_the_model(rig_bench):
    rig_bench.power("acc", True)
    rig_bench.clock.sleep(2)
    assert rig_bench.display.current() == "FM 101.1"     # the radio setting


def test_started_in_the_test(rig_sim_unit, rig_run):
    rig_sim_unit("alpine-psa", code="12345")
    assert rig_run("enter-code", profile="alpine-psa", unit="P2", code="11111").outcome == "failed"
'''


def test_a_model_configured_through_the_pytest_plugin(tmp_path):
    from ..test_pytest_plugin import run_pytest

    (tmp_path / "test_alpine.py").write_text(PLUGIN_SUITE)
    env = {"PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
           "RIG_PROFILES": str(HERE / "notes")}
    r = run_pytest(tmp_path, "-q", "--rig-unit-model", "alpine_psa:factory,wait=10min,radio=FM 101.1", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_pytest(tmp_path, "-q", "-k", "sits_out", env={**env, "RIG_UNIT_MODEL": "alpine_psa:factory,wait=10min"})
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout + r.stderr


def test_a_change_a_model_never_announced_is_seen_at_its_own_time(run_rig, tmp_path):
    """The contract's 'what wakes the rig': a model schedules everything with wakes=False, and
    its amp-remote drops out from 100 s to 900 s of a Becker wait (which pauses while the unit
    is off). The rig must not count those 800 s: it sees the drop when it happens, not at its
    own next wake-up."""
    env = {**_env(tmp_path), "RIG_PROFILES": "", "RIG_BACKEND": "sim", "RIG_UNIT_MODEL": "tests.unitmodels.quiet:factory"}
    assert run_rig("sim", "reset", "--profile", "becker-mercedes", "--code", "1234", env=env).returncode == 0
    assert run_rig("units", "add", "B1", "--profile", "becker-mercedes", "--attempts-used", "3", env=env).returncode == 0
    r = run_rig("run", "lockout-wait", "--unit", "B1", env=env)
    assert r.returncode == 0, r.stdout + r.stderr     # it ended once the unit showed CODE ****, not during WAIT
    assert "[1:40] unit_on: off" in r.stdout
