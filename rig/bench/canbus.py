"""The car's network as a bench channel: wake frames that follow the rails, keys that are frames,
what the bus carries back, and its health.

The bench opens it before any pin (a missing interface is a configuration error, not a
run) and releases it in the safe order: keys up, then the periodic frames stopped, then
the rails to their safe state. Wake frames go out only while the rails they follow are
on (``acc`` by default), start after those rails switch on and stop before they switch
off: a wake frame left running keeps a unit awake, which is a rail left on.

The rig sends only the frames a wake set names, a CAN key's press and release, and the
flow control a display over ISO-TP asks for; never a diagnostic request unless the
profile allows it on purpose (:func:`rig.can.frames.diagnostic`).

>>> from rig.bench.wiring import load_wiring
>>> from rig.bench.backends import mock_backend
>>> from rig.bench.bench import Bench
>>> from rig.bench.clock import VirtualClock
>>> from rig.bench.canwiring import CanSpec
>>> from rig.can.wakeset import WakeSet
>>> from rig.can.frames import parse_frame
>>> import dataclasses
>>> w = dataclasses.replace(load_wiring(), can=CanSpec("virtual", "doc-bus", 100000, spi=None))
>>> with Bench(w, mock_backend(w, VirtualClock()), can=True) as bench:
...     bench.can.set_wake(WakeSet("rcd", [parse_frame({"id": 0x575, "data": "03 00 00 00",
...                                                     "period": "100ms"}, "", [])]))
...     bench.power("acc", True); bench.clock.sleep(1)
...     on = bench.can.awake
...     bench.power("acc", False)
...     on, bench.can.awake
(True, False)
"""

from __future__ import annotations

import logging
import threading

from ..can.bus import ErrorState, open_bus
from ..can.frames import Counter, Frame, diagnostic
from ..can.keys import KeyFrames
from ..can.sender import LEASE, WakeSender
from ..errors import BenchRefused

log = logging.getLogger(__name__)


