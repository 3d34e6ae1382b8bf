"""The lab on loopback: how long a waiting job waits for a released bench, and what a lab call costs.

Starts a labgrid coordinator, one simulated bench (rig serve + rig-lg-exporter) and
its place, all on 127.0.0.1, then measures in this one run:

- handover: a second job waits in ``labgrid-client reserve --wait``; the first lets
  go. Timed from the first job starting to let go until the waiter's reserve
  returns. Once with labgrid's documented ``release`` then ``cancel-reservation``,
  once with ``rig lab release`` (cancel, then release).
- per-call cost: ``rig --place P status`` (asks the coordinator, then the bench)
  beside ``rig --server URL status`` (the bench only) and ``labgrid-client -p P show``
  (the coordinator only); medians of several wall times.

    python benchmarks/lab_handover.py [--rounds 3] [--calls 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rig.lab.local import LocalLab
from rig.sim.backend import reset_unit

BIN = Path(sys.executable).parent


def lg(env, *args):
    return subprocess.run([str(BIN / "labgrid-client"), *args], env=env, capture_output=True, text=True, check=True)


def rig(env, *args):
    return subprocess.run([sys.executable, "-m", "rig", *args], env=env, capture_output=True, text=True, check=True)


def reserve(env) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "labgrid-client"), "reserve", "--wait", "--shell", "family=vw-safe"], env=env,
                            stdout=subprocess.PIPE, text=True)


def token(proc) -> str:
    out, _ = proc.communicate(timeout=120)
    return out.strip().split("LG_TOKEN=")[1].split()[0]


def handover(lab, let_go) -> float:
    a, b = lab.env("bench-a"), lab.env("bench-b")
    a["LG_TOKEN"] = token(reserve(a))
    lg(a, "-p", "+", "acquire")
    waiter = reserve(b)
    time.sleep(1.0)  # the waiter is in the coordinator's queue
    t0 = time.monotonic()
    let_go(a)
    b["LG_TOKEN"] = token(waiter)
    took = time.monotonic() - t0
    lg(b, "-p", "+", "acquire")
    rig(b, "lab", "release")
    return took


def stock(env):
    lg(env, "-p", "+", "release")
    lg(env, "cancel-reservation", env["LG_TOKEN"])


def rigs(env):
    rig(env, "lab", "release")


def timed(fn, n) -> float:
    walls = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="handovers measured each way")
    ap.add_argument("--calls", type=int, default=7, help="calls timed for each per-call median")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d, LocalLab(d) as lab:
        t0 = time.monotonic()
        unit = Path(d) / "unit.json"
        reset_unit(unit, "vw-safe", "1234", serial="VW1", ideal=True)
        bench = lab.add_bench("bench-01", "VW1", "vw-safe", unit)
        print(f"lab up (coordinator, rig serve, exporter, place): {time.monotonic() - t0:.2f} s")

        lg_times = [handover(lab, stock) for _ in range(args.rounds)]
        rig_times = [handover(lab, rigs) for _ in range(args.rounds)]
        print(f"handover, labgrid release then cancel-reservation: median {statistics.median(lg_times):5.2f} s "
              f"(each: {', '.join(f'{t:.2f}' for t in lg_times)})")
        print(f"handover, rig lab release (cancel, then release):  median {statistics.median(rig_times):5.2f} s "
              f"(each: {', '.join(f'{t:.2f}' for t in rig_times)})")
        print(f"  ratio labgrid/rig: {statistics.median(lg_times) / statistics.median(rig_times):.1f}x")

        env = lab.env("caller")
        lg(env, "-p", "bench-01", "acquire")
        place = timed(lambda: rig(env, "--place", "bench-01", "status"), args.calls)
        direct = timed(lambda: rig(env, "--server", bench.url, "status"), args.calls)  # a read: no place needed
        show = timed(lambda: lg(env, "-p", "bench-01", "show"), args.calls)
        py = timed(lambda: subprocess.run([sys.executable, "-c", "pass"]), args.calls)
        print(f"rig --place bench-01 status: {place * 1000:6.0f} ms  (coordinator + bench)")
        print(f"rig --server URL status:     {direct * 1000:6.0f} ms  (bench only)")
        print(f"labgrid-client -p P show:    {show * 1000:6.0f} ms  (coordinator only)")
        print(f"python -c pass:              {py * 1000:6.0f} ms")
        print(f"  what --place adds to a call: {(place - direct) * 1000:.0f} ms "
              f"({place / direct:.2f}x the bench-only call)")


if __name__ == "__main__":
    main()
