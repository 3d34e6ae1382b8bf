"""Clocks: virtual time jumps, in order; real time lands on its deadline."""

import time

from rig.clock import RealClock, VirtualClock


def test_one_hour_virtual_wait_is_instant():
    clock = VirtualClock()
    start = time.perf_counter()
    clock.sleep(3600)
    assert clock.now() == 3600.0
    assert time.perf_counter() - start < 0.5


def test_scheduled_callbacks_fire_in_time_order_at_their_time():
    clock = VirtualClock()
    seen = []
    for t in (30.0, 10.0, 20.0, 10.0):
        clock.call_at(t, lambda t=t: seen.append((t, clock.now())))
    cancelled = clock.call_at(15.0, lambda: seen.append("cancelled"))
    cancelled.cancel()
    clock.sleep(25)
    assert seen == [(10.0, 10.0), (10.0, 10.0), (20.0, 20.0)]
    assert clock.now() == 25.0


def test_wait_for_returns_when_the_condition_turns_true():
    clock = VirtualClock()
    state = {"on": False}
    clock.call_at(42.0, lambda: state.update(on=True))
    assert clock.wait_for(lambda: state["on"], timeout=3600) is True
    assert clock.now() == 42.0


def test_wait_for_times_out_at_the_deadline():
    clock = VirtualClock()
    assert clock.wait_for(lambda: False, timeout=90) is False
    assert clock.now() == 90.0


def test_settle_hooks_run_before_time_moves_on():
    clock = VirtualClock()
    in_flight = []
    taken = []
    clock.add_settle_hook(lambda: taken.extend(in_flight) or in_flight.clear())
    clock.call_at(5, lambda: in_flight.append(("line", clock.now())))
    clock.call_at(6, lambda: taken.append(("next", clock.now())))
    clock.sleep(10)
    assert taken == [("line", 5.0), ("next", 6.0)]


def test_real_clock_never_returns_early():
    clock = RealClock()
    for _ in range(5):
        deadline = clock.now() + 0.005
        clock.sleep_until(deadline)
        assert clock.now() >= deadline
