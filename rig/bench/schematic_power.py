"""Sheets 5 and 6 of the schematic: the power path from the bench supply to the unit's
connector, and the dead-man (the retriggerable monostable on the heartbeat).

>>> from rig.bench.wiring import load_wiring
>>> "CD4538BE" in deadman(load_wiring())
True
"""

from __future__ import annotations

from .schematic_parts import ISO, drawing, hdr, label, line, page

FUSE = {"battery": "F1 5A", "acc": "F2 3A"}
LEAD = {"A4": "yellow", "A7": "red"}


def _contact(d, x: float, y: float, name: str, feed_nc: bool) -> dict:
    """A relay's contacts as the power path sees them, at rest: COM (right) rests on NC (left, on
    the line); NO sits below. The coil is on sheet 2."""
    import schemdraw.elements as elm

    com, nc, no = (x + 1.3, y), (x, y), (x, y - 0.8)
    line(d, com, (nc[0] + 0.1, nc[1] + 0.05), lw=2)  # the lever, on NC
    for p in (com, nc, no):
        d += elm.Dot(open=True, radius=0.09).at(p)
    label(d, (x + 0.65, y + 0.85), name, 9)
    label(d, (nc[0] - 0.05, nc[1] + 0.35), "NC" if feed_nc else "NC (free)", 7)
    label(d, (no[0] - 0.35, no[1]), "NO", 7)
    label(d, (com[0] + 0.1, com[1] + 0.35), "COM", 7)
    return {"COM": com, "NC": nc, "NO": no}


def _zero(d, at, text: str = "0V_UNIT") -> None:
    import schemdraw.elements as elm

    d += elm.Dot(open=True).at(at).label(text, loc="bottom", fontsize=8)


