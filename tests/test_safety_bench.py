"""The bench's promises at open and release, read off the pins' own history.

Opening creates every key up and every rail in its safe state; releasing - by
the end of a ``with``, an exception inside a hold, the pytest plugin's
teardown - lets every key go *before* any rail moves, then gives the pins,
the lock and the signal handlers back, so the same process can open the bench
again.
"""

from __future__ import annotations

import signal

import pytest

from rig.bench.backends import mock_backend
from rig.bench.bench import Bench
from rig.bench.benchlock import BenchLock
from rig.errors import BenchRefused
from rig.pytest_plugin import held_bench
from rig.sim.backend import reset_unit, sim_backend

from .conftest import pin_states
from .safety_support import PinTape, open_on


def taped(wiring, clock, **kw):
    backend = mock_backend(wiring, clock, **kw)
    return backend, PinTape(backend, wiring)


def assert_released_in_order(tape, wiring, since: int):
    """From edge ``since`` on: keys up first, then rails to safe, nothing else; everything ends safe."""
    after = tape.edges[since:]
    kinds = [e.kind for e in after if e.kind != "sense"]
    assert kinds == sorted(kinds, key=lambda k: k != "key"), f"a rail moved before every key was up: {after}"
    assert all(not e.on for e in after if e.kind == "key")
    for e in after:
        if e.kind == "rail":
            assert e.on == wiring.rails[e.name].safe_on, f"{e!r} is not {e.name}'s safe state"
    for name, spec in wiring.keys.items():
        assert pin_states(tape.backend, spec.pin)[-1] is (not spec.active_high), f"{name} left down"
    for name, spec in wiring.rails.items():
        assert pin_states(tape.backend, spec.pin)[-1] == spec.energised_for(spec.safe_on), f"{name} not safe"


# -- open ---------------------------------------------------------------------
@pytest.mark.parametrize("backend_name", ["mock", "sim"])
def test_every_key_starts_up_and_every_rail_safe_when_the_bench_opens(wiring, clock, tmp_path, backend_name):
    if backend_name == "sim":
        reset_unit(tmp_path / "unit.json", "vw-safe", "5173")
        backend = sim_backend(wiring, tmp_path / "unit.json")
    else:
        backend = mock_backend(wiring, clock)
    try:
        with Bench(wiring, backend):
            for name, spec in wiring.keys.items():
                history = pin_states(backend, spec.pin)
                assert spec.active_high not in history, f"key {name} was pressed at open: {history}"
            for name, spec in wiring.rails.items():
                unsafe = spec.energised_for(not spec.safe_on)
                assert unsafe not in pin_states(backend, spec.pin), f"rail {name} passed its unsafe state at open"
    finally:
        backend.close()


# -- release with keys down ------------------------------------------------------
def test_release_with_keys_held_down_lets_them_go_before_any_rail_moves(wiring, clock):
    backend, tape = taped(wiring, clock)
    with Bench(wiring, backend) as bench:
        bench.power("acc", True)
        bench.power("ignition", True)
        bench.down("mode+scan")
        bench.down("preset5")
        mark = len(tape.edges)
    assert_released_in_order(tape, wiring, mark)
    released = [repr(e) for e in tape.edges[mark:]]
    assert sorted(released[:3]) == ["mode up", "preset5 up", "scan up"]
    assert released[3:] == ["acc off", "ignition off"]


def test_an_exception_inside_a_hold_releases_keys_then_rails(wiring, clock):
    backend, tape = taped(wiring, clock)
    with pytest.raises(RuntimeError):
        with Bench(wiring, backend) as bench:
            bench.power("acc", True)
            bench.down("preset1")       # one key pressed and left down outside the hold
            with bench.holding("mode+scan"):
                mark = len(tape.edges)
                raise RuntimeError("the unit caught fire")
    assert_released_in_order(tape, wiring, mark)
    assert {repr(e) for e in tape.edges[mark:mark + 3]} == {"mode up", "scan up", "preset1 up"}


def test_the_plugin_bench_teardown_lets_keys_go_before_rails(wiring, clock):
    tapes = []

    def factory(w):
        backend, tape = taped(w, clock)
        tapes.append(tape)
        return backend

    with pytest.raises(AssertionError):
        with held_bench(wiring, factory) as bench:  # what the rig_bench fixture does around a test
            bench.power("acc", True)
            bench.down("mode")
            mark = len(tapes[0].edges)
            raise AssertionError("the test failed with a key down")
    assert_released_in_order(tapes[0], wiring, mark)
    assert [repr(e) for e in tapes[0].edges[mark:]] == ["mode up", "acc off"]


