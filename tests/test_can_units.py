"""The simulated CAN units without their wake frames: each run fails clearly, and says why.

(Every built-in procedure passing on them, with their frames, is in test_every_procedure.py.)
"""

import pytest

from rig.sim.knobs import realistic_for

from .canbench import CAN_UNITS, can_bench


@pytest.mark.parametrize("profile_id", CAN_UNITS)
@pytest.mark.parametrize("procedure", ["reproduce-safe", "enter-code", "lockout-wait", "unlock"])
def test_without_its_wake_frames_a_can_unit_stays_dark_and_the_run_says_so(tmp_path, profile_id, procedure):
    b = can_bench(tmp_path, profile_id, "1234", state="lockout", knobs=realistic_for(profile_id))
    wrong = tmp_path / "wrong-car.yaml"  # another car's ignition frame: none of these units wakes on it
    wrong.write_text("frames: [{id: 0x2C3, data: '07', period: 100ms}]\n")
    b.wake_set = str(wrong)
    r = b.run(procedure, "1234", allow_lockout=True)
    assert (r.outcome, r.exit_code) == ("failed", 1), r.message
    assert "CAN: the wake frames 0x2C3 (wrong-car) are going out" in r.message
    assert "record your car (rig can record)" in r.message
    assert not b.unit.locked is False  # nothing reached the unit
