"""The physical bench as objects: rails (relays), keys (optocouplers), senses (inputs).

A :class:`Bench` is built from a validated pin map, a gpiozero pin factory and
a clock. Opening it takes the bench lock, then creates every output already in
its safe state (no transient). Releasing it - by ``with``, a normal end, an
exception, Ctrl-C or SIGTERM - lets every key go first, then puts every rail in
its safe state, and only then gives the pins back.

>>> from rig.wiring import load_wiring
>>> from rig.backends import mock_backend
>>> from rig.clock import VirtualClock
>>> w = load_wiring()
>>> with Bench(w, mock_backend(w, VirtualClock())) as bench:
...     bench.power("acc", True)
...     bench.press("mode+scan", hold=2)
...     bench.snapshot()["rails"]
{'battery': 'on', 'acc': 'on', 'ignition': 'off'}
"""

from __future__ import annotations

import atexit
import logging
import threading
from contextlib import contextmanager

from gpiozero import DigitalInputDevice, OutputDevice

from . import signals
from .errors import BenchRefused
from .events import EventBus
from .heartbeat import Heartbeat, call_later
from .wiring import KeySpec, RailSpec, SenseSpec, Wiring

log = logging.getLogger(__name__)
_open_benches: set = set()  # strong references: an open bench is never garbage collected


class _HeldOutput(OutputDevice):
    """An OutputDevice that stays put when collected.

    gpiozero closes a device in ``__del__``, which drops its relay (gpiozero
    #1058). The bench closes its devices itself, in the safe order.
    """

    def __del__(self):
        pass


class _HeldInput(DigitalInputDevice):
    def __del__(self):
        pass


def parse_combo(combo) -> list[str]:
    """``"mode+scan"`` or ``["mode", "scan"]`` -> ``["mode", "scan"]``."""
    if isinstance(combo, str):
        names = [p.strip() for p in combo.split("+")]
    else:
        names = [str(p).strip() for p in combo]
    if not names or any(not n for n in names):
        raise BenchRefused(f"{combo!r} is not a key or combo (write e.g. mode or mode+scan)")
    return names


class Rail:
    """A supply rail switched by a relay; ``on`` means the unit gets power on it."""

    def __init__(self, spec: RailSpec, device: OutputDevice, bench: "Bench"):
        self.spec, self._device, self._bench = spec, device, bench
        self.name = spec.name
        self._last_switch: float | None = None
        self.sense: "Sense | None" = None  # measures the rail at the connector, where wired

    @property
    def sensed(self) -> bool | None:
        """What the rail's sense measures at the connector (None: no sense wired)."""
        return None if self.sense is None else self.sense.value

    @property
    def is_on(self) -> bool:
        return bool(self._device.value) == self.spec.energised_for(True)

    @property
    def is_safe(self) -> bool:
        return self.is_on == self.spec.safe_on

    def set(self, on: bool) -> None:
        """Switch the rail, waiting out the relay's minimum dwell first."""
        bench = self._bench
        bench._check_open()
        if self.is_on == on:
            return
        bench._interlock(self, on)
        dwell = bench.wiring.timing.relay_dwell
        if self._last_switch is not None:
            ready = self._last_switch + dwell
            if bench.clock.now() < ready:
                bench.events.emit("dwell", self.name, wait=round(ready - bench.clock.now(), 6))
                bench.clock.sleep_until(ready)
        # Told first: whatever the relay sets off (the unit waking) comes after it in the log.
        bench.events.emit("rail", self.name, _onoff(self.is_on), _onoff(on))
        self._device.value = self.spec.energised_for(on)
        self._last_switch = bench.clock.now()
        if bench.backend.lock is not None:  # the next process waits out this dwell too
            bench.backend.lock.switched(self.name)

    def on(self) -> None:
        self.set(True)

    def off(self) -> None:
        self.set(False)


