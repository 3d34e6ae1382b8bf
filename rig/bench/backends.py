"""Backends: where the pins, the display and the clock come from.

``hardware`` uses gpiozero's pin factories in gpiozero's order, lgpio first
(the only one that works on a Pi 5, and the only one whose lines the kernel
releases when the process dies); ``GPIOZERO_PIN_FACTORY`` is honoured. Which
library was chosen, and why the others failed, is logged and kept in
``Backend.pin_library``. ``mock`` uses gpiozero's MockFactory with nothing
attached. ``sim`` (in :mod:`rig.sim`, chosen at the edge) is MockFactory with
a simulated head unit watching the pins.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import gpiozero_lazy  # noqa: F401  (before gpiozero)
from gpiozero.pins.mock import MockPin, PinState  # noqa: E402

from .benchlock import BenchLock
from .canbus import mock_can
from .clock import Clock, RealClock
from .mockboard import MockFactory
from .mockcircuit import MockCircuit, attach_deadman
from ..errors import ConfigError, NoGPIO
from .pinclaims import claim_problems, claimed_pins, line_consumers, lgpio_line_info
from .wiring import Wiring, boot_pulls_high

log = logging.getLogger(__name__)
KILL9 = "wiring/README.md, section 11"  # where a technician reads about kill -9 and the dead-man


@dataclass
class Backend:
    """What a Bench is driven through."""

    name: str
    pin_factory: object
    clock: Clock
    display: object = None  # a display tap (rig.unit.display) or None
    lock: BenchLock | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pin_library: str = ""  # which pin library drives the pins, and why not the others
    # What went wrong behind the pins that nobody has been told yet (a simulated unit's model that
    # raised during the release): the command reports it once the bench is released.
    fault: Callable[[], Exception | None] = lambda: None
    open_can: Callable | None = None  # spec -> python-can bus; None: the interface the pin map names

    def __post_init__(self):
        if not self.pin_library:
            self.pin_library = type(self.pin_factory).__name__

    def close(self) -> None:
        """Close the display and anything else the backend opened (after the bench is released)."""
        while self.closers:
            try:
                self.closers.pop()()
            except Exception:
                pass


class ClockedMockPin(MockPin):
    """A MockPin timed by the backend's clock, released the way a real Pi releases it.

    On a VirtualClock a 2 s hold then shows as 2 s in ``pin.states``, exactly
    as the rig commanded it. Closing a pin makes it an input with the Pi's pull
    switched off, as both pin libraries do (gpiozero #1146): what it then reads
    is ``external_pull``, the resistor on the board, or, with none, whatever it
    last was (a floating line holds no promise).
    """

    external_pull: str | None = None  # "down" | "up" | None, from the pin map
    last_rise: float | None = None    # clock time of the last rising edge (a dead-man listens for them)

    def _now(self) -> float:
        clock = getattr(self.factory, "clock", None)
        return clock.now() if clock is not None else 0.0

    def _change_state(self, value):
        if self._state != value:
            t = self._now()
            self._state = value
            self.states.append(PinState(t - self._last_change, value))
            self._last_change = t
            if value:
                self.last_rise = t
            for watch in self.watchers:  # a mock circuit behind the pin (mockcircuit.MockCircuit)
                watch()
            return True
        return False

    watchers: tuple = ()

    def _set_pull(self, value):
        # the board's 10k beats the Pi's own ~50k: with an external pull-down fitted, an
        # input with its pull-up on still reads low (how rig selftest finds a missing one)
        if self.external_pull is not None and value in ("up", "down") and value != self.external_pull \
                and self.function == "input" and not self.info.pull:
            self._pull = value
            self._change_state(self.external_pull == "up")
        else:
            super()._set_pull(value)

    def clear_states(self):
        self._last_change = self._now()
        self.states = [PinState(0.0, self._state)]

    def close(self):
        self.when_changed = None
        self._function = "input"
        self._pull = "floating"
        if self.external_pull is not None:
            self._change_state(self.external_pull == "up")


def mock_factory(wiring: Wiring, clock: Clock, pin_class=ClockedMockPin, deadman: dict | None = None) -> MockFactory:
    """A MockFactory whose pins start as a Pi's do at power-on.

    Each wired pin begins as an input held by its boot-time pull (GPIO0-8 up,
    9-27 down), so a test can see that opening the bench never passes an
    output through its active level. A pin map with a dead-man read-back gets
    the dead-man too (``factory.deadman``; ``deadman`` are its faults, see
    :class:`rig.bench.mockcircuit.MockDeadman`).
    """
    factory = MockFactory(pin_class=pin_class)
    factory.clock = clock
    factory.deadman = None
    attach_deadman(factory, wiring, clock, **(deadman or {}))
    external = {r.pin: r.pull for r in wiring.rails.values()}
    external.update({k.pin: k.pull for k in wiring.keys.values()})
    if wiring.heartbeat is not None:
        external[wiring.heartbeat.pin] = "down"
    for pin in wiring.pins():
        p = factory.pin(pin)
        p.pull = "up" if boot_pulls_high(pin) else "down"
        p.external_pull = external.get(pin)
        p.clear_states()
    return factory


def mock_backend(wiring: Wiring, clock: Clock | None = None, lock_path: str | None = None,
                 circuit: dict | None = None) -> Backend:
    """MockFactory pins, nothing attached; a lock only if asked for (or RIG_LOCK is set).

    ``circuit`` attaches the bench's own circuits (relays feeding their rail senses,
    the dead-man, the pull-downs) with these faults (:class:`rig.bench.mockcircuit.MockCircuit`),
    for ``rig selftest`` on a bench with no hardware.
    """
    clock = clock or RealClock()
    lock_path = lock_path or os.environ.get("RIG_LOCK")
    faults = dict(circuit or {})
    factory = mock_factory(wiring, clock, deadman={k: faults.pop(k) for k in ("stuck_on",) if k in faults})
    if circuit is not None:
        MockCircuit(factory, wiring, clock, **faults)
    return Backend("mock", factory, clock, lock=BenchLock(lock_path) if lock_path else None,
                   pin_library="mock (gpiozero MockFactory, no hardware)", open_can=mock_can)


def default_lock_path() -> Path:
    """/run/lock on a Pi (shared by every user of the bench); the temp dir otherwise."""
    if os.environ.get("RIG_LOCK"):
        return Path(os.environ["RIG_LOCK"])
    run_lock = Path("/run/lock")
    if run_lock.is_dir() and os.access(run_lock, os.W_OK):
        return run_lock / "rig-bench.lock"
    return Path(tempfile.gettempdir()) / "rig-bench.lock"


def hardware_backend(wiring: Wiring, display=None, sys_root: str = "/sys") -> Backend:
    """gpiozero's pin factory on a real Pi, lgpio unless another is named on purpose; a clear error anywhere else."""
    wanted = wanted_library(wiring)
    if wanted == "lgpio":
        lgpio_can_start()
    factory, library = choose_pin_factory()
    name = _LIBRARIES.get(type(factory).__name__, type(factory).__name__)
    if name != wanted and name != "mock":
        _close(factory)
        raise NoGPIO(f"the pin library is {library}, and this bench runs on {wanted} "
                     f"({'the default' if wanted == 'lgpio' else 'as asked'}): "
                     + (f"lgpio is the only one whose lines the kernel releases when rig dies, and the only one on "
                        f"a Pi 5. Install python3-lgpio (README: Installing on a Raspberry Pi), or name another on "
                        f"purpose: pin_library: {name} in the pin map, or RIG_PIN_LIBRARY={name}"
                        if wanted == "lgpio" else f"install it, or change pin_library / RIG_PIN_LIBRARY"))
    if name == "lgpio":
        apply_lgpio_workaround()
        problem = chip_problem(*chip_identity(factory))
        if problem:
            _close(factory)
            raise NoGPIO(problem)
    held = claimed_pins(sys_root)  # a pin a peripheral or another consumer has: refused before any claim
    if name == "lgpio":
        for pin, who in line_consumers(wiring.pins(), lgpio_line_info(factory)).items():
            held.setdefault(pin, who)
    problems = claim_problems(wiring, held)
    if problems:
        _close(factory)
        raise ConfigError(problems)
    kept = kill9_warnings(factory, sys_root)
    if wiring.heartbeat is None and any("keeps GPIO outputs driven" in w for w in kept):
        _close(factory)  # a kill would leave a relay or key on, and nothing in copper would drop it
        raise NoGPIO(kept[0].replace("Add dtparam", "This pin map has no dead-man (heartbeat:), so rig will "
                                     "not open the bench: add dtparam") )
    backend = Backend("hardware", factory, RealClock(), display=display, lock=BenchLock(default_lock_path()),
                      pin_library=library)
    backend.warnings += kept
    if display is not None:
        backend.closers.append(display.close)
    return backend


