"""What drawing a run's timeline costs, for a short run and a very long one.

Prints, for 8,000 and 680,000 events (a press every 0.4 s with its display line,
a rail switch and a step now and then): reading the log, drawing the SVG, and its
size; and, for 8,000 events, the ratio against the quadratic axis the timeline
used to have (measured here, in the same run).

    python benchmarks/timeline.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rig.records.report import read_events  # noqa: E402
from rig.records.timeline import LABEL_W, render_svg  # noqa: E402


def events(n: int) -> list[dict]:
    out, t, i = [], 0.0, 0
    while len(out) < n:
        key = f"preset{i % 4 + 1}"
        out.append({"t": round(t, 6), "kind": "key", "what": key, "from": "up", "to": "down"})
        out.append({"t": round(t + 0.2, 6), "kind": "key", "what": key, "from": "down", "to": "up"})
        out.append({"t": round(t + 0.25, 6), "kind": "display", "to": f"{i % 10000:04d}"})
        if i % 50 == 0:
            out.append({"t": round(t, 6), "kind": "step", "what": f"step {i}", "to": "started"})
            on = (i // 50) % 2 == 0
            out.append({"t": round(t + 0.3, 6), "kind": "rail", "what": "acc", "from": "off" if on else "on",
                        "to": "on" if on else "off"})
        t += 0.4 if i % 500 else 120.0  # and now and then a long quiet stretch, folded
        i += 1
    return out[:n]


def old_axis(times):
    """The timeline's axis before: a linear scan of every piece for every lookup (O(n^2))."""
    times = sorted(set(times))
    pieces, x = [], LABEL_W
    for a, b in zip(times, times[1:]):
        width = (b - a) * 40.0 if b - a <= 30.0 else 60
        pieces.append((a, b, x, width))
        x += width

    def at(t):
        for a, b, x0, w in pieces:
            if a <= t <= b:
                return x0 + (w * (t - a) / (b - a) if b > a else 0)
        return LABEL_W
    return at


def measure(n: int, compare: bool) -> None:
    evs = events(n)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "run.jsonl")
        with open(path, "w") as fh:
            fh.writelines(json.dumps(e) + "\n" for e in evs)
        t0 = time.perf_counter()
        loaded = read_events(path)
        t1 = time.perf_counter()
        svg = render_svg(loaded, "benchmark")
        t2 = time.perf_counter()
    line = (f"{n:>7,} events: read {t1 - t0:6.2f} s, draw {t2 - t1:6.2f} s, "
            f"SVG {len(svg) / 1e6:5.2f} MB, {svg.count(chr(10)):,} elements")
    if compare:
        times = [e["t"] for e in evs]
        at = old_axis(times)
        t3 = time.perf_counter()
        for t in times:
            at(t)
        old = time.perf_counter() - t3
        line += f"; the old axis alone: {old:6.2f} s ({old / (t2 - t1):,.0f}x the whole new drawing)"
    print(line)


if __name__ == "__main__":
    measure(8_000, compare=True)
    measure(680_000, compare=False)