class CanChannel:
    """One CAN interface of an open bench."""

    def __init__(self, spec, bench, bus=None):
        self.spec, self.bench, self.clock = spec, bench, bench.clock
        opener = getattr(bench.backend, "open_can", None)
        self.bus = bus or (opener(spec) if opener is not None else default_open(spec))
        self.errors = ErrorState()
        alive = making_progress(self.clock)
        self.wake_sender = WakeSender(self.bus, self.clock, alive=alive)
        self.key_sender = WakeSender(self.bus, self.clock, alive=alive)
        self.wake_set = None
        self.wake_rails: tuple[str, ...] = ("acc",)
        self.wake_from = ""
        self.allow_diagnostics = False
        self.diagnostic_ids: tuple[int, ...] = ()
        self.sent_once = 0     # single frames: key presses, flow control
        self.seen = 0          # frames heard from the bus
        self._listeners: list = []
        self._open = True
        self._stop = threading.Event()
        self._thread = None
        if getattr(self.clock, "virtual", False):
            self.clock.add_settle_hook(self._drain)  # frames are taken in before simulated time moves on
        else:
            self._thread = threading.Thread(target=self._reader, name=f"can {spec.channel}", daemon=True)
            self._thread.start()

    # -- what is sent -------------------------------------------------------------
    def set_wake(self, wake_set, rails=("acc",), source: str = "") -> None:
        """The frames to send while ``rails`` are on (None: none). Refused: a diagnostic id."""
        if wake_set is not None:
            for f in wake_set.frames:
                self._check(f.id, f.extended, f"the wake set {wake_set.name}")
        was = self.wake_sender.running
        if was:
            self._stop_wake("replaced")
        self.wake_set, self.wake_rails, self.wake_from = wake_set, tuple(rails or ("acc",)), source
        if wake_set is not None:
            self.bench.events.emit("can", "wake set", new=wake_set.name, frames=[f.describe() for f in
                                   wake_set.frames], source=source or wake_set.file, rails=list(self.wake_rails))
        if self._rails_on():
            self._start_wake()

    def follow(self, rail: str, on: bool) -> None:
        """A rail just switched on, or is about to switch off: the wake frames follow it."""
        if rail not in self.wake_rails:
            return
        if on and self._rails_on():
            self._start_wake()
        elif not on:
            self._stop_wake(f"{rail} off")

    def _rails_on(self) -> bool:
        rails = self.bench.rails
        return bool(self.wake_rails) and all(r in rails and rails[r].is_on for r in self.wake_rails)

    def _start_wake(self) -> None:
        ws = self.wake_set
        if ws is None or not ws.frames or self.wake_sender.running or not self._open:
            return
        self.wake_sender.start(ws.frames)
        self.bench.events.emit("can", "wake", "off", "on", frames=[f.label for f in ws.frames])

    def _stop_wake(self, why: str) -> None:
        if self.wake_sender.running:
            self.wake_sender.stop()
            self.bench.events.emit("can", "wake", "on", "off", why=why)

    def stop(self) -> None:
        """Every periodic frame stops now: wake frames and held keys' repeats. Never raises."""
        try:
            self._stop_wake("release")
        finally:
            self.key_sender.stop()

    def send(self, ident: int, data: bytes, extended: bool = False, why: str = "a frame") -> None:
        """One frame now (a key edge, a flow control); refused once the bench is released."""
        if not self._open:
            raise BenchRefused("the CAN bus is closed (the bench was released)")
        self._check(ident, extended, why)
        import can

        self.bus.send(can.Message(arbitration_id=ident, is_extended_id=extended, data=data,
                                  timestamp=self.clock.now()))
        self.sent_once += 1

    def _check(self, ident: int, extended: bool, what: str) -> None:
        why = diagnostic(ident, extended, self.diagnostic_ids)
        if why and not self.allow_diagnostics:
            raise BenchRefused(f"{what}: {why}; rig never sends diagnostic requests unless the profile allows "
                               f"it on purpose (can.diagnostics: true)")

    # -- what is heard ------------------------------------------------------------
    def subscribe(self, fn, ident: int | None = None):
        """``fn(t, ident, extended, data)`` for each frame heard (on ``ident`` only, if given)."""
        entry = (ident, fn)
        self._listeners = self._listeners + [entry]
        return lambda: setattr(self, "_listeners", [e for e in self._listeners if e is not entry])

    def _reader(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self.bus.recv(0.1)
            except Exception as exc:  # noqa: BLE001 - the interface went away: say it once
                if not self._stop.is_set():
                    self.bench.events.emit("can", "bus", self.errors.state, "lost", note=str(exc))
                return
            if msg is not None:
                self._take(msg)

    def _drain(self) -> None:
        while self._open:
            try:
                msg = self.bus.recv(0)
            except Exception:  # noqa: BLE001
                return
            if msg is None:
                return
            self._take(msg)

    def _take(self, msg) -> None:
        if msg.is_error_frame:
            old = self.errors.state
            new = self.errors.feed(msg.arbitration_id, bytes(msg.data))
            if new is not None:
                self.bench.events.emit("can", "bus", old, new, tx_errors=self.errors.tx_errors,
                                       rx_errors=self.errors.rx_errors)
            return
        self.seen += 1
        t = self.clock.now()
        for ident, fn in self._listeners:
            if ident is None or ident == msg.arbitration_id:
                try:
                    fn(t, msg.arbitration_id, msg.is_extended_id, bytes(msg.data))
                except Exception:  # noqa: BLE001 - a listener must not stop the reader
                    log.exception("CAN listener failed")

    # -- state ----------------------------------------------------------------------
    @property
    def awake(self) -> bool:
        """Wake frames flowing and the bus neither error-passive nor off: the unit can be awake."""
        return self.wake_sender.running and self.errors.awake

    def unit_awake(self) -> bool:
        """Could a unit that needs this bus be awake? True without a wake set (it does not need one);
        with one, only while its frames go out and the bus is neither error-passive nor off."""
        ws = self.wake_set
        return ws is None or not ws.frames or self.awake

    def why_asleep(self) -> str:
        """Why a unit that needs this bus cannot be awake now; '' while it can (see :meth:`unit_awake`)."""
        if self.unit_awake():
            return ""
        if not self.errors.awake:
            return f"the CAN bus is {self.errors.state} (tx errors {self.errors.tx_errors})"
        return f"the wake frames ({self.wake_set.name}) are not going out"

    def describe_wake(self) -> str:
        """What the wake frames are doing, for a message about a unit that stayed dark."""
        ws = self.wake_set
        bus = "" if self.errors.awake else f"; the bus is {self.errors.state}"
        if ws is None or not ws.frames:
            return f"no wake frames were given{bus}"
        labels = ", ".join(f.label for f in ws.frames)
        if self.wake_sender.running:
            return f"the wake frames {labels} ({ws.name}) are going out{bus}"
        return f"the wake frames {labels} ({ws.name}) go out only while {' and '.join(self.wake_rails)} is on{bus}"

    def status(self) -> dict:
        ws = self.wake_set
        return {"interface": self.spec.interface, "channel": self.spec.channel, "bitrate": self.spec.bitrate,
                "state": self.errors.state, "tx_errors": self.errors.tx_errors, "rx_errors": self.errors.rx_errors,
                "error_frames": self.errors.error_frames, "sent": self.wake_sender.sent() + self.key_sender.sent()
                + self.sent_once, "seen": self.seen, "wake": "on" if self.wake_sender.running else "off",
                "wake_set": ws.describe() if ws is not None else None, "wake_rails": list(self.wake_rails)}

    def close(self) -> None:
        """Stop everything and close the interface (its kernel tasks end with its socket)."""
        try:
            self.stop()
        finally:
            self._open = False
            self._stop.set()
            remove = getattr(self.clock, "remove_settle_hook", None)
            if remove is not None:
                remove(self._drain)
            if self._thread is not None and self._thread is not threading.current_thread():
                self._thread.join(timeout=1.0)
            try:
                self.bus.shutdown()
            except Exception:  # noqa: BLE001
                log.exception("closing the CAN bus")


def making_progress(clock):
    """Whether to renew the wake frames' lease: while the run makes progress, as the heartbeat beats
    (its clock's waits and steps stamp it; a wait on purpose outside the clock counts too). A rig
    hung elsewhere stops renewing, and its frames stop within the lease, about when the dead-man trips."""
    since = getattr(clock, "since_progress", None)
    if since is None or getattr(clock, "virtual", False):
        return lambda: True
    return lambda: bool(getattr(clock, "blocked", False)) or since() < LEASE


def open_channel(bench) -> CanChannel:
    """Open the bench's CAN channel from its pin map, with the pin map's own wake set if it names one."""
    from ..can.bus import CanError
    from ..can.wakeset import find_wake_set

    spec = bench.wiring.can
    if spec is None:
        raise CanError(f"this bench has no CAN interface: the pin map {bench.wiring.source} has no can: "
                       f"block (wiring/README.md section 12 says how to fit a CAN HAT)")
    wake = find_wake_set(spec.wake, beside=bench.wiring.source) if spec.wake else None  # a bad file: before the bus
    channel = CanChannel(spec, bench)
    if wake is not None:
        channel.set_wake(wake, source=spec.wake_source)
    return channel


def mock_can(spec):
    """Bare pins, nothing attached: a HAT's bus is a private virtual one; a simulated bus
    (virtual, udp_multicast) is the one the pin map names, so another process can listen."""
    if spec.interface == "socketcan":
        return open_bus("virtual", f"rig-mock-{id(spec)}")
    return open_bus(spec.interface, spec.channel, **({"port": spec.port} if spec.port else {}))


def default_open(spec):
    """The bus a pin map's ``can:`` block names, checked (socketcan: up, at its bitrate)."""
    extra = {"port": spec.port} if spec.port else {}
    return open_bus(spec.interface, spec.channel, spec.bitrate, **extra)


class CanKeyDevice:
    """A key whose press and release are frames: the bench moves it like an opto's pin
    (``device.value = True``), and the frames go out at that moment."""

    def __init__(self, channel: CanChannel, key: KeyFrames):
        self.channel, self.key = channel, key
        self._down = False
        self._since = 0.0

    @property
    def value(self) -> bool:
        return self._down

    @value.setter
    def value(self, down: bool) -> None:
        down = bool(down)
        if down == self._down:
            return
        k, ch = self.key, self.channel
        if down:
            self._down, self._since = True, ch.clock.now()
            if k.repeat:  # held: the press frame again every ``repeat``, hold_byte counting 0, 1, 2 ...
                counter = Counter(k.hold_byte, 0, 8) if k.hold_byte is not None else None
                held = Frame(k.id, k.press, k.repeat, k.extended, counter)
                ch._check(k.id, k.extended, f"key {k.name}")
                ch.key_sender.start_cycle(held, held.payloads())
            else:
                ch.send(k.id, k.with_hold(k.press, 0), k.extended, f"key {k.name}")
        else:
            self._down = False
            repeats = int((ch.clock.now() - self._since) / k.repeat) if k.repeat else 0
            ch.key_sender.stop_one(k.id, k.extended)
            ch.send(k.id, k.with_hold(k.release, repeats), k.extended, f"key {k.name}")

    def close(self) -> None:
        if self._down:
            try:
                self.value = False
            except Exception:  # noqa: BLE001 - the bus is gone: the unit sees the key let go anyway
                self._down = False
