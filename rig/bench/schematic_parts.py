"""The drawing kit the schematic sheets share: the page (title, notes, a white sheet), and the
parts schemdraw has no symbol for, drawn the way their datasheets draw them.

- :func:`relay`: a form-C relay drawn at rest (COM on NC), terminals named by function;
- :func:`photomos`: a PhotoMOS (LED, photovoltaic driver, two MOSFETs source to source),
  pins 1-4 as on the CPC1017N and AQY212EH;
- :func:`opto`: a phototransistor optocoupler (PC817), pins 1-4.

Every function draws at absolute coordinates and returns its terminals, so a sheet wires
to a terminal by name. schemdraw is a docs tool (``pip install '.[docs]'``), imported here
only when a sheet is drawn.
"""

from __future__ import annotations

import re
import textwrap

from .pinmap import HEADER

GRAY = "gray"
SHEETS = 7  # the pin sheet, then relays, keys, senses, power, dead-man, harness
ISO = {"battery": "A4", "acc": "A7"}  # a rail's ISO 10487 pin when the pin map names none


def drawing():
    import schemdraw

    schemdraw.use("svg")
    d = schemdraw.Drawing(show=False)
    d.config(fontsize=11, unit=2.2, lw=1.2)
    return d


def hdr(pin: int) -> str:
    """The BCM number and the header pin an engineer solders to.

    >>> hdr(17)
    'GPIO17 (J1-11)'
    """
    return f"GPIO{pin} (J1-{HEADER.get(pin, '?')})"


def label(d, at, text: str, size: float = 10, **kw) -> None:
    import schemdraw.elements as elm

    d += elm.Label().at(at).label(text, fontsize=size, **kw)


def _styled(el, style: dict):
    for k, v in style.items():  # color=..., linestyle=..., lw=... (schemdraw's linewidth)
        getattr(el, "linewidth" if k == "lw" else k)(v)
    return el


def line(d, a, b, **style):
    import schemdraw.elements as elm

    d += (el := _styled(elm.Line().at(a).to(b), style))
    return el


def rect(d, c1, c2, **style) -> None:
    import schemdraw.elements as elm

    d += _styled(elm.Rect(corner1=c1, corner2=c2).right().at((0, 0)), style)  # (a Rect turns with the drawing)


def boundary(d, x: float, y1: float, y2: float, text: str = "isolation: Pi side | unit side") -> None:
    """The isolation boundary: a grey dashed line, named at its foot."""
    line(d, (x, y1), (x, y2), linestyle="--", color=GRAY)
    label(d, (x + 0.15, y2 - 0.35), text, 9, color=GRAY, halign="left")


def page(d, title: str, sheet: int, notes: list[str]) -> str:
    """The sheet as SVG: a title line, the drawing, the notes under it, on a white page."""
    import schemdraw.elements as elm

    bbox = d.get_bbox()
    x, y = bbox.xmin - 1.0, bbox.ymax + 1.6
    d += elm.Label().at((x, y)).label(f"Sheet {sheet} of {SHEETS}: {title}", fontsize=15, halign="left")
    d += elm.Label().at((x, y - 0.75)).label(
        "drawn from the pin map by `rig wiring schematic`; BCM GPIO numbers, J1 = the Pi's 40-pin header, "
        "J2 = the ISO 10487 pigtail", fontsize=9, halign="left", color=GRAY)
    lines = [part for note in notes for part in textwrap.wrap(note, 125, subsequent_indent="    ")]
    for i, text in enumerate(lines):
        d += elm.Label().at((x, bbox.ymin - 1.0 - 0.62 * i)).label(text, fontsize=10, halign="left")
    right = max(x + 31, bbox.xmax + 5)  # room for the notes' width, and for labels schemdraw under-measures
    d += elm.Line().at((x, y + 0.8)).to((right, y + 0.8)).color("white")
    svg = d.get_imagedata("svg")
    svg = svg.decode() if isinstance(svg, bytes) else svg
    # a white page (a browser shows a bare SVG on its own background otherwise)
    return re.sub(r"(<svg[^>]*>)", r'\1<rect width="100%" height="100%" fill="white"/>', svg, count=1)


