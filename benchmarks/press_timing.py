"""How precisely does a commanded hold end, idle and under load?

Presses a key through ``Bench.press`` (mock pins, the real clock: sleep, then
spin to the deadline) and, as the anchor, holds a raw mock pin with a plain
``time.sleep``; measures each hold from the pin's own state history. Three
conditions, each in this one run: idle; with the display tap reading 1,000
lines/s from a pty (written by another process, logged to disk as a run
does); with a CPU-bound Python thread in the process. Prints min, median, p99
and max of the hold error; asserts nothing.

    python benchmarks/press_timing.py [--n 200] [--hold 0.05] [--rt]

``--rt`` first asks for real-time priority and a CPU of its own
(``rig.bench.clock.realtime``), where the OS allows it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import tty
from contextlib import contextmanager
from pathlib import Path

from rig.bench.backends import mock_backend
from rig.bench.bench import Bench
from rig.bench.clock import RealClock, ordinary
from rig.unit.display import SerialTap
from rig.records.events import EventBus
from rig.records.report import EventLog
from rig.bench.wiring import load_wiring

KEY = "preset1"

WRITER = """
import os, sys, time
try:  # a UART's far end: not at the bench's real-time priority
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    os.sched_setaffinity(0, range(os.cpu_count()))
except (AttributeError, OSError):
    pass
fd, rate = int(sys.argv[1]), float(sys.argv[2])
start, n = time.perf_counter(), 0
while True:
    n += 1
    os.write(fd, b"DBG %08d tuner 87.50 MHz rds ok agc 12\\r\\n" % n)
    delay = start + n / rate - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
"""


@contextmanager
def chatty_tap(backend, rate: float):
    """A SerialTap on a pty, fed ``rate`` lines/s by a child process."""
    master, slave = os.openpty()
    tty.setraw(slave)
    tap = SerialTap(os.ttyname(slave), 115200, backend.clock)
    os.close(slave)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(master), str(rate)], pass_fds=(master,))
    backend.display = tap
    try:
        yield tap
    finally:
        writer.kill()
        writer.wait()
        tap.close()
        os.close(master)


@contextmanager
def busy_thread():
    stop = threading.Event()

    def spin():
        ordinary()  # as rig's own threads do: never at the pressing thread's real-time priority
        x = 0
        while not stop.is_set():
            x += 1

    t = threading.Thread(target=spin, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()


@contextmanager
def condition(name, backend, log_path):
    if name == "tap 1,000 lines/s":
        with chatty_tap(backend, 1000.0) as tap:
            time.sleep(0.3)  # let the stream settle
            yield tap
    elif name == "busy thread":
        with busy_thread():
            yield None
    else:
        yield None


def bench_errors(bench, n, hold):
    pin = bench.backend.pin_factory.pin(bench.wiring.keys[KEY].pin)
    out = []
    for _ in range(n):
        pin.clear_states()
        bench.press(KEY, hold=hold)
        out.append(abs(pin.states[-1].timestamp - hold))  # down -> up, by the pin's own clock
        time.sleep(0.002)
    return out


def raw_errors(backend, gpio, n, hold):
    """The anchor: a raw mock pin held with a plain time.sleep."""
    pin = backend.pin_factory.pin(gpio)
    pin.output_with_state(False)
    out = []
    for _ in range(n):
        pin.clear_states()
        pin.state = True
        time.sleep(hold)
        pin.state = False
        out.append(abs(pin.states[-1].timestamp - hold))
        time.sleep(0.002)
    pin.input_with_pull("down")
    return out


def stats(errors):
    e = sorted(errors)
    pick = lambda q: e[min(len(e) - 1, int(q * len(e)))]
    return {"min": e[0], "median": pick(0.5), "p99": pick(0.99), "max": e[-1]}


def row(label, s):
    us = lambda v: f"{v * 1e6:9.1f}"
    return f"  {label:<34}{us(s['min'])}{us(s['median'])}{us(s['p99'])}{us(s['max'])}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="presses per condition")
    ap.add_argument("--hold", type=float, default=0.05, help="seconds per press")
    ap.add_argument("--rt", action="store_true", help="ask for real-time priority and a CPU of its own")
    args = ap.parse_args()
    if args.rt:
        from rig.bench.clock import realtime

        print("real time:", realtime())
    wiring = load_wiring()
    spare = next(p for p in range(9, 28) if p not in set(wiring.pins()))
    results = {}
    print(f"{args.n} presses of {args.hold * 1000:.0f} ms per condition; hold error as the pin saw it, in us")
    print(f"  {'':<34}{'min':>9}{'median':>9}{'p99':>9}{'max':>9}")
    with tempfile.TemporaryDirectory() as d:
        for name in ("idle", "tap 1,000 lines/s", "busy thread"):
            backend = mock_backend(wiring, RealClock())
            events = EventBus(backend.clock)
            log = EventLog(Path(d) / f"{name[:4]}.jsonl")
            events.subscribe(log.write)
            with condition(name, backend, d) as tap:
                with Bench(wiring, backend, events=events) as bench:
                    b = stats(bench_errors(bench, args.n, args.hold))
                    r = stats(raw_errors(backend, spare, args.n, args.hold))
                lines = getattr(tap, "count", None) or len(tap.history()) if tap is not None else 0
            log.close()
            results[name] = (b, r)
            print(f"{name}" + (f" ({lines:,} display lines taken in, each logged)" if tap is not None else ""))
            print(row("Bench.press (sleep + spin)", b))
            print(row("time.sleep on a raw pin (anchor)", r))
    idle, tapped = results["idle"][0], results["tap 1,000 lines/s"][0]
    print(f"median idle {idle['median'] * 1e6:.1f} us (target < 50); "
          f"p99 with the tap {tapped['p99'] * 1e6:.1f} us = {tapped['p99'] / idle['p99']:.2f}x the idle p99 "
          f"{idle['p99'] * 1e6:.1f} us (target <= 2x); plain-sleep p99 idle "
          f"{results['idle'][1]['p99'] * 1e6:.1f} us")


if __name__ == "__main__":
    main()
