"""The heartbeat a hardware dead-man listens to, latched once the dead-man trips.

A retriggerable monostable on the heartbeat pin keeps the relay and key supply
switched on only while the pin keeps changing. A hung process, a ``kill -9``
or a dead kernel stops the beats, the monostable times out, the supply drops,
and every relay and key falls to its released state: constant power on, ACC
off, no key pressed (wiring/README.md, section 11).

The beat is a safety function, so it is careful about when it beats:

- **only while the run makes progress**: the clock's waits and the runner's
  steps refresh a stamp (:meth:`rig.bench.clock.Clock.progress`); a main thread
  hung anywhere else for half the dead-man's time stops the beat, though the
  beating thread itself is fine;
- **never after a trip**: a beat after a stall longer than T would switch the
  supply back on under whatever is still driven (ACC, a key held mid-entry). A
  trip - seen on the read-back pin, or a gap in its own beats long enough that
  the monostable may have run out - is latched: no more beats, and every move
  that would energise a relay or key is refused, until the bench has put every
  channel in its safe state and re-armed on purpose (:meth:`Heartbeat.rearm`,
  which opening the bench does).

>>> from rig.bench.clock import VirtualClock
>>> from gpiozero import OutputDevice
>>> from gpiozero.pins.mock import MockFactory
>>> from rig.bench.wiring import HeartbeatSpec
>>> clock = VirtualClock()
>>> hb = Heartbeat(HeartbeatSpec(10, every=0.5), OutputDevice(10, pin_factory=MockFactory()), clock)
>>> for _ in range(4): clock.sleep(0.5)       # a beat at each period the clock steps through
>>> len(hb.device.pin_factory.pin(10).states)
6
>>> clock.sleep(3600); len(hb.device.pin_factory.pin(10).states)   # an hour's jump: one beat
7
>>> hb.stop()
"""

from __future__ import annotations

import threading

from ..errors import BenchRefused

# A beat later than this share of T after the last rising edge means the monostable may be
# close to running out: latch instead of beating (a rising edge normally comes every
# 2 x every <= T/2, the validator's ratio).
LATE = 0.75
# No progress for this share of T stops the beat (the dead-man then drops the supply T later).
STALL = 0.5
# How long opening waits for a dead-man still fed by the last process (kill -9) to run out.
SETTLE = 1.2


class DeadmanTripped(BenchRefused):
    """The dead-man cut (or may have cut) the relay and key supply; the bench refuses to energise anything."""


def open_heartbeat(spec, factory, clock, output_cls, input_cls) -> "Heartbeat":
    """The heartbeat's pin (and the read-back's) claimed, and the first beat given."""
    out = output_cls(spec.pin, initial_value=False, pin_factory=factory)
    back = None
    try:
        if spec.readback is not None:  # pulled the way a broken wire reads "off"
            back = input_cls(spec.readback, pull_up=not spec.armed_high, pin_factory=factory)
        return Heartbeat(spec, out, clock, readback=back)
    except BaseException:
        for dev in (out, back):
            if dev is not None:
                dev.close()
        raise


def rearm_bench(bench) -> None:
    """Re-arm a bench's tripped dead-man; refused while anything is still driven (the supply would
    come back on under it)."""
    hb = getattr(bench, "_heartbeat", None)
    if hb is None or hb.tripped is None:
        return
    busy = [k.name for k in bench.keys.values() if k.is_down] + [r.name for r in bench.rails.values() if not r.is_safe]
    if busy:
        raise DeadmanTripped(f"not re-arming the dead-man while {', '.join(busy)} is driven: release them first")
    hb.rearm()
    bench.events.emit("bench", "rearmed")


def refuse_if_tripped(bench) -> None:
    """Before a move that would energise a relay or key: never under a tripped dead-man."""
    why = bench.deadman_tripped
    if why is not None:
        bench.events.emit("bench", "deadman", reason=why)
        raise DeadmanTripped(f"the dead-man has cut the relay and key supply ({why}); nothing is switched "
                             f"on again until the bench is released and opened again, which re-arms it")


def call_later(clock, delay: float, fn) -> None:
    """Run ``fn`` after ``delay`` on the bench's clock: a VirtualClock callback, or a timer thread."""
    if getattr(clock, "call_later", None) is not None:
        clock.call_later(delay, fn)
    else:
        t = threading.Timer(delay, fn)
        t.daemon = True
        t.start()


