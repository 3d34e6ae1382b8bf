"""The schematic an engineer wires from, drawn from the pin map: one sheet per channel type,
the power path and the dead-man (schemdraw; sheet 1 is the pin sheet, :mod:`rig.bench.diagram`).

Every sheet takes its GPIOs, header pins, names and the dead-man's values from the
pin map, so a changed map gives changed drawings (``rig wiring schematic``; a test
keeps the committed ones in step). Part pin numbers are the datasheets': CD4538B
(TI), SN74HC123 (TI), CPC1017N (IXYS), AQY212EH (Panasonic), PC817 (Sharp), SOT-23
MOSFETs (G-S-D = 1-2-3). Net names are in capitals: SW0V (the dead-man's switched
0 V), +12V_A4, +12V_A7, 0V_UNIT (the unit's ground, A8), GND (the Pi's).

schemdraw is a drawing tool, not part of the Pi's install: ``pip install '.[docs]'``.
"""

from __future__ import annotations

import re

from .pinmap import HEADER

ISO = {"battery": "A4", "acc": "A7"}
NOTE = 9


def _drawing():
    import schemdraw

    schemdraw.use("svg")
    d = schemdraw.Drawing(show=False)
    d.config(fontsize=11, unit=2.2, lw=1.2)
    return d


def _svg(d, title: str, sheet: int, notes: list[str]) -> str:
    import schemdraw.elements as elm

    bbox = d.get_bbox()
    d += elm.Line().at((bbox.xmin - 4.5, bbox.ymax)).to((bbox.xmin - 4.4, bbox.ymax)).color("white")  # left labels
    x, y = bbox.xmin - 4.5, bbox.ymax + 1.6
    d += elm.Label().at((x, y)).label(f"Sheet {sheet}: {title}", fontsize=15, loc="right", halign="left")
    import textwrap

    lines = [part for line in notes for part in textwrap.wrap(line, 120, subsequent_indent="    ")]
    for i, line in enumerate(lines):
        d += elm.Label().at((x, bbox.ymin - 1.2 - 0.62 * i)).label(line, fontsize=10, halign="left")
    d += elm.Line().at((x, y + 0.8)).to((x + 30, y + 0.8)).color("white")  # room for the notes' width
    svg = d.get_imagedata("svg").decode() if isinstance(d.get_imagedata("svg"), bytes) else d.get_imagedata("svg")
    # a white page (a browser shows the bare SVG on its own background otherwise)
    svg = re.sub(r"(<svg[^>]*>)", r'\1<rect width="100%" height="100%" fill="white"/>', svg, count=1)
    return svg


def _hdr(pin: int) -> str:
    return f"GPIO{pin} (J1-{HEADER.get(pin, '?')})"


