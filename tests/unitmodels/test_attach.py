"""A unit model the project did not ship, attached through the public seam (rig.sim.model).

The model (alpine_psa.py) and the profile the technician wrote for it (notes/) live only
here. The rig drives it from the command line in child processes, as a user would:
``rig --backend sim --unit-model alpine_psa:factory run enter-code ...``.
"""

import json
import os
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
    for args, says in [(("--backend", "sim", "--unit-model", "no_such_module:factory"), "cannot import no_such_module"),
                       (("--backend", "sim", "--unit-model", "alpine_psa:nope"), "has no 'nope'"),
                       (("--backend", "sim", "--unit-model", "nameless"), "no unit model of that name"),
                       (("--backend", "mock", "--unit-model", "alpine_psa:factory"), "needs --backend sim")]:
        r = run_rig.child(*args, "status", env=env)
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
