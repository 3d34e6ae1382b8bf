"""The schematic an engineer wires from, drawn from the pin map: one sheet per channel type,
the power path, the dead-man and the harness (schemdraw; sheet 1 is the pin sheet,
:mod:`rig.bench.diagram`).

Every sheet takes its GPIOs, header pins, names and the dead-man's values from the
pin map, so a changed map gives changed drawings (``rig wiring schematic``; a test
keeps the committed ones in step). Part pin numbers are the datasheets': CD4538B
(TI), SN74HC123 (TI), CPC1017N (IXYS), AQY212EH (Panasonic), PC817 (Sharp), SOT-23
MOSFETs (G-S-D = 1-2-3), TO-92 and TO-220 as each sheet says. Net names are in
capitals: SW0V (the dead-man's switched 0 V), +12V_A4, +12V_A7, +12V_IGN, 0V_UNIT (the
unit's ground, A8), GND (the Pi's).

schemdraw is a drawing tool, not part of the Pi's install: ``pip install '.[docs]'``.

>>> from rig.bench.wiring import load_wiring
>>> sorted(render_all(load_wiring()))[0]
'sheet2-relays.svg'
"""

from __future__ import annotations

from .schematic_parts import ISO, boundary, drawing, hdr, label, line, opto, page, photomos, rect, relay



def _net(rail) -> str:
    return f"+12V_{ISO.get(rail.name, rail.iso or 'IGN')}" if rail.name in ISO or rail.iso else "+12V_IGN"


def _unit_pin(rail) -> str:
    iso = ISO.get(rail.name, rail.iso)
    return f"J2-{iso}" if iso else "the unit's own feed pin"


def relays(w) -> str:
    """Sheet 2: every rail's NPN driver and form-C relay, each with its own GPIO and contacts."""
    import schemdraw.elements as elm

    d = drawing()
    x, right = 9.0, 19.0
    for i, r in enumerate(w.rails.values(), 1):
        y = -10.0 * (i - 1)
        k = relay(d, x, y, f"K{i}  SRD-05VDC-SL-C  ({r.name})")
        d += elm.Vdd().at((x, y + 0.9)).label("+5V (J1-2)", fontsize=9)
        line(d, (x, y), (x, y + 0.9))
        d += elm.Dot().at((x, y))
        line(d, (x, y), (x - 1.5, y))
        d += elm.Diode().up().at((x - 1.5, y - 3.4)).to((x - 1.5, y)).label("1N4007", loc="top", fontsize=9)
        line(d, (x - 1.5, y - 3.4), k["coil-"])
        d += elm.Dot().at(k["coil-"])
        d += (q := elm.BjtNpn(circle=True).right().anchor("collector").at((x, y - 4.1)))
        line(d, k["coil-"], q.collector)
        for anchor, text, dx in (("collector", "C", 0.3), ("emitter", "E", 0.3), ("base", "B", -0.1)):
            p = getattr(q, anchor)
            label(d, (p[0] + dx, p[1] + 0.25), text, 8)
        label(d, (x - 0.35, y - 5.6), "2N2222A", 9, halign="right")
        d += elm.Line().down().at(q.emitter).length(0.5)
        d += elm.Tag().down().label("SW0V", fontsize=9)
        d += elm.Resistor().left().at(q.base).length(2.2).label("1k", loc="top")
        d += (n := elm.Dot())
        d += elm.Line().left().length(0.8)
        d += elm.Dot(open=True).label(f"{r.name}: {hdr(r.pin)}", loc="left", fontsize=10)
        d += elm.Resistor().down().at(n.center).length(1.8).label("10k", loc="bottom")
        d += elm.Ground().label("GND", loc="right", fontsize=8)
        feed, other = ("NC", "NO") if r.contact == "nc" else ("NO", "NC")
        iso = ISO.get(r.name, r.iso)
        out = f"COM -> {'R_in 0.22R -> ' if r.contact == 'nc' else ''}{_unit_pin(r)}" + (
            f" ({iso}, sheet 5)" if iso else " (sheet 5)")
        line(d, k["COM"], (k["COM"][0], y + 0.7))
        line(d, (k["COM"][0], y + 0.7), (right, y + 0.7))
        d += elm.Dot(open=True).at((right, y + 0.7)).label(out, loc="right", fontsize=10)
        ends = {feed: f"{feed} <- {_net(r)} (sheet 5: its fuse)",
                other: ("NO -> bleed 100R 5W -> 0V_UNIT (empties the unit's input capacitors)"
                        if other == "NO" else "NC: not connected")}
        for name, drop in (("NC", 0.6), ("NO", 1.3)):
            p = k[name]
            line(d, p, (p[0], p[1] - drop))
            line(d, (p[0], p[1] - drop), (right, p[1] - drop))
            d += elm.Dot(open=True).at((right, p[1] - drop)).label(ends[name], loc="right", fontsize=10)
        safe = "ON" if r.safe_on else "OFF"
        label(d, (x - 7.5, y + 0.6), f"K{i} {r.name}: released = {r.name} {safe}", 10, halign="left")
    boundary(d, x + 1.1, 1.8, -10.0 * (len(w.rails) - 1) - 6.3)
    return page(d, "relay channels (one per rail)", 2, [
        "Drawn de-energised: COM rests on NC. Active-high: GPIO high -> 2N2222A on -> coil energised. Released, "
        "floating or unpowered: the 10k holds the transistor off.",
        "Transistor: 2N2222A (TO-92, flat face to you, legs down: 1 E, 2 B, 3 C) or BC337-40 (1 C, 2 B, 3 E: check "
        "the part's own pinout). Emitter to SW0V (sheet 6), never to a ULN2803A's pin 9 or a relay module's GND.",
        "SRD-05VDC-SL-C: 70 ohm coil, 71 mA at 5 V. Identify its pins with a meter before soldering: COM-NC reads "
        "0 ohm with the coil unpowered, COM-NO open; the coil reads ~70 ohm. 1N4007 band (cathode) to +5V.",
        "Contacts and their wires are the unit's side (0V_UNIT): 1.0-1.5 mm2, screwed or soldered to the terminals.",
        "K1 as a 2-pole relay (Omron G2RL-2 DC5): its second pole's NC in series with K2's and K3's emitters = the "
        "interlock in copper (wiring/README.md section 11).",
    ])


