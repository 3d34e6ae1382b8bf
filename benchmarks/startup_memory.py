"""What starting rig costs, and what a chatty hour of display costs in memory.

``rig --help`` against ``python -c pass`` (each a fresh process, median of
``--runs``), then a one-hour wait on the virtual clock while the display tap
takes in 1,000 lines a second (3.6 million lines, each also written to an
event log on disk, as a run does), in a child process whose peak RSS is
read when it ends. Prints figures from this one run; asserts nothing.

    python benchmarks/startup_memory.py [--runs 10] [--rate 1000]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time

CHATTY = """
import resource, sys, tempfile, time
from rig.bench.clock import VirtualClock
from rig.unit.display import SerialTap
from rig.records.events import EventBus
from rig.records.report import EventLog
rate = int(sys.argv[1])
clock = VirtualClock()
tap = SerialTap("loop://", 115200, clock)
events = EventBus(clock)
with tempfile.TemporaryDirectory() as d:
    log = EventLog(d + "/run.jsonl")
    events.subscribe(log.write)
    tap.subscribe(lambda new, old: events.emit("display", "", old, new))  # what the bench does
    lines = [b"DBG %06d tuner 87.50 MHz rds ok agc 12" % i for i in range(rate)]
    def second():  # a second of chatter, then the next one
        for raw in lines:
            tap._take(raw)
        clock.call_later(1.0, second)
    clock.call_later(1.0, second)
    start = time.perf_counter()
    clock.wait_for(lambda: False, timeout=3600, poll=3600)
    wall = time.perf_counter() - start
    log.close()
    tap.close()
    print(tap.count, len(tap.history()), round(wall, 1), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def timed(cmd) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--rate", type=int, default=1000, help="display lines per simulated second")
    args = ap.parse_args()
    helps, passes = [], []
    for _ in range(args.runs):  # interleaved, so a busy moment hits both
        passes.append(timed([sys.executable, "-c", "pass"]))
        helps.append(timed([sys.executable, "-m", "rig", "--help"]))
    h, p = statistics.median(helps), statistics.median(passes)
    print(f"rig --help {h * 1000:.0f} ms, python -c pass {p * 1000:.0f} ms (median of {args.runs}; "
          f"rig's own share {(h - p) * 1000:.0f} ms; target <= 100 ms)")
    base = subprocess.run([sys.executable, "-c", "import rig.unit.display, rig.records.report, resource; "
                           "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
                          capture_output=True, text=True, check=True).stdout.split()[-1]
    out = subprocess.run([sys.executable, "-c", CHATTY, str(args.rate)], capture_output=True, text=True, check=True)
    count, kept, wall, peak = out.stdout.split()
    print(f"a one-hour wait with the tap taking in {args.rate:,} lines/s: {int(count):,} lines in {wall} s, "
          f"{int(kept):,} kept in memory; peak RSS {int(peak) / 1024:.1f} MiB "
          f"(the same imports alone: {int(base) / 1024:.1f} MiB)")


if __name__ == "__main__":
    main()
