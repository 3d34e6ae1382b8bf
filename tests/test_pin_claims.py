"""A pin the live pinmux or another GPIO consumer holds is refused at open (issue 23), from fake /sys trees.

The Pi's pinmux is not strict: claiming a GPIO silently steals it from the SPI0 a CAN
HAT uses, or the PCM a sound card uses. The hardware backend reads who holds each pin
of the map - debugfs's pinmux table when it is readable, else the booted device tree,
and the character device's consumers - and refuses, naming the pin map's line.
"""

import struct

import pytest

from rig.bench import backends
from rig.bench.backends import hardware_backend
from rig.bench.pinclaims import claimed_pins, line_consumers
from rig.bench.wiring import load_wiring
from rig.errors import ConfigError

from .canbench import without_can
from .conftest import REPO
from .test_pin_library import LGPIOFactory, fake_choice


def be32(*values):
    return struct.pack(f">{len(values)}I", *values)


def node(root, path, **props):
    d = root.joinpath(*path.strip("/").split("/"))
    d.mkdir(parents=True, exist_ok=True)
    for name, value in props.items():
        name = name.replace("__", ",").replace("_", "-") if name not in ("brcm__pins",) else "brcm,pins"
        (d / name).write_bytes(value if isinstance(value, bytes) else value.encode() + b"\0")
    return d


def pi4_tree(tmp_path, spi="okay", i2s="disabled"):
    """A Pi 4's booted device tree with dtparam=spi=on and a CAN HAT's mcp2515 on GPIO25."""
    base = tmp_path / "firmware" / "devicetree" / "base"
    gpio = "soc/gpio@7e200000"
    node(base, gpio, compatible=b"brcm,bcm2711-gpio\0brcm,bcm2835-gpio\0", phandle=be32(5))
    (base / "soc" / "gpio@7e200000" / "#gpio-cells").write_bytes(be32(2))
    node(base, gpio + "/spi0_pins", phandle=be32(10), brcm__pins=be32(9, 10, 11))
    node(base, gpio + "/spi0_cs_pins", phandle=be32(11), brcm__pins=be32(8, 7))
    node(base, gpio + "/i2s_pins", phandle=be32(12), brcm__pins=be32(18, 19, 20, 21))
    node(base, "soc/spi@7e204000", status=spi, pinctrl_0=be32(10, 11))
    node(base, "soc/spi@7e204000/mcp2515@0", status="okay", interrupt_parent=be32(5), interrupts=be32(25, 8))
    node(base, "soc/i2s@7e203000", status=i2s, pinctrl_0=be32(12))
    node(base, "gpio_shutdown", compatible="gpio-keys")
    (base / "gpio_shutdown" / "gpios").write_bytes(be32(5, 3, 1))
    return str(tmp_path)


def test_the_device_tree_says_which_pins_spi_a_can_hat_and_overlays_hold(tmp_path):
    held = claimed_pins(pi4_tree(tmp_path))
    assert sorted(held) == [3, 7, 8, 9, 10, 11, 25]  # i2s is disabled: 18-21 are nobody's
    assert held[10] == "/soc/spi@7e204000 (device tree pinctrl)"
    assert held[25] == "/soc/spi@7e204000/mcp2515@0 (interrupt)"
    assert held[3] == "/gpio_shutdown (gpios)"
    assert 18 in claimed_pins(pi4_tree(tmp_path / "b", i2s="okay"))


def test_debugfs_pinmux_wins_where_root_can_read_it(tmp_path):
    d = tmp_path / "kernel" / "debug" / "pinctrl" / "fe200000.gpio-pinctrl-bcm2711"
    d.mkdir(parents=True)
    (d / "pinmux-pins").write_text(
        "Pinmux settings per pin\nFormat: pin (name): mux_owner|gpio_owner (strict) hog?\n"
        "pin 17 (gpio17): (MUX UNCLAIMED) (GPIO UNCLAIMED)\n"
        "pin 18 (gpio18): fe203000.i2s (GPIO UNCLAIMED) function i2s group gpio18\n"
        "pin 26 (gpio26): (MUX UNCLAIMED) fe200000.gpio:538\n"
        "pin 40 (gpio40): fe00b840.mailbox (GPIO UNCLAIMED) function alt0 group gpio40\n")
    pi4_tree(tmp_path)  # ignored: the live table is the truth
    assert claimed_pins(str(tmp_path)) == {18: "fe203000.i2s (pinmux, function i2s)",
                                           26: "GPIO consumer fe200000.gpio:538"}


def test_a_channel_on_a_held_pin_is_refused_at_open_naming_its_line(monkeypatch, tmp_path, write_yaml):
    root = pi4_tree(tmp_path / "sys")
    fake_choice(monkeypatch, LGPIOFactory(), "lgpio (gpiochip0)")
    monkeypatch.setattr(backends, "apply_lgpio_workaround", lambda: None)
    monkeypatch.setattr(backends, "chip_identity", lambda f: (0, "pinctrl-bcm2711"))
    monkeypatch.setattr(backends, "lgpio_line_info", lambda f: lambda pin: "gpio-fan" if pin == 16 else "")
    # a bench without a CAN HAT (no can: block), whose SPI0 something else switched on
    text = without_can((REPO / "wiring" / "bench.yaml").read_text()).replace("preset3: {pin: 20}", "preset3: {pin: 10}")
    with pytest.raises(ConfigError) as info:
        hardware_backend(load_wiring(write_yaml(text)), sys_root=root)
    got = [(p.line, p.message.split(";")[0]) for p in info.value.problems]
    assert got == [(42, "keys.preset3: GPIO10 is held by /soc/spi@7e204000 (device tree pinctrl)"),
                   (44, "keys.preset5: GPIO16 is held by GPIO consumer 'gpio-fan'")]
    # the default map leaves a CAN HAT's pins alone: it opens beside one
    monkeypatch.setattr(backends, "lgpio_line_info", lambda f: lambda pin: "")
    assert hardware_backend(load_wiring(), sys_root=root).name == "hardware"


def test_line_consumers_ask_only_about_the_maps_pins():
    asked = []
    assert line_consumers([4, 5], lambda p: asked.append(p) or ("rig" if p == 5 else "")) == {5: "GPIO consumer 'rig'"}
    assert asked == [4, 5]
