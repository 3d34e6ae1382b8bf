"""Backends: where the pins, the display and the clock come from.

``hardware`` uses gpiozero's default pin factory (lgpio on a Pi 5, RPi.GPIO
before it; ``GPIOZERO_PIN_FACTORY`` is honoured). ``mock`` uses gpiozero's
MockFactory with nothing attached. ``sim`` (in :mod:`rig.sim`, chosen at the
edge) is MockFactory with a simulated head unit watching the pins.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from gpiozero.pins.mock import MockFactory, MockPin, PinState

from .benchlock import BenchLock
from .clock import Clock, RealClock
from .errors import NoGPIO
from .wiring import Wiring, boot_pulls_high


@dataclass
class Backend:
    """What a Bench is driven through."""

    name: str
    pin_factory: object
    clock: Clock
    display: object = None  # a display tap (rig.display) or None
    lock: BenchLock | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def close(self) -> None:
        """Close the display and anything else the backend opened (after the bench is released)."""
        while self.closers:
            try:
                self.closers.pop()()
            except Exception:
                pass


class ClockedMockPin(MockPin):
    """A MockPin whose state history is timed by the backend's clock, not the wall.

    On a VirtualClock a 2 s hold then shows as 2 s in ``pin.states``, exactly
    as the rig commanded it.
    """

    def _now(self) -> float:
        clock = getattr(self.factory, "clock", None)
        return clock.now() if clock is not None else 0.0

    def _change_state(self, value):
        if self._state != value:
            t = self._now()
            self._state = value
            self.states.append(PinState(t - self._last_change, value))
            self._last_change = t
            return True
        return False

    def clear_states(self):
        self._last_change = self._now()
        self.states = [PinState(0.0, self._state)]


def mock_factory(wiring: Wiring, clock: Clock, pin_class=ClockedMockPin) -> MockFactory:
    """A MockFactory whose pins start as a Pi's do at power-on.

    Each wired pin begins as an input held by its boot-time pull (GPIO0-8 up,
    9-27 down), so a test can see that opening the bench never passes an
    output through its active level.
    """
    factory = MockFactory(pin_class=pin_class)
    factory.clock = clock
    for pin in wiring.pins():
        p = factory.pin(pin)
        p.pull = "up" if boot_pulls_high(pin) else "down"
        p.clear_states()
    return factory


def mock_backend(wiring: Wiring, clock: Clock | None = None, lock_path: str | None = None) -> Backend:
    """MockFactory pins, nothing attached; a lock only if asked for (or RIG_LOCK is set)."""
    clock = clock or RealClock()
    lock_path = lock_path or os.environ.get("RIG_LOCK")
    return Backend("mock", mock_factory(wiring, clock), clock, lock=BenchLock(lock_path) if lock_path else None)


def default_lock_path() -> Path:
    """/run/lock on a Pi (shared by every user of the bench); the temp dir otherwise."""
    if os.environ.get("RIG_LOCK"):
        return Path(os.environ["RIG_LOCK"])
    run_lock = Path("/run/lock")
    if run_lock.is_dir() and os.access(run_lock, os.W_OK):
        return run_lock / "rig-bench.lock"
    return Path(tempfile.gettempdir()) / "rig-bench.lock"


def hardware_backend(wiring: Wiring, display=None) -> Backend:
    """gpiozero's default factory on a real Pi; a clear error anywhere else."""
    from gpiozero import Device
    from gpiozero.exc import BadPinFactory

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PinFactoryFallback noise for each factory tried
        try:
            factory = Device._default_pin_factory()
        except BadPinFactory as exc:
            raise NoGPIO(f"no GPIO on this machine ({exc}). To try the rig without a Pi, use "
                         f"--backend sim (a simulated head unit) or --backend mock (bare pins).") from None
        except Exception as exc:  # e.g. RPi.GPIO on a Pi 5: "Cannot determine SOC peripheral base address"
            raise NoGPIO(f"cannot open the GPIO ({type(exc).__name__}: {exc}). On a Pi 5 install lgpio "
                         f"(pip install 'rig[pi]'); without a Pi use --backend sim.") from None
    if type(factory).__name__ == "LGPIOFactory":
        apply_lgpio_workaround()
    backend = Backend("hardware", factory, RealClock(), display=display, lock=BenchLock(default_lock_path()))
    if not strict_gpiod():
        backend.warnings.append(
            "config.txt has no dtparam=strict_gpiod: if rig is killed with SIGKILL (or crashes hard) the kernel "
            "keeps its outputs driven, so a relay or key can stay on. Add it (wiring/README.md, section 10)")
    if display is not None:
        backend.closers.append(display.close)
    return backend


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


def strict_gpiod(paths=("/boot/firmware/config.txt", "/boot/config.txt")) -> bool:
    """Whether the Pi's kernel releases a dead process's GPIO lines (else they stay driven)."""
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                if any(line.split("#")[0].replace(" ", "").startswith("dtparam=strict_gpiod") for line in fh):
                    return True
        except OSError:
            continue
    return False
