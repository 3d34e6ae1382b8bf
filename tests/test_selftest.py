"""rig selftest: the commissioning, its measurements and limits, and the refusal it guards (issue 23).

On the mock backend with the bench's circuits simulated (rig/bench/mockcircuit.py):
a good bench passes; each fault a commissioning exists for - a missing pull-down, a
dead-man stuck on, a slow rail, a welded contact - is caught by the measurement
meant to catch it; the result goes into the ledger, and a hardware run on a unit is
refused until the pin map, as it is, has passed.
"""

import pytest

from rig.bench.backends import mock_backend
from rig.bench.clock import VirtualClock
from rig.bench.selftest import passed, run_selftest
from rig.bench.wiring import load_wiring
from rig.records import selftests
from rig.records.ledger import Ledger
from rig.run.job import Job, run_job
from rig.errors import SafetyRefusal

WIRING = load_wiring()


def measure(**faults):
    return {m.name: m for m in run_selftest(WIRING, mock_backend(WIRING, VirtualClock(), circuit=faults))}


def test_a_good_bench_passes_with_its_measurements():
    got = measure()
    assert passed(list(got.values()))
    assert got["external pull resistors"].value == "12 of 12"
    assert got["acc: sense follows the relay"].value == "0.010 / 0.200"  # operate / decay
    assert got["timing.rail_settle"].value == 0.35  # the slowest decay x 1.5 + 50 ms
    assert 3.7 < got["dead-man trips within T"].value <= 4.7 + 0.01  # from the last rising edge
    assert got["dead-man stays tripped, the bench refuses to energise"].passed
    assert got["interlock refuses a cut under ACC"].value == "refused"


@pytest.mark.parametrize("faults, caught, says", [
    ({"missing_pulldown": [19]}, "external pull resistors", "missing on key preset1 (GPIO19)"),
    ({"slow": {"acc": 3.0}}, "timing.rail_settle", "write rail_settle: 4.55s"),
    ({"welded": ["acc"]}, "acc: sense follows the relay", "welded contact"),
    ({"welded": ["battery"]}, "battery: sense follows the relay", "welded contact"),
])
def test_each_fault_is_caught_by_its_measurement(faults, caught, says):
    got = measure(**faults)
    assert got[caught].passed is False and says in got[caught].note, got[caught]
    assert not passed(list(got.values()))


def test_a_dead_man_stuck_on_is_caught_before_anything_is_switched():
    backend = mock_backend(WIRING, VirtualClock(), circuit={"stuck_on": True})
    got = {m.name: m for m in run_selftest(WIRING, backend)}
    m = got["dead-man off before the first beat, on after it"]
    assert m.passed is False and "stuck on" in m.note
    assert "acc: sense follows the relay" not in got  # it stopped there
    assert [s.state for s in backend.pin_factory.pin(27).states][-1] is False


def test_a_welded_contact_also_shows_as_a_relay_the_dead_man_did_not_release():
    got = measure(welded=["acc"])
    assert got["every sensed relay released by the dead-man"].value == "acc"


@pytest.mark.parametrize("fault", ["missing-pulldown", "deadman-stuck-on", "slow-rail", "welded"])
def test_rig_selftest_on_mock_fails_each_fault_and_records_it(run_rig, tmp_path, fault):
    r = run_rig("--backend", "mock", "--ledger", str(tmp_path / "l.sqlite"), "selftest", "--fault", fault,
                env={"RIG_CLOCK": "virtual"})
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL" in r.stdout and "selftest FAILED: recorded in the ledger" in r.stdout
    led = Ledger(tmp_path / "l.sqlite")
    (row,) = selftests.last(led)
    assert row["passed"] == 0 and row["backend"] == "mock"


def test_write_puts_the_measured_settle_in_the_map_keeping_its_comments(run_rig, tmp_path):
    from .conftest import REPO

    path = tmp_path / "bench.yaml"
    path.write_text((REPO / "wiring" / "bench.yaml").read_text())
    r = run_rig("--backend", "mock", "--wiring", str(path), "--ledger", str(tmp_path / "l.sqlite"), "selftest",
                "--fault", "slow-rail", "--write", env={"RIG_CLOCK": "virtual"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "  rail_settle: 4.55s       # a rail's sense follows its relay" in path.read_text()
    assert load_wiring(path).timing.rail_settle == 4.55
    led = Ledger(tmp_path / "l.sqlite")
    assert selftests.passed_on_this_host(led, selftests.wiring_hash(load_wiring(path)))


def hardware_named(backend):
    backend.name = "hardware"
    return backend


def test_a_hardware_run_on_a_unit_waits_for_the_pin_map_to_pass(tmp_path):
    ledger = str(tmp_path / "l.sqlite")
    job = Job("reproduce-safe", WIRING, lambda w: hardware_named(mock_backend(w, VirtualClock())), ledger,
              str(tmp_path / "runs"), profile_id="ford", serial="M1", new_unit=True, yes=True)
    with pytest.raises(SafetyRefusal, match="has not passed rig selftest on this bench"):
        run_job(job)
    led = Ledger(ledger)
    assert led.runs() == []  # refused before anything went on record or moved
    selftests.record(led, "hardware", WIRING.source, selftests.wiring_hash(WIRING), False, [])
    led.close()
    with pytest.raises(SafetyRefusal):
        run_job(job)  # a failed selftest is no pass
    led = Ledger(ledger)
    selftests.record(led, "hardware", WIRING.source, selftests.wiring_hash(WIRING), True, [])
    led.close()
    result = run_job(job)  # now it runs (and is on record), whatever the bare mock pins then show
    assert result.run_id is not None and "selftest" not in result.message


def test_a_hardware_run_refused_for_its_pin_map_gives_back_what_it_opened(tmp_path):
    """The pytest plugin and a lab run jobs in one process: a job refused before it starts must not
    keep what its backend opened (the display's serial port, the bench lock) for the rest of it."""
    closed = []

    def make(w):
        backend = hardware_named(mock_backend(w, VirtualClock()))
        backend.closers.append(lambda: closed.append("display"))
        return backend

    job = Job("reproduce-safe", WIRING, make, str(tmp_path / "l.sqlite"), str(tmp_path / "runs"),
              profile_id="ford", serial="M1", new_unit=True, yes=True)
    with pytest.raises(SafetyRefusal, match="has not passed rig selftest on this bench"):
        run_job(job)
    assert closed == ["display"]
