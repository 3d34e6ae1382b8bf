"""A unit model the project did not ship uses the car's network through the public seam (rig.sim.model):
it watches the rig's wake frames, sends frames of its own and makes the bus fail (rd4_psa.py).
"""

import json
import os
import sys
from pathlib import Path

from . import alpine_psa

HERE = Path(__file__).resolve().parent


def env(**extra):
    path = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {"PYTHONPATH": path, "RIG_PROFILES": str(HERE / "notes"), "RIG_SERVER": "off", **extra}


MODEL = ("--backend", "sim", "--unit-model", "rd4_psa:factory")


def test_an_unshipped_can_unit_wakes_on_the_profiles_frames_and_unlocks(run_rig, tmp_path):
    state = tmp_path / "sim-unit.json"
    alpine_psa.new_unit(state, "12345")
    r = run_rig.child(*MODEL, "run", "enter-code", "--profile", "rd4-psa", "--unit", "R1", "--new-unit",
                env=env(RIG_CODE="12345"))
    assert r.returncode == 0, r.stdout[-600:] + r.stderr
    memory = json.loads(state.read_text())
    assert memory["locked"] is False and memory["heard"] > 10  # the model heard the rig's 0x036


def test_without_its_frame_the_unshipped_unit_stays_dark(run_rig, tmp_path):
    alpine_psa.new_unit(tmp_path / "sim-unit.json", "12345")
    (tmp_path / "other.yaml").write_text("frames: [{id: 0x0F6, data: '88 00', period: 100ms}]\n")
    r = run_rig.child(*MODEL, "--wake-set", tmp_path / "other.yaml", "run", "reproduce-safe", "--profile", "rd4-psa",
                "--unit", "R1", "--new-unit", env=env())
    assert r.returncode == 1
    assert "CAN: the wake frames 0x0F6 (other) are going out" in r.stdout + r.stderr


def test_the_seam_in_process_frames_both_ways_and_a_bus_off(tmp_path):
    from rig.bench.bench import Bench
    from rig.can.frames import parse_frame
    from rig.can.wakeset import WakeSet
    from rig.sim.backend import sim_backend

    from ..canbench import can_wiring

    sys.path.insert(0, str(HERE))  # as --unit-model finds it: on the path
    try:
        import rd4_psa
    finally:
        sys.path.remove(str(HERE))
    alpine_psa.new_unit(tmp_path / "unit.json", "12345")
    wiring = can_wiring(tmp_path)
    backend = sim_backend(wiring, tmp_path / "unit.json", unit_model=rd4_psa.factory,
                          settings={"bus_off": 20.0})
    heard = []
    try:
        with Bench(wiring, backend, can=True) as bench:
            bench.can.subscribe(lambda t, ident, ext, data: heard.append((t, ident)), 0x165)
            bench.can.set_wake(WakeSet("psa", [parse_frame({"id": 0x036, "data": "00 00 00 00 01 00 00 00",
                                                            "period": "100ms"}, "", [])]))
            bench.power("acc", True)
            bench.clock.sleep(5)
            assert bench.display.current() == "CODE" and bench.read("unit_on")
            assert len(heard) >= 3  # its own status frame, once a second
            bench.clock.sleep(30)  # off at 20 s, back at 30 s
            assert bench.can.errors.bus_offs == 1 and bench.can.errors.state == "error-active"  # off, then back
    finally:
        backend.close()
