"""The pin map as a wiring picture (SVG): header pins, drivers, where each lands on the unit.

One picture a technician can wire from: the 40-pin header as it sits on the
board, each used pin coloured by what it drives, and one row per channel in
header order - GPIO, the driver between Pi and unit (relay, PhotoMOS key,
sense opto, heartbeat), where it lands on the head unit (ISO 10487 pin or
button and key line), and the state it falls to when released. Pure text
out, no dependencies, the same bytes for the same map (a test keeps the
committed picture of the default rig in step with ``wiring/bench.yaml``).

>>> from rig.bench.wiring import load_wiring
>>> svg = render_svg(load_wiring())
>>> svg.startswith("<svg") and "K1" in svg and "heartbeat" in svg
True
"""

from __future__ import annotations

from dataclasses import dataclass

from ..records.xmltext import escape
from .wiring import HEADER, Wiring

KINDS = {  # kind: (colour, legend)
    "relay": ("#c0392b", "relay (rail)"),
    "key": ("#2166ac", "key switch"),
    "sense": ("#1a9850", "sense input"),
    "railsense": ("#0f8b8d", "rail sense"),
    "heartbeat": ("#7b3294", "heartbeat"),
}
POWER = {1: "3V3", 17: "3V3", 2: "5V", 4: "5V", 27: "ID", 28: "ID"}
BCM = {phys: bcm for bcm, phys in HEADER.items()}
# Pins the rig leaves free on purpose, named on the header (wiring/README.md section 12).
KEEP_FREE = {8: "CAN CS (CE0)", 9: "CAN MISO", 10: "CAN MOSI", 11: "CAN SCLK", 25: "CAN INT",
             7: "CAN-2 CS (CE1)", 23: "CAN-2 INT", 14: "UART TX (tap)", 15: "UART RX (tap)", 2: "I2C1 SDA",
             3: "I2C1 SCL"}
FREE_FILL, CAN_FILL = "#ffffff", "#fde7c8"
POWER.update({p: "GND" for p in (6, 9, 14, 20, 25, 30, 34, 39)})
ISO = {"A4": "A4 +12 V constant (yellow)", "A7": "A7 +12 V ACC (red)", "A8": "A8 ground (black)"}
W, ROW = 1320, 30
COLS = (20, 80, 190, 370, 700, 1300)  # header pin | GPIO | name | driver | head unit | safe state


@dataclass
class Channel:
    kind: str
    name: str
    pin: int
    driver: str
    detail: str       # second line under the driver: parts, pull
    lands: str        # where it lands on the head unit
    safe: str         # the state a released pin leaves it in


def channels(w: Wiring) -> list[Channel]:
    """One row per wired pin: rails, senses, heartbeat, keys; each group in header order."""
    out = []
    for i, r in enumerate(w.rails.values(), 1):
        contact = r.contact.upper()
        lands = ISO.get(r.iso, f"ISO {r.iso}" if r.iso else f"the unit's {r.name} feed (no ISO pin)")
        if not r.required:
            lands += ", optional"
        out.append(Channel("relay", r.name, r.pin, f"K{i} relay, {contact} contact",
                           f"NPN + SRD-05VDC (7 A form C), 10k pull-{r.pull}", lands,
                           f"{r.name} {'ON' if r.safe_on else 'OFF'}"))
    for k in w.keys.values():
        part = "PhotoMOS CPC1017N / AQY212EH" if k.switch == "photomos" else "PC817 (one way only)"
        line = ""  # which keys share a key line is the unit's (its profile's ladders:), not the rig's
        out.append(Channel("key", k.name, k.pin, f"{part}", f"330R to the LED, 10k pull-{k.pull}",
                           f"button '{k.name}'{line}", "open (not pressed)"))
    for s in w.senses.values():
        rail = w.rails.get(s.rail) if s.rail else None
        if rail is not None:
            where = ISO.get(rail.iso, rail.name).split(" (")[0]
            lands = f"{where}, at the pigtail (after fuse and relay)"
            kind = "railsense"
        else:
            lands = "amp remote lead (blue/white)" if s.name == "unit_on" else f"sense {s.name}"
            kind = "sense"
        active = "high" if s.active_high else "low"
        debounce = f", debounce {s.debounce * 1000:g} ms" if s.debounce else ""
        series = "1k + 9V1 zener" if rail is not None else "4.7k"  # sheet 4: a sagging rail reads off
        out.append(Channel(kind, s.name, s.pin, "PC817 opto (input)", f"{series} + 1N4148, pull {s.pull}, "
                           f"{active} = on{debounce}", lands, "input (unwired reads off)"))
    if w.heartbeat is not None:
        hb = w.heartbeat
        out.append(Channel("heartbeat", "heartbeat", hb.pin, "retriggerable monostable (sheet 6)",
                           f"toggles every {hb.every:g} s; T {hb.timeout:g} s; 10k pull-down",
                           "relays' and keys' 0 V return, SW0V (dead-man)", "no beats: SW0V open"))
        if hb.readback is not None:
            level = "HIGH" if hb.armed_high else "LOW"
            out.append(Channel("heartbeat", "readback", hb.readback, "dead-man read-back (sheet 6)",
                               f"{level} = SW0V closed; {'Pi 1.8k pull-up' if hb.readback in (2, 3) else 'pull-up'}",
                               "the monostable's output Q", "reads tripped"))
    order = {"relay": 0, "railsense": 1, "sense": 1, "heartbeat": 2, "key": 3}
    return sorted(out, key=lambda c: (order[c.kind], HEADER.get(c.pin, 99)))


