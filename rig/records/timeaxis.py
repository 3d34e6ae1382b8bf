"""The timeline's time axis: event times to x, long quiet stretches folded, ticks in real time.

>>> at, segs, end, scale = axis([0.0, 1.0, 3601.0])
>>> [(round(x), folded) for _t, x, _d, _w, folded in segs]
[(118, False), (168, True)]
>>> clock(3703.2)
'1:01:43'
"""

from __future__ import annotations

import math
from bisect import bisect_right

ROW, LABEL_W, PX_PER_S, GAP_W, FOLD = 24, 110, 50.0, 96, 30.0
MAX_WIDTH = 20000  # px: past this the scale shrinks rather than the picture growing without end
CH = 6.7           # px: width of one character of the 11 px monospace font
TICK_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


def axis(times: list[float]):
    """Map event time to x, folding quiet stretches longer than FOLD seconds.

    Returns ``at(t) -> x``, the segments ``(t, x, dt, width, folded)`` in time order,
    the x where the run ends, and the scale in px per second."""
    times = sorted(set(times))
    spans = [b - a for a, b in zip(times, times[1:])]
    busy = sum(d for d in spans if d <= FOLD)
    folds = sum(1 for d in spans if d > FOLD)
    scale = PX_PER_S
    room = MAX_WIDTH - LABEL_W - 400
    if busy * scale + folds * GAP_W > room:
        scale = max(1e-6, (room - folds * min(GAP_W, 10)) / max(busy, 1e-9))
    gap_w = GAP_W if scale == PX_PER_S else min(GAP_W, 10)
    starts, xs, widths, segs = [], [], [], []
    x = LABEL_W + 8
    for a, d in zip(times, spans):
        width = d * scale if d <= FOLD else gap_w
        starts.append(a)
        xs.append(x)
        widths.append(width)
        segs.append((a, x, d, width, d > FOLD))
        x += width
    end = x

    def at(t: float) -> float:
        i = bisect_right(starts, t) - 1
        if i < 0:
            return LABEL_W + 8
        d = spans[i]
        if t > starts[i] + d:
            return end
        return xs[i] + (widths[i] * (t - starts[i]) / d if d > 0 else 0)

    return at, segs, end, scale


def clock(t: float, step: float = 1.0) -> str:
    """A time on the axis: ``m:ss`` or ``h:mm:ss``, with tenths when the ticks are that fine.

    >>> clock(75), clock(3703.2), clock(2.5, 0.5)
    ('1:15', '1:01:43', '0:02.5')
    """
    digits = 0 if step >= 1 else (1 if step >= 0.1 else 2)
    t = round(t, digits)
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    sec = f"{s:0{3 + digits}.{digits}f}" if digits else f"{int(round(s)):02d}"
    return f"{int(h)}:{int(m):02d}:{sec}" if h else f"{int(m)}:{sec}"


def ticks(segs, scale, y, bottom):
    """Axis tick marks and labels in real time; each side of a folded gap gets its own time."""
    step = next((s for s in TICK_STEPS if s * scale >= 70), TICK_STEPS[-1])
    out, last = [], -1e9

    def tick(t, x, force=False):
        nonlocal last
        label = clock(t, step)
        if x - last < len(label) * CH + 10 and not force:
            return
        last = x
        out.append(f'<line x1="{x:.1f}" y1="{y + ROW - 6}" x2="{x:.1f}" y2="{bottom}" stroke="#eee"/>'
                   f'<line x1="{x:.1f}" y1="{y + ROW - 6}" x2="{x:.1f}" y2="{y + ROW}" stroke="#666"/>'
                   f'<text x="{x:.1f}" y="{y + ROW - 9}" text-anchor="middle" fill="#333">{label}</text>')

    for a, x, d, w, folded in segs:
        if folded:
            tick(a, x)
            tick(a + d, x + w, force=True)  # the time after the gap is what a reader needs
            continue
        k = math.ceil(a / step - 1e-9)
        while k * step <= a + d + 1e-9 and w > 0:
            t = k * step
            tick(t, x + w * (t - a) / d if d else x)
            k += 1
    return out
