"""The ``sim`` backend: MockFactory pins watched by a SimUnit, its display on a pty.

>>> import tempfile, os
>>> from rig.wiring import load_wiring
>>> from rig.bench import Bench
>>> state = os.path.join(tempfile.mkdtemp(), "unit.json")
>>> _ = reset_unit(state, "vw-safe", "1234")
>>> w = load_wiring()
>>> with Bench(w, sim_backend(w, state)) as bench:
...     bench.power("acc", True)
...     bench.hold_until("mode+scan", lambda: bench.display.current() == "1000", max_hold=10) is not None
...     bench.display.current()
True
'1000'
"""

from __future__ import annotations

import os
import threading
import time
import tty
from pathlib import Path

from ..backends import Backend, ClockedMockPin, mock_factory
from ..benchlock import BenchLock
from ..clock import VirtualClock
from ..display import SerialTap
from ..errors import ConfigError, Problem
from ..profiles import Profile, load_profiles
from ..wiring import Wiring
from .memory import UnitMemory
from .unit import SimUnit


class SimPin(ClockedMockPin):
    """A mock pin that tells the simulated unit about every level the rig drives,
    and keeps the level the unit drives on a sense when the rig sets its pull."""

    forced: bool | None = None

    def _change_state(self, value):
        changed = super()._change_state(value)
        watcher = getattr(self.factory, "watcher", None)
        if changed and watcher is not None and self._function == "output":
            watcher(self.info.name, value)
        return changed

    def _set_pull(self, value):
        super()._set_pull(value)
        if self.forced is not None:
            self._change_state(self.forced)


def reset_unit(state_path, profile_id: str, code: str, state: str = "locked", attempts: int = 0,
               serial: str = "SIM0000001", profiles: dict | None = None) -> UnitMemory:
    """Start a fresh simulated unit (``rig sim reset``)."""
    profiles = profiles or load_profiles()
    if profile_id not in profiles:
        raise ConfigError(f"no profile {profile_id!r} (rig profiles list shows them)")
    p = profiles[profile_id]
    allowed = set(p.digits.allowed)
    if len(code) != p.digits.count or set(code) - allowed:
        raise ConfigError(f"a {profile_id} code is {p.digits.count} digits from {p.digits.allowed}")
    mem = UnitMemory.new(profile_id, code, serial=serial, locked=state != "unlocked", wrong_in_window=attempts,
                         wrong_total=attempts)
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
            self.written += os.write(self.master, data)
        self.settle()

    def settle(self) -> None:
        self.tap.wait_until_seen(self.written)

    def close(self) -> None:
        self.tap.close()
        try:
            os.close(self.master)
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


def sim_backend(wiring: Wiring, state_path, profiles: dict | None = None, clock: VirtualClock | None = None) -> Backend:
    """A bench whose pins are watched by the simulated unit kept in ``state_path``."""
    state_path = Path(state_path)
    if not state_path.exists():
        raise ConfigError([Problem(str(state_path), None, "no simulated unit yet; start one with e.g. "
                                   "`rig sim reset --profile vw-safe --code 1234`")])
    memory = UnitMemory.load(state_path)
    profiles = profiles or load_profiles()
    if memory.profile not in profiles:
        raise ConfigError(f"the simulated unit's profile {memory.profile!r} no longer exists; run rig sim reset")
    profile: Profile = profiles[memory.profile]
    clock = clock or VirtualClock()
    factory = mock_factory(wiring, clock, pin_class=SimPin)
    baud = wiring.display.baud if wiring.display else 115200
    lock = BenchLock(state_path.with_name(state_path.name + ".lock"))
    lock.acquire()  # the unit's memory file is shared: one command at a time, even before the bench opens
    try:
        # A pin map without a display block means a bench without a tap: the unit
        # still shows things, but nothing reads them (blind entry, or the operator).
        display = _PtyDisplay(baud, clock) if wiring.display is not None else _NoTap()
    except BaseException:
        lock.release()
        raise
    clock.add_settle_hook(display.settle)

    sense = wiring.senses.get("unit_on")

    def unit_on(on: bool) -> None:
        if sense is None:
            return
        pin = factory.pin(sense.pin)
        level = on == sense.active_high
        pin.forced = level
        pin.drive_high() if level else pin.drive_low()

    unit = SimUnit(profile, memory, clock, display=display.show, unit_on=unit_on,
                   save=lambda: memory.save(state_path))
    unit.age(max(0.0, time.time() - memory.saved_at))

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
            unit.rail_changed(spec.name, energised == (spec.contact == "no"))
        else:
            unit.key_changed(spec.name, energised)

    factory.watcher = watcher
    backend = Backend("sim", factory, clock, display=display.tap, lock=None)
    backend.unit = unit
    backend.closers += [lock.release, lambda: memory.save(state_path), display.close]
    return backend