def keys(w) -> str:
    """Sheet 3: a PhotoMOS across a button's contacts; one drawn, every key's GPIO in the table."""
    import schemdraw.elements as elm

    d = drawing()
    d += elm.Dot(open=True).at((0, 0)).label("key GPIO (table below)", loc="left", fontsize=10)
    d += elm.Line().right().length(0.8)
    d += (n := elm.Dot())
    d += elm.Resistor().right().length(2.4).label("330R", loc="top")
    u = photomos(d, 3.2, 0, "U  CPC1017N / AQY212EH")
    line(d, u["2"], (u["2"][0] - 0.5, u["2"][1]))
    d += elm.Line().down().at((u["2"][0] - 0.5, u["2"][1])).length(0.6)
    d += elm.Tag().down().label("SW0V", fontsize=9)
    d += elm.Resistor().down().at(n.center).length(2.4).label("10k", loc="bottom")
    d += elm.Ground().label("GND", loc="right", fontsize=8)
    bx = u["4"][0] + 4.5
    line(d, u["4"], (bx, u["4"][1]))
    line(d, u["3"], (bx, u["3"][1]))
    label(d, (bx - 2.4, u["4"][1] + 0.35), "thin twisted pair", 8)
    d += elm.Button().down().at((bx, u["4"][1])).to((bx, u["3"][1])).label(
        "the button's\ntwo pads", loc="bottom", fontsize=9, ofst=0.4)
    rect(d, (bx - 0.9, u["4"][1] + 0.9), (bx + 2.6, u["3"][1] - 0.6), linestyle="--")
    label(d, (bx + 0.85, u["4"][1] + 0.55), "head unit (faceplate)", 9)
    boundary(d, u["split"], 0.5, u["3"][1] - 1.1, "isolation: Pi side | unit side (1500 Vrms and up)")
    rows = [f"{k.name} {hdr(k.pin)}" + (" [PC817: one way only]" if k.switch == "pc817" else "")
            for k in w.keys.values()]
    table = ["Keys in this pin map (GPIO -> 330R -> pin 1 of its own PhotoMOS):"]
    table += ["    " + ";   ".join(rows[i:i + 4]) for i in range(0, len(rows), 4)]
    return page(d, "key channels (a PhotoMOS across each button)", 3, table + [
        "PhotoMOS (CPC1017N SOP-4, AQY212EH DIP-4): 1 = LED anode, 2 = LED cathode (to SW0V), 3 and 4 = the switch: "
        "two MOSFETs source to source, "
        "so it conducts either way round, on a resistor ladder or a scanned matrix.",
        "Pins 3 and 4 go to the two pads of the button (a thin twisted pair per key), in parallel with it: the "
        "unit's own button still works.",
        "330R: (3.3 - 1.14 V) / 330 = 6.5 mA, inside the AQY212EH's 5-10 mA and well over the CPC1017N's 1 mA. "
        f"At most {w.max_keys_down} keys down at once (max_keys_down): ~{6.5 * w.max_keys_down:.0f} mA from the "
        "header.",
        "Not the AQY210 (a 350 V part with ~35 ohm on-resistance). 10k pull-down: a released pin leaves the LED dark.",
    ])


