"""A run as a picture: a logic-analyzer view of rails, keys, senses, display and steps.

Drawn as SVG from the event log (no plotting library needed). The header says what ran on
which unit and how it ended; a time axis under it carries real times (m:ss, h:mm:ss).
Long quiet stretches - an hour of lockout wait - are folded into a marked gap labelled
with its length, so the presses around them stay readable. Every step is labelled (labels
that would collide go to extra rows); a display text too long for its box is written
above it. A masked span (code entry) is drawn as one hatched block: the log holds no
presses inside it, so neither does the picture.

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

import textwrap

from ..durations import format_duration
from .timeaxis import CH, LABEL_W, MAX_WIDTH, ROW, axis as _axis, clock, ticks as _ticks  # noqa: F401 (clock: API)
from .xmltext import escape

MIN_DX = 1.0       # px: marks closer than this are merged
RIGHT = 24         # px: margin right of the last event
STEP_ROWS, TEXT_ROWS = 10, 4  # at most this many stacked label rows (bounded for huge runs)
HALO = 'paint-order="stroke" stroke="white" stroke-width="3"'  # text stays legible over marks
OUTCOME_COLOUR = {"passed": "#1e8449", "failed": "#c0392b", "error": "#c0392b", "aborted": "#b9770e"}


def _stack(items, rows_max):
    """Greedy rows for labels ``(x0, x1, ...)``: each goes to the first row free at its x."""
    free, placed = [], []
    for item in items:
        x0, x1 = item[0], item[1]
        row = next((r for r, f in enumerate(free) if f <= x0), None)
        if row is None:
            if len(free) < rows_max:
                row = len(free)
                free.append(0.0)
            else:
                continue  # only in a run far too busy to label: the mark is still drawn
        free[row] = x1 + 8
        placed.append((row, item))
    return placed, len(free)


def _steps(events, t_end):
    """Each step as ``(t0, t1, what, status)``, from its start to how it ended."""
    open_, out = {}, []
    for e in events:
        if e.get("kind") != "step":
            continue
        t, what, to = e.get("t", 0), e.get("what", ""), e.get("to")
        if to == "skipped" and (e.get("step_kind") == "end" or what.startswith("end: ")):
            continue  # a way out the run did not take ("already unlocked"): grey, it read as an alarm
        if to == "started":
            open_[what] = len(out)
            out.append([t, None, what, "running"])
        elif what in open_:
            i = open_.pop(what)
            out[i][1], out[i][3] = t, to
        else:
            out.append([t, t, what, to or ""])
    for s in out:
        if s[1] is None:
            s[1] = t_end
    return out


HEADER_W = 760  # px: a picture narrower than its header grows to this much, then the subtitle wraps


def _header(events, title, when, width):
    """The header's text elements, the picture's width for them and the header's height: the
    subtitle (a refusal's whole message) is wrapped, never cut at the picture's edge."""
    run = next((e for e in events if e.get("kind") == "run"), {})
    result = next((e for e in reversed(events) if e.get("kind") == "result"), {})
    outcome = result.get("what") or "not finished"
    first = " · ".join(x for x in (run.get("what") or title, run.get("unit") and f"unit {run['unit']}") if x)
    colour = OUTCOME_COLOUR.get(outcome, "#b9770e")
    bits = [run.get("profile") and f"profile {run['profile']}", run.get("backend"),
            run.get("run") and f"run {run['run']}", when, result.get("message")]
    sub = " · ".join(str(b) for b in bits if b)
    width = min(MAX_WIDTH, max(width, min(HEADER_W, 12 + len(sub) * CH), 12 + len(first + outcome) * CH * 1.3))
    lines = textwrap.wrap(sub, max(20, int((width - 12) / CH))) or [""]
    return [f'<text x="6" y="17" font-size="14" font-weight="bold">{escape(first)} · '
            f'<tspan fill="{colour}">{escape(outcome.upper())}</tspan></text>',
            *(f'<text x="6" y="{35 + 14 * i}" fill="#444">{escape(line)}</text>' for i, line in enumerate(lines))
            ], width, 2 * ROW + 14 * (len(lines) - 1)


def render_svg(events: list[dict], title: str = "", when: str | None = None) -> str:
    """The SVG text of a run's timeline; ``when`` (e.g. the run's date) goes in the header."""
    signals: dict[str, list] = {}  # name -> [(t, value)]
    kinds = {}
    texts, masked, bus_marks = [], [], []
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
        elif k == "can" and e.get("what") in ("wake", "bus"):  # one lane: wake frames on/off, bus errors on it
            lane = signals.setdefault("can wake", [(0.0, e.get("from") == "on" if e.get("what") == "wake" else False)])
            kinds["can wake"] = "can"
            if e.get("what") == "wake":
                lane.append((t, e.get("to") == "on"))
            elif e.get("to") not in ("error-active", "error-warning"):
                bus_marks.append((t, str(e.get("to"))))
            times.append(t)
        elif k == "display":
            texts.append((t, e.get("to") or ""))
            times.append(t)
        elif k == "step":
            times.append(t)
        elif k == "masked":
            end = t + float(e.get("duration") or 0)
            masked.append((t, end, e.get("what", "masked"), e.get("corrected")))
            times += [t, end]
            t_end = max(t_end, end)
    times.append(t_end)
    at, segs, x_end, scale = _axis(times)
    steps = _steps(events, t_end)
    step_items = []
    for t0, t1, what, status in steps:
        x0, x1 = at(t0), at(t1)
        label = what + (" (skipped)" if status == "skipped" else
                        f" · {format_duration(t1 - t0)}" if t1 - t0 >= 1 else "")
        step_items.append((x0, max(x1, x0 + len(label) * CH), x1, label, status))
    step_rows, n_step_rows = _stack(step_items, STEP_ROWS)
    boxes = _kept(texts, at, x_end)
    over = [(x, x + len(text) * CH, text) for x, nxt, text in boxes
            if text and len(text) * CH + 6 > nxt - x]  # too long for its box: written above it
    text_rows, n_text_rows = _stack(over, TEXT_ROWS)

    order = sorted(signals, key=lambda n: ({"rail": 0, "key": 1, "sense": 2, "can": 3}[kinds[n]], n))
    right = max([x_end] + [i[1] for i in step_items] + [o[1] for o in over]) + RIGHT
    header, width, top = _header(events, title, when, min(MAX_WIDTH, right))
    axis_y = top
    steps_y = axis_y + ROW
    fold_row = any(folded and w >= 40 for _a, _x, _d, w, folded in segs)  # a gap's length: a row of its own
    lanes_y = steps_y + ROW * (max(1, n_step_rows) + fold_row)
    rows = order + (["masked"] if masked else [])
    text_y = lanes_y + ROW * len(rows)
    display_y = text_y + ROW * n_text_rows
    height = display_y + ROW + 8
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
           f'font-family="monospace" font-size="11">',
           '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
           'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eee"/>'
           '<line x1="0" y1="0" x2="0" y2="6" stroke="#999" stroke-width="2"/></pattern></defs>',
           '<rect width="100%" height="100%" fill="white"/>']
    out += header
    for a, x0, d, w, folded in segs:  # folded gaps: a band through every lane, with its length
        if folded:
            out.append(f'<rect x="{x0:.1f}" y="{axis_y + ROW}" width="{w:.1f}" height="{height - axis_y - ROW}" '
                       f'fill="#f2f2f2"/><path d="M{x0 + w / 2 - 4:.1f},{axis_y + ROW} l8,6 l-8,6 l8,6" '
                       f'fill="none" stroke="#999"/>')
            if w >= 40:
                out.append(f'<text x="{x0 + w / 2:.1f}" y="{lanes_y - 13}" text-anchor="middle" '
                           f'fill="#555" {HALO}>{format_duration(d)}</text>'
                           f'<text x="{x0 + w / 2:.1f}" y="{lanes_y - 3}" text-anchor="middle" '
                           f'fill="#888" font-size="9" {HALO}>folded</text>')
    out.append(f'<line x1="{LABEL_W}" y1="{axis_y + ROW}" x2="{x_end:.1f}" y2="{axis_y + ROW}" stroke="#666"/>')
    out += _ticks(segs, scale, axis_y, height - 8)
    out.append(f'<text x="4" y="{steps_y + 16}">steps</text>')
    last_x = None
    for x0, _, x1, label, status in step_items:  # where each step starts, through every lane
        if last_x is None or x0 - last_x >= MIN_DX:
            out.append(f'<line x1="{x0:.1f}" y1="{steps_y + 2}" x2="{x0:.1f}" y2="{height - 8}" stroke="#bbb" '
                       f'stroke-dasharray="2,3"/>')
            last_x = x0
    status_colour = {"passed": "#1e8449", "failed": "#c0392b", "skipped": "#aaa", "running": "#b9770e"}
    for row, (x0, _, x1, label, status) in step_rows:
        y = steps_y + ROW * row
        c = status_colour.get(status, "#555")
        out.append(f'<rect x="{x0:.1f}" y="{y + 18}" width="{max(2.0, x1 - x0):.1f}" height="4" fill="{c}"/>'
                   f'<text x="{x0 + 2:.1f}" y="{y + 14}" fill="{"#999" if status == "skipped" else "#222"}">'
                   f'{escape(label)}</text>')
    colour = {"rail": "#c0392b", "key": "#2471a3", "sense": "#1e8449", "can": "#7d3c98"}
    for i, name in enumerate(rows):
        y = lanes_y + ROW * i
        out.append(f'<text x="4" y="{y + 16}">{escape(name)}</text>')
        out.append(f'<line x1="{LABEL_W}" y1="{y + ROW}" x2="{x_end:.1f}" y2="{y + ROW}" stroke="#ddd"/>')
        if name in signals:
            pts = _wave(signals[name], at, t_end, y)
            out.append(f'<polyline fill="none" stroke="{colour[kinds[name]]}" stroke-width="2" '
                       f'points="{" ".join(pts)}"/>')
            if kinds[name] == "key":
                out += _holds(signals[name], at, y)
            for t, state in (bus_marks if kinds[name] == "can" else ()):  # the bus went error-passive, off, lost
                out.append(f'<path d="M{at(t):.1f},{y + 4} l-4,-6 h8 z" fill="#c0392b"/>'
                           f'<text x="{at(t) + 5:.1f}" y="{y + 9}" fill="#c0392b" font-size="9" {HALO}>{escape(state)}</text>')
        elif name == "masked":
            keys = [j for j, n in enumerate(rows) if kinds.get(n) == "key"]
            for a, b, label, corrected in masked:
                x, x1 = at(a), at(b)
                w = max(1.0, x1 - x)
                if keys:  # the key lanes say nothing during the entry: cover them too
                    ky = lanes_y + ROW * keys[0]
                    out.append(f'<rect x="{x:.1f}" y="{ky + 2}" width="{w:.1f}" height="{ROW * len(keys) - 4}" '
                               f'fill="url(#hatch)" opacity="0.5"/>')
                text = f"{label} (masked) {format_duration(b - a)}{', corrected' if corrected else ''}"
                out.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{ROW - 6}" '
                           f'fill="url(#hatch)" stroke="#666"/>'
                           f'<text x="{x + 4:.1f}" y="{y + 16}" {HALO}>{escape(text)}</text>')
    out.append(f'<text x="4" y="{display_y + 16}">display</text>')
    out.append(f'<line x1="{LABEL_W}" y1="{display_y + ROW}" x2="{x_end:.1f}" y2="{display_y + ROW}" stroke="#ddd"/>')
    for x, nxt, text in boxes:
        if not text:
            continue  # a dark display: nothing drawn
        out.append(f'<rect x="{x:.1f}" y="{display_y + 3}" width="{max(1.0, nxt - x):.1f}" height="{ROW - 6}" '
                   f'fill="#fdf2d0" stroke="#b7950b"/>')
        if len(text) * CH + 6 <= nxt - x:
            out.append(f'<text x="{x + 3:.1f}" y="{display_y + 16}">{escape(text)}</text>')
    for row, (x, _, text) in text_rows:
        y = text_y + ROW * row
        out.append(f'<line x1="{x:.1f}" y1="{y + 18}" x2="{x:.1f}" y2="{display_y + 3}" stroke="#b7950b"/>'
                   f'<text x="{x + 2:.1f}" y="{y + 15}" fill="#7d6608" {HALO}>{escape(text)}</text>')
    out.append("</svg>")
    return "\n".join(out)


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


def _holds(changes, at, y):
    """How long each press was held, written in it when it fits: a 200 ms press reads as 200ms."""
    out, down = [], None
    for t, on in changes:
        if on and down is None:
            down = t
        elif not on and down is not None:
            x0, x1, label = at(down), at(t), format_duration(t - down)
            if x1 - x0 >= len(label) * CH + 6:
                out.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{y + 17}" text-anchor="middle" fill="#2471a3" '
                           f'font-size="10">{label}</text>')
            down = None
    return out


def _kept(texts, at, x_end):
    """Display boxes ``(x, next_x, text)``; texts shown for less than a pixel merge into the next.
    The last box ends where the run ends, like every other lane."""
    kept = []
    for t, text in texts:
        x = at(t)
        if kept and x - kept[-1][0] < MIN_DX:
            # the later text is what stayed on the display, but a text the unit blanked within
            # the same pixel (it went dark at the end) is the one worth reading
            kept[-1] = (kept[-1][0], text or kept[-1][1])
        else:
            kept.append((x, text))
    return [(x, kept[j + 1][0] if j + 1 < len(kept) else x_end, text) for j, (x, text) in enumerate(kept)]


BACKGROUND_BYTES = 8_000_000  # a log this big (~80k events) is drawn after the run has exited


def write_timeline(log_path, svg_path, title: str = "") -> None:
    """Draw the timeline of the log at ``log_path`` into ``svg_path``; the header's date is
    when the log was last written (the run's end), in UTC."""
    import os
    import time

    from .files import write_new
    from .report import read_events

    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(os.path.getmtime(log_path)))
    write_new(svg_path, render_svg(read_events(log_path), title, when))


def draw_later(log_path, svg_path, title: str = "") -> bool:
    """For a very long run: draw its picture in a detached process, so the run's exit never
    waits on it (the release has long happened). Returns False if the log is small enough
    to draw at once."""
    import os
    import subprocess
    import sys

    if os.path.getsize(log_path) < BACKGROUND_BYTES:
        return False
    subprocess.Popen([sys.executable, "-m", "rig.records.timeline", str(log_path), str(svg_path), title],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True, close_fds=True)
    return True


if __name__ == "__main__":  # python -m rig.records.timeline LOG SVG [TITLE]
    import sys

    write_timeline(sys.argv[1], sys.argv[2], " ".join(sys.argv[3:]))