class Heartbeat:
    """Toggles the heartbeat pin every ``every`` seconds while the bench is open, until a trip.

    On a VirtualClock it is a periodic clock callback (so it beats in simulated
    time, run by the thread that waits); on the real clock, a daemon thread that
    checks before each beat that the run is making progress. ``readback`` is the
    input device the monostable's output is read back on, if the pin map has one.
    """

    def __init__(self, spec, device, clock, readback=None, start: bool = True):
        self.spec, self.device, self.clock, self.readback = spec, device, clock, readback
        self.tripped: str | None = None  # why the beat latched off (None: armed)
        self._stopped = threading.Event()
        self._timer = None
        self._thread = None
        self._last_rise = None  # clock.now() of the last rising edge (real clock only)
        if start:
            self.start()

    # -- arming -------------------------------------------------------------------
    def start(self) -> None:
        """Check the dead-man is off, then beat: from here on it holds the supply on."""
        self._stopped.clear()
        self._check_off_before_arming()
        self.tripped = None
        if getattr(self.clock, "call_every", None) is not None:
            self._toggle()
            # in simulated time, one beat however many periods a jump of the clock passes over:
            # an hour's wait is not 3,600 pin writes, and the pin still moves at every jump
            self._timer = self.clock.call_every(self.spec.every, self._beats)
        else:
            self._toggle()
            self._thread = threading.Thread(target=self._run, name="rig heartbeat", daemon=True)
            self._thread.start()
        if self.readback is not None and not self._armed():
            self._halt()
            raise DeadmanTripped(f"the dead-man did not switch the relay and key supply on at the first beat "
                                 f"(its read-back on GPIO{self.spec.readback} still says off): check its supply "
                                 f"and wiring (wiring/README.md section 11); rig selftest tests it")

    def _check_off_before_arming(self) -> None:
        """Before the first beat the dead-man must be off: on here means it is stuck on, or still fed."""
        if self.readback is None or not self._armed():
            return
        # the last process may have beaten moments ago (kill -9): its monostable runs out within T
        deadline = self.clock.now() + self.spec.timeout * SETTLE
        while self._armed() and self.clock.now() < deadline:
            self.clock.sleep(min(0.05, self.spec.timeout / 20))
        if self._armed():
            raise DeadmanTripped(f"the dead-man holds the relay and key supply on with no heartbeat "
                                 f"(its read-back on GPIO{self.spec.readback} says on {self.spec.timeout * SETTLE:g}s "
                                 f"after the bench opened): it is stuck on and would not cut anything; fix it "
                                 f"before using the bench (wiring/README.md section 11, rig selftest)")

    def rearm(self) -> None:
        """After a trip, with every key up and every rail safe (the caller's word): beat again."""
        if self.tripped is None:
            return
        self._halt()
        self.start()

    def _armed(self) -> bool:
        return bool(self.readback.value) if self.readback is not None else True

    # -- beating ------------------------------------------------------------------
    def _toggle(self) -> None:
        self.device.toggle()
        if self.device.value:
            self._last_rise = self.clock.now()

    def _beats(self, n: int) -> None:
        if self._stopped.is_set() or self.tripped:
            return
        deadman = getattr(self.device.pin_factory, "deadman", None)
        if deadman is not None:  # a simulated dead-man hears of the beats a jump of simulated time stood for
            deadman.fed(self.spec.pin, n)
        if self.check() is None:  # never a beat after a trip: it would switch the supply back on
            self._toggle()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self.tick()
            self._stopped.wait(self.spec.every)

    def tick(self, now: float | None = None) -> bool:
        """One beat of the real-clock thread: check, then toggle. Returns whether it beat."""
        if self._stopped.is_set() or self.check(now) is not None:
            return False
        self._toggle()
        return True

    def check(self, now: float | None = None) -> str | None:
        """Why the supply may be off now (and the beat latched), or None while armed.

        Any thread may ask; the bench asks before every move that would energise a relay
        or key, so a stall is caught before the first move after it, not only at the next beat.
        """
        if self.tripped is None:
            why = self._why_tripped(self.clock.now() if now is None else now)
            if why is not None:
                self.tripped = why
        return self.tripped

    def _why_tripped(self, now: float) -> str | None:
        t = self.spec.timeout
        if self._thread is not None and self._last_rise is not None and now - self._last_rise > LATE * t:
            return (f"the heartbeat stalled: {now - self._last_rise:.1f}s since its last rising edge against "
                    f"the dead-man's {t:g}s (the process was stopped, or starved of the CPU)")
        if self._thread is not None and not self.clock.blocked:
            quiet = self.clock.since_progress()
            if quiet > STALL * t:
                return (f"rig made no progress for {quiet:.1f}s (a hung step): the heartbeat stopped so the "
                        f"dead-man drops the supply")
        if self.readback is not None and not self._armed():
            return f"the dead-man's read-back on GPIO{self.spec.readback} says the relay and key supply is off"
        return None

    def _halt(self) -> None:
        self._stopped.set()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)
        self._thread = None
        self.device.off()

    def stop(self) -> None:
        """Stop beating and leave the pin low: the dead-man drops the relay and key supply."""
        self._halt()
        self.device.close()
        if self.readback is not None:
            self.readback.close()
