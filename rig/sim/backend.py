"""The ``sim`` backend: MockFactory pins watched by a SimUnit, its display on a pty.

>>> import tempfile, os
>>> from rig.bench.wiring import load_wiring
>>> from rig.bench.bench import Bench
>>> state = os.path.join(tempfile.mkdtemp(), "unit.json")
>>> _ = reset_unit(state, "vw-safe", "1234")
>>> w = load_wiring()
>>> with Bench(w, sim_backend(w, state)) as bench:
...     bench.power("acc", True)
...     bench.clock.sleep(3)      # its boot and splash
...     bench.hold_until("mode+scan", lambda: bench.display.current() == "1000", max_hold=10) is not None
...     bench.display.current()
True
'1000'
"""

from __future__ import annotations

import importlib.util

import os
import random
import threading
import time
import tty
from pathlib import Path
from typing import Callable

from ..bench.backends import Backend, ClockedMockPin, mock_factory
from ..bench.benchlock import BenchLock
from ..bench.clock import VirtualClock
from ..unit.display import SerialTap
from ..errors import ConfigError, Problem
from ..unit.profiles import load_profiles
from ..bench.wiring import Wiring
from . import knobs as knobs_mod
from .connector import Connector
from .canunit import attach_can
from .memory import UnitMemory
from ..bench import signals
from .model import UnitIO, UnitModelFailed
from .modelspec import resolve_settings
from .unit import SimUnit


class SimPin(ClockedMockPin):
    """A mock pin that tells the simulated unit about every level the rig drives, and
    keeps the level the unit drives on a sense (``forced``) when the rig sets its pull:
    opening or closing the bench never overwrites what the unit drives."""

    forced: bool | None = None

    def _change_state(self, value):
        changed = super()._change_state(value)
        watcher = getattr(self.factory, "watcher", None)
        if changed and watcher is not None and self._function == "output":
            watcher(self.info.name, value)
        return changed

    def _set_pull(self, value):
        if self.forced is None:
            return super()._set_pull(value)
        # Keep gpiozero's checks, but never pass through the pull's level: the unit's
        # opto holds this line, the pull only decides what an undriven line would read.
        forced, self.forced = self.forced, None
        try:
            saved = self._state, list(self.states), self._last_change
            super()._set_pull(value)
            self._state, self.states, self._last_change = saved
        finally:
            self.forced = forced
        if self._state != forced:
            self.drive_high() if forced else self.drive_low()


def reset_unit(state_path, profile_id: str, code: str, state: str = "locked", attempts: int = 0,
               serial: str = "SIM0000001", profiles: dict | None = None, knobs: dict | None = None,
               ideal: bool = False) -> UnitMemory:
    """Start a fresh simulated unit (``rig sim reset``).

    ``knobs`` set its realism knobs (:mod:`rig.sim.knobs`) on top of the defaults for its
    profile; ``ideal=True`` starts from the instant behaviour instead.

    >>> import tempfile, os
    >>> mem = reset_unit(os.path.join(tempfile.mkdtemp(), "u.json"), "ford", "1234",
    ...                  knobs={"amp_remote": "stuck_low"}, ideal=True)
    >>> mem.knobs["amp_remote"], mem.knobs["boot_delay"]
    ('stuck_low', 0.0)
    """
    profiles = profiles or load_profiles()
    if profile_id not in profiles:
        raise ConfigError(f"no profile {profile_id!r} (rig profiles list shows them)")
    p = profiles[profile_id]
    allowed = set(p.digits.allowed)
    if len(code) != p.digits.count or set(code) - allowed:
        raise ConfigError(f"a {profile_id} code is {p.digits.count} digits from {p.digits.allowed}")
    resolved = knobs_mod.resolve(profile_id, knobs, ideal)
    mem = UnitMemory.new(profile_id, code, serial=serial, locked=state != "unlocked", wrong_in_window=attempts,
                         wrong_total=attempts, knobs=resolved)
    if state == "lockout":
        mem.lockouts = 1
        mem.wrong_in_window = max(attempts, p.attempts.before_lockout)
        mem.wrong_total = max(mem.wrong_total, mem.wrong_in_window)
        mem.lockout_left = p.lockout_wait(1)
    mem.save(state_path)
    return mem