def relays(w) -> str:
    """Sheet 2: the NPN driver and relay of a rail, drawn once; every rail's GPIO and contact in the table."""
    import schemdraw.elements as elm

    d = _drawing()
    d += elm.Dot(open=True).at((0, 0)).label("rail GPIO (table)", loc="left", fontsize=10)
    d += elm.Line().right().length(0.8)
    d += (n := elm.Dot())
    d += elm.Resistor().right().length(2.2).label("1k", loc="top")
    d += (q := elm.BjtNpn(circle=True).right().anchor("base").label("Q 2N2222A", loc="right", ofst=(0.2, -0.6)))
    d += elm.Resistor().down().at(n.center).length(2.0).label("10k", loc="bottom")
    d += elm.Ground().label("GND", loc="right", fontsize=8)
    d += elm.Line().down().at(q.emitter).length(0.8)
    d += elm.Tag().down().label("SW0V", fontsize=9)
    d += elm.Line().up().at(q.collector).length(0.8)
    d += (k := elm.Relay(switch="spdt").right().anchor("in2").label("K  SRD-05VDC-SL-C", loc="top", ofst=0.3))
    d += elm.Line().up().at(k.in1).length(1.0)
    d += (vcc := elm.Dot())
    d += elm.Vdd().label("+5V (J1-2)")
    d += elm.Line().left().at(k.in2).length(1.4)
    d += elm.Diode().up().toy(vcc.center[1]).label("1N4007", loc="left", fontsize=9)
    d += elm.Line().right().tox(vcc.center[0])
    right = k.a[0] + 3.5
    d += elm.Line().right().at(k.a).tox(right)
    d += elm.Dot(open=True).label("3 COM -> the unit (A4 / A7 / ignition)", loc="right", fontsize=9)
    for anchor, drop, text in (("c", 1.0, "4 NC, closed at rest (table)"), ("b", 2.0, "5 NO (table)")):
        at = getattr(k, anchor)
        d += elm.Line().down().at(at).length(drop)
        d += elm.Line().right().tox(right)
        d += elm.Dot(open=True).label(text, loc="right", fontsize=9)
    bx = (k.in1[0] + k.a[0]) / 2
    d += elm.Line().at((bx, k.a[1] + 1.2)).to((bx, k.in2[1] - 2.2)).linestyle("--").color("gray")
    d += elm.Label().at((bx + 0.2, k.in2[1] - 2.4)).label("isolation: Pi side | unit side", fontsize=9,
                                                           color="gray", halign="left")
    rows = []
    for i, r in enumerate(w.rails.values(), 1):
        iso = ISO.get(r.name, r.iso or "the unit's own pin")
        rows.append(f"K{i} {r.name}: {_hdr(r.pin)}, COM -> {iso}, feed on {r.contact.upper()} "
                    f"({'bleed 100R 5W on NO' if r.contact == 'nc' else 'NC not connected'}); released = "
                    f"{r.name} {'ON' if r.safe_on else 'OFF'}")
    return _svg(d, "relay channels (one per rail)", 2, rows + [
        "Active-high: GPIO high -> Q on -> coil energised. Released, floating or unpowered: the 10k holds Q off.",
        "Q: 2N2222A (TO-92: 1 E, 2 B, 3 C) or BC337-40 (1 C, 2 B, 3 E: check the part's own pinout). Emitter to "
        "SW0V (sheet 6), never to a ULN2803A's pin 9 or a module's GND.",
        "Relay pins as printed on the SRD case: coil 1-2 (70 ohm, 71 mA at 5 V), COM 3, NC 4, NO 5. Contacts and "
        "their wires are the unit's side (0V_UNIT): 1.0-1.5 mm2 to the terminals.",
        "K1 as a 2-pole relay (Omron G2RL-2 DC5): its second pole's NC in series with K2's and K3's emitters = the "
        "interlock in copper.",
    ])


def keys(w) -> str:
    """Sheet 3: a PhotoMOS across a button's contacts; one drawn, every key's GPIO in the table."""
    import schemdraw.elements as elm

    d = _drawing()
    d += (gp := elm.Dot(open=True).label("key GPIO (table)", loc="left", fontsize=10))
    d += elm.Line().right().length(0.8)
    d += (n := elm.Dot())
    d += elm.Resistor().right().length(2.4).label("330R", loc="top")
    d += (u := elm.Optocoupler(box=True).anchor("anode").label("U  CPC1017N / AQY212EH", loc="top", ofst=0.6))
    d += elm.Label().at((u.anode[0] - 0.4, u.anode[1] + 0.3)).label("1", fontsize=9)
    d += elm.Label().at((u.cathode[0] - 0.4, u.cathode[1] - 0.3)).label("2", fontsize=9)
    d += elm.Line().down().at(u.cathode).length(1.2)
    d += elm.Tag().down().label("SW0V", fontsize=9)
    d += elm.Resistor().down().at(n.center).length(2.4).label("10k", loc="bottom")
    d += elm.Ground().label("GND", loc="right", fontsize=8)
    d += elm.Line().right().at(u.collector).length(2.5)
    d += elm.Dot(open=True).label("pin 4 -> button contact", loc="right", fontsize=10)
    d += elm.Line().right().at(u.emitter).length(2.5)
    d += elm.Dot(open=True).label("pin 3 -> other contact", loc="right", fontsize=10)
    bx = (u.anode[0] + u.collector[0]) / 2 + 0.1
    d += elm.Line().at((bx, u.anode[1] + 2.4)).to((bx, u.cathode[1] - 2.6)).linestyle("--").color("gray")
    d += elm.Label().at((bx, u.cathode[1] - 3.0)).label("isolation (1500 Vrms)", fontsize=9, color="gray")
    rows = [f"{k.name}: {_hdr(k.pin)}" + ("  [PC817: one way only]" if k.switch == "pc817" else "")
            for k in w.keys.values()]
    notes = ["Keys in this pin map:  " + ";  ".join(rows[:4])]
    if rows[4:]:
        notes.append("                       " + ";  ".join(rows[4:]))
    notes += [
        "PhotoMOS: 1 = LED anode, 2 = LED cathode, 3 and 4 = the switch. The symbol's output is drawn as a "
        "transistor, but it is a pair of MOSFETs: it conducts both ways (either way round), so it works on a ladder "
        "or a scanned matrix.",
        "330R: (3.3 - 1.14 V) / 330 = 6.5 mA, inside the AQY212EH's 5-10 mA and well over the CPC1017N's 1 mA. "
        f"At most {w.max_keys_down} keys down at once (max_keys_down): ~{6.5 * w.max_keys_down:.0f} mA from the header.",
        "Not the AQY210 (a 350 V part with ~35 ohm on-resistance). 10k pull-down: a released pin leaves the LED dark.",
    ]
    return _svg(d, "key channels (a PhotoMOS across each button)", 3, notes)