def relay(d, x: float, y: float, name: str) -> dict:
    """A form-C relay drawn de-energised: COM rests on NC. Coil top at (x, y).

    Returns the terminals: ``coil+`` (x, y), ``coil-``, ``COM`` (top), ``NC`` and ``NO`` (bottom).
    """
    import schemdraw.elements as elm

    line(d, (x, y), (x, y - 0.6))
    d += elm.Inductor2(loops=4).down().at((x, y - 0.6)).to((x, y - 2.6))
    line(d, (x, y - 2.6), (x, y - 3.4))
    line(d, (x + 0.45, y - 0.7), (x + 0.45, y - 2.5), lw=2)  # the core
    pivot, nc, no = (x + 2.2, y - 1.0), (x + 2.8, y - 2.3), (x + 1.6, y - 2.3)
    line(d, (pivot[0], y), pivot)
    line(d, (nc[0], nc[1]), (nc[0], y - 3.4))
    line(d, (no[0], no[1]), (no[0], y - 3.4))
    line(d, pivot, (nc[0] - 0.08, nc[1] + 0.1), lw=2)  # the lever, on NC at rest
    for p in (pivot, nc, no):
        d += elm.Dot(open=True, radius=0.09).at(p)
    line(d, (x + 0.55, y - 1.7), (x + 2.45, y - 1.7), linestyle=":")  # the coil moves the lever
    rect(d, (x - 0.6, y - 0.35), (x + 3.3, y - 2.95))
    label(d, (x + 3.5, y - 1.65), name, 11, halign="left")
    for at, text in (((x - 0.45, y - 0.2), "coil"), ((x - 0.45, y - 3.2), "coil"), ((pivot[0] + 0.45, y - 0.2), "COM"),
                     ((nc[0] + 0.35, y - 3.2), "NC"), ((no[0] - 0.35, y - 3.2), "NO")):
        label(d, at, text, 8)
    return {"coil+": (x, y), "coil-": (x, y - 3.4), "COM": (pivot[0], y), "NC": (nc[0], y - 3.4),
            "NO": (no[0], y - 3.4)}


def _led(d, x: float, y: float, h: float) -> None:
    """An opto part's input: pin 1 (anode) at (x, y), the LED, pin 2 (cathode) below, its light."""
    import schemdraw.elements as elm

    line(d, (x, y), (x + 0.9, y))
    d += elm.Diode().down().at((x + 0.9, y)).to((x + 0.9, y - h))
    line(d, (x + 0.9, y - h), (x, y - h))
    for dy in (0.25, -0.25):
        d += elm.Arrow(arrowwidth=0.15, arrowlength=0.2).right().at((x + 1.25, y - h / 2 + dy)).length(0.55)


def _outline(d, x: float, y: float, h: float, out: float, right: float, name: str) -> dict:
    """An opto part's output leads (from x = out), its body, its name and its pins 1-4."""
    line(d, (out, y), (right, y))
    line(d, (out, y - h), (right, y - h))
    rect(d, (x + 0.35, y + 0.45), (right - 0.35, y - h - 0.45))
    label(d, (x + 1.85, y + 0.9), name, 11, halign="left")
    for at, n in (((x + 0.1, y + 0.25), "1"), ((x + 0.1, y - h + 0.25), "2"), ((right - 0.1, y + 0.25), "4"),
                  ((right - 0.1, y - h + 0.25), "3")):
        label(d, at, n, 9)
    return {"1": (x, y), "2": (x, y - h), "4": (right, y), "3": (right, y - h), "split": x + 1.6}


def photomos(d, x: float, y: float, name: str, h: float = 3.2) -> dict:
    """A PhotoMOS: the LED (pins 1-2) lights a photovoltaic driver that turns on two MOSFETs
    joined source to source, so the switch (pins 4-3) conducts either way. Pin 1 at (x, y)."""
    import schemdraw.elements as elm

    _led(d, x, y, h)
    fx = x + 3.7
    d += (t := elm.NFet(bulk=False).right().reverse().anchor("drain").at((fx, y)))
    d += (b := elm.NFet(bulk=False).right().reverse().flip().anchor("drain").at((fx, y - h)))
    line(d, t.source, b.source)
    gx = t.gate[0]
    line(d, t.gate, b.gate)
    rect(d, (gx - 0.6, y - h / 2 + 0.35), (gx - 0.25, y - h / 2 - 0.35))  # the photovoltaic driver
    line(d, (gx - 0.25, y - h / 2), (gx, y - h / 2))
    return _outline(d, x, y, h, fx, fx + 1.0, name)


def opto(d, x: float, y: float, name: str, h: float = 2.4) -> dict:
    """A phototransistor optocoupler (PC817): LED 1 (anode) - 2 (cathode), 4 collector, 3 emitter.
    Pin 1 at (x, y); the 1N4148 across the LED is the sheet's to draw (it sits outside the part)."""
    import schemdraw.elements as elm

    _led(d, x, y, h)
    bx, cx = x + 2.3, x + 3.1
    line(d, (bx, y - h / 2 + 0.55), (bx, y - h / 2 - 0.55), lw=2)  # the base
    line(d, (bx, y - h / 2 + 0.25), (cx, y - 0.3))
    line(d, (cx, y - 0.3), (cx, y))
    d += elm.Arrow(arrowwidth=0.15, arrowlength=0.2).at((bx, y - h / 2 - 0.25)).to((cx, y - h + 0.3))
    line(d, (cx, y - h + 0.3), (cx, y - h))
    return _outline(d, x, y, h, cx, cx + 0.9, name)