def power(w) -> str:
    """Sheet 5: from the bench supply to A4/A7/ignition: protection, fuses, hold-up, inrush, bleed."""
    import schemdraw.elements as elm

    d = drawing()
    rail0 = -10.5
    d += elm.Dot(open=True).at((0, 0)).label("PSU +  13.5-14.4 V", loc="left", fontsize=10)
    d += elm.Fuse().right().length(2.2).label("F0 10A", loc="top")
    line(d, (2.2, 0), (3.2, 0))
    d += (q0 := elm.PFet().theta(-90).anchor("drain").at((3.2, 0)).label("Q0 IRF4905", loc="top", ofst=(0, 0.3)))
    label(d, (q0.drain[0] + 0.1, 0.35), "D (2)", 7)
    label(d, (q0.source[0] - 0.1, 0.35), "S (3)", 7)
    label(d, (q0.gate[0] + 0.55, q0.gate[1] + 0.1), "G (1)", 7)
    bus = q0.source[0] + 2.5
    line(d, q0.source, (bus, 0))
    zx = q0.source[0] + 0.8
    d += elm.Dot().at((zx, 0))
    d += elm.Zener().down().at((zx, 0)).to((zx, q0.gate[1] - 0.3)).label("15V 1N4744A", loc="bottom", fontsize=8)
    line(d, q0.gate, (q0.gate[0], q0.gate[1] - 0.3))
    line(d, (q0.gate[0], q0.gate[1] - 0.3), (zx, q0.gate[1] - 0.3))
    d += elm.Dot().at((q0.gate[0], q0.gate[1] - 0.3))
    d += elm.Resistor().down().at((q0.gate[0], q0.gate[1] - 0.3)).to((q0.gate[0], rail0)).label(
        "10k", loc="bottom", fontsize=9)
    d += elm.Dot().at((q0.gate[0], rail0))
    tx = bus - 0.9
    d += elm.Dot().at((tx, 0))
    d += elm.Zener().down().at((tx, 0)).to((tx, rail0)).label("TVS P6KE18A", loc="bottom", fontsize=9)
    d += elm.Dot().at((tx, rail0))
    d += elm.Dot().at((bus, 0))
    jx = bus + 16.0  # the pigtail's column
    rows = list(w.rails.values())
    top = 4.5 if rows and rows[0].contact == "nc" else 0.0
    for i, r in enumerate(rows):
        y = top - 4.5 * i
        iso = ISO.get(r.name, r.iso)
        line(d, (bus, 0), (bus, y))
        fuse = FUSE.get(r.name, f"F{i + 1} 1A")
        d += elm.Fuse().right().at((bus, y)).length(2.0).label(fuse, loc="top", fontsize=9)
        x = bus + 2.0
        if r.contact == "nc":  # the hold-up sits before the contact that cuts constant power
            d += elm.Schottky().right().at((x, y)).length(2.0).label("D1 SB560", loc="top", fontsize=9)
            x += 2.0
            d += elm.Dot().at((x, y))
            d += elm.Capacitor(polar=True).down().at((x, y)).length(1.5).label("C1 2200u 25V", loc="top",
                                                                                  fontsize=8)
            _zero(d, (x, y - 1.5))
            line(d, (x, y), (x + 2.5, y))
            x += 2.5
        else:
            line(d, (x, y), (x + 3.9, y))
            line(d, (x + 3.9, y), (x + 3.9, y - 0.8))
            x += 4.5
        label(d, (x - 1.3, y + 0.3), f"+12V_{iso or 'IGN'}", 8)
        k = _contact(d, x, y, f"K{i + 1} (sheet 2)", feed_nc=r.contact == "nc")
        if r.contact == "nc":
            d += elm.Resistor().down().at(k["NO"]).length(1.6).label("bleed 100R 5W", loc="bottom", fontsize=8)
            _zero(d, (k["NO"][0], k["NO"][1] - 1.6))
            out = k["COM"]
            d += elm.Resistor().right().at(out).length(2.2).label("R_in 0.22R 5W", loc="top", fontsize=9)
            sx = out[0] + 2.2
        else:
            # the feed is on NO: the fuse's line goes round to it; NC stays free
            line(d, (x - 0.6, y - 0.8), k["NO"])
            sx = k["COM"][0]
        line(d, (sx, y), (jx, y))
        sense = next((s for s in w.senses.values() if s.rail == r.name), None)
        if sense is not None:
            d += elm.Dot().at((jx - 3.0, y))
            line(d, (jx - 3.0, y), (jx - 3.0, y - 0.8))
            d += elm.Dot(open=True).at((jx - 3.0, y - 0.8)).label(f"{sense.name} sense (sheet 4)", loc="bottom",
                                                                 fontsize=8)
        lead = f"J2-{iso} ({LEAD.get(iso, 'meter it')})" if iso else "the unit's ignition feed"
        d += elm.Dot(open=True).at((jx, y)).label(f"{lead}: {r.name}", loc="right", fontsize=10)
    # the unit's 0 V: the supply's minus straight to A8, never through a relay
    d += elm.Dot(open=True).at((0, rail0)).label("PSU -  0 V", loc="left", fontsize=10)
    line(d, (0, rail0), (jx, rail0))
    d += elm.Dot(open=True).at((jx, rail0)).label("J2-A8 (black): 0V_UNIT", loc="right", fontsize=10)
    label(d, (jx - 6, rail0 + 0.35), "0V_UNIT, 1.0 mm2, never switched", 8)
    return page(d, "power path (bench supply to the unit's connector)", 5, [
        "F0 at the PSU's + terminal. Q0 IRF4905 (P-MOSFET, TO-220 facing you: 1 G, 2 D, 3 S): drain to the supply, "
        "source to the bus, gate to 0V_UNIT through 10k, 15 V zener (1N4744A) from gate to source, band to the "
        "source. Its body diode conducts first, then it turns on; a reversed supply leaves it off.",
        "TVS P6KE18A (15.3 V stand-off), band to the bus: load dumps and the supply's own spikes, above the "
        "14.4 V it may sit at.",
        "Hold-up D1 + C1 before K1, so a cut of K1 still cuts A4; R_in 0.22 ohm in series with A4 after K1 COM "
        "bounds the inrush into the unit's emptied input capacitors at every restore to ~60 A peak (0.44 V, "
        "0.9 W at 2 A). The bleed on K1's NO empties them while A4 is cut.",
        "Backup SLA (optional): its own 3 A fuse and an SB560 into the D1/C1 node; the PSU must then sit at "
        "13.5-13.8 V (>= 13.2 V, above a charged SLA) or the battery carries the unit and runs down.",
        "Wire: A4 1.5 mm2, A7 and A8 1.0 mm2, to the relay terminals, never on perfboard strips. The rail senses "
        "tap the leads at the pigtail, after fuse and relay.",
    ])


