"""Which header pins something else holds: the live pinmux, the device tree, other GPIO consumers.

The Pi's pin controller is not strict: a GPIO claim silently takes a pin from the
peripheral a config.txt line gave it (SPI0 for a CAN HAT, I2S for a sound card), and
both then fight over it. So before the hardware backend claims a pin, rig asks:

1. the kernel's own pinmux table, ``/sys/kernel/debug/pinctrl/*-pinctrl-{rp1,bcm2711,bcm2835}/pinmux-pins``
   (debugfs: readable by root only, so often not there);
2. the device tree as booted, ``/sys/firmware/devicetree/base`` (readable by all):
   every enabled node whose ``pinctrl-0`` names a pin group of the header's
   controller, or whose ``*gpios``/``interrupts`` point at one of its pins
   (``dtparam=spi=on``, ``dtoverlay=mcp2515-can0,interrupt=25``, ``gpio-shutdown``...);
3. the GPIO character device's line info (a consumer: another process, or a kernel
   driver), through lgpio when it is the pin library.

>>> claimed_pins("/nonexistent")
{}
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

# compatible strings of the controllers behind the 40-pin header (a Pi 5's SoC has others)
HEADER_COMPATIBLE = ("brcm,bcm2835-gpio", "brcm,bcm2711-gpio", "brcm,bcm7211-gpio", "raspberrypi,rp1-gpio")
HEADER_DEBUGFS = ("pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835")


def claimed_pins(sys_root: str = "/sys") -> dict[int, str]:
    """Header GPIO -> who holds it, from debugfs where readable, else the device tree."""
    found = _from_debugfs(Path(sys_root, "kernel", "debug", "pinctrl"))
    if found is None:
        found = _from_devicetree(Path(sys_root, "firmware", "devicetree", "base"))
    return found


def _from_debugfs(root: Path) -> dict[int, str] | None:
    try:
        dirs = [d for d in root.iterdir() if d.name.endswith(HEADER_DEBUGFS)]
    except OSError:
        return None
    for d in dirs:
        try:
            text = (d / "pinmux-pins").read_text()
        except OSError:
            continue
        controller = d.name.split("-pinctrl-")[0]
        out = {}
        for line in text.splitlines():
            # non-strict controllers: "pin N (name): MUX_OWNER|(MUX UNCLAIMED) GPIO_OWNER|(GPIO UNCLAIMED) ..."
            m = re.match(r"pin (\d+) \(([^)]*)\): (\(MUX UNCLAIMED\)|\S+) (\(GPIO UNCLAIMED\)|\S+)(.*)", line)
            if not m:
                continue
            pin, mux, gpio, rest = int(m.group(1)), m.group(3), m.group(4), m.group(5)
            if pin > 27:
                continue
            if not mux.startswith("(") and not mux.startswith(controller):
                fn = re.search(r"function (\S+)", rest)
                out[pin] = f"{mux} (pinmux{', function ' + fn.group(1) if fn else ''})"
            elif not gpio.startswith("("):
                out[pin] = f"GPIO consumer {gpio}"
        return out
    return None


def _prop(node: Path, name: str) -> bytes | None:
    try:
        return (node / name).read_bytes()
    except OSError:
        return None


def _cells(raw: bytes | None) -> list[int]:
    if not raw:
        return []
    return list(struct.unpack(f">{len(raw) // 4}I", raw[: len(raw) // 4 * 4]))


def _strings(raw: bytes | None) -> list[str]:
    return [s.decode(errors="replace") for s in (raw or b"").split(b"\0") if s]


def _nodes(root: Path):
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        try:
            stack.extend(sorted((c for c in node.iterdir() if c.is_dir() and not c.is_symlink()), reverse=True))
        except OSError:
            pass


def _enabled(node: Path) -> bool:
    status = _strings(_prop(node, "status"))
    return not status or status[0] in ("okay", "ok")


def _from_devicetree(root: Path) -> dict[int, str]:
    if not root.is_dir():
        return {}
    nodes = list(_nodes(root))
    controllers = [n for n in nodes if set(_strings(_prop(n, "compatible"))) & set(HEADER_COMPATIBLE)]
    if not controllers:
        return {}
    ctl = controllers[0]
    ctl_phandle = (_cells(_prop(ctl, "phandle")) or [None])[0]
    groups: dict[int, list[int]] = {}  # phandle of a pin group under the controller -> its pins
    for n in nodes:
        if ctl not in n.parents:
            continue
        handle = (_cells(_prop(n, "phandle")) or [None])[0]
        pins = _cells(_prop(n, "brcm,pins")) or [int(p[4:]) for p in _strings(_prop(n, "pins"))
                                                  if re.fullmatch(r"gpio\d+", p)]
        if handle is not None and pins:
            groups[handle] = pins
    gpio_cells = (_cells(_prop(ctl, "#gpio-cells")) or [2])[0]
    out: dict[int, str] = {}
    for n in nodes:
        if n == ctl or ctl in n.parents or not _enabled(n) or not all(_enabled(p) for p in n.parents if root in p.parents):
            continue
        who = "/" + str(n.relative_to(root))
        for handle in _cells(_prop(n, "pinctrl-0")):
            for pin in groups.get(handle, []):
                out.setdefault(pin, f"{who} (device tree pinctrl)")
        if ctl_phandle is None:
            continue
        for prop in _props(n):
            if prop == "gpios" or prop.endswith("-gpios") or prop.endswith("-gpio"):
                cells = _cells(_prop(n, prop))
                for i in range(0, len(cells) - 1, gpio_cells + 1):
                    if cells[i] == ctl_phandle:
                        out.setdefault(cells[i + 1], f"{who} ({prop})")
        if (_cells(_prop(n, "interrupt-parent")) or [None])[0] == ctl_phandle:
            for i, cell in enumerate(_cells(_prop(n, "interrupts"))):
                if i % 2 == 0:
                    out.setdefault(cell, f"{who} (interrupt)")
    return {p: w for p, w in out.items() if 0 <= p <= 27}


def _props(node: Path) -> list[str]:
    try:
        return [p.name for p in node.iterdir() if p.is_file()]
    except OSError:
        return []


def line_consumers(pins, line_info) -> dict[int, str]:
    """Pins a GPIO consumer holds, from ``line_info(pin) -> consumer name or ''`` (lgpio's line info)."""
    out = {}
    for pin in pins:
        try:
            user = line_info(pin)
        except Exception:
            continue
        if user:
            out[pin] = f"GPIO consumer {user!r}"
    return out


def lgpio_line_info(factory):
    """``line_info`` for :func:`line_consumers` on lgpio: the consumer of a line, '' if free."""
    def info(pin):
        import lgpio

        _status, _offset, _flags, _name, user = lgpio.gpio_get_line_info(factory._handle, pin)
        return str(user or "")

    return info


def claim_problems(wiring, held: dict[int, str]):
    """One :class:`rig.errors.Problem` per pin of the pin map that something else holds, at its line."""
    from ..errors import Problem

    where = {}
    for kind, group in (("rails", wiring.rails), ("keys", wiring.keys), ("senses", wiring.senses)):
        for name, spec in group.items():
            where[spec.pin] = (f"{kind}.{name}", spec.line)
    hb = wiring.heartbeat
    if hb is not None:
        where[hb.pin] = ("heartbeat", hb.line)
        if hb.readback is not None:
            where[hb.readback] = ("heartbeat.readback", hb.line)
    return [Problem(wiring.source, line, f"{what}: GPIO{pin} is held by {held[pin]}; a claim would silently take it "
                    f"from that peripheral. Turn it off in config.txt or move the channel (wiring/README.md "
                    f"section 2)") for pin, (what, line) in sorted(where.items()) if pin in held]
