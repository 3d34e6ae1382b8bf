"""The bench on gpiozero's MockFactory: safe start, combos, dwell, every way out is safe."""

import gc
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from rig.bench.backends import mock_backend
from rig.bench.bench import Bench, _HeldOutput
from rig.errors import BenchBusy, BenchRefused
from rig.bench.wiring import load_wiring

from .conftest import pin_durations, pin_states

MIXED = """
rails:
  battery: {pin: 17, active_high: true, contact: nc, safe: on}
  acc: {pin: 5, active_high: false, pull: up, contact: "no", safe: off}
  ignition: {pin: 22, active_high: true, contact: "no", safe: off}
keys:
  mode: {pin: 13}
  scan: {pin: 18}
  preset1: {pin: 6, active_high: false, pull: up}
senses:
  unit_on: {pin: 26, pull: down}
"""


@pytest.fixture
def mixed(write_yaml, clock):
    w = load_wiring(write_yaml(MIXED))
    backend = mock_backend(w, clock)
    with Bench(w, backend) as bench:
        yield bench


def test_outputs_start_safe_without_a_transient(mixed):
    # active-high on a pulled-down pin stays LOW; active-low on a pulled-up pin stays HIGH:
    # the pins' whole histories show no visit to the active level
    assert pin_states(mixed, 17) == [False]          # battery relay de-energised -> constant power on (NC)
    assert pin_states(mixed, 5) == [True]            # active-low ACC relay released
    assert pin_states(mixed, 6) == [True]            # active-low key released
    assert pin_states(mixed, 13) == [False]
    assert mixed.snapshot()["rails"] == {"battery": "on", "acc": "off", "ignition": "off"}


def test_active_low_relay_switches_with_the_right_level(mixed):
    mixed.power("acc", True)
    assert pin_states(mixed, 5) == [True, False]
    assert mixed.rail("acc").is_on


def test_combo_keys_go_down_and_up_together_for_the_hold(bench, clock):
    clock.sleep(1.0)
    bench.press("mode+scan", hold=2.0)
    # mode=GPIO13, scan=GPIO18: identical histories, down after 1 s, held exactly 2 s
    assert pin_durations(bench, 13) == [(0.0, False), (1.0, True), (2.0, False)]
    assert pin_durations(bench, 18) == [(0.0, False), (1.0, True), (2.0, False)]
    assert pin_durations(bench, 19) == [(0.0, False)]  # preset1 untouched


def test_repeated_presses_use_hold_and_gap(bench):
    bench.press("preset1", hold=0.3, times=3, gap=0.2)
    assert pin_durations(bench, 19) == [(0.0, False), (0.0, True), (0.3, False), (0.2, True),
                                        (0.3, False), (0.2, True), (0.3, False)]


def test_relay_dwell_is_enforced(bench):
    bench.power("acc", True)
    bench.power("acc", False)  # asked at once; the relay waits out its 0.5 s dwell
    bench.power("acc", True)
    assert pin_durations(bench, 27) == [(0.0, False), (0.0, True), (0.5, False), (0.5, True)]


def test_switching_a_rail_to_where_it_is_does_not_touch_the_relay(bench):
    bench.power("battery", True)
    assert pin_states(bench, 17) == [False]


def test_unknown_key_is_refused_before_anything_moves(bench):
    with pytest.raises(BenchRefused, match="no key 'mdoe'"):
        bench.press("mode+mdoe")
    assert pin_states(bench, 13) == [False]


