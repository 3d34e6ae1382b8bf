"""The pytest plugin's fixtures, as a HIL CI suite would use them."""

import pytest


def test_a_procedure_through_the_fixtures(rig_sim_unit, rig_run):
    rig_sim_unit("ford", code="2580")
    result = rig_run("enter-code", profile="ford", unit="M1", code="2580")
    assert (result.outcome, result.exit_code) == ("passed", 0), result.message


@pytest.mark.rig_unit("vw-safe", code="5173")
def test_the_bench_fixture_gives_an_open_bench_on_the_marked_unit(rig_bench):
    rig_bench.power("acc", True)
    rig_bench.clock.sleep(0.1)
    assert rig_bench.read("unit_on") is True and rig_bench.display.current() == "SAFE"


def test_the_bench_is_released_however_the_test_ends(rig_wiring, rig_sim_unit, rig_sim_state):
    from rig.pytest_plugin import held_bench
    from rig.sim.backend import sim_backend

    rig_sim_unit("vw-safe", code="5173")
    with pytest.raises(AssertionError):
        with held_bench(rig_wiring, lambda w: sim_backend(w, rig_sim_state)) as bench:
            bench.power("acc", True)
            bench.down("mode")
            raise AssertionError("the test failed mid-press")
    assert bench.released
    assert [bench.backend.pin_factory.pin(p).state for p in (13, 27, 17)] == [False, False, False]


@pytest.mark.rig_hardware
def test_needs_the_real_bench(rig_bench):
    raise AssertionError("must be skipped without --rig-backend hardware")