# -- what release gives back -------------------------------------------------------
def test_signal_handlers_are_put_back_after_the_release(wiring, clock):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with Bench(wiring, mock_backend(wiring, clock)):
        during = {s: signal.getsignal(s) for s in before}
        assert during != before  # SIGTERM/Ctrl-C unwind through the release while the bench is open
    assert {s: signal.getsignal(s) for s in before} == before


def test_signal_handlers_are_put_back_when_another_thread_released_the_bench(wiring, clock):
    import threading

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with Bench(wiring, mock_backend(wiring, clock)) as bench:
        t = threading.Thread(target=bench.release)  # a watchdog or a server's stop letting go
        t.start()
        t.join()
        assert bench.released
    assert {s: signal.getsignal(s) for s in before} == before


def test_a_bench_refused_at_open_gives_back_its_signal_handlers_and_ctrl_z(wiring, clock, tmp_path):
    """The bench is in use: the refused open leaves this process as it found it (a test session or a
    server that was refused goes on with its own Ctrl-C, SIGTERM, SIGHUP and Ctrl-Z)."""
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGTSTP)
    before = {s: signal.getsignal(s) for s in sigs}
    lock = BenchLock(tmp_path / "bench.lock")
    lock.acquire()
    try:
        for _ in range(2):
            with pytest.raises(Exception, match="in use"):
                Bench(wiring, mock_backend(wiring, clock, lock_path=str(tmp_path / "bench.lock"))).open()
            assert {s: signal.getsignal(s) for s in sigs} == before
    finally:
        lock.release()
    with Bench(wiring, mock_backend(wiring, clock)):
        pass
    assert {s: signal.getsignal(s) for s in sigs} == before  # no count of installs was left behind


def test_a_bench_released_and_opened_again_in_one_process(wiring, clock, tmp_path):
    lock_path = tmp_path / "bench.lock"
    backend = mock_backend(wiring, clock, lock_path=str(lock_path))
    for _ in range(3):  # the same pins and lock file, three times: devices and descriptor were given back
        with Bench(wiring, backend) as bench:
            bench.power("acc", True)
            assert open_on(lock_path) == [str(lock_path)]
            with pytest.raises(Exception, match="in use"):
                BenchLock(lock_path).acquire()
        assert open_on(lock_path) == []
    other = BenchLock(lock_path)
    other.acquire()  # nothing of ours still holds the lock
    other.release()


# -- holds and combos ----------------------------------------------------------------
def test_hold_until_reports_how_long_it_held_or_none(wiring, clock):
    backend, tape = taped(wiring, clock)
    with Bench(wiring, backend) as bench:
        t0 = clock.now()
        held = bench.hold_until("mode+scan", lambda: clock.now() >= t0 + 1.2, max_hold=5)
        assert held == pytest.approx(1.2, abs=0.06)
        t1 = clock.now()
        assert bench.hold_until("mode", lambda: clock.now() >= t1 + 0.1, max_hold=5, min_hold=2) \
            == pytest.approx(2.0, abs=0.06)  # seen at once, held for min_hold all the same
        t2 = clock.now()
        assert bench.hold_until("scan", lambda: False, max_hold=3) is None
        assert clock.now() - t2 == pytest.approx(3.0, abs=0.06)
        assert not any(k.is_down for k in bench.keys.values())
    downs = [e for e in tape.of("key")]
    assert [repr(e) for e in downs] == ["mode down", "scan down", "mode up", "scan up",
                                        "mode down", "mode up", "scan down", "scan up"]


@pytest.mark.parametrize("combo", ["", "+", "mode+", "+scan", [], ["mode", ""], " "])
def test_an_empty_combo_is_refused_before_any_pin_moves(wiring, clock, combo):
    backend, tape = taped(wiring, clock)
    with Bench(wiring, backend) as bench:
        mark = len(tape.edges)
        for act in (bench.press, bench.down, lambda c: bench.hold_until(c, lambda: True, 1)):
            with pytest.raises(BenchRefused, match="is not a key or combo"):
                act(combo)
        assert tape.edges[mark:] == []