class _PtyDisplay:
    """The unit's display side of the tap: writes lines into a pty master and waits
    until the rig's reader has taken them in, so virtual time never outruns them."""

    def __init__(self, baud: int, clock):
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self.tap = SerialTap(self.path, baud, clock)
        os.close(slave)  # pyserial holds its own descriptor
        self.written = 0
        self._lock = threading.Lock()

    def show(self, text: str) -> None:
        data = (text + "\r\n").encode("ascii", "replace")
        with self._lock:
            if self.master < 0:
                return  # closed: a unit driven after its bench (a late release) shows nothing more
            self.written += os.write(self.master, data)
        self.settle()

    def settle(self) -> None:
        if self.master >= 0:
            self.tap.wait_until_seen(self.written)

    def close(self) -> None:
        self.tap.close()
        with self._lock:  # never written again: the number may be another file's by then
            master, self.master = self.master, -1
        try:
            os.close(master)
        except OSError:
            pass


class _NoTap:
    tap = None

    def show(self, text: str) -> None:
        pass

    def settle(self) -> None:
        pass

    def close(self) -> None:
        pass


def shipped_unit(io: UnitIO, profiles: dict | None = None) -> SimUnit:
    """The shipped profile-driven unit, whose memory (and knobs) live in ``io.state_path``.

    It is an ordinary unit model: ``--unit-model rig.sim.backend:shipped_unit`` is the default.
    """
    path = io.state_path
    memory = UnitMemory.load(path)
    profiles = profiles or load_profiles()
    if memory.profile not in profiles:
        raise ConfigError([Problem(str(path), None, f"the simulated unit's profile {memory.profile!r} no longer "
                                   f"exists; start a new one with rig sim reset")])
    save = lambda: memory.save(path)  # noqa: E731
    unit = SimUnit(profiles[memory.profile], memory, io, save=save)
    attach_can(unit)  # its family's wake frames, display and keys on the bus, where the bench has one
    io.set_rail_fault(unit.k["rail_fault"], memory.bench, save)
    io.tap_noise(unit.k["tap_duplicates"], unit.k["tap_blanks"], unit.k["seed"])
    unit.age(max(0.0, time.time() - memory.saved_at))
    return unit


def _shipped_reset(path, *, profile: str, code: str, state: str = "locked", attempts: int = 0,
                   serial: str = "SIM0000001", settings: dict | None = None) -> None:
    reset_unit(path, profile, code, state, attempts, serial, knobs=settings)


def describe_unit(path) -> dict:
    """The shipped unit's memory as ``rig sim show`` prints it (no code hash, no salt)."""
    mem = UnitMemory.load(path)
    return {k: v for k, v in vars(mem).items() if k not in ("code_hash", "salt")}


shipped_unit.shipped = True
shipped_unit.reset = _shipped_reset        # rig sim reset, the plugin's rig_sim_unit (settings are its knobs)
shipped_unit.describe = describe_unit      # rig sim show