def senses(w) -> str:
    """Sheet 4: the sense optos; a rail sense has a 9.1 V zener so a sagging rail reads off."""
    import schemdraw.elements as elm

    d = _drawing()
    y = 0.0
    for s in w.senses.values():
        rail = w.rails.get(s.rail) if s.rail else None
        src = f"{ISO.get(rail.name, rail.name)} at the connector" if rail else "amp remote (blue/white)"
        d += elm.Dot(open=True).at((0, y)).label(src, loc="left", fontsize=10)
        if rail:
            d += elm.Resistor().right().length(2.2).label("1k", loc="top")
            d += elm.Zener().right().length(2.2).reverse().label("9V1", loc="top")
        else:
            d += elm.Resistor().right().length(2.2).label("4.7k", loc="top")
            d += elm.Line().right().length(2.2)
        d += (u := elm.Optocoupler(box=True).anchor("anode").label(f"PC817 ({s.name})", loc="top", ofst=0.5))
        d += elm.Line().left().at(u.cathode).length(1.0)
        d += elm.Dot(open=True).label("0V_UNIT (A8)", loc="left", fontsize=9)
        d += elm.Line().right().at(u.collector).length(2.6)
        d += elm.Dot(open=True).label(f"{s.name}: {_hdr(s.pin)}", loc="right", fontsize=10)
        d += elm.Line().right().at(u.emitter).length(1.0)
        d += elm.Ground().label("GND", loc="right", fontsize=8)
        y -= 5.0
    return _svg(d, "sense inputs (PC817)", 4, [
        "PC817: 1 = anode, 2 = cathode (LED, unit side); 4 = collector -> GPIO, 3 = emitter -> Pi GND. The Pi's "
        "pull-up on the GPIO: low = voltage present; a broken wire reads off.",
        "1N4148 across pins 1-2, cathode to pin 1 (reverse and negative spikes: the LED takes 6 V reverse).",
        "Rail senses: 1k + 9.1 V zener (1N4739A) in series: the LED conducts from ~10.3 V (9.1 + 1.2), so a rail "
        "sagging to 8 V reads OFF, not on. At 14.4 V: 4.1 mA.",
        "unit_on: 4.7k, no zener (the amp remote is either ~12 V or 0). Isolation boundary: the PC817 (5000 Vrms).",
    ])


