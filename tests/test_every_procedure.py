"""Every built-in procedure against every profile the default rig can drive, on a realistic simulated unit
(the units that need the car's network on a bench with a CAN bus).

The unit here boots, shows a splash, raises its amp-remote late, redraws its
display a moment after a key, steps its digits on release, debounces, drifts:
what a real unit does (rig.sim.knobs.realistic_for). Nothing here is tuned to
a profile; a procedure that only works on a tidy unit fails here.
"""

import pytest

from rig.records.ledger import Ledger
from rig.unit.profiles import load_profiles
from rig.sim.knobs import realistic_for

from .canbench import CAN_UNITS, can_bench
from .simbench import drivable

PROFILES = load_profiles()
DRIVABLE = sorted(set(drivable()) | set(CAN_UNITS))


def codes(p):
    digits = sorted(p.digits.allowed)
    right = "".join(digits[(i + 1) % len(digits)] for i in range(p.digits.count))
    return right, digits[0] * p.digits.count


@pytest.mark.parametrize("profile_id", DRIVABLE)
def test_the_technicians_day_on_a_realistic_unit(tmp_path, profile_id):
    p = PROFILES[profile_id]
    right, wrong = codes(p)
    b = can_bench(tmp_path, profile_id, right, state="unlocked", knobs=realistic_for(profile_id), serial="SIM12345")
    answers = {"model": "RCD 300", "vin": "WVWZZZ1JZXW000001", "serial": "SER123"}
    removal = b.run("bench-removal", yes=True, answers=answers)
    assert removal.outcome == "passed", removal.message
    safe = b.run("reproduce-safe")
    assert safe.outcome == "passed", safe.message
    assert b.unit.locked
    serial = b.run("read-serial", answers=answers)
    assert serial.outcome == "passed", serial.message
    if p.attempts.before_lockout > 1:
        miss = b.run("enter-code", wrong)
        assert miss.outcome == "failed" and "wrong code" in miss.message, miss.message
    ok = b.run("enter-code", right, allow_lockout=True, allow_permanent=True)
    assert ok.outcome == "passed", ok.message
    assert b.unit.locked is False


@pytest.mark.parametrize("profile_id", DRIVABLE)
def test_unlock_sits_out_the_lockout_of_a_realistic_unit(tmp_path, profile_id):
    p = PROFILES[profile_id]
    right, _ = codes(p)
    b = can_bench(tmp_path, profile_id, right, state="lockout", attempts=p.attempts.before_lockout,
                  knobs=realistic_for(profile_id))
    led = Ledger(b.ledger)
    led.add_unit("U1", profile_id)
    led.set_attempts_used("U1", p.attempts.before_lockout, p, "arrived locked out")
    led.close()
    r = b.run("unlock", right, allow_lockout=True, allow_permanent=True)
    assert r.outcome == "passed", r.message
    assert b.unit.locked is False and not b.unit.locked_out
