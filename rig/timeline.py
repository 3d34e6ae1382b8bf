"""A run as a picture: a logic-analyzer view of rails, keys, senses, display and steps.

Drawn as SVG from the event log (no plotting library needed). Long quiet
stretches - an hour of lockout wait - are folded into a marked gap so the
presses around them stay readable.

>>> events = [{"t": 0, "kind": "rail", "what": "acc", "from": "off", "to": "on"},
...           {"t": 2, "kind": "display", "to": "1000"}]
>>> svg = render_svg(events, "demo")
>>> svg.startswith("<svg") and "1000" in svg
True
"""

from __future__ import annotations

from html import escape

from .durations import format_duration

ROW, LABEL_W, PX_PER_S, GAP_W, FOLD = 26, 110, 40.0, 60, 30.0


def _axis(times: list[float]):
    """Map event time to x, folding quiet stretches longer than FOLD seconds."""
    times = sorted(set(times))
    pieces, x = [], LABEL_W
    for a, b in zip(times, times[1:]):
        width = (b - a) * PX_PER_S if b - a <= FOLD else GAP_W
        pieces.append((a, b, x, width, b - a > FOLD))
        x += width
    end = x + 100  # room for the last display text

    def at(t: float) -> float:
        for a, b, x0, w, _ in pieces:
            if a <= t <= b:
                return x0 + (w * (t - a) / (b - a) if b > a else 0)
        return LABEL_W if not pieces or t < pieces[0][0] else end - 20
    return at, [(x0, w, b - a) for a, b, x0, w, folded in pieces if folded], end


def render_svg(events: list[dict], title: str = "") -> str:
    """The SVG text of a run's timeline."""
    signals: dict[str, list] = {}  # name -> [(t, value)]
    kinds = {}
    texts, steps = [], []
    t_end = max((e.get("t", 0) for e in events), default=0)
    for e in events:
        k = e.get("kind")
        if k in ("rail", "key", "sense"):
            name = e.get("what", "")
            on = e.get("to") in ("on", "down", True)
            signals.setdefault(name, [(0.0, e.get("from") in ("on", "down", True))])
            signals[name].append((e["t"], on))
            kinds[name] = k
        elif k == "display":
            texts.append((e["t"], e.get("to") or ""))
        elif k == "step" and e.get("to") == "started":
            steps.append((e["t"], e.get("what", "")))
    times = [0.0, t_end] + [t for s in signals.values() for t, _ in s] + [t for t, _ in texts] + [t for t, _ in steps]
    at, gaps, width = _axis(times)
    order = sorted(signals, key=lambda n: ({"rail": 0, "key": 1, "sense": 2}[kinds[n]], n))
    rows = ["steps"] + order + ["display"]
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
            pts, level = [], None
            for t, on in signals[name] + [(t_end, None)]:
                x = at(t)
                if level is not None:
                    pts.append(f"{x:.1f},{y + (5 if level else ROW - 5)}")
                if on is not None:
                    level = on
                    pts.append(f"{x:.1f},{y + (5 if level else ROW - 5)}")
            out.append(f'<polyline fill="none" stroke="{colour[kinds[name]]}" stroke-width="2" '
                       f'points="{" ".join(pts)}"/>')
        elif name == "display":
            for j, (t, text) in enumerate(texts):
                x = at(t)
                nxt = at(texts[j + 1][0]) if j + 1 < len(texts) else width - 20
                out.append(f'<rect x="{x:.1f}" y="{y + 4}" width="{max(1.0, nxt - x):.1f}" height="{ROW - 8}" '
                           f'fill="#fdf2d0" stroke="#b7950b"/>')
                if nxt - x > 24:
                    out.append(f'<text x="{x + 3:.1f}" y="{y + 17}">{escape(text[: int((nxt - x) / 7)])}</text>')
        else:
            free_from = 0.0  # labels that would overlap are left to the next free spot
            for t, label in steps:
                x = at(t)
                out.append(f'<line x1="{x:.1f}" y1="{y + 2}" x2="{x:.1f}" y2="{height - ROW}" stroke="#aaa" '
                           f'stroke-dasharray="2,3"/>')
                if x >= free_from:
                    out.append(f'<text x="{x + 2:.1f}" y="{y + 16}" fill="#555">{escape(label[:24])}</text>')
                    free_from = x + 7 * min(len(label), 24) + 6
    out.append("</svg>")
    return "\n".join(out)