def power(w) -> str:
    """Sheet 5: from the bench supply to A4/A7/ignition: protection, fuses, hold-up, inrush, bleed."""
    import schemdraw.elements as elm

    d = _drawing()
    d += elm.Dot(open=True).at((0, 0)).label("PSU + (13.5-14.4 V)", loc="left", fontsize=10)
    d += elm.Fuse().right().length(2.2).label("F0 10A", loc="top")
    d += elm.RBox().right().length(3.0).label("Q0 IRF4905\nreverse-polarity", loc="top", fontsize=9)
    d += elm.Line().right().length(1.0)
    d += (top := elm.Dot())
    d += elm.Zener().down().at(top.center).length(2.0).reverse().label("TVS P6KE18A", loc="right", fontsize=9)
    d += elm.Dot(open=True).label("0V_UNIT", loc="bottom", fontsize=9)
    d += elm.Line().right().at(top.center).length(1.5)
    d += (bus := elm.Dot())
    # A4 branch
    d += elm.Line().up().at(bus.center).length(2.5)
    d += elm.Fuse().right().length(2.0).label("F1 5A", loc="top")
    d += elm.Schottky().right().length(2.0).label("D1 SB560", loc="top")
    d += (hold := elm.Dot())
    d += elm.Capacitor(polar=True).down().at(hold.center).length(1.8).label("C1 2200u\n25V", loc="bottom", fontsize=9)
    d += elm.Dot(open=True).label("0V_UNIT", loc="bottom", fontsize=9)
    d += elm.Line().right().at(hold.center).length(1.0)
    d += elm.Dot(open=True).label("+12V_A4 -> K1 NC (sheet 2)", loc="right", fontsize=10)
    d += elm.Label().at((hold.center[0] + 2.2, hold.center[1] - 0.8)).label(
        "K1 COM -> R_in 0.22R 5W -> A4", fontsize=9, halign="left")
    # A7 and ignition
    d += elm.Fuse().right().at(bus.center).length(2.0).label("F2 3A", loc="top")
    d += elm.Dot(open=True).label("+12V_A7 -> K2 NO", loc="right", fontsize=10)
    d += elm.Line().down().at(bus.center).length(2.5)
    d += elm.Fuse().right().length(2.0).label("F3 1A", loc="top")
    d += elm.Dot(open=True).label("+12V_IGN -> K3 NO", loc="right", fontsize=10)
    return _svg(d, "power path (bench supply to the unit's connector)", 5, [
        "F0 at the PSU's + terminal. Q0 IRF4905 (P-MOSFET, TO-220: 1 G, 2 D, 3 S): drain to the supply, source to "
        "the bus, gate to 0V_UNIT via 10k, 15 V zener (1N4744A) gate-source: a reversed supply leaves it off.",
        "P6KE18A TVS (15.3 V stand-off) across the bus: load dumps and the supply's own spikes, above the 14.4 V it may sit at.",
        "Hold-up D1 + C1 upstream of K1; R_in 0.22 ohm in series with A4 (after K1 COM) bounds the inrush into the unit's "
        "emptied input capacitors at every restore to ~60 A peak (0.44 V, 0.9 W at 2 A).",
        "Backup SLA (optional): its own 3 A fuse and Schottky into the D1/C1 node; the PSU must then sit at 13.5-13.8 V "
        "(>= 13.2 V, above a charged SLA) or the battery carries the unit and runs down.",
        "Wire: A4 1.5 mm2, A7/A8 1.0 mm2, to the relay terminals, never on perfboard strips.",
    ])


