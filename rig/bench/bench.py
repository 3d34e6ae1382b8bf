"""The physical bench as objects: rails (relays), keys (optocouplers), senses (inputs).

A :class:`Bench` is built from a validated pin map, a gpiozero pin factory and
a clock. Opening it takes the bench lock, then creates every output already in
its safe state (no transient). Releasing it - by ``with``, a normal end, an
exception, Ctrl-C or SIGTERM - lets every key go first, then puts every rail in
its safe state, and only then gives the pins back.

The event log says what the pins did: an edge is told after its pin moved,
stamped when it moved, and whatever the pin set off (the unit waking, a
display line) follows it. Opening and releasing are protected from signals
from their first instruction to their last (:func:`rig.bench.signals.protect`); a
signal that lands there waits until the pins are safe.

>>> from rig.bench.wiring import load_wiring
>>> from rig.bench.backends import mock_backend
>>> from rig.bench.clock import VirtualClock
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

from . import signals
from ..errors import BenchRefused
from ..records.events import Event, EventBus
from .channels import Key, Rail, Sense, _HeldInput, _HeldOutput, _onoff, parse_combo  # noqa: F401
from .canseat import CanSeat, wants_can
from .guardseat import GuardSeat
from .heartbeat import open_heartbeat, rearm_bench, refuse_if_tripped
from .wiring import Wiring

log = logging.getLogger(__name__)
_open_benches: set = set()  # strong references: an open bench is never garbage collected


class Bench(GuardSeat, CanSeat):
    """Rails, keys and senses of one rig, owned by this process while open."""

    def __init__(self, wiring: Wiring, backend, events: EventBus | None = None, can: bool | None = None):
        self.wiring = wiring
        self.backend = backend
        self.clock = backend.clock
        self.display = backend.display
        self.events = events or EventBus(self.clock)
        self.rails: dict[str, Rail] = {}
        self.keys: dict[str, Key] = {}
        self.senses: dict[str, Sense] = {}
        self._open = False
        self.opened_at = 0.0  # read only through a rail, and rails exist once open set it again
        self._releasing = threading.Lock()
        self._masking, self.released = False, False
        self._want_can = wants_can(wiring, can)  # the CAN bus: opened with the bench, or on first use_can()

    # -- life cycle -------------------------------------------------------
    # open, release, __enter__ and __exit__ run their whole bodies shielded and are
    # protected from their first instruction: a signal landing anywhere in them (or in
    # what they call: gpiozero, the event log) waits until the bench is open and can be
    # released, or is released. Between "called" and "shield up" there is no window.
    @signals.protect
    def open(self) -> "Bench":
        """Take the lock, then create every device in its safe state."""
        try:
            with signals.shielded():
                if not self._open:
                    self._open_now()
                return self
        except BaseException:  # a signal held back until open was done: release, then raise it
            self.release("interrupted")
            raise

    def _open_now(self) -> None:
        # the handlers first: from the first pin claimed, a signal unwinds through the release
        self._signals = signals.install()
        self._no_stop = signals.refuse_stop()  # and Ctrl-Z does not freeze a press or a rail
        try:
            if self.backend.lock is not None:
                self.backend.lock.acquire()
            try:
                self._open_can_first()  # a missing or misconfigured CAN interface: before any pin moves
                factory = self.backend.pin_factory
                for spec in self.wiring.rails.values():
                    dev = _HeldOutput(spec.pin, active_high=spec.active_high,
                                      initial_value=spec.energised_for(spec.safe_on), pin_factory=factory)
                    self.rails[spec.name] = Rail(spec, dev, self)
                for spec in self.wiring.keys.values():
                    dev = _HeldOutput(spec.pin, active_high=spec.active_high, initial_value=False,
                                      pin_factory=factory)
                    self.keys[spec.name] = Key(spec, dev, self)
                for spec in self.wiring.senses.values():
                    pull = {"up": True, "down": False, "none": None}[spec.pull]
                    kwargs = {"active_state": spec.active_high} if pull is None else {}
                    dev = _HeldInput(spec.pin, pull_up=pull, pin_factory=factory, **kwargs)
                    self.senses[spec.name] = Sense(spec, dev, self)
                    if spec.rail in self.rails:
                        self.rails[spec.rail].sense = self.senses[spec.name]
                self._carry_dwell()
                hb = self.wiring.heartbeat  # last: every output already sits safe when the supply comes on
                self._heartbeat = hb and open_heartbeat(hb, factory, self.clock, _HeldOutput, _HeldInput)
            except BaseException:
                self._close_devices()
                self._close_can()
                if self.backend.lock is not None:
                    self.backend.lock.release()
                raise
        except BaseException:
            self._drop_signals()  # (open()'s release would too: this one does not count on a caller)
            raise
        if self.display is not None:
            self.display.subscribe(lambda new, old: self.events.emit("display", "", old, new))
        self.opened_at = self.clock.now()
        self._open = True
        _open_benches.add(self)
        self.events.emit("bench", "open", backend=self.backend.name)

    def rearm(self) -> None:
        """After the dead-man tripped: with every key up and every rail safe, beat again (on purpose)."""
        self._check_open()
        rearm_bench(self)

    @property
    def deadman_tripped(self) -> str | None:
        """Why the dead-man cut the supply (the beat is latched off), or None while it holds it on."""
        hb = getattr(self, "_heartbeat", None)
        return None if hb is None else hb.check()

    @signals.protect
    def release(self, reason: str = "end") -> None:
        """Keys up, then rails to their safe state, then give the pins back. Idempotent.

        The pins move first and are told after (all of them, once every pin is safe), with
        a log write that takes no lock; the only lock here is taken with a timeout, so
        nothing an interrupted path holds can keep a rail on.
        """
        with signals.shielded():
            got = self._releasing.acquire(timeout=2.0)  # another thread releasing: it is idempotent
            try:
                if not self._open:
                    self._drop_signals()  # released on another thread: the handlers go back from here
                    return
                try:
                    with self.events.holding():
                        self._make_safe()
                    self.events.emit("bench", "released", reason=reason)
                finally:
                    self._open = False
                    self.released = True
                    _open_benches.discard(self)
                    self._close_can()
                    self._close_devices()
                    if self.backend.lock is not None:
                        _quietly(self.backend.lock.release)
                    self._drop_signals()
            finally:
                if got:
                    self._releasing.release()

    def _make_safe(self) -> None:
        """Every key up, then every periodic CAN frame stopped, then every rail safe; each step whatever came before."""
        for key in self.keys.values():
            _quietly(key._set, False)
        if self.can is not None:
            _quietly(self.can.stop)
        for rail in self.rails.values():
            _quietly(rail.set, rail.spec.safe_on)

    def _drop_signals(self) -> None:
        # Only the main thread can put signal handlers back: a release on another thread
        # leaves them to the main thread's next release (its ``with`` block's end).
        if threading.current_thread() is not threading.main_thread():
            return
        if getattr(self, "_no_stop", False):
            self._no_stop = False
            signals.allow_stop()
        if getattr(self, "_signals", False):
            self._signals = False
            signals.uninstall()

    def _close_devices(self) -> None:
        if getattr(self, "_heartbeat", None) is not None:  # last: the rails are already safe
            _quietly(self._heartbeat.stop)
        for group in (self.keys, self.rails, self.senses):
            for item in group.values():
                _quietly(item._device.close)

    @signals.protect
    def __enter__(self) -> "Bench":
        try:
            with signals.shielded():
                if not self._open:
                    self.open()
                return self
        except BaseException:
            self.release("interrupted")
            raise

    @signals.protect
    def __exit__(self, exc_type, exc, tb) -> None:
        with signals.shielded():
            reason = "end" if exc_type is None else ("interrupted" if issubclass(exc_type, KeyboardInterrupt)
                                                     else f"error: {exc_type.__name__}")
            self.release(reason)

    @contextmanager
    def masked(self, label: str = "code entry"):
        """Keep what is done inside secret: no key edge, display line or correction is told;
        one ``masked`` span (how long, whether read-back corrected anything) instead.

        >>> from rig.bench.wiring import load_wiring
        >>> from rig.bench.backends import mock_backend
        >>> from rig.bench.clock import VirtualClock
        >>> w = load_wiring(); seen = []
        >>> with Bench(w, mock_backend(w, VirtualClock())) as bench:
        ...     _ = bench.events.subscribe(lambda e: seen.append(e.kind))
        ...     with bench.masked("code entry"):
        ...         bench.press("preset1", times=5)
        >>> seen
        ['masked', 'bench']
        """
        with self.events.masked(label):
            self._masking = True
            try:
                yield self
            finally:
                self._masking = False

    @property
    def is_open(self) -> bool:
        return self._open

    def _check_open(self) -> None:
        if not self._open:
            raise BenchRefused("the bench is not open (it was released)")

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
        self._guard_down([k.name for k in keys])  # the guard may refuse: before any key moves
        self._move(keys, True)
        return keys

    def up(self, combo) -> None:
        self._move([self.key(n) for n in parse_combo(combo)], False)
        self._guard_up(parse_combo(combo))

    def _move(self, keys: list[Key], down: bool) -> float:
        # The pins change back to back, so a combo's keys move within microseconds of
        # each other; they are told after (telling never lengthens a hold).
        changing = [k for k in keys if k.is_down != down]
        if down:
            held = {k.name for k in self.keys.values() if k.is_down} | {k.name for k in keys}
            if len(held) > self.wiring.max_keys_down:
                raise BenchRefused(f"refusing to hold {len(held)} keys down at once ({', '.join(sorted(held))}): "
                                   f"the pin map allows {self.wiring.max_keys_down} (max_keys_down: each key's LED "
                                   f"draws from the Pi's 3.3 V header)")
        combo = self.wiring.combo(k.name for k in keys) if down and len(changing) > 1 else None
        if combo is not None and combo.stagger > 0:
            return self._staggered(changing, combo)
        state = ("up", "down")
        return self._drive([(k._device, down, "key", k.name, state[not down], state[down]) for k in changing])

    def _drive(self, moves) -> float:
        """Set pins back to back, then tell each edge, stamped when its pin moved; what the
        moves set off meanwhile (the unit's answer, on any thread) is told after them.
        A signal waits until the edges are told, so the log never misses a pin that moved.
        Returns the clock time once the pins have moved."""
        if any(move[1] for move in moves):  # energising: never under a tripped dead-man
            refuse_if_tripped(self)
        with signals.shielded(), self.events.holding() as edges:
            for device, value, kind, what, old, new in moves:
                t = self.clock.now()
                device.value = value
                edges.append(Event(t, kind, what, old, new))
            return self.clock.now()

    def _staggered(self, keys: list[Key], combo) -> float:
        # Keys on one ladder line pressed within microseconds can decode as a third key;
        # a person's fingers land tens of ms apart, in the order the pin map gives.
        order = {n: i for i, n in enumerate(combo.keys)}
        for i, k in enumerate(sorted(keys, key=lambda k: order.get(k.name, len(order)))):
            if i:
                self.clock.sleep(combo.stagger)
            self._drive([(k._device, True, "key", k.name, "up", "down")])
        return self.clock.now()  # the hold counts from the last key down

    @contextmanager
    def holding(self, combo, hold: float | None = None):
        """Hold a combo for the duration of a ``with`` block; it is let go however the block ends.

        Yields the clock time at which the keys went down; ``hold``: how long it will be held, if known.
        """
        self._check_open()
        keys = [self.key(n) for n in parse_combo(combo)]
        with self._guarded([k.name for k in keys], hold):  # the guard may refuse: before any key moves
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
        keys = [self.key(n) for n in parse_combo(combo)]
        for i in range(times):
            if i:
                self.clock.sleep(gap)
            with self.clock.precise(), self.holding(combo, hold) as start:  # let go at the deadline; holding() makes sure
                # The release is made up before the deadline, so at the deadline only the pins move
                # (shielded and logged as every edge is); the final spin runs that same code with
                # nothing to move and reads the pins, so it runs from the caches (~10 us sooner).
                moves = [(k._device, False, "key", k.name, "down", "up") for k in keys if k.is_down]

                def warm(moves=moves):
                    self._drive(())
                    for device, *_ in moves:
                        device.value  # noqa: B018

                self.clock.end_hold(start + hold, lambda: self._drive(moves), warm=warm)

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
        masking = self._masking or self.entering()  # a code going in: nobody watching can count presses
        return {
            "t": self.clock.now(),
            "rails": {n: _onoff(r.is_on) for n, r in self.rails.items()},
            "keys": {n: ("masked" if masking else "down" if k.is_down else "up") for n, k in self.keys.items()},
            "senses": {n: s.value for n, s in self.senses.items()},
            "display": self.shown(self.display.current()) if self.display is not None else None,
            **({"can": self.can.status()} if self.can is not None else {}),
        }


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
