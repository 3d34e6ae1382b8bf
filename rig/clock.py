"""Clocks: every wait in rig goes through one, so tests can fake the hour-long ones.

``RealClock`` sleeps for real and finishes each wait by spinning, so a commanded
hold ends within a fraction of a millisecond. ``VirtualClock`` only moves when
someone sleeps or waits: a one-hour wait returns at once with the clock one
hour later, and anything scheduled in between fires, in order, at its time.

>>> clock = VirtualClock()
>>> fired = []
>>> _ = clock.call_later(1800, lambda: fired.append(clock.now()))
>>> clock.sleep(3600)
>>> clock.now(), fired
(3600.0, [1800.0])
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from abc import ABC, abstractmethod
from typing import Callable


class Clock(ABC):
    """What rig needs of time: now, sleep, sleep until, wait for a condition."""

    virtual = False

    @abstractmethod
    def now(self) -> float:
        """Seconds on this clock (monotonic; only differences mean anything)."""

    @abstractmethod
    def sleep_until(self, deadline: float) -> None:
        """Return when ``now() >= deadline``."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        self.sleep_until(self.now() + max(0.0, seconds))

    @abstractmethod
    def wait_for(self, condition: Callable[[], bool], timeout: float, poll: float | None = None) -> bool:
        """Wait until ``condition()`` is true (True) or ``timeout`` passes (False)."""


class RealClock(Clock):
    """Monotonic wall time with precise deadlines.

    ``time.sleep`` overshoots by 0.1-1 ms (more under load); sleeping to just short
    of the deadline and spinning the rest lands within microseconds
    (research/gpio.md, section 5).
    """

    spin = 0.002  # seconds before the deadline at which we stop sleeping and spin

    def now(self) -> float:
        return time.perf_counter()

    def sleep_until(self, deadline: float) -> None:
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                return
            if left > self.spin:
                time.sleep(left - self.spin)
            # else: spin; a hold of a few ms is worth one busy core

    def wait_for(self, condition, timeout, poll=None):
        poll = 0.01 if poll is None else poll
        deadline = self.now() + timeout
        while True:
            if condition():
                return True
            now = self.now()
            if now >= deadline:
                return False
            time.sleep(min(poll, deadline - now))


class _Timer:
    """A handle on something scheduled on a VirtualClock."""

    __slots__ = ("when", "fn", "cancelled")

    def __init__(self, when: float, fn: Callable[[], None]):
        self.when, self.fn, self.cancelled = when, fn, False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock(Clock):
    """Simulated time that jumps.

    Time moves only inside ``sleep``/``sleep_until``/``wait_for`` (or
    ``advance``). Callbacks scheduled with ``call_at``/``call_later`` fire in
    time order with ``now()`` equal to their own time. After each callback,
    registered *settle hooks* run: they block until data the callback put in
    flight (a line written to a pty, say) has been taken in, so the clock never
    jumps past it.
    """

    virtual = True

    def __init__(self, start: float = 0.0, max_step: float = 1.0):
        self._now = float(start)
        self._queue: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()
        self._lock = threading.RLock()
        self._settle: list[Callable[[], None]] = []
        self.max_step = max_step  # wait_for re-checks its condition at least this often

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, fn: Callable[[], None]) -> _Timer:
        """Run ``fn`` when the clock reaches ``when`` (at once, at the next advance, if past)."""
        timer = _Timer(max(when, self._now), fn)
        with self._lock:
            heapq.heappush(self._queue, (timer.when, next(self._seq), timer))
        return timer

    def call_later(self, delay: float, fn: Callable[[], None]) -> _Timer:
        return self.call_at(self._now + max(0.0, delay), fn)

    def add_settle_hook(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` after every callback and before time moves on."""
        self._settle.append(fn)

    def remove_settle_hook(self, fn: Callable[[], None]) -> None:
        if fn in self._settle:
            self._settle.remove(fn)

    def settle(self) -> None:
        for fn in list(self._settle):
            fn()

    def next_event(self) -> float | None:
        with self._lock:
            while self._queue and self._queue[0][2].cancelled:
                heapq.heappop(self._queue)
            return self._queue[0][0] if self._queue else None

    def advance(self, seconds: float) -> None:
        self.sleep_until(self._now + seconds)

    def sleep_until(self, deadline: float) -> None:
        while True:
            with self._lock:
                nxt = self.next_event()
                if nxt is None or nxt > deadline:
                    break
                _, _, timer = heapq.heappop(self._queue)
            self._now = max(self._now, timer.when)
            timer.fn()
            self.settle()
        self._now = max(self._now, deadline)
        self.settle()

    def wait_for(self, condition, timeout, poll=None):
        step = self.max_step if poll is None else max(poll, 1e-6)
        deadline = self._now + timeout
        while True:
            self.settle()
            if condition():
                return True
            if self._now >= deadline:
                return False
            nxt = self.next_event()
            target = min(deadline, self._now + step)
            if nxt is not None and nxt < target:
                target = nxt
            self.sleep_until(target)