def deadman(w) -> str:
    """Sheet 6: the retriggerable monostable, its switch, its read-back."""
    import schemdraw.elements as elm

    hb = w.heartbeat
    d = _drawing()
    pins = [elm.IcPin(name="+TR", pin="4", side="left"), elm.IcPin(name="-TR", pin="5", side="left"),
            elm.IcPin(name="RESET", pin="3", side="left"),
            elm.IcPin(name="Cx", pin="1", side="top", pos=0.3), elm.IcPin(name="RxCx", pin="2", side="top", pos=0.55),
            elm.IcPin(name="VDD", pin="16", side="top", pos=0.85),
            elm.IcPin(name="Q", pin="6", side="right"), elm.IcPin(name="VSS", pin="8", side="bottom")]
    d += (u := elm.Ic(pins=pins, size=(4.5, 4), label="U1\nCD4538BE\n(one half)"))
    beat = f"heartbeat {_hdr(hb.pin)}" if hb else "heartbeat GPIO"
    d += elm.Resistor().left().at(u.pin4).length(2.2).label("1k", loc="top")
    d += (n := elm.Dot())
    d += elm.Line().left().length(0.6)
    d += elm.Dot(open=True).label(beat, loc="left", fontsize=10)
    d += elm.Resistor().down().at(n.center).length(1.8).label("10k", loc="left")
    d += elm.Ground()
    d += elm.Line().left().at(u.pin5).length(0.8)
    d += elm.Label().label("to VDD", loc="left", fontsize=9)
    d += elm.Line().left().at(u.pin3).length(0.8)
    d += elm.Label().label("to VDD", loc="left", fontsize=9)
    d += elm.Line().up().at(u.pin16).length(3.2)
    d += elm.Vdd().label("+3.3V (J1-1)")
    d += elm.Line().up().at(u.pin2).length(1.0)
    d += (rx := elm.Dot())
    d += elm.Resistor().up().length(2.0).label("Rx 1.0M 1%", loc="bottom")
    d += elm.Label().label("+3.3V", loc="top", fontsize=9)
    d += elm.Capacitor().left().at(rx.center).tox(u.pin1[0]).label("Cx 4.7u film", loc="top")
    d += (cx := elm.Dot())
    d += elm.Line().down().toy(u.pin1[1])
    d += elm.Line().left().at(cx.center).length(1.2)
    d += elm.Ground().label("GND (pin 1 to VSS)", loc="left", fontsize=8)
    d += elm.Line().down().at(u.pin8).length(0.8)
    d += elm.Ground().label("GND", loc="right", fontsize=8)
    d += elm.Resistor().right().at(u.pin6).length(2.0).label("100R", loc="top")
    d += (g := elm.Dot())
    d += elm.Line().right().length(1.5)
    d += (q1 := elm.NFet(bulk=False).right().reverse().anchor("gate").label("Q1 AO3400A", loc="right"))
    d += elm.Line().up().at(q1.drain).length(0.8)
    d += elm.Dot(open=True).label("SW0V (Q1 drain, pin 3)", loc="right", fontsize=10)
    d += elm.Line().down().at(q1.source).length(0.6)
    d += elm.Ground().label("GND", loc="right", fontsize=8)
    d += elm.Line().down().at(g.center).length(4.6)
    d += (g2 := elm.Dot())
    d += elm.Resistor().down().length(2.0).label("100k", loc="left")
    d += elm.Ground()
    d += elm.Line().right().at(g2.center).length(1.5)
    d += (q2 := elm.NFet(bulk=False).right().reverse().anchor("gate").label("Q2 BSS138", loc="right"))
    d += elm.Line().up().at(q2.drain).length(0.6)
    rb = _hdr(hb.readback) if hb and hb.readback is not None else "read-back GPIO"
    d += elm.Dot(open=True).label(f"read-back {rb}", loc="right", fontsize=10)
    d += elm.Line().down().at(q2.source).length(0.6)
    d += elm.Ground().label("GND", loc="right", fontsize=8)
    t = f"{hb.timeout:g} s" if hb else "T"
    every = f"{hb.every:g} s" if hb else "every"
    return _svg(d, "the dead-man (retriggerable monostable on the heartbeat)", 6, [
        f"T = Rx * Cx = 1.0 M x 4.7 uF = 4.7 s (pin map: timeout {t}, beat every {every}; every <= T/4). MEASURE T "
        "(rig selftest) and write it as heartbeat.timeout.",
        "Cx: film (PET/MKT, 50 V) or X7R, never an electrolytic or tantalum: at the trip point only ~1.2 uA flows "
        "in Rx, and a leaky capacitor keeps the dead-man on forever.",
        "Decoupling: 100 nF X7R + 10 uF from pin 16 to pin 8, at the chip. Pins 1 and 15 to GND; unused half: "
        "pins 11, 12, 13, 14, 15 to GND.",
        "Q1/Q2 SOT-23: 1 G, 2 S, 3 D. SW0V returns every relay driver's emitter and every key LED's cathode: "
        "when the beat stops, Q falls after T and all of them are released.",
        "74HC123 instead (SN74HC123N): Rext 1.0M (VCC to pin 15), Cext 10 uF X7R (pins 15-14), GPIO via 1k to pin 2 "
        "(1B), pin 1 (1A) GND, pin 3 (CLR) VCC, Q = pin 13; T ~ 0.45 R C = 4.5 s.",
    ])


SHEETS = {"2-relays": relays, "3-keys": keys, "4-senses": senses, "5-power": power, "6-deadman": deadman}


def render_all(w) -> dict[str, str]:
    """file name -> SVG for every sheet after the pin sheet."""
    return {f"sheet{name}.svg": fn(w) for name, fn in SHEETS.items()}
