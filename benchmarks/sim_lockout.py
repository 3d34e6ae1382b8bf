"""What an hour of simulated lockout wait costs in wall time.

Runs the built-in lockout-wait procedure against a simulated unit in its
first one-hour lockout (vw-safe by default), the way `rig run` does, and
prints the wall time against the simulated time it covered. Asserts nothing.

    python benchmarks/sim_lockout.py [--profile vw-safe] [--runs 3]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rig.job import Job, run_job
from rig.profiles import load_profiles
from rig.sim.backend import reset_unit, sim_backend
from rig.wiring import load_wiring


def once(profile: str) -> tuple[float, float]:
    d = Path(tempfile.mkdtemp())
    reset_unit(d / "unit.json", profile, "1" * load_profiles()[profile].digits.count, state="lockout")
    wiring = load_wiring()
    job = Job("lockout-wait", wiring, lambda w: sim_backend(w, d / "unit.json"), str(d / "l.sqlite"),
              str(d / "runs"), profile, "U1")
    start = time.perf_counter()
    result = run_job(job)
    wall = time.perf_counter() - start
    assert result.outcome == "passed", result.message
    return wall, load_profiles()[profile].lockout_wait(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="vw-safe")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    walls, simulated = [], 0.0
    for _ in range(args.runs):
        wall, simulated = once(args.profile)
        walls.append(wall)
    med = statistics.median(walls)
    print(f"lockout-wait on a simulated {args.profile} unit: {simulated / 3600:g} h of simulated time")
    print(f"wall time per run: median {med * 1000:.0f} ms, max {max(walls) * 1000:.0f} ms over {args.runs} runs "
          f"(whole job: checks, ledger, log, timeline)")
    print(f"{simulated / med:,.0f}x faster than sitting it out")


if __name__ == "__main__":
    main()
