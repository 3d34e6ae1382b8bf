"""Signals against the bench's open and release, line by line, judged by the pins.

A trace function raises a real SIGINT/SIGTERM in this process at one line that
Bench.open/release/__enter__/__exit__ run (rig's own lines - the bench, its
pin edges, the event bus and log - each in turn, where it first runs); the
handler runs where CPython next checks for signals. Whatever line it lands on,
the bench ends released, every pin safe, the log saying exactly what the pins
did, and the interrupt reaches the caller.
"""

from __future__ import annotations

import inspect
import json
import signal
import sys
from pathlib import Path

import pytest

from rig.bench.bench import signals
from rig.bench.backends import mock_backend
from rig.bench.bench import Bench
from rig.bench.clock import VirtualClock
from rig.records.events import EventBus
from rig.records.report import EventLog, read_events
from rig.bench.wiring import load_wiring

WIRING = load_wiring()
FUNCS = [Bench.open, Bench._open_now, Bench.release, Bench.__enter__, Bench.__exit__]


RIG = str(Path(Bench.__module__ and sys.modules["rig"].__file__).parent)
BENCH_CODES = {fn.__code__ for fn in FUNCS}


_NAMES: dict[str, str] = {}


def _name(code) -> str:
    """A code object's file name (a Path per traced line was most of a trial's time)."""
    try:
        return _NAMES[code.co_filename]
    except KeyError:
        return _NAMES.setdefault(code.co_filename, Path(code.co_filename).name)


def _tracer(on_line, only=None):
    """A trace function calling ``on_line(where)`` for each line of rig's code run under FUNCS;
    with ``only`` (a file name), for that file's lines alone (a trial waits for one line)."""
    depth = [0]

    def tracer(frame, event, arg):
        if event == "call":
            if frame.f_code in BENCH_CODES:
                depth[0] += 1
            elif not (depth[0] and frame.f_code.co_filename.startswith(RIG)):
                return None
            elif only is not None and _name(frame.f_code) != only:
                return None  # no line of it is waited for, and it holds no FUNCS frame to count out
            return tracer
        if event == "return" and frame.f_code in BENCH_CODES:
            depth[0] -= 1
        elif event == "line" and (only is None or _name(frame.f_code) == only):
            on_line((_name(frame.f_code), frame.f_lineno))
        return tracer

    return tracer


def _executed_lines():
    """Each line an undisturbed session runs under FUNCS, in the order it first runs."""
    import tempfile

    ran = {}
    clock = VirtualClock()
    with tempfile.TemporaryDirectory() as tmp:
        events = EventBus(clock)
        log = EventLog(Path(tmp) / "events.jsonl")
        events.subscribe(log.write)
        sys.settrace(_tracer(lambda where: ran.setdefault(where, None)))
        try:
            with Bench(WIRING, mock_backend(WIRING, clock), events=events) as bench:
                bench.power("acc", True)
                bench.down("mode+scan")
        finally:
            sys.settrace(None)
            log.close()
    return list(ran)


POINTS = _executed_lines()


def _pin_levels(backend):
    f = backend.pin_factory
    rails = {r.name: (f.pin(r.pin).state == r.active_high) == r.energised_for(True) for r in WIRING.rails.values()}
    keys = {k.name: f.pin(k.pin).state == k.active_high for k in WIRING.keys.values()}
    return rails, keys


def _rigged(tmp_path, at, sig):
    """A mock bench's parts with an event log, and a line callback that raises ``sig`` once, at ``at``."""
    clock = VirtualClock()
    events = EventBus(clock)
    log = EventLog(tmp_path / "events.jsonl")
    events.subscribe(log.write)
    fired = []

    def on_line(where):
        if not fired and where == at:
            fired.append(where)
            signal.raise_signal(sig)

    return clock, mock_backend(WIRING, clock), events, log, fired, on_line


def _session(tmp_path, at, sig, direct=False):
    """Open a bench, press, release; raise ``sig`` on the first run of line ``at`` (file, lineno)."""
    clock, backend, events, log, fired, on_line = _rigged(tmp_path, at, sig)
    log_path = log.path

    bench = Bench(WIRING, backend, events=events)
    caught = None
    assert signals.install()
    try:
        sys.settrace(_tracer(on_line, only=at[0]))
        try:
            if direct:  # open() and release() called by hand, as a bench server would
                try:
                    bench.open()
                    bench.power("acc", True)
                    bench.down("mode+scan")
                    clock.sleep(1.0)
                finally:
                    bench.release()
            else:
                with bench:
                    bench.power("acc", True)
                    bench.down("mode+scan")
                    clock.sleep(1.0)
        finally:
            sys.settrace(None)
    except KeyboardInterrupt as exc:
        caught = exc
    finally:
        signals.uninstall()
        log.close()
    return bench, backend, read_events(log_path), fired, caught


def _edges(events):
    return [(e["what"], e["to"]) for e in events if e["kind"] in ("rail", "key")]


