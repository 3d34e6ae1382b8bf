"""The bench runs on lgpio, or on another pin library only when one is named on purpose (issue 23).

lgpio makes its notification pipe in the working directory (gpiozero #1106): from an
unwritable one (a systemd service in /) gpiozero used to fall back silently to a
library whose outputs survive a kill, or to none. And lgpio must open the header's
chip, not a Pi 5's SoC chip on an old kernel. The units' resource lines are here too.
"""

import configparser

import pytest

from rig.bench import backends
from rig.bench.backends import chip_problem, hardware_backend, lgpio_can_start
from rig.bench.wiring import load_wiring
from rig.errors import ConfigError, NoGPIO

from .conftest import REPO


class Factory:
    def __init__(self):
        self.closed = False

    def close(self):
        self.closed = True


RPiGPIOFactory = type("RPiGPIOFactory", (Factory,), {})
NativeFactory = type("NativeFactory", (Factory,), {})
LGPIOFactory = type("LGPIOFactory", (Factory,), {"_handle": 1, "_chip": 0})


def fake_choice(monkeypatch, factory, line):
    monkeypatch.setattr(backends, "choose_pin_factory", lambda: (factory, line))
    monkeypatch.setattr(backends, "lgpio_can_start", lambda cwd=None: None)


def test_a_fallback_to_another_pin_library_is_refused_not_warned(monkeypatch):
    native = NativeFactory()
    fake_choice(monkeypatch, native, "native; not lgpio: [Errno 13] Permission denied: '.lgd-nfy0'")
    with pytest.raises(NoGPIO) as info:
        hardware_backend(load_wiring())
    msg = str(info.value)
    assert "the pin library is native; not lgpio: [Errno 13]" in msg and "this bench runs on lgpio" in msg
    assert "pin_library: native in the pin map, or RIG_PIN_LIBRARY=native" in msg
    assert native.closed


@pytest.mark.parametrize("how", ["env", "map"])
def test_another_pin_library_named_on_purpose_is_used(monkeypatch, write_yaml, how):
    rpi = RPiGPIOFactory()
    fake_choice(monkeypatch, rpi, "RPi.GPIO, chosen by GPIOZERO_PIN_FACTORY=rpigpio")
    if how == "env":
        monkeypatch.setenv("RIG_PIN_LIBRARY", "rpigpio")
        w = load_wiring()
    else:
        text = (REPO / "wiring" / "bench.yaml").read_text()
        w = load_wiring(write_yaml(text.replace("rails:\n", "pin_library: rpigpio\n\nrails:\n", 1)))
    backend = hardware_backend(w)
    assert backend.pin_factory is rpi and not rpi.closed
    assert any("RPi.GPIO writes the GPIO registers directly" in x for x in backend.warnings)


def test_an_unknown_pin_library_in_the_map_says_where(write_yaml):
    text = (REPO / "wiring" / "bench.yaml").read_text().replace("rails:\n", "pin_library: wiringpi\nrails:\n", 1)
    with pytest.raises(ConfigError, match=r"bench.yaml:\d+: error: pin_library: 'wiringpi' is not one of"):
        load_wiring(write_yaml(text))


def test_an_unwritable_working_directory_is_said_before_lgpio_falls_back(monkeypatch, tmp_path):
    monkeypatch.delenv("LG_WD", raising=False)
    monkeypatch.setattr(backends.os, "access", lambda path, mode: False)
    with pytest.raises(NoGPIO, match="lgpio needs a working directory it can write .* WorkingDirectory=/run/rig"):
        lgpio_can_start(str(tmp_path))
    monkeypatch.setenv("LG_WD", str(tmp_path))  # lgpio's own way to put the pipe elsewhere
    lgpio_can_start(str(tmp_path))


def test_the_soc_chip_of_a_pi5_on_an_old_kernel_is_refused(monkeypatch):
    fake_choice(monkeypatch, LGPIOFactory(), "lgpio (gpiochip0)")
    monkeypatch.setattr(backends, "apply_lgpio_workaround", lambda: None)
    monkeypatch.setattr(backends, "chip_identity", lambda f: (0, "gpio-brcmstb@107d508500"))
    with pytest.raises(NoGPIO, match="gpiochip0 is gpio-brcmstb@107d508500, not the 40-pin header's chip"):
        hardware_backend(load_wiring())
    for label in ("pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835"):
        assert chip_problem(0, label) is None


UNITS = sorted((REPO / "systemd").glob("*.service"))


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_every_service_sets_its_directories_and_limits(unit):
    cfg = configparser.ConfigParser(strict=False, interpolation=None)
    cfg.optionxform = str
    cfg.read(unit)
    service = cfg["Service"]
    for key in ("WorkingDirectory", "RuntimeDirectory", "LimitNOFILE", "MemoryMax"):
        assert service.get(key), f"{unit.name}: no {key}="


def test_the_bench_service_works_where_lgpio_can_make_its_pipe():
    cfg = configparser.ConfigParser(strict=False, interpolation=None)
    cfg.read(REPO / "systemd" / "rig-serve.service")
    assert cfg["Service"]["WorkingDirectory"] == "/run/" + cfg["Service"]["RuntimeDirectory"]


def test_outputs_kept_after_a_kill_with_no_dead_man_refuse_a_hardware_run(monkeypatch, tmp_path, write_yaml):
    from .test_hardware import fake_sys

    kept = fake_sys(tmp_path, pinctrl_bcm2835="Y")
    monkeypatch.setattr(backends, "apply_lgpio_workaround", lambda: None)
    monkeypatch.setattr(backends, "chip_identity", lambda f: (0, "pinctrl-bcm2711"))
    text = (REPO / "wiring" / "bench.yaml").read_text()
    bare = text[:text.index("heartbeat:")] + text[text.index("senses:"):]
    fake_choice(monkeypatch, LGPIOFactory(), "lgpio (gpiochip0)")
    with pytest.raises(NoGPIO, match="persist_gpio_outputs=Y.*no dead-man.*dtparam=strict_gpiod"):
        hardware_backend(load_wiring(write_yaml(bare)), sys_root=kept)
    backend = hardware_backend(load_wiring(), sys_root=kept)  # with the dead-man: a warning
    assert any("dtparam=strict_gpiod" in w for w in backend.warnings)