def render_svg(w: Wiring) -> str:
    """The whole picture as an SVG document."""
    rows = channels(w)
    by_pin = {HEADER[c.pin]: c for c in rows if c.pin in HEADER}
    top = 340
    height = top + ROW * (len(rows) + 1) + 70
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" viewBox="0 0 {W} {height}" '
         f'font-family="DejaVu Sans, Arial, sans-serif" font-size="13">',
         f'<title>{escape(w.name, False)}: wiring</title>',
         f'<rect width="{W}" height="{height}" fill="#fff"/>',
         _text(20, 30, f"{w.name}", size=20, weight="bold"),
         _text(20, 52, "Sheet 1 of 7, the pin sheet: the Raspberry Pi's 40-pin header (J1), board seen from "
                       "above, USB ports to the right. BCM GPIO numbers in the pins; the circuits are sheets 2-7 "
                       "(wiring/schematic/).", fill="#555")]
    o += _header(by_pin, 60, 110)
    o += _legend(760, 110)
    o += _rows(rows, top)
    foot = top + ROW * (len(rows) + 1) + 22
    o.append(_text(20, foot, "Every output is active-high with a 10k pull-down: a released, floating or "
                             "unpowered pin leaves its relay or key off. Released = the state in the last column.",
                   fill="#333"))
    tap = f"Display tap: {w.display.port} at {w.display.baud} baud, RX + GND only (USB, not on the header)." \
        if w.display else "No display tap: rig asks the operator what the display shows."
    o.append(_text(20, foot + 20, tap, fill="#333"))
    o.append("</svg>")
    return "\n".join(o) + "\n"


def _header(by_pin: dict[int, Channel], x0: int, y0: int) -> list[str]:
    pitch = 30
    o = [f'<rect x="{x0 - 14}" y="{y0 + 30}" width="{20 * pitch + 8}" height="{2 * pitch + 8}" rx="6" '
         f'fill="#1b1b1b"/>']
    for phys in range(1, 41):
        col, edge = (phys - 1) // 2, phys % 2 == 0  # even pins on the board's edge row (top here)
        cx, cy = x0 + col * pitch, y0 + 49 + (0 if edge else pitch)
        ch = by_pin.get(phys)
        spare = None
        if ch is not None:
            fill, label, fg = KINDS[ch.kind][0], str(ch.pin), "#fff"
        elif phys in POWER:
            fill = {"3V3": "#f4a300", "5V": "#e8590c", "GND": "#555", "ID": "#999"}[POWER[phys]]
            label, fg = "", "#fff"
        else:  # a GPIO the rig does not use: kept free for a CAN HAT or the tap's UART, or free
            bcm = BCM.get(phys)
            spare = KEEP_FREE.get(bcm, "free")
            fill = CAN_FILL if bcm in KEEP_FREE else FREE_FILL
            label, fg = str(bcm), "#333"
        stroke = ' stroke="#777" stroke-width="1.5"' if spare else ""
        shape = (f'<rect x="{cx - 11}" y="{cy - 11}" width="22" height="22" fill="{fill}"{stroke}/>' if phys == 1 else
                 f'<circle cx="{cx}" cy="{cy}" r="11" fill="{fill}"{stroke}/>')
        o.append(shape)
        if label:
            o.append(_text(cx, cy + 4, label, size=11, anchor="middle", fill=fg, weight="bold"))
        # the name outside the header: above the edge row, below the inner row
        name = ch.name if ch is not None else POWER.get(phys, spare or "")
        if name:
            ty = cy - 18 if edge else cy + 22
            rot = -55 if edge else 55
            colour = KINDS[ch.kind][0] if ch is not None else ("#b05a00" if spare and spare != "free" else "#777")
            o.append(f'<text x="{cx}" y="{ty}" font-size="11" fill="{colour}" '
                     f'text-anchor="{"start"}" transform="rotate({rot} {cx} {ty})">{escape(name, False)}</text>')
    o.append(_text(x0 - 22, y0 + 53, "2", size=11, anchor="end", fill="#555"))
    o.append(_text(x0 - 22, y0 + 83, "1", size=11, anchor="end", fill="#555"))
    o.append(_text(x0 + 19 * pitch + 22, y0 + 53, "40", size=11, fill="#555"))
    o.append(_text(x0 + 19 * pitch + 22, y0 + 83, "39", size=11, fill="#555"))
    return o


