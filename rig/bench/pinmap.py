"""What a pin map says, as objects: rails, keys, senses, the display tap, the heartbeat, timing.

:mod:`rig.bench.wiring` builds a :class:`Wiring` from a YAML file and checks it; the
bench, the backends and the simulated unit read these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import Problem

# BCM pins never to use: ID EEPROM (0/1), I2C1 with on-board pull-ups (2/3),
# the UART whose TX toggles at boot (14/15).
RESERVED = {0: "ID EEPROM (ID_SD)", 1: "ID EEPROM (ID_SC)", 2: "I2C1 SDA, 1.8k pull-up on board",
            3: "I2C1 SCL, 1.8k pull-up on board", 14: "UART TX, toggles at boot", 15: "UART RX"}
# Pins with another common job: allowed, but a peripheral switched on in config.txt takes
# them over (the Pi's pinmux is not strict: a GPIO claim and the peripheral fight, silently).
# The bench refuses at open a pin the live pinmux or another consumer holds (pinclaims.py).
SHARED = {4: "1-Wire / GPCLK0", 7: "SPI0 CE1", 8: "SPI0 CE0", 9: "SPI0 MISO", 10: "SPI0 MOSI", 11: "SPI0 SCLK",
          18: "PCM CLK (I2S)", 19: "PCM FS (I2S)", 20: "PCM DIN (I2S)", 21: "PCM DOUT (I2S)"}
# The CAN-HAT pin plan (wiring/README.md section 12): what an MCP2515 HAT takes, which the
# default pin map leaves free. One channel: SPI0 with CE0 and its interrupt on GPIO25
# (dtparam=spi=on, dtoverlay=mcp2515-can0,...,interrupt=25); a two-channel HAT adds CE1 and
# a second interrupt (the Waveshare 2-CH CAN HAT's SPI0 build: can0 on GPIO23, can1 on 25).
CAN_HAT = {7: "SPI0 CE1, a 2-channel CAN HAT's second chip select", 8: "SPI0 CE0, the CAN HAT's chip select",
           9: "SPI0 MISO, the CAN HAT's", 10: "SPI0 MOSI, the CAN HAT's", 11: "SPI0 SCLK, the CAN HAT's",
           23: "a 2-channel CAN HAT's second interrupt", 25: "the CAN HAT's interrupt"}
# BCM number -> physical pin on the 40-pin header.
HEADER = {2: 3, 3: 5, 4: 7, 17: 11, 27: 13, 22: 15, 10: 19, 9: 21, 11: 23, 0: 27, 5: 29, 6: 31, 13: 33,
          19: 35, 26: 37, 14: 8, 15: 10, 18: 12, 23: 16, 24: 18, 25: 22, 8: 24, 7: 26, 1: 28, 12: 32,
          16: 36, 20: 38, 21: 40}

# emoji off: "file:100: error" must not print as "file💯 error"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
REQUIRED_RAILS = ("battery", "acc")


def boot_pulls_high(pin: int) -> bool:
    """At power-on GPIO0-8 are pulled up and GPIO9-27 down (BCM2835 table 6-31)."""
    return pin <= 8


@dataclass(frozen=True)
class RailSpec:
    """A relay-switched supply rail.

    ``contact`` is the relay contact the rail is wired through: ``no`` (energise
    to power the rail) or ``nc`` (energise to cut it). ``safe_on`` is the
    declared safe state, which must be the relay's de-energised state.
    """

    name: str
    pin: int
    active_high: bool = True
    contact: str = "no"
    safe_on: bool = False
    required: bool = True
    iso: str = ""
    line: int = 0
    pull: str = "down"  # the external pull resistor on the driver's input: down (default) or up

    def energised_for(self, on: bool) -> bool:
        """Whether the relay coil is energised when the rail is ``on``."""
        return on == (self.contact == "no")


@dataclass(frozen=True)
class KeySpec:
    """A solid-state switch across one button's contacts.

    ``switch`` is ``photomos`` (the default: a PhotoMOS/SSR such as CPC1017N,
    conducts both ways) or ``pc817`` (a phototransistor, one way only).
    ``ladder`` is the unit's key line the button sits on (YAML ``line:``),
    e.g. the ADC input of a resistor-ladder keyboard: two keys on one line
    pressed together may decode as a third key.
    """

    name: str
    pin: int
    active_high: bool = True
    line: int = 0
    ladder: str | None = None
    switch: str = "photomos"
    pull: str = "down"


@dataclass(frozen=True)
class SenseSpec:
    """A GPIO input, e.g. ``unit_on`` from the amp-remote lead through an opto.

    ``rail`` names the rail this sense measures at the head-unit connector
    (``battery_v`` on A4, ``acc_v`` on A7): powered time then counts what
    reached the unit, not what the relay was told.
    """

    name: str
    pin: int
    pull: str = "up"  # up | down | none
    active_high: bool = False
    line: int = 0
    rail: str | None = None
    debounce: float = 0.0  # seconds a new level must hold before the rig believes it


@dataclass(frozen=True)
class DisplaySpec:
    """Where the serial display tap is: any pyserial URL, and its baud."""

    port: str
    baud: int = 115200
    line: int = 0


@dataclass(frozen=True)
class HeartbeatSpec:
    """A pin the bench toggles while it is open, feeding a hardware dead-man.

    A retriggerable monostable on this pin keeps the relay and key supply on;
    when the toggling stops (rig hung, killed, kernel dead) the supply drops
    and every relay and key falls to its released, safe state. ``timeout`` is
    the monostable's time T (measured at commissioning); ``readback`` the input
    the monostable's output is read back on, and ``armed_high`` the level it
    reads while the supply is on (wiring/README.md section 11).
    """

    pin: int
    every: float = 0.25  # seconds between level changes
    line: int = 0
    timeout: float = 5.0  # T: the dead-man drops the supply this long after the last rising edge
    readback: int | None = None
    armed_high: bool = False  # the default circuit pulls the readback LOW while the supply is on


@dataclass(frozen=True)
class ComboSpec:
    """How one combo is pressed: ``stagger`` seconds between its keys going down, in order."""

    keys: tuple[str, ...]
    stagger: float = 0.0
    line: int = 0


@dataclass(frozen=True)
class Timing:
    press: float = 0.25
    gap: float = 0.25
    relay_dwell: float = 0.5
    rail_settle: float = 0.5  # how long a rail's sense may take to follow its relay (rig selftest measures it)


@dataclass
class Wiring:
    """A validated pin map."""

    name: str
    source: str
    rails: dict[str, RailSpec]
    keys: dict[str, KeySpec]
    senses: dict[str, SenseSpec]
    display: DisplaySpec | None
    timing: Timing
    warnings: list[Problem] = field(default_factory=list)
    heartbeat: HeartbeatSpec | None = None
    combos: dict[frozenset, ComboSpec] = field(default_factory=dict)
    notes: list[Problem] = field(default_factory=list)  # said by `rig wiring check` only (a shared pin, say)
    pin_library: str | None = None  # named on purpose in the pin map; None: lgpio
    max_keys_down: int = 3          # keys down at once, at most (their LED current comes from the header)
    strict_combos: bool = False     # the hardware: a combo on keys of unknown lines fails closed
    can: object = None  # the CAN interface (rig.bench.canwiring.CanSpec), if the bench has one

    def combo(self, names) -> ComboSpec | None:
        """The pin map's ``combos:`` entry for these keys (any order), if it has one."""
        return self.combos.get(frozenset(names))

    def combo_problem(self, names, profile=None, strict: bool = False) -> str | None:
        """Why pressing ``names`` together is refused, or None.

        Keys on one key line (a resistor ladder's ADC input, in the profile's ``ladders``)
        pressed together can read as a third key. Such a combo is allowed only where the
        profile lists it in ``verified_combos`` (someone watched it work on that family).
        ``strict`` (the hardware): a key whose line the profile does not give counts as
        possibly shared too, so an unmeasured combo fails closed.
        """
        names = list(names)
        verified = {frozenset(v) for v in getattr(profile, "verified_combos", ())}
        if len(names) < 2 or frozenset(names) in verified:
            return None
        line_of = {k: line for line, keys in getattr(profile, "ladders", {}).items() for k in keys}
        by_line: dict[str, list[str]] = {}
        for n in names:
            if n in line_of:
                by_line.setdefault(line_of[n], []).append(n)
        shared = {line: ks for line, ks in by_line.items() if len(ks) > 1}
        unknown = [n for n in names if n not in line_of]
        fix = (f"check it by hand on the unit (rig press {'+'.join(names)}, wiring/README.md section 10) and list it "
               f"under the profile's verified_combos")
        if shared:
            line, keys = next(iter(shared.items()))
            return (f"{'+'.join(names)}: {' and '.join(keys)} are on the same key line {line!r}, where pressed "
                    f"together they can read as another key; {fix}")
        if strict and unknown:
            return (f"{'+'.join(names)}: the profile does not say which key line {' and '.join(unknown)} "
                    f"{'is' if len(unknown) == 1 else 'are'} on (its ladders:), so on a bench they may share one "
                    f"and read as another key; {fix}")
        return None

    def rail_sense(self, rail: str) -> SenseSpec | None:
        """The sense that measures ``rail`` at the connector, if the pin map has one."""
        return next((s for s in self.senses.values() if s.rail == rail), None)

    def pins(self) -> dict[int, str]:
        out = {r.pin: f"rail {r.name}" for r in self.rails.values()}
        out.update({k.pin: f"key {k.name}" for k in self.keys.values()})
        out.update({s.pin: f"sense {s.name}" for s in self.senses.values()})
        if self.heartbeat is not None:
            out[self.heartbeat.pin] = "heartbeat"
            if self.heartbeat.readback is not None:
                out[self.heartbeat.readback] = "heartbeat readback"
        return out
