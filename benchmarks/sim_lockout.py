"""What an hour, and ten hours, of simulated lockout wait cost, end to end.

Runs ``rig --backend sim run lockout-wait`` as a technician would (a fresh
process each time: start-up, profiles, checks, ledger, event log, timeline)
against a simulated unit in its first lockout, for both families whose waits
end differently: vw-safe (one hour, ended by time: SAFE before and after) and
ford (ended by its ready display, with a countdown redrawn every minute), each
as a one-hour and a ten-hour variant written to a temporary notes folder. Prints
the median wall time of each, each family's 10 h / 1 h ratio and how many times
faster than real time the hour ran, all from this one run. Asserts nothing.

The runs are a technician's second command onwards: Python's bytecode cache
is written (as pip's install writes it; this script lifts a
PYTHONDONTWRITEBYTECODE it inherits) and rig's parsed-YAML cache holds the pin
map, procedure and notes (the set-up commands fill it). The hour is also timed
with that cache emptied before each run: the first command after a file changed.

    python benchmarks/sim_lockout.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = """---
family: benchmark
title: One- and ten-hour lockouts, for timing only
profiles:
  - id: vw-safe-10h
    extends: vw-safe
    confidence: assumed
    lockout: {wait: 10h}
  - id: ford-1h
    extends: ford
    confidence: assumed
    lockout: {wait: 1h}
  - id: ford-10h
    extends: ford
    confidence: assumed
    lockout: {wait: 10h}
---
"""
FAMILIES = {"vw-safe": ("vw-safe", "vw-safe-10h"), "ford": ("ford-1h", "ford-10h")}


def rig(*args, env):
    return subprocess.run([sys.executable, "-m", "rig", *args], env=env, capture_output=True, text=True)


def once(profile: str, notes: Path, cache: Path, cold: bool = False) -> float:
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, RIG_PROFILES=str(notes), XDG_DATA_HOME=d, RIG_SIM_STATE=f"{d}/unit.json",
                   RIG_LEDGER=f"{d}/ledger.sqlite", RIG_BACKEND="sim", XDG_CACHE_HOME=str(cache))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        attempts = "3" if profile.startswith("ford") else "2"
        for setup in (("sim", "reset", "--profile", profile, "--code", "1234", "--state", "lockout",
                       "--attempts", attempts),
                      ("units", "add", "U1", "--profile", profile, "--attempts-used", attempts)):
            r = rig(*setup, env=env)
            assert r.returncode == 0, r.stderr
        if cold:
            shutil.rmtree(cache, ignore_errors=True)
        start = time.perf_counter()
        r = rig("run", "lockout-wait", "--profile", profile, "--unit", "U1", env=env)
        wall = time.perf_counter() - start
        assert r.returncode == 0, r.stderr
        return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as notes, tempfile.TemporaryDirectory() as cache:
        (Path(notes) / "benchmark.md").write_text(VARIANTS)
        once("vw-safe", Path(notes), Path(cache))  # writes the bytecode cache; not counted
        profiles = [p for pair in FAMILIES.values() for p in pair]
        walls = {p: [] for p in profiles + ["cold"]}
        for _ in range(args.runs):  # interleaved, so a busy moment of the machine hits every one
            for profile in profiles:
                walls[profile].append(once(profile, Path(notes), Path(cache)))
            walls["cold"].append(once("vw-safe", Path(notes), Path(cache), cold=True))
    med = {p: statistics.median(w) for p, w in walls.items()}
    print(f"rig --backend sim run lockout-wait, a fresh process each, median of {args.runs}:")
    for family, (one, ten) in FAMILIES.items():
        print(f"  {family:8} 1 h wait  {med[one] * 1000:7.0f} ms   ({3600 / med[one]:,.0f}x real time; "
              f"target >= 20,000x)")
        print(f"  {family:8} 10 h wait {med[ten] * 1000:7.0f} ms   ({36000 / med[ten]:,.0f}x real time)")
        print(f"  {family:8} 10 h / 1 h = {med[ten] / med[one]:.2f} (target <= 1.3)")
    print(f"  vw-safe 1 h wait, YAML parsed afresh (first command after a file changed): {med['cold'] * 1000:.0f} ms "
          f"({3600 / med['cold']:,.0f}x)")


if __name__ == "__main__":
    main()