def _legend(x: int, y: int) -> list[str]:
    o = [_text(x, y, "Colour = what the pin drives", weight="bold")]
    items = [(c, t) for c, t in KINDS.values()] + [("#f4a300", "3.3 V"), ("#e8590c", "5 V"), ("#555", "ground"),
                                                   (CAN_FILL, "kept free: CAN HAT, UART, I2C"),
                                                   (FREE_FILL, "free GPIO")]
    for i, (colour, text) in enumerate(items):  # two columns
        cx, cy = x + (i // 6) * 230, y + 22 + (i % 6) * 20
        edge = ' stroke="#777" stroke-width="1.5"' if colour in (CAN_FILL, FREE_FILL) else ""
        o.append(f'<circle cx="{cx + 8}" cy="{cy - 4}" r="7" fill="{colour}"{edge}/>')
        o.append(_text(cx + 22, cy, text))
    return o


def _rows(rows: list[Channel], top: int) -> list[str]:
    heads = ("header", "GPIO", "channel", "driver: Pi side | unit side", "lands on the head unit",
             "released (safe state)")
    o = [f'<line x1="20" y1="{top + 8}" x2="{W - 20}" y2="{top + 8}" stroke="#999"/>']
    for x, h in zip(COLS, heads):
        anchor = "end" if x == COLS[-1] else "start"
        o.append(_text(x, top, h, weight="bold", fill="#333", anchor=anchor))
    for i, ch in enumerate(rows):
        y = top + ROW * (i + 1) + 8
        if i and rows[i - 1].kind != ch.kind and {rows[i - 1].kind, ch.kind} != {"sense", "railsense"}:
            o.append(f'<line x1="20" y1="{y - 19}" x2="{W - 20}" y2="{y - 19}" stroke="#bbb"/>')
        colour = KINDS[ch.kind][0]
        if i % 2:
            o.append(f'<rect x="14" y="{y - 19}" width="{W - 28}" height="{ROW}" fill="#f5f5f5"/>')
        o.append(_text(COLS[0], y, str(HEADER.get(ch.pin, "?"))))
        o.append(f'<circle cx="{COLS[1] + 9}" cy="{y - 4}" r="11" fill="{colour}"/>')
        o.append(_text(COLS[1] + 9, y, str(ch.pin), size=11, anchor="middle", fill="#fff", weight="bold"))
        o.append(_text(COLS[2], y, ch.name, weight="bold", fill=colour))
        # driver box, with the wire from the pin and on to the unit
        bx, bw = COLS[3], 300
        o.append(f'<line x1="{COLS[2] + 100}" y1="{y - 4}" x2="{bx}" y2="{y - 4}" stroke="{colour}" '
                 f'stroke-width="2"/>')
        o.append(f'<line x1="{bx + bw}" y1="{y - 4}" x2="{COLS[4] - 6}" y2="{y - 4}" stroke="{colour}" '
                 f'stroke-width="2" marker-end=""/>')
        o.append(f'<rect x="{bx}" y="{y - 17}" width="{bw}" height="{ROW - 4}" rx="4" fill="#fff" '
                 f'stroke="{colour}" stroke-width="1.5"/>')
        o.append(_text(bx + 6, y - 5, ch.driver, size=12, weight="bold", fill=colour))
        o.append(_text(bx + 6, y + 7, ch.detail, size=10, fill="#555"))
        o.append(_text(COLS[4], y, ch.lands))
        o.append(_text(COLS[5], y, ch.safe, anchor="end", weight="bold", fill="#1a7f37"))
    return o


def _text(x, y, text, size=13, weight="normal", fill="#000", anchor="start") -> str:
    return (f'<text x="{x}" y="{y}" font-size="{size}" font-weight="{weight}" fill="{fill}" '
            f'text-anchor="{anchor}">{escape(str(text), False)}</text>')