class Key:
    """An optocoupler across a button's contacts; ``down`` means pressed."""

    def __init__(self, spec: KeySpec, device: OutputDevice, bench: "Bench"):
        self.spec, self._device, self._bench = spec, device, bench
        self.name = spec.name

    @property
    def is_down(self) -> bool:
        return bool(self._device.value)

    def _set(self, down: bool) -> None:
        if self._switch(down):
            self._announce(down)

    def _switch(self, down: bool) -> bool:
        if self.is_down == down:
            return False
        self._device.value = down
        return True

    def _announce(self, down: bool) -> None:
        state = ("up", "down")
        self._bench.events.emit("key", self.name, state[not down], state[down])


class Sense:
    """A GPIO input, such as ``unit_on`` from the amp-remote lead.

    With ``debounce`` in the pin map a new level counts (and is told as an
    event) only once it has held that long: relay contacts bounce for a few
    ms, and a slow amp-remote edge can cross the threshold more than once.
    """

    def __init__(self, spec: SenseSpec, device: DigitalInputDevice, bench: "Bench"):
        self.spec, self._device, self._bench = spec, device, bench
        self.name = spec.name
        self._stable = bool(device.value)
        self._edge_seq = 0
        device.when_activated = lambda: self._edge(True)
        device.when_deactivated = lambda: self._edge(False)

    def _edge(self, level: bool) -> None:
        if self.spec.debounce <= 0:
            self._settle(level)
            return
        self._edge_seq += 1
        seq = self._edge_seq
        call_later(self._bench.clock, self.spec.debounce,
                    lambda: seq == self._edge_seq and self._settle(bool(self._device.value)))

    def _settle(self, level: bool) -> None:
        if level != self._stable:
            self._stable = level
            self._bench.events.emit("sense", self.name, not level, level)

    @property
    def value(self) -> bool:
        if self.spec.debounce <= 0:
            return bool(self._device.value)
        return self._stable