def wanted_library(wiring: Wiring) -> str:
    """lgpio, unless the pin map (``pin_library:``), RIG_PIN_LIBRARY or GPIOZERO_PIN_FACTORY names another."""
    named = (os.environ.get("RIG_PIN_LIBRARY") or getattr(wiring, "pin_library", None)
             or os.environ.get("GPIOZERO_PIN_FACTORY") or "lgpio")
    return {"rpigpio": "RPi.GPIO", "rpi.gpio": "RPi.GPIO"}.get(named.lower(), named.lower())


def lgpio_can_start(cwd: str | None = None) -> None:
    """lgpio makes its notification pipe (.lgd-nfy*) in the working directory when imported
    (gpiozero #1106, lg #22): in an unwritable one it fails and gpiozero silently falls back.
    """
    cwd = cwd or os.getcwd()
    if os.environ.get("LG_WD") or os.access(cwd, os.W_OK):
        return
    raise NoGPIO(f"lgpio needs a working directory it can write (it makes its notification pipe there, "
                 f"gpiozero #1106) and {cwd} is not one: run rig from a directory you own; rig-serve.service sets "
                 f"WorkingDirectory=/run/rig")


# The GPIO chips behind the 40-pin header, by the label their kernel driver gives them. A Pi 5
# (or CM5, Pi 500) on a kernel before 6.6.45 numbers RP1 gpiochip4 and its SoC's own gpio-brcmstb
# chips 0-3 (raspberrypi/linux #6144): a gpiozero that opened chip 0 there drives no header pin.
HEADER_CHIPS = ("pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835")


