"""The heartbeat a hardware dead-man listens to, and timers on whatever clock the bench runs on.

A retriggerable monostable on the heartbeat pin keeps the relay and key supply
switched on only while the pin keeps changing. A hung process, a ``kill -9``
or a dead kernel stops the beats, the monostable times out, the supply drops,
and every relay and key falls to its released state: constant power on, ACC
off, no key pressed (wiring/README.md, section 11).

>>> from rig.bench.clock import VirtualClock
>>> from gpiozero import OutputDevice
>>> from gpiozero.pins.mock import MockFactory
>>> from rig.bench.wiring import HeartbeatSpec
>>> clock = VirtualClock()
>>> hb = Heartbeat(HeartbeatSpec(10, every=0.5), OutputDevice(10, pin_factory=MockFactory()), clock)
>>> clock.sleep(2.2); len(hb.device.pin_factory.pin(10).states)
6
>>> hb.stop()
"""

from __future__ import annotations

import threading


def call_later(clock, delay: float, fn) -> None:
    """Run ``fn`` after ``delay`` on the bench's clock: a VirtualClock callback, or a timer thread."""
    if getattr(clock, "call_later", None) is not None:
        clock.call_later(delay, fn)
    else:
        t = threading.Timer(delay, fn)
        t.daemon = True
        t.start()


class Heartbeat:
    """Toggles the heartbeat pin every ``every`` seconds while the bench is open.

    On a VirtualClock it is a chain of clock callbacks (so it beats in simulated
    time); on the real clock, a daemon thread. Either way a beat only flips one
    pin and never sleeps in anyone else's thread, so it cannot delay a press.
    """

    def __init__(self, spec, device, clock):
        self.spec, self.device, self.clock = spec, device, clock
        self._stopped = threading.Event()
        self._timer = None
        self._thread = None
        if getattr(clock, "call_every", None) is not None:
            self.device.toggle()
            # in simulated time, one callback however many beats a jump passes over: an hour's
            # wait is then not 3,600 pin writes (toggling n times is toggling n % 2 times)
            self._timer = clock.call_every(spec.every, self._beats)
        elif getattr(clock, "call_later", None) is not None:
            self._beat_virtual()
        else:
            self._thread = threading.Thread(target=self._run, name="rig heartbeat", daemon=True)
            self._thread.start()

    def _beats(self, n: int) -> None:
        if not self._stopped.is_set() and n % 2:
            self.device.toggle()

    def _beat_virtual(self) -> None:
        if not self._stopped.is_set():
            self.device.toggle()
            # a beat changes nothing a wait waits for: it must not wake an hour's wait every second
            self._timer = self.clock.call_later(self.spec.every, self._beat_virtual, wakes=False)

    def _run(self) -> None:
        while not self._stopped.is_set():
            self.device.toggle()
            self._stopped.wait(self.spec.every)

    def stop(self) -> None:
        """Stop beating and leave the pin low: the dead-man drops the relay and key supply."""
        self._stopped.set()
        if self._timer is not None:
            self._timer.cancel()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)
        self.device.off()
        self.device.close()