def senses(w) -> str:
    """Sheet 4: the sense optos; a rail sense has a 9.1 V zener so a sagging rail reads off."""
    import schemdraw.elements as elm

    d = drawing()
    y = 0.0
    ux = 7.0
    for s in w.senses.values():
        rail = w.rails.get(s.rail) if s.rail else None
        src = f"{_unit_pin(rail)} at the pigtail" if rail else "J2-A5 amp remote (blue/white)"
        d += elm.Dot(open=True).at((0, y)).label(src, loc="left", fontsize=10)
        if rail:
            d += elm.Resistor().right().length(2.2).label("1k", loc="top")
            d += elm.Zener().right().length(2.2).reverse().label("9V1 1N4739A", loc="top", fontsize=9)
        else:
            d += elm.Resistor().right().length(2.2).label("4.7k", loc="top")
            d += elm.Line().right().length(2.2)
        line(d, (4.4, y), (ux, y))
        u = opto(d, ux, y, f"PC817  ({s.name})")
        dx = ux - 1.0
        d += elm.Dot().at((dx, y))
        d += elm.Diode().up().at((dx, u["2"][1])).to((dx, y)).label("1N4148", loc="bottom", fontsize=9)
        line(d, (0.6, u["2"][1]), u["2"])
        d += elm.Dot().at((dx, u["2"][1]))
        d += elm.Dot(open=True).at((0.6, u["2"][1])).label("0V_UNIT (J2-A8)", loc="left", fontsize=9)
        line(d, u["4"], (u["4"][0] + 2.6, y))
        d += elm.Dot(open=True).at((u["4"][0] + 2.6, y)).label(f"{s.name}: {hdr(s.pin)}", loc="right", fontsize=10)
        d += elm.Line().right().at(u["3"]).length(0.8)
        d += elm.Ground().label("GND", loc="right", fontsize=8)
        y -= 5.0
    boundary(d, ux + 1.6, 1.6, y + 2.0)
    return page(d, "sense inputs (PC817)", 4, [
        "PC817: 1 = anode, 2 = cathode (the LED, unit side); 4 = collector -> GPIO, 3 = emitter -> Pi GND. The Pi's "
        "own pull-up on the GPIO: low = voltage present; a broken wire reads off.",
        "1N4148 across pins 1-2, cathode (band) to pin 1: it takes a reversed or negative lead, which the LED's "
        "6 V reverse rating would not.",
        "Rail senses: 1k + 9.1 V zener (1N4739A, band towards the lead) in series: the LED conducts from ~10.3 V "
        "(9.1 + 1.2), so a rail sagging to 8 V reads OFF, not on. At 14.4 V: 4.1 mA. They sit at the pigtail, "
        "after fuse and relay: they see what reaches the unit.",
        "unit_on: 4.7k, no zener (the amp remote is either ~12 V or 0). Isolation boundary: the PC817 (5000 Vrms).",
    ])


def render_all(w) -> dict[str, str]:
    """file name -> SVG for every sheet after the pin sheet."""
    from .harness import harness
    from .schematic_power import deadman, power

    sheets = {"2-relays": relays, "3-keys": keys, "4-senses": senses, "5-power": power, "6-deadman": deadman,
              "7-harness": harness}
    return {f"sheet{name}.svg": fn(w) for name, fn in sheets.items()}
