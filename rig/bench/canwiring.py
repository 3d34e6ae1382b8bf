"""The pin map's ``can:`` block: which CAN interface the bench has, at what speed, on which pins.

An MCP2515 HAT talks to the Pi over SPI and raises an interrupt pin; the kernel's
overlay claims those pins, and a GPIO claim on one of them fights the HAT silently.
So the block names them, and no rail, key or sense may sit on them.

>>> from rig.yamlfile import load_text
>>> from rig.bench.wiring import _Checker
>>> c = _Checker("bench.yaml"); c.pins = {25: "keys.preset3"}
>>> node = load_text("can: {interface: socketcan, channel: can0, bitrate: 100k, interrupt: 25}", "bench.yaml")
>>> spec = parse_can(c, node); print(*[p.message for p in c.problems])
can.interrupt: GPIO25 is the CAN HAT's interrupt and keys.preset3 uses it too; move one of them (or delete the can: block if this bench has no CAN HAT)
>>> spec.bitrate, sorted(hat_pins(spec))
(100000, [8, 9, 10, 11, 25])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..can.bus import INTERFACES
from ..can.frames import parse_bitrate
from ..errors import shown
from .pinmap import CAN_HAT

FIELDS = {"interface", "channel", "bitrate", "spi", "cs", "interrupt", "oscillator", "wake", "port", "note"}
CE = {0: 8, 1: 7}


@dataclass(frozen=True)
class CanSpec:
    """A CAN interface of the bench (``interface``/``channel`` as python-can names them)."""

    interface: str = "socketcan"
    channel: str = "can0"
    bitrate: int | None = None       # what the interface is set to; checked against the kernel and each profile
    spi: int | None = 0              # the HAT's SPI bus (None: no HAT, e.g. a virtual bus)
    cs: int = 0
    interrupt: int | None = 25
    oscillator: str = ""
    wake: str | None = None          # the bench's own wake set (a file beside the pin map, or a shipped name)
    port: int | None = None          # udp_multicast only
    line: int = 0
    wake_from: str = ""              # who named ``wake`` where the pin map did not (``--wake-set FILE``)

    @property
    def wake_source(self) -> str:
        """Where the bench's wake set was named, for messages: ``--wake-set golf6.yaml`` or the pin map."""
        return self.wake_from or f"the pin map's can.wake ({self.wake})"

    @property
    def hat(self) -> bool:
        return self.interface == "socketcan" and self.spi is not None

    def describe(self) -> str:
        rate = f" at {self.bitrate} bit/s" if self.bitrate else ""
        return f"{self.channel} ({self.interface}){rate}"


def hat_pins(spec: CanSpec) -> dict[int, str]:
    """The GPIOs the HAT's overlay takes: SPI0's three lines, its chip select and its interrupt."""
    if not spec.hat:
        return {}
    pins = {p: CAN_HAT[p] for p in (9, 10, 11)}
    pins[CE[spec.cs]] = f"SPI0 CE{spec.cs}, the CAN HAT's chip select"
    if spec.interrupt is not None:
        pins[spec.interrupt] = "the CAN HAT's interrupt"
    return pins


def parse_can(c, data) -> CanSpec | None:
    """The ``can:`` block, checked; problems go to the pin map's checker ``c`` (whose ``pins`` holds
    every GPIO the rest of the map uses, by name)."""
    if data.get("can") is None:
        return None
    node = c.mapping(data["can"], "can", data.line_of("can"))
    if node is None:
        return None
    c.fields(node, "can", FIELDS, {"interface", "channel"})
    interface = node.get("interface", "socketcan")
    if interface not in INTERFACES:
        c.error(node.line_of("interface"), f"can.interface: {shown(interface)} is not one rig drives "
                f"({', '.join(INTERFACES)}; socketcan for a HAT)")
        interface = "socketcan"
    channel = node.get("channel", "can0")
    if not isinstance(channel, str) or not channel:
        c.error(node.line_of("channel"), f"can.channel: {shown(channel)} is not an interface name (e.g. can0)")
        channel = "can0"
    bitrate = None
    if node.get("bitrate") is not None:
        bitrate = parse_bitrate(node["bitrate"])
        if bitrate is None:
            c.error(node.line_of("bitrate"), f"can.bitrate: {shown(node['bitrate'])} is not a CAN bitrate "
                    f"(e.g. 100k, 95.238k, 125000)")
    hat = interface == "socketcan"
    spi = _int(c, node, "spi", (0,), 0 if hat else None)
    cs = _int(c, node, "cs", (0, 1), 0)
    interrupt = _int(c, node, "interrupt", range(0, 28), 25 if hat else None)
    port = _int(c, node, "port", range(1024, 65536), None)
    wake = node.get("wake")
    if wake is not None and not isinstance(wake, str):
        c.error(node.line_of("wake"), f"can.wake: {shown(wake)} is not a wake set (a file name, e.g. "
                f"wake/rcd310.yaml, or a shipped one)")
        wake = None
    if wake and (wake.endswith((".yaml", ".yml")) or "/" in wake):
        wake = str((Path(c.file).parent / wake)) if not Path(wake).is_absolute() else wake
    spec = CanSpec(interface, channel, bitrate, spi, cs or 0, interrupt, str(node.get("oscillator", "")),
                   wake, port, node.line)
    for pin, what in hat_pins(spec).items():
        user = c.pins.get(pin)
        if user is not None:
            key = "interrupt" if pin == spec.interrupt else ("cs" if pin in CE.values() else "spi")
            c.error(node.line_of(key), f"can.{key}: GPIO{pin} is {what} and {user} uses it too; move one of them (or delete the can: block if this bench has no CAN HAT)")
    return spec


def _int(c, node, key, allowed, default):
    if key not in node:
        return default
    value = node[key]
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        c.error(node.line_of(key), f"can.{key}: {shown(value)} is not allowed here")
        return default
    return value