def test_exception_mid_press_releases_keys_then_rails(wiring, clock):
    events = []
    backend = mock_backend(wiring, clock)
    clock.call_later(1.0, lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        with Bench(wiring, backend) as bench:
            bench.events.subscribe(events.append)
            bench.power("acc", True)
            bench.press("mode+scan", hold=5)
    assert pin_states(backend, 13) == [False, True, False]
    assert pin_states(backend, 27) == [False, True, False]
    order = [(e.kind, e.what, e.new) for e in events]
    assert order[-4:] == [("key", "mode", "up"), ("key", "scan", "up"), ("rail", "acc", "off"),
                          ("bench", "released", None)]
    assert events[-1].data["reason"] == "error: RuntimeError"


def test_keyboard_interrupt_mid_hold_is_safe(wiring, clock):
    backend = mock_backend(wiring, clock)

    def ctrl_c():
        raise KeyboardInterrupt

    clock.call_later(0.5, ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        with Bench(wiring, backend) as bench:
            bench.power("acc", True)
            bench.press("preset1", hold=10)
    assert pin_states(backend, 19) == [False, True, False]
    assert pin_states(backend, 27)[-1] is False


def test_a_forgotten_bench_is_not_switched_off_by_the_garbage_collector(wiring, clock):
    backend = mock_backend(wiring, clock)

    def start():
        Bench(wiring, backend).open().power("acc", True)  # no reference kept

    start()
    gc.collect()
    assert backend.pin_factory.pin(27).state is True
    # and a bare device falling out of scope leaves its pin alone too
    dev = _HeldOutput(7, pin_factory=backend.pin_factory, initial_value=True)
    del dev
    gc.collect()
    assert backend.pin_factory.pin(7).state is True
    from rig.bench.bench import _release_all
    _release_all()
    assert backend.pin_factory.pin(27).state is False


def test_released_bench_refuses_further_commands(bench):
    bench.release()
    with pytest.raises(BenchRefused, match="not open"):
        bench.power("acc", True)


def test_sense_edges_are_events(bench):
    events = []
    bench.events.subscribe(events.append)
    bench.backend.pin_factory.pin(6).drive_low()  # opto conducts: unit on
    assert bench.read("unit_on") is True
    assert [(e.kind, e.what, e.old, e.new) for e in events] == [("sense", "unit_on", False, True)]


def _rig(args, env, **kw):
    full = dict(os.environ, **env)
    return subprocess.Popen([sys.executable, "-m", "rig", *args], env=full, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _wait_for_line(path, predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    if predicate(json.loads(line)):
                        return
                except ValueError:
                    pass
        time.sleep(0.02)
    raise AssertionError(f"no such event in {path}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_a_child_mid_press_releases_everything(tmp_path, sig):
    log = tmp_path / "events.jsonl"
    child = _rig(["--backend", "mock", "--events", str(log), "press", "mode+scan", "--hold", "60", "--acc"], {})
    _wait_for_line(log, lambda e: e.get("kind") == "key" and e.get("what") == "scan" and e.get("to") == "down")
    child.send_signal(sig)
    _, err = child.communicate(timeout=20)
    assert child.returncode == 130, err
    # (a "dwell" event may sit between: ACC went on moments before, and the relay waits out its dwell)
    events = [(e["kind"], e.get("what"), e.get("to")) for e in map(json.loads, log.read_text().splitlines())
              if e["kind"] != "dwell"]
    assert events[-4:] == [("key", "mode", "up"), ("key", "scan", "up"), ("rail", "acc", "off"), ("bench", "released", None)]
    assert "keys released, rails safe" in err, events


def test_second_process_is_refused_naming_the_holder(wiring, tmp_path, clock):
    lock = str(tmp_path / "bench.lock")
    with Bench(wiring, mock_backend(wiring, clock, lock_path=lock)):
        with pytest.raises(BenchBusy):  # a second bench in this process is refused too
            Bench(wiring, mock_backend(wiring, clock, lock_path=lock)).open()
        child = _rig(["--backend", "mock", "press", "mode"], {"RIG_LOCK": lock, "RIG_CLOCK": "virtual"})
        out, err = child.communicate(timeout=20)
    assert child.returncode == 3  # refused for safety: two commands would fight over the pins
    assert f"the bench is in use by pid {os.getpid()}" in err
    assert "pressed" not in out
    # once released, the next process gets it
    child = _rig(["--backend", "mock", "press", "mode"], {"RIG_LOCK": lock, "RIG_CLOCK": "virtual"})
    out, err = child.communicate(timeout=20)
    assert child.returncode == 0, err


def test_a_second_ctrl_c_cannot_cut_a_release_short():
    from rig.bench.bench import signals

    assert signals.install()
    try:
        reached_the_end = False
        with pytest.raises(KeyboardInterrupt):
            with signals.shielded():
                os.kill(os.getpid(), signal.SIGINT)  # arrives mid-release (handled at the next bytecode)
                reached_the_end = True  # the release went on to the end...
        assert reached_the_end  # ...and the interrupt was delivered after it
        with pytest.raises(signals.Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
    finally:
        signals.uninstall()


def test_a_press_on_the_real_clock_moves_its_pin_once_each_way_and_logs_both_edges(wiring, monkeypatch):
    """The release is made up before the deadline and the final spin runs it with nothing to
    move: the spin must neither move a pin nor log an edge, and the up edge still comes at
    the deadline, logged like any other (time faked as in test_clock, so nothing sleeps)."""
    import rig.bench.clock
    from rig.bench.clock import RealClock

    from .test_clock import _FakeTime

    fake = _FakeTime()
    monkeypatch.setattr(rig.bench.clock, "time", fake)
    backend = mock_backend(wiring, RealClock())
    gpio = wiring.keys["preset1"].pin
    with Bench(wiring, backend) as bench:
        seen = []
        bench.events.subscribe(lambda e: seen.append(e) if e.kind == "key" else None)
        before = len(pin_states(bench, gpio))
        bench.press("preset1", hold=0.05)
        assert pin_states(bench, gpio)[before:] == [True, False]
        assert [(e.what, e.new) for e in seen] == [("preset1", "down"), ("preset1", "up")]
        assert seen[1].t - seen[0].t >= 0.05