def deadman(w) -> str:
    """Sheet 6: the retriggerable monostable, its switch, its read-back, its decoupling."""
    import schemdraw.elements as elm

    hb = w.heartbeat
    d = drawing()
    pins = [elm.IcPin(name="RESET", pin="3", side="left", pos=0.8), elm.IcPin(name="-TR", pin="5", side="left",
                                                                              pos=0.5),
            elm.IcPin(name="+TR", pin="4", side="left", pos=0.2),
            elm.IcPin(name="Cx", pin="1", side="top", pos=0.15), elm.IcPin(name="RxCx", pin="2", side="top",
                                                                           pos=0.45),
            elm.IcPin(name="VDD", pin="16", side="top", pos=0.85),
            elm.IcPin(name="Q", pin="6", side="right", pos=0.5), elm.IcPin(name="VSS", pin="8", side="bottom")]
    d += (u := elm.Ic(pins=pins, size=(6, 5), label="U1  CD4538BE\n(one half; DIP-16)",
                      lblsize=11).at((0, 0)))
    top = u.pin16[1] + 4.5
    # the 3.3 V rail along the top, from the left (RESET and -TR) to the decoupling on the right
    lx = u.pin3[0] - 1.5
    line(d, (lx, top), (u.pin16[0] + 3.9, top))
    d += elm.Vdd().at((lx, top)).label("+3.3V (J1-1)", fontsize=10)
    for p in (u.pin3, u.pin5):
        line(d, p, (lx, p[1]))
    line(d, (lx, u.pin5[1]), (lx, top))
    d += elm.Dot().at((lx, u.pin3[1]))
    line(d, u.pin16, (u.pin16[0], top))
    d += elm.Dot().at((u.pin16[0], top))
    for i, (value, name) in enumerate((("100n X7R", "C3"), ("10u", "C4"))):
        cx = u.pin16[0] + 2.2 * (i + 1) - 0.5
        d += elm.Dot().at((cx, top)) if i == 0 else elm.Line().at((cx, top)).to((cx, top))
        d += elm.Capacitor().down().at((cx, top)).length(2.0).label(f"{name}\n{value}", loc="bottom", fontsize=8)
        d += elm.Ground()
    # timing: Rx from the rail to pin 2, Cx from pin 2 to pin 1, pin 1 to 0 V
    ny = u.pin2[1] + 1.4
    line(d, u.pin2, (u.pin2[0], ny))
    d += elm.Dot().at((u.pin2[0], ny))
    d += elm.Resistor().up().at((u.pin2[0], ny)).to((u.pin2[0], top)).label("Rx 1.0M 1%", loc="bottom", fontsize=9)
    d += elm.Dot().at((u.pin2[0], top))
    line(d, u.pin1, (u.pin1[0], ny))
    d += elm.Dot().at((u.pin1[0], ny))
    d += elm.Capacitor().left().at((u.pin2[0], ny)).to((u.pin1[0], ny)).label("Cx 4.7u film", loc="bottom",
                                                                              fontsize=8, ofst=(0, -0.9))
    line(d, (u.pin1[0], ny), (u.pin1[0] - 1.2, ny))
    d += elm.Ground().at((u.pin1[0] - 1.2, ny))
    d += elm.Line().down().at(u.pin8).length(0.8)
    d += elm.Ground().label("GND", loc="right", fontsize=8)
    # the heartbeat in, on +TR
    beat = f"heartbeat {hdr(hb.pin)}" if hb else "heartbeat GPIO"
    d += elm.Resistor().left().at(u.pin4).length(2.2).label("1k", loc="bottom")
    d += (n := elm.Dot())
    d += elm.Line().left().length(0.8)
    d += elm.Dot(open=True).label(beat, loc="left", fontsize=10)
    d += elm.Resistor().down().at(n.center).length(1.8).label("10k", loc="bottom", fontsize=9)
    d += elm.Ground()
    # Q switches the 0 V return (Q1) and is read back (Q2)
    d += elm.Resistor().right().at(u.pin6).length(2.0).label("100R", loc="top")
    d += (g := elm.Dot())
    d += elm.Line().right().length(1.5)
    d += (q1 := elm.NFet(bulk=False).right().reverse().anchor("gate").label("Q1 AO3400A", loc="right",
                                                                          ofst=(0.3, 0)))
    d += elm.Line().up().at(q1.drain).length(0.8)
    d += elm.Dot(open=True).label("SW0V: Q1 drain (pin 3) -> relay emitters, key LED cathodes", loc="right",
                                  fontsize=10)
    d += elm.Line().down().at(q1.source).length(0.6)
    d += elm.Ground().label("GND (Pi)", loc="right", fontsize=8)
    d += elm.Line().down().at(g.center).length(4.6)
    d += (g2 := elm.Dot())
    d += elm.Resistor().left().length(2.0).label("100k", loc="top", fontsize=9)
    d += elm.Ground()
    d += elm.Line().right().at(g2.center).length(1.5)
    d += (q2 := elm.NFet(bulk=False).right().reverse().anchor("gate").label("Q2 BSS138", loc="right", ofst=(0.3, 0)))
    d += elm.Line().up().at(q2.drain).length(0.6)
    rb = hdr(hb.readback) if hb and hb.readback is not None else "read-back GPIO"
    d += elm.Dot(open=True).label(f"read-back {rb}: low = SW0V closed", loc="right", fontsize=10)
    d += elm.Line().down().at(q2.source).length(0.6)
    d += elm.Ground().label("GND", loc="right", fontsize=8)
    t = f"{hb.timeout:g} s" if hb else "T"
    every = f"{hb.every:g} s" if hb else "every"
    return page(d, "the dead-man (retriggerable monostable on the heartbeat)", 6, [
        f"T = Rx * Cx = 1.0 M x 4.7 uF = 4.7 s (pin map: timeout {t}, beat every {every}; every <= T/4). MEASURE T "
        "(rig selftest) and write it as heartbeat.timeout.",
        "Cx: film (PET/MKT, 50 V) or X7R, never an electrolytic or tantalum: at the trip point only ~1.2 uA flows "
        "in Rx, and a leaky capacitor keeps the dead-man on forever.",
        "Decoupling C3 + C4 from pin 16 to pin 8, at the chip. Pins 1 and 15 to GND; unused half: pins 11, 12, 13, "
        "14, 15 to GND, pins 9 and 10 open. +TR (pin 4) retriggers on a rising edge while -TR (5) and RESET (3) "
        "are high.",
        "Q1/Q2 SOT-23: 1 G, 2 S, 3 D. SW0V returns every relay driver's emitter and every key LED's cathode: "
        "when the beat stops, Q falls after T and all of them are released. 100k: Q1 off while U1 is unpowered.",
        "74HC123 instead (SN74HC123N): Rext 1.0M (VCC to pin 15), Cext 10 uF X7R (pins 15-14), GPIO via 1k to pin 2 "
        "(1B), pin 1 (1A) GND, pin 3 (CLR) VCC, Q = pin 13; T ~ 0.45 R C = 4.5 s.",
    ])
