"""A run as a picture: a logic-analyzer view of rails, keys, senses, display and steps.

Drawn as SVG from the event log (no plotting library needed). Long quiet
stretches - an hour of lockout wait - are folded into a marked gap so the
presses around them stay readable. A masked span (code entry) is drawn as one
labelled block: the log holds no presses inside it, so neither does the picture.

The cost is bounded, however long the run: time maps to x by a binary search
over the folded axis (O(n log n) for n events), the picture is at most
MAX_WIDTH pixels wide (the scale shrinks for very busy runs), and edges or
display lines closer together than a pixel are merged into one mark, so the
SVG never has more than a few elements per pixel column and lane.

>>> events = [{"t": 0, "kind": "rail", "what": "acc", "from": "off", "to": "on"},
...           {"t": 2, "kind": "display", "to": "1000"}]
>>> svg = render_svg(events, "demo")
>>> svg.startswith("<svg") and "1000" in svg
True
"""

from __future__ import annotations

from bisect import bisect_right
from html import escape

from .durations import format_duration

ROW, LABEL_W, PX_PER_S, GAP_W, FOLD = 26, 110, 40.0, 60, 30.0
MAX_WIDTH = 20000  # px: past this the scale shrinks rather than the picture growing without end
MIN_DX = 1.0       # px: marks closer than this are merged


def _axis(times: list[float]):
    """Map event time to x, folding quiet stretches longer than FOLD seconds."""
    times = sorted(set(times))
    spans = [b - a for a, b in zip(times, times[1:])]
    busy = sum(d for d in spans if d <= FOLD)
    folds = sum(1 for d in spans if d > FOLD)
    scale = PX_PER_S
    if busy * scale + folds * GAP_W > MAX_WIDTH - LABEL_W - 100:
        scale = max(1e-6, (MAX_WIDTH - LABEL_W - 100 - folds * min(GAP_W, 10)) / max(busy, 1e-9))
    gap_w = GAP_W if scale == PX_PER_S else min(GAP_W, 10)
    starts, xs, widths, gaps = [], [], [], []
    x = LABEL_W
    for a, d in zip(times, spans):
        width = d * scale if d <= FOLD else gap_w
        starts.append(a)
        xs.append(x)
        widths.append(width)
        if d > FOLD:
            gaps.append((x, width, d))
        x += width
    end = x + 100  # room for the last display text

    def at(t: float) -> float:
        i = bisect_right(starts, t) - 1
        if i < 0:
            return LABEL_W
        d = spans[i]
        if t > starts[i] + d:
            return end - 20
        return xs[i] + (widths[i] * (t - starts[i]) / d if d > 0 else 0)

    return at, gaps, end


def _wave(changes, at, t_end, y):
    """Polyline points of one lane; edges within MIN_DX of each other become one vertical mark."""
    pts = []
    level, last_x = None, None
    hi, lo = y + 5, y + ROW - 5
    for t, on in changes:
        x = at(t)
        if last_x is not None and x - last_x < MIN_DX:
            # too close to tell apart: the mark spans both levels, the level is the latest
            if level != on:
                pts.append(f"{last_x:.1f},{hi if on else lo}")
            level = on
            continue
        if level is not None:
            pts.append(f"{x:.1f},{hi if level else lo}")
        level = on
        pts.append(f"{x:.1f},{hi if level else lo}")
        last_x = x
    if level is not None:
        pts.append(f"{at(t_end):.1f},{hi if level else lo}")
    return pts