def _pin_history(backend, gpio, active_high):
    return [s.state == active_high for s in backend.pin_factory.pin(gpio).states]


# every line under `with bench:`; by hand (open() and release() called directly), the bench's own lines
TRIALS = [(at, False) for at in POINTS] + [(at, True) for at in POINTS if at[0] in ("bench.py", "channels.py")]


@pytest.mark.parametrize("at,direct", TRIALS, ids=[f"{f}:{n}-{'by-hand' if d else 'with'}" for (f, n), d in TRIALS])
def test_a_signal_at_any_line_of_open_or_release_leaves_everything_safe(tmp_path, at, direct):
    sig = signal.SIGTERM if at[1] % 2 else signal.SIGINT
    bench, backend, events, fired, caught = _session(tmp_path, at, sig, direct)
    rails, keys = _pin_levels(backend)
    assert rails == {"battery": True, "acc": False, "ignition": False} and not any(keys.values())
    assert bench.released and not bench.is_open
    if fired:  # the line ran: the signal was delivered, and reached the caller
        assert isinstance(caught, signals.Terminated if sig == signal.SIGTERM else KeyboardInterrupt), (fired, caught)
    # the log says what the pins did: every edge logged happened, and every one that happened is logged
    acc = WIRING.rails["acc"]
    acc_levels = [lvl == acc.energised_for(True) for lvl in _pin_history(backend, acc.pin, acc.active_high)]
    acc_changes = [b for a, b in zip(acc_levels, acc_levels[1:]) if a != b]
    logged_acc = [to == "on" for what, to in _edges(events) if what == "acc"]
    assert logged_acc == acc_changes[:len(logged_acc)] and len(acc_changes) - len(logged_acc) <= 1, events
    mode = WIRING.keys["mode"]
    mode_levels = _pin_history(backend, mode.pin, mode.active_high)
    mode_changes = [b for a, b in zip(mode_levels, mode_levels[1:]) if a != b]
    logged_mode = [to == "down" for what, to in _edges(events) if what == "mode"]
    assert logged_mode == mode_changes[:len(logged_mode)], events
    if any(e["kind"] == "bench" and e["what"] == "open" for e in events):
        # opened and on record: it is released on record too, after its pins moved
        assert events[-1]["kind"] == "bench" and events[-1]["what"] == "released", events
        assert logged_acc == acc_changes and logged_mode == mode_changes, events


def test_the_lines_cover_open_and_release():
    # a trial whose line never runs proves nothing: these are the lines that do run
    files = {f for f, _ in POINTS}
    assert {"bench.py", "events.py", "report.py"} <= files and len(POINTS) > 60, POINTS


def test_the_release_moves_every_pin_before_it_tells_anyone(tmp_path):
    # what an interrupted path may hold (a listener, the log) is only reached once every pin is safe
    clock = VirtualClock()
    backend = mock_backend(WIRING, clock)
    seen = []
    with Bench(WIRING, backend) as bench:
        bench.power("acc", True)
        bench.down("mode+scan")
        bench.events.subscribe(lambda e: seen.append((e.kind, e.what, _pin_levels(backend))))
    seen = [x for x in seen if x[0] != "dwell"]
    assert [(k, w) for k, w, _ in seen] == [("key", "mode"), ("key", "scan"), ("rail", "acc"), ("bench", "released")]
    for _, _, (rails, keys) in seen:
        assert rails["acc"] is False and not any(keys.values())


def test_a_listener_that_never_returns_cannot_keep_acc_on(tmp_path):
    import threading

    clock = VirtualClock()
    backend = mock_backend(WIRING, clock)
    stuck, checked = threading.Event(), threading.Event()

    def blocking(event):
        if event.kind == "key" and event.new == "up":
            stuck.set()
            checked.wait(10)  # stands for a lock an interrupted path left held: stuck until the pins are read

    with Bench(WIRING, backend) as bench:
        bench.power("acc", True)
        bench.down("mode")
        bench.events.subscribe(blocking)
        t = threading.Thread(target=bench.release)
        t.start()
        assert stuck.wait(5)
        try:
            rails, keys = _pin_levels(backend)  # while the listener is still stuck
        finally:
            checked.set()
        assert rails["acc"] is False and not any(keys.values())
        t.join()


def test_the_event_log_takes_no_lock(tmp_path):
    log = EventLog(tmp_path / "log.jsonl")
    assert not any("lock" in type(v).__name__.lower() for v in vars(log).values())
    from rig.records.events import Event

    log.write(Event(1.0, "rail", "acc", "off", "on"))
    log.close()
    log.write(Event(2.0, "rail", "acc", "on", "off"))  # after close: dropped, no error
    assert [json.loads(x)["t"] for x in (tmp_path / "log.jsonl").read_text().splitlines()] == [1.0]