def chip_identity(factory) -> tuple[int | None, str]:
    """(chip number, label) of the chip lgpio opened, from lgpio's own chip info."""
    chip = getattr(factory, "_chip", getattr(factory, "chip", None))
    try:
        import lgpio

        status, _lines, _name, label = lgpio.gpio_get_chip_info(factory._handle)
    except Exception as exc:  # an lgpio without chip info: say so rather than guess
        return chip, f"unknown ({type(exc).__name__})"
    return chip, str(label)


def chip_problem(chip, label: str) -> str | None:
    """Why this chip is not the header's, or None.

    >>> chip_problem(0, "pinctrl-rp1") is None
    True
    >>> chip_problem(0, "gpio-brcmstb@107d508500").startswith("gpiochip0 is gpio-brcmstb@107d508500, not the")
    True
    """
    if label in HEADER_CHIPS or label.startswith("unknown"):
        return None
    return (f"gpiochip{chip} is {label}, not the 40-pin header's chip ({', '.join(HEADER_CHIPS)}): on a Pi 5, CM5 "
            f"or Pi 500 with a kernel before 6.6.45 the header is gpiochip4. Update the kernel (sudo apt full-upgrade) "
            f"and gpiozero (>= 2.0.1.post3)")


def _close(factory) -> None:
    try:
        factory.close()
    except Exception:
        pass


def choose_pin_factory():
    """The pin factory gpiozero would pick, and a line saying which one and why not the others.

    gpiozero tries lgpio, RPi.GPIO, pigpio, native in turn and warns for each
    one that fails; those warnings are the only record of why, say, a Pi 5
    ended up with no GPIO, so they are logged, not silenced.
    """
    from gpiozero import Device
    from gpiozero.exc import BadPinFactory

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            factory = Device._default_pin_factory()
        except BadPinFactory as exc:
            raise NoGPIO(f"no GPIO on this machine ({exc}; {_fallbacks(caught) or 'no pin library'}). "
                         f"On a Pi install python3-lgpio (README: Installing on a Raspberry Pi); without a Pi "
                         f"use --backend sim (a simulated head unit) or --backend mock (bare pins).") from None
        except Exception as exc:  # e.g. RPi.GPIO on a Pi 5: "Cannot determine SOC peripheral base address"
            raise NoGPIO(f"cannot open the GPIO ({type(exc).__name__}: {exc}). On a Pi 5 only lgpio works: "
                         f"install python3-lgpio (README: Installing on a Raspberry Pi); without a Pi use "
                         f"--backend sim.") from None
    name = _LIBRARIES.get(type(factory).__name__, type(factory).__name__)
    chip = getattr(factory, "chip", None)
    library = name + (f" (gpiochip{chip})" if isinstance(chip, int) else "")
    if os.environ.get("GPIOZERO_PIN_FACTORY"):
        library += f", chosen by GPIOZERO_PIN_FACTORY={os.environ['GPIOZERO_PIN_FACTORY']}"
    why = _fallbacks(caught)
    if why:
        library += f"; {why}"
    log.info("pin library: %s", library)
    for w in caught:
        log.warning("%s", w.message)
    return factory, library