def render_svg(events: list[dict], title: str = "") -> str:
    """The SVG text of a run's timeline."""
    signals: dict[str, list] = {}  # name -> [(t, value)]
    kinds = {}
    texts, steps, masked = [], [], []
    t_end = 0.0
    times = [0.0]
    for e in events:
        k = e.get("kind")
        t = e.get("t", 0)
        t_end = max(t_end, t)
        if k in ("rail", "key", "sense"):
            name = e.get("what", "")
            on = e.get("to") in ("on", "down", True)
            signals.setdefault(name, [(0.0, e.get("from") in ("on", "down", True))])
            signals[name].append((t, on))
            kinds[name] = k
            times.append(t)
        elif k == "display":
            texts.append((t, e.get("to") or ""))
            times.append(t)
        elif k == "step" and e.get("to") == "started":
            steps.append((t, e.get("what", "")))
            times.append(t)
        elif k == "masked":
            end = t + float(e.get("duration") or 0)
            masked.append((t, end, e.get("what", "masked"), e.get("corrected")))
            times += [t, end]
            t_end = max(t_end, end)
    times.append(t_end)
    at, gaps, width = _axis(times)
    order = sorted(signals, key=lambda n: ({"rail": 0, "key": 1, "sense": 2}[kinds[n]], n))
    rows = ["steps"] + order + (["masked"] if masked else []) + ["display"]
    height = ROW * (len(rows) + 2)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
           f'font-family="monospace" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="4" y="14" font-weight="bold">{escape(title)}</text>']
    for x0, w, dt in gaps:
        out.append(f'<rect x="{x0:.1f}" y="{ROW}" width="{w}" height="{height - 2 * ROW}" fill="#eee"/>'
                   f'<text x="{x0 + 4:.1f}" y="{height - ROW + 14}" fill="#666">{format_duration(dt)}</text>')
    colour = {"rail": "#c0392b", "key": "#2471a3", "sense": "#1e8449"}
    for i, name in enumerate(rows):
        y = ROW * (i + 1)
        out.append(f'<text x="4" y="{y + 16}">{escape(name)}</text>')
        out.append(f'<line x1="{LABEL_W}" y1="{y + ROW}" x2="{width}" y2="{y + ROW}" stroke="#ddd"/>')
        if name in signals:
            pts = _wave(signals[name], at, t_end, y)
            out.append(f'<polyline fill="none" stroke="{colour[kinds[name]]}" stroke-width="2" '
                       f'points="{" ".join(pts)}"/>')
        elif name == "masked":
            for a, b, label, corrected in masked:
                x, x1 = at(a), at(b)
                text = f"{label} ({format_duration(b - a)}{', corrected' if corrected else ''})"
                out.append(f'<rect x="{x:.1f}" y="{y + 4}" width="{max(1.0, x1 - x):.1f}" height="{ROW - 8}" '
                           f'fill="#ddd" stroke="#888"/><text x="{x + 3:.1f}" y="{y + 17}">{escape(text)}</text>')
        elif name == "display":
            out += _boxes(texts, at, width, y)
        else:
            free_from = 0.0  # labels that would overlap are left to the next free spot
            last_x = None
            for t, label in steps:
                x = at(t)
                if last_x is not None and x - last_x < MIN_DX:
                    continue
                last_x = x
                out.append(f'<line x1="{x:.1f}" y1="{y + 2}" x2="{x:.1f}" y2="{height - ROW}" stroke="#aaa" '
                           f'stroke-dasharray="2,3"/>')
                if x >= free_from:
                    out.append(f'<text x="{x + 2:.1f}" y="{y + 16}" fill="#555">{escape(label[:24])}</text>')
                    free_from = x + 7 * min(len(label), 24) + 6
    out.append("</svg>")
    return "\n".join(out)


def _boxes(texts, at, width, y):
    """One box per display text; texts shown for less than a pixel are merged into the next box."""
    out = []
    kept = []
    for t, text in texts:
        x = at(t)
        if kept and x - kept[-1][0] < MIN_DX:
            kept[-1] = (kept[-1][0], text)  # the later text is what stayed on the display
        else:
            kept.append((x, text))
    for j, (x, text) in enumerate(kept):
        nxt = kept[j + 1][0] if j + 1 < len(kept) else width - 20
        out.append(f'<rect x="{x:.1f}" y="{y + 4}" width="{max(1.0, nxt - x):.1f}" height="{ROW - 8}" '
                   f'fill="#fdf2d0" stroke="#b7950b"/>')
        if nxt - x > 24:
            out.append(f'<text x="{x + 3:.1f}" y="{y + 17}">{escape(text[: int((nxt - x) / 7)])}</text>')
    return out


BACKGROUND_BYTES = 8_000_000  # a log this big (~80k events) is drawn after the run has exited


def write_timeline(log_path, svg_path, title: str = "") -> None:
    """Draw the timeline of the log at ``log_path`` into ``svg_path``."""
    from pathlib import Path

    from .report import read_events

    Path(svg_path).write_text(render_svg(read_events(log_path), title), encoding="utf-8")


def draw_later(log_path, svg_path, title: str = "") -> bool:
    """For a very long run: draw its picture in a detached process, so the run's exit never
    waits on it (the release has long happened). Returns False if the log is small enough
    to draw at once."""
    import os
    import subprocess
    import sys

    if os.path.getsize(log_path) < BACKGROUND_BYTES:
        return False
    subprocess.Popen([sys.executable, "-m", "rig.timeline", str(log_path), str(svg_path), title],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True, close_fds=True)
    return True


if __name__ == "__main__":  # python -m rig.timeline LOG SVG [TITLE]
    import sys

    write_timeline(sys.argv[1], sys.argv[2], " ".join(sys.argv[3:]))
