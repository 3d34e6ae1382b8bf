"""Clocks: virtual time jumps, in order; real time lands on its deadline."""

import time

from rig.bench.clock import RealClock, VirtualClock


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


class _FakeTime:
    """perf_counter moves 50 us per reading and sleep jumps, so the spin is deterministic."""

    def __init__(self):
        self.t, self.slept = 100.0, []

    def perf_counter(self):
        self.t += 0.00005
        return self.t

    def sleep(self, s):
        self.slept.append(s)
        self.t += s


def test_a_hold_ends_on_a_short_warm_spin_and_is_let_go_at_the_deadline(monkeypatch):
    import sys

    import rig.bench.clock

    fake, switch = _FakeTime(), sys.getswitchinterval()
    monkeypatch.setattr(rig.bench.clock, "time", fake)
    clock = RealClock()
    deadline = clock.now() + 0.1
    seen = []
    clock.end_hold(deadline, lambda: seen.append(("then", fake.t)),
                   warm=lambda: seen.append(("warm", sys.getswitchinterval())))
    assert seen[-1][0] == "then" and seen[-1][1] >= deadline
    warm = [s for s in seen if s[0] == "warm"]
    assert 1 <= len(warm) <= 0.001 / 0.00005  # at most the last millisecond is spun
    assert all(interval < switch for _, interval in warm)  # other threads hand the GIL back at once
    assert sys.getswitchinterval() == switch


def test_helper_threads_hush_while_a_hold_ends():
    from rig.bench.clock import _enter_precise, _leave_precise, hush

    clock = RealClock()
    until = clock.now() + 0.01
    _enter_precise(quiet_until=until)
    try:
        hush()
        assert clock.now() >= until
    finally:
        _leave_precise()
    start = clock.now()
    hush()
    assert clock.now() - start < 0.005  # nothing to wait for once the hold has ended


def test_virtual_clock_lets_go_at_the_deadline():
    clock = VirtualClock()
    seen = []
    clock.call_at(1.0, lambda: seen.append("event"))
    clock.end_hold(2.0, lambda: seen.append(("then", clock.now())), warm=lambda: seen.append("warm"))
    assert seen == ["event", ("then", 2.0)]
