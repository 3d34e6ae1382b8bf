"""Sheet 7 of the schematic: the harness, drawn from the pin map. The ISO 10487 pigtail (J2)
pin by pin, each lead in its colour with its cross-section, where its bench end lands and
the label to put on both ends; then the speaker pairs and one thin pair per key.

ISO 10487 connector A (power) and B (speakers) with the EIA lead colours, as the project's
head-unit notes give them ([62][63][64] in wiring/README.md): A4 yellow (constant +12 V),
A5 blue or blue/white (amp remote / power antenna), A6 orange (illumination), A7 red
(ACC), A8 black (ground); B1/B2 purple (right rear), B3/B4 grey (right front), B5/B6
white (left front), B7/B8 green (left rear), the "-" lead striped black.

>>> from rig.bench.wiring import load_wiring
>>> "A4 BATT (K1)" in harness(load_wiring())
True
"""

from __future__ import annotations

from .schematic_parts import ISO, drawing, label, line, page, rect

COLOUR = {"yellow": "#d4b000", "red": "#d62728", "black": "black", "blue/white": "#1f5fbf", "orange": "#ff7f0e",
          "purple": "#8e44ad", "grey": "#7f7f7f", "white": "#b0b0b0", "green": "#2ca02c"}
SPEAKERS = (("B1 B2", "purple", "right rear"), ("B3 B4", "grey", "right front"), ("B5 B6", "white", "left front"),
            ("B7 B8", "green", "left rear"))


def _leads(w) -> list[tuple[str, str, str, str, str]]:
    """(pin, lead colour, cross-section, bench end, label) for connector A, from the pin map."""
    rails = list(w.rails.values())
    by_iso = {r.iso or ISO.get(r.name, ""): (i, r) for i, r in enumerate(rails, 1)}
    sense_of = {s.rail: s for s in w.senses.values() if s.rail}
    rows = []
    for pin, colour, size, default in (("A1", "-", "", "not connected (speed signal on some units)"),
                                       ("A2", "-", "", "not connected (phone mute on some units)"),
                                       ("A3", "-", "", "not connected"),
                                       ("A4", "yellow", "1.5 mm2", ""), ("A5", "blue/white", "0.5 mm2", ""),
                                       ("A6", "orange", "", "not connected (illumination)"),
                                       ("A7", "red", "1.0 mm2", ""), ("A8", "black", "1.0 mm2", "")):
        if pin in by_iso:
            i, r = by_iso[pin]
            end = f"K{i} COM" + (" through R_in 0.22R" if r.contact == "nc" else "")
            s = sense_of.get(r.name)
            if s is not None:
                end += f"; {s.name} sense (1k + 9V1) at the pigtail"
            rows.append((pin, colour, size, end, f"{pin} {'BATT' if pin == 'A4' else 'ACC'} (K{i})"))
        elif pin == "A5" and "unit_on" in w.senses:
            rows.append((pin, colour, size, "unit_on sense (4.7k), where the unit has it", "A5 AMP REM"))
        elif pin == "A8":
            rows.append((pin, colour, size, "PSU 0 V (0V_UNIT); every sense opto's pin 2", "A8 GND"))
        else:
            rows.append((pin, colour, size, default or "not connected", f"{pin} nc"))
    return rows


def harness(w) -> str:
    """Sheet 7: the pigtail's leads, where each lands on the bench, and their labels."""
    import schemdraw.elements as elm

    d = drawing()
    rows = _leads(w)
    step, x0 = 0.9, 3.0
    top = 0.0
    rect(d, (0, top + 0.6), (x0 - 0.8, top - step * len(rows) + 0.3))
    label(d, ((x0 - 0.8) / 2, top + 1.0), "J2 connector A", 10)
    for i, (pin, colour, size, end, tag) in enumerate(rows):
        y = top - step * i
        label(d, (x0 - 1.2, y), pin, 10)
        c = COLOUR.get(colour)
        line(d, (x0 - 0.8, y), (x0 + 5.0, y), color=c or "#cccccc", lw=3 if c else 1)
        label(d, (x0 + 0.2, y + 0.3), f"{colour} {size}".strip() if c else "", 8, halign="left")
        d += elm.Dot(open=True).at((x0 + 5.0, y))
        label(d, (x0 + 5.4, y), end, 10, halign="left")
        if c:
            label(d, (x0 + 19.0, y), f"[ {tag} ]", 10, halign="left")
    extra = []
    for i, r in enumerate(w.rails.values(), 1):
        if not (r.iso or r.name in ("battery", "acc")):
            name = "IGN" if r.name == "ignition" else r.name.upper()
            extra.append((f"K{i} COM", "the unit's own feed pin for this rail (no ISO pin): meter the unit's "
                          "connector", f"{name} (K{i})"))
    y = top - step * len(rows) - 1.6
    rect(d, (0, y + 0.6), (x0 - 0.8, y - step * len(SPEAKERS) + 0.3))
    label(d, ((x0 - 0.8) / 2, y + 1.0), "J2 connector B", 10)
    for pins, colour, which in SPEAKERS:
        label(d, (x0 - 1.4, y), pins, 10)
        line(d, (x0 - 0.8, y), (x0 + 5.0, y), color=COLOUR[colour], lw=3)
        label(d, (x0 + 0.2, y + 0.3), f"{colour}, '-' striped black", 8, halign="left")
        d += elm.Dot(open=True).at((x0 + 5.0, y))
        label(d, (x0 + 5.4, y), f"4 ohm 25 W load ({which}); never a '-' to ground: bridged outputs", 10,
              halign="left")
        label(d, (x0 + 19.0, y), f"[ B {''.join(p[0] for p in which.split()).upper()} ]", 10, halign="left")
        y -= step
    y -= 0.9
    label(d, (0, y), "Other leads", 11, halign="left")
    y -= 0.9
    for what, end, tag in extra + [(f"{len(w.keys)} thin pairs", "one per key: its PhotoMOS pins 3 and 4 to the "
                                    "button's two pads (sheet 3); 0.25 mm2 twisted", "the key's name, e.g. "
                                    + (next(iter(w.keys)) if w.keys else "mode"))]:
        label(d, (0, y), what, 10, halign="left")
        label(d, (x0 + 5.4, y), end, 10, halign="left")
        label(d, (x0 + 19.0, y), f"[ {tag} ]", 10, halign="left")
        y -= 0.9
    return page(d, "harness (the ISO 10487 pigtail, lead by lead)", 7, [
        "Label both ends of every lead with the [label]. Meter the pigtail before trusting its colours: A4 and A7 "
        "are swapped on later VW-group cars, the Peugeot 106, the Vauxhall Astra and the Citroen C3 "
        "(wiring/README.md section 6), and such a pigtail feeds memory from ACC and back.",
        "Power leads screwed or crimped to the relay terminals, never carried on perfboard strips. The rail senses "
        "and unit_on tap their leads at the pigtail, so they see what reaches the unit.",
        "Colours are the EIA ones most pigtails use (ISO 10487 itself numbers the pins, not the colours).",
    ])