class Bench:
    """Rails, keys and senses of one rig, owned by this process while open."""

    def __init__(self, wiring: Wiring, backend, events: EventBus | None = None):
        self.wiring = wiring
        self.backend = backend
        self.clock = backend.clock
        self.display = backend.display
        self.events = events or EventBus(self.clock)
        self.rails: dict[str, Rail] = {}
        self.keys: dict[str, Key] = {}
        self.senses: dict[str, Sense] = {}
        self._open = False
        self._releasing = threading.Lock()
        self.released = False

    # -- life cycle -------------------------------------------------------
    def open(self) -> "Bench":
        """Take the lock, then create every device in its safe state."""
        if self.backend.lock is not None:
            self.backend.lock.acquire()
        try:
            factory = self.backend.pin_factory
            for spec in self.wiring.rails.values():
                dev = _HeldOutput(spec.pin, active_high=spec.active_high,
                                  initial_value=spec.energised_for(spec.safe_on), pin_factory=factory)
                self.rails[spec.name] = Rail(spec, dev, self)
            for spec in self.wiring.keys.values():
                dev = _HeldOutput(spec.pin, active_high=spec.active_high, initial_value=False, pin_factory=factory)
                self.keys[spec.name] = Key(spec, dev, self)
            for spec in self.wiring.senses.values():
                pull = {"up": True, "down": False, "none": None}[spec.pull]
                kwargs = {"active_state": spec.active_high} if pull is None else {}
                dev = _HeldInput(spec.pin, pull_up=pull, pin_factory=factory, **kwargs)
                self.senses[spec.name] = Sense(spec, dev, self)
                if spec.rail in self.rails:
                    self.rails[spec.rail].sense = self.senses[spec.name]
            self._carry_dwell()
            hb = self.wiring.heartbeat
            self._heartbeat = hb and Heartbeat(hb, _HeldOutput(hb.pin, initial_value=False, pin_factory=factory),
                                               self.clock)
        except BaseException:
            self._close_devices()
            if self.backend.lock is not None:
                self.backend.lock.release()
            raise
        if self.display is not None:
            self.display.subscribe(lambda new, old: self.events.emit("display", "", old, new))
        self._open = True
        self._signals = signals.install()
        _open_benches.add(self)
        self.events.emit("bench", "open", backend=self.backend.name)
        return self

    def release(self, reason: str = "end") -> None:
        """Keys up, then rails to their safe state, then give the pins back. Idempotent."""
        with self._releasing, signals.shielded():
            if not self._open:
                return
            try:
                for key in self.keys.values():
                    _quietly(key._set, False)
                for rail in self.rails.values():
                    _quietly(rail.set, rail.spec.safe_on)
                self.events.emit("bench", "released", reason=reason)
            finally:
                self._open = False
                self.released = True
                _open_benches.discard(self)
                self._close_devices()
                if self.backend.lock is not None:
                    self.backend.lock.release()
                if getattr(self, "_signals", False):
                    signals.uninstall()
                    self._signals = False

    def _close_devices(self) -> None:
        if getattr(self, "_heartbeat", None) is not None:  # last: the rails are already safe
            _quietly(self._heartbeat.stop)
        for group in (self.keys, self.rails, self.senses):
            for item in group.values():
                _quietly(item._device.close)

    def __enter__(self) -> "Bench":
        return self.open() if not self._open else self

    def __exit__(self, exc_type, exc, tb) -> None:
        reason = "end" if exc_type is None else ("interrupted" if issubclass(exc_type, KeyboardInterrupt)
                                                 else f"error: {exc_type.__name__}")
        self.release(reason)

    @property
    def is_open(self) -> bool:
        return self._open

    def _check_open(self) -> None:
        if not self._open:
            raise BenchRefused("the bench is not open (it was released)")

    def _interlock(self, rail: Rail, on: bool) -> None:
        """A car never cuts constant power with ACC on, nor has ACC without constant power.

        Cutting the constant feed under a running unit is the brown-out that arms SAFE or
        corrupts its EEPROM write; so the order is ACC off, then battery off (and back:
        battery on, then ACC on). Putting constant power back on is always allowed, so a
        release (battery on, ACC off) never trips it. Only ACC: ``ignition`` is a logic
        feed on the units that need it, not the load that browns a supply out.
        """
        acc = self.rails.get("acc")
        if acc is None or rail is acc and not on:
            return
        if rail.spec.safe_on and not on and acc.is_on:
            raise BenchRefused(f"refusing to cut {rail.name} while acc is on (a car never does that, and it "
                               f"can arm SAFE or corrupt the unit's memory): switch acc off first")
        if rail is acc and on:
            cut = [r.name for r in self.rails.values() if r.spec.safe_on and not r.is_on]
            if cut:
                raise BenchRefused(f"refusing to switch acc on while {' and '.join(cut)} is cut: "
                                   f"switch {' and '.join(cut)} on first")

    def _carry_dwell(self) -> None:
        """Relays another process switched moments ago still get their full dwell."""
        if self.backend.lock is None:
            return
        for name, age in self.backend.lock.last_switches().items():
            if name in self.rails and age < self.wiring.timing.relay_dwell:
                self.rails[name]._last_switch = self.clock.now() - age

    # -- operations -------------------------------------------------------
    def rail(self, name: str) -> Rail:
        try:
            return self.rails[name]
        except KeyError:
            raise BenchRefused(f"no rail {name!r} on this bench (rails: {', '.join(self.rails)})") from None

    def key(self, name: str) -> Key:
        try:
            return self.keys[name]
        except KeyError:
            raise BenchRefused(f"no key {name!r} on this bench (keys: {', '.join(self.keys)})") from None

    def power(self, rail: str, on: bool) -> None:
        """Switch a rail on or off (minimum relay dwell enforced)."""
        self.rail(rail).set(on)

    def down(self, combo) -> list[Key]:
        """Press a key or combo and keep it down; pair with :meth:`up`."""
        self._check_open()
        keys = [self.key(n) for n in parse_combo(combo)]
        self._move(keys, True)
        return keys

    def up(self, combo) -> None:
        self._move([self.key(n) for n in parse_combo(combo)], False)

    def _move(self, keys: list[Key], down: bool) -> float:
        # The pins change back to back, so a combo's keys move within microseconds of
        # each other. A press is told before the pins go down (what the unit does in
        # answer follows it in the log); a release after they come up, so telling it
        # never lengthens a hold.
        changing = [k for k in keys if k.is_down != down]
        combo = self.wiring.combo(k.name for k in keys) if down and len(changing) > 1 else None
        if combo is not None and combo.stagger > 0:
            return self._staggered(changing, combo)
        if down:
            for k in changing:
                k._announce(True)
        for k in changing:
            k._switch(down)
        t = self.clock.now()
        if not down:
            for k in changing:
                k._announce(False)
        return t

    def _staggered(self, keys: list[Key], combo) -> float:
        # Keys on one ladder line pressed within microseconds can decode as a third key;
        # a person's fingers land tens of ms apart, in the order the pin map gives.
        order = {n: i for i, n in enumerate(combo.keys)}
        for i, k in enumerate(sorted(keys, key=lambda k: order.get(k.name, len(order)))):
            if i:
                self.clock.sleep(combo.stagger)
            k._announce(True)
            k._switch(True)
        return self.clock.now()  # the hold counts from the last key down

    @contextmanager
    def holding(self, combo):
        """Hold a combo for the duration of a ``with`` block; it is let go however the block ends.

        Yields the clock time at which the keys went down.
        """
        self._check_open()
        keys = [self.key(n) for n in parse_combo(combo)]
        t = self._move(keys, True)
        try:
            yield t
        finally:
            _quietly(self._move, keys, False)

    def press(self, combo, hold: float | None = None, times: int = 1, gap: float | None = None) -> None:
        """Press a key or combo ``times`` times, each held ``hold`` seconds.

        All keys of a combo go down together and come up together.
        """
        hold = self.wiring.timing.press if hold is None else hold
        gap = self.wiring.timing.gap if gap is None else gap
        for i in range(times):
            if i:
                self.clock.sleep(gap)
            with self.holding(combo) as start:
                self.clock.sleep_until(start + hold)

    def hold_until(self, combo, condition, max_hold: float, min_hold: float = 0.0) -> float | None:
        """Hold a combo until ``condition()`` is true (at least ``min_hold``); return the time held,
        or None if ``max_hold`` passed first. The keys are let go either way."""
        with self.holding(combo) as start:
            ok = self.clock.wait_for(condition, max_hold, poll=0.05)
            if ok and self.clock.now() < start + min_hold:
                self.clock.sleep_until(start + min_hold)
            held = self.clock.now() - start
        return held if ok else None

    def read(self, sense: str) -> bool:
        try:
            return self.senses[sense].value
        except KeyError:
            raise BenchRefused(f"no sense {sense!r} on this bench (senses: {', '.join(self.senses) or 'none'})") from None

    def snapshot(self) -> dict:
        """The whole state: rails, keys, senses, display text, clock time."""
        return {
            "t": self.clock.now(),
            "rails": {n: _onoff(r.is_on) for n, r in self.rails.items()},
            "keys": {n: ("down" if k.is_down else "up") for n, k in self.keys.items()},
            "senses": {n: s.value for n, s in self.senses.items()},
            "display": self.display.current() if self.display is not None else None,
        }


def _onoff(v: bool) -> str:
    return "on" if v else "off"


def _quietly(fn, *args) -> None:
    try:
        fn(*args)
    except Exception:  # one broken channel must not stop the others from going safe
        log.exception("while releasing the bench")


@atexit.register
def _release_all() -> None:
    # Runs before gpiozero's own atexit handler (atexit is last-in, first-out).
    for bench in list(_open_benches):
        bench.release("exit")