_LIBRARIES = {"LGPIOFactory": "lgpio", "RPiGPIOFactory": "RPi.GPIO", "PiGPIOFactory": "pigpio",
              "NativeFactory": "native", "MockFactory": "mock"}


def _fallbacks(caught) -> str:
    msgs = [str(w.message).replace("Falling back from ", "") for w in caught
            if type(w.message).__name__ == "PinFactoryFallback"]
    return "not " + "; not ".join(msgs) if msgs else ""


def kill9_warnings(factory, sys_root: str = "/sys") -> list[str]:
    """What a ``kill -9`` would leave driven, for this pin library and this kernel."""
    name = type(factory).__name__
    if name in ("RPiGPIOFactory", "NativeFactory"):
        return [f"{_LIBRARIES[name]} writes the GPIO registers directly: if rig is killed with SIGKILL (or "
                f"crashes hard) every output stays driven, whatever the kernel is told, so a relay or key can "
                f"stay on. Install python3-lgpio so gpiozero uses lgpio ({KILL9})"]
    if name != "LGPIOFactory":
        return []
    keeps, detail = gpio_outputs_persist(sys_root)
    if keeps is None and detail.startswith("not a Raspberry Pi"):
        return []
    if keeps is False:
        return []
    if keeps:
        return [f"this kernel keeps GPIO outputs driven after their process dies ({detail}): if rig is "
                f"killed with SIGKILL (or crashes hard) a relay or key can stay on. Add dtparam=strict_gpiod "
                f"to config.txt and reboot ({KILL9})"]
    return [f"cannot tell whether this kernel releases a dead process's GPIO outputs ({detail}); "
            f"test it with kill -9 ({KILL9})"]


def gpio_outputs_persist(sys_root: str = "/sys") -> tuple[bool | None, str]:
    """Does the kernel keep a GPIO output driven after the process that claimed it exits?

    Raspberry Pi kernels do by default; ``dtparam=strict_gpiod`` in config.txt
    (raspberrypi/linux PR #6117, #6150) sets the pin driver's module parameter
    ``persist_gpio_outputs`` to N, and the kernel then returns a released line
    to an input, where the 10k pull-down switches its relay off. The header's
    GPIOs belong to ``pinctrl_rp1`` on a Pi 5 and ``pinctrl_bcm2835`` before.
    Returns (True, why) kept, (False, why) released, (None, why) unknown.

    >>> gpio_outputs_persist("/nonexistent")
    (None, 'not a Raspberry Pi kernel (no pinctrl_rp1 or pinctrl_bcm2835 module)')
    """
    for module in ("pinctrl_rp1", "pinctrl_bcm2835"):
        mod = Path(sys_root, "module", module)
        if not mod.is_dir():
            continue
        param = mod / "parameters" / "persist_gpio_outputs"
        try:
            value = param.read_text().strip()
        except FileNotFoundError:
            return None, f"{module} has no persist_gpio_outputs parameter: a kernel from before May 2024"
        except OSError as exc:
            return None, f"cannot read {param}: {exc.strerror}"
        if value in ("Y", "y", "1"):
            return True, f"{module}.persist_gpio_outputs=Y"
        if value in ("N", "n", "0"):
            return False, f"{module}.persist_gpio_outputs=N"
        return None, f"{module}.persist_gpio_outputs={value!r}"
    return None, "not a Raspberry Pi kernel (no pinctrl_rp1 or pinctrl_bcm2835 module)"


def apply_lgpio_workaround() -> None:
    """Claim lgpio outputs at their initial level.

    gpiozero 2.0.1's LGPIOPin has no ``output_with_state``, so a new output is
    first claimed LOW and then written: an active-low relay pulses on at start.
    This is the fix of gpiozero PR #1177 (open at the time of writing).
    """
    import lgpio  # only present where lgpio is in use
    from gpiozero.pins.lgpio import LGPIOPin

    if getattr(LGPIOPin, "_rig_patched", False) or "output_with_state" in LGPIOPin.__dict__:
        return

    def output_with_state(self, state):
        lgpio.gpio_claim_output(self.factory._handle, self._number, bool(state))

    LGPIOPin.output_with_state = output_with_state
    LGPIOPin._rig_patched = True