def sim_backend(wiring: Wiring, state_path, profiles: dict | None = None, clock: VirtualClock | None = None,
                unit_model: Callable | None = None, settings: dict | None = None, name: str | None = None) -> Backend:
    """A bench whose pins are watched by a simulated unit.

    ``unit_model`` is a factory ``factory(io) -> UnitModel`` (:mod:`rig.sim.model`), given
    ``settings`` (checked against what it declares); by default the shipped unit whose
    memory is kept in ``state_path``. ``name`` is how messages call the model.
    """
    state_path = Path(state_path)
    if unit_model is None or unit_model is shipped_unit:
        UnitMemory.load(state_path)  # a missing or damaged memory file is named before anything opens
    factory = unit_model or (lambda io: shipped_unit(io, profiles))
    name = name or getattr(unit_model, "__qualname__", None) or "rig.sim.backend:shipped_unit"
    settings = resolve_settings(unit_model, settings or {}, name) if unit_model is not None else dict(settings or {})
    clock = clock or VirtualClock()
    factory_pins = mock_factory(wiring, clock, pin_class=SimPin)
    baud = wiring.display.baud if wiring.display else 115200
    lock = BenchLock(state_path.with_name(state_path.name + ".lock"))
    lock.acquire()  # the unit's memory file is shared: one command at a time, even before the bench opens
    closers: list = [lock.release]
    try:
        # A pin map without a display block means a bench without a tap: the unit
        # still shows things, but nothing reads them (blind entry, or the operator).
        display = _PtyDisplay(baud, clock) if wiring.display is not None else _NoTap()
        closers.append(display.close)
        clock.add_settle_hook(display.settle)
        closers.append(lambda: clock.remove_settle_hook(display.settle))

        def drive(sense: str, active: bool) -> None:
            spec = wiring.senses.get(sense)
            if spec is None:
                return
            pin = factory_pins.pin(spec.pin)
            level = active == spec.active_high
            pin.forced = level
            if pin.function == "input":
                pin.drive_high() if level else pin.drive_low()

        # Between commands the relays are released: every rail in its safe state.
        commanded = {r.name: r.safe_on for r in wiring.rails.values()}
        tap = _TapWriter(display.show)
        io = UnitIO(clock, wiring, state_path, drive=drive, show=tap.show, rails={}, settings=settings, name=name)
        io.tap_noise = tap.configure
        # The HAT's bus, simulated: python-can's virtual bus with the unit on it. Without python-can (the
        # base install leaves it out) the unit hears no bus: a unit that needs CAN stays dark, and the rig's
        # own side says how to install it when a run asks for the bus.
        # The wire is made when first used: a unit that never touches the bus costs no python-can import.
        if wiring.can is not None and importlib.util.find_spec("can") is not None:
            from .canbus import LazySimCanWire

            io._wire = LazySimCanWire(clock)
            closers.append(io._wire.close)

        def tell_failure() -> None:
            # A model's exception is told to whoever sleeps on the clock, once, and never inside the
            # bench's release: there it could only stop a rail from going safe (it is logged anyway).
            if io.failure is not None and not io.failure_told and not signals.in_protected():
                io.failure_told = True
                raise io.failure
        clock.add_settle_hook(tell_failure)
        closers.append(lambda: clock.remove_settle_hook(tell_failure))

        def deliver(rail: str, on: bool, at_unit: bool) -> None:
            sense = wiring.rail_sense(rail)
            if sense is not None:
                drive(sense.name, on)
            io._rail(rail, at_unit)

        connector = Connector(clock, commanded, deliver)
        io.connector = connector
        connector.set_fault(None, {}, lambda: None)  # the rails and their senses as they stand
        drive("unit_on", False)
        try:
            model = factory(io)
        except (ConfigError, UnitModelFailed):
            raise
        except Exception as exc:
            io._failed(exc, factory)
            raise io.failure from exc
        closers += [lambda: io._close_model(model), connector.close]
    except BaseException:
        _close_all(closers)
        raise

    by_pin = {}
    for r in wiring.rails.values():
        by_pin[r.pin] = ("rail", r)
    for k in wiring.keys.values():
        by_pin[k.pin] = ("key", k)

    def watcher(pin_name: str, level: bool) -> None:
        what = by_pin.get(int(str(pin_name).replace("GPIO", "")))
        if what is None:
            return
        kind, spec = what
        energised = level == spec.active_high
        if kind == "rail":
            connector.command(spec.name, energised == (spec.contact == "no"))
        else:
            io._key(spec.name, energised)

    factory_pins.watcher = watcher
    backend = Backend("sim", factory_pins, clock, display=display.tap, lock=None)
    if io._wire is not None:
        backend.open_can = lambda spec, wire=io._wire: wire.rig_bus()
    backend.unit = model
    backend.io = io
    backend.fault = lambda: None if io.failure_told else io.failure
    backend.closers += closers
    return backend


class _TapWriter:
    """The tap board between the unit and the rig: sometimes a line twice, sometimes a blank
    one (``tap_duplicates``, ``tap_blanks``), from a seeded generator."""

    def __init__(self, show: Callable[[str], None]):
        self._show = show
        self.duplicates = self.blanks = 0.0
        self._rng = random.Random(0)

    def configure(self, duplicates: float, blanks: float, seed: int = 0) -> None:
        self.duplicates, self.blanks = duplicates, blanks
        self._rng = random.Random(f"tap-{seed}")

    def show(self, text: str) -> None:
        if self.blanks and text and self._rng.random() < self.blanks:
            self._show("")
        self._show(text)
        if self.duplicates and self._rng.random() < self.duplicates:
            self._show(text)


def _close_all(closers: list) -> None:
    while closers:
        try:
            closers.pop()()
        except Exception:
            pass