def _job_lines():
    """rig's lines run by a power switch and a press (the pin edges outside open/release)."""
    ran = {}
    clock = VirtualClock()
    bench = Bench(WIRING, mock_backend(WIRING, clock)).open()
    try:
        sys.settrace(_tracer_for(lambda where: ran.setdefault(where, None)))
        try:
            bench.power("acc", True)
            bench.press("mode", hold=0.5)
        finally:
            sys.settrace(None)
    finally:
        bench.release()
    return list(ran)


def _tracer_for(on_line, only=None):
    def tracer(frame, event, arg):
        if event == "call":
            wanted = frame.f_code.co_filename.startswith(RIG) and (only is None or _name(frame.f_code) == only)
            return tracer if wanted else None
        if event == "line":
            on_line((_name(frame.f_code), frame.f_lineno))
        return tracer

    return tracer


JOB_POINTS = _job_lines()


@pytest.mark.parametrize("at", JOB_POINTS, ids=[f"{f}:{n}" for f, n in JOB_POINTS])
def test_a_signal_during_a_press_never_leaves_the_log_behind_the_pins(tmp_path, at):
    clock, backend, events, log, fired, on_line = _rigged(tmp_path, at, signal.SIGINT)

    assert signals.install()
    try:
        with pytest.raises(KeyboardInterrupt):
            with Bench(WIRING, backend, events=events) as bench:
                sys.settrace(_tracer_for(on_line, only=at[0]))
                try:
                    bench.power("acc", True)
                    bench.press("mode", hold=0.5)
                finally:
                    sys.settrace(None)
                raise KeyboardInterrupt  # the line was never reached: end the same way
    finally:
        signals.uninstall()
        log.close()
    logged = _edges(read_events(tmp_path / "events.jsonl"))
    for name, spec, word in (("acc", WIRING.rails["acc"], ("off", "on")), ("mode", WIRING.keys["mode"], ("up", "down"))):
        levels = [s.state == spec.active_high for s in backend.pin_factory.pin(spec.pin).states]
        if name == "acc":
            levels = [lvl == spec.energised_for(True) for lvl in levels]
        did = [word[b] for a, b in zip(levels, levels[1:]) if a != b]
        assert [to for what, to in logged if what == name] == did, (name, logged)


def test_sim_reset_is_refused_while_a_shell_holds_the_unit_naming_the_shell(tmp_path):
    import os
    import subprocess
    import time

    from tests.rigcli import rig_in_process

    env = dict(os.environ, RIG_SIM_STATE=str(tmp_path / "unit.json"), XDG_DATA_HOME=str(tmp_path / "data"),
               RIG_LOCK=str(tmp_path / "bench.lock"))
    # only the shell needs a process of its own (it holds the unit); the resets run in this one
    first = rig_in_process(["sim", "reset", "--profile", "vw-safe", "--code", "1234"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    shell = subprocess.Popen([sys.executable, "-m", "rig", "--backend", "sim", "shell"], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        shell.stdin.write("status\n")
        shell.stdin.flush()
        shell.stdout.readline()  # the shell is up and holds the unit
        deadline = time.monotonic() + 20
        while not (tmp_path / "unit.json.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = rig_in_process(["sim", "reset", "--profile", "ford", "--code", "5678"], env, tmp_path)
    finally:
        shell.stdin.close()
        shell.wait(timeout=30)
    assert second.returncode != 0 and "in use by" in second.stderr, second.stderr
    assert "(rig shell," in second.stderr, second.stderr
    from rig.sim.memory import UnitMemory

    assert UnitMemory.load(tmp_path / "unit.json").profile == "vw-safe"  # the shell's unit, not overwritten


def test_the_simulated_units_answer_follows_the_edge_that_caused_it(tmp_path):
    # the unit answers inside the pin write (on the tap's thread): the edge is still told first
    from rig.sim.backend import reset_unit, sim_backend

    def story():
        state = tmp_path / "unit.json"
        reset_unit(state, "vw-safe", "1234", ideal=True)
        seen = []
        backend = sim_backend(WIRING, state)
        with Bench(WIRING, backend) as bench:
            bench.events.subscribe(lambda e: seen.append((round(e.t, 6), e.kind, e.what, e.new)))
            bench.power("acc", True)
            bench.clock.sleep(1.0)
            bench.hold_until("mode+scan", lambda: bench.display.current() == "1000", max_hold=10)
            bench.press("preset1")
        backend.close()
        return seen

    seen = story()
    acc = seen.index(next(e for e in seen if e[1] == "rail" and e[2] == "acc"))
    first_display = seen.index(next(e for e in seen if e[1] == "display"))
    assert acc < first_display and seen[acc][0] == seen[first_display][0], seen  # same instant, edge first
    press = next(i for i, e in enumerate(seen) if e[1:] == ("key", "preset1", "down"))
    assert seen[press + 1][1] == "display" and seen[press + 1][3] == "2000", seen[press:]
    assert story() == seen  # and the same every time
