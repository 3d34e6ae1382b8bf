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
import os
import sys
import threading
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import Callable

from . import signals
from .periodic import Periodic, _Timer

_quiet_until = 0.0  # perf_counter time: helper threads keep off the GIL until then
_precise = 0        # deadlines in their final moments right now (any thread)
_precise_lock = threading.Lock()
_outside_lock = threading.Lock()
CHUNK = 0.25        # a long real wait wakes this often to say the run is still making progress
_SWITCH = sys.getswitchinterval()


def _enter_precise(quiet_until: float = 0.0, switch: float = 0.0001) -> None:
    global _precise, _quiet_until
    with _precise_lock:
        _quiet_until = max(_quiet_until, quiet_until)
        _precise += 1
        sys.setswitchinterval(switch)


def _leave_precise() -> None:
    global _precise, _quiet_until
    with _precise_lock:
        _precise -= 1
        if not _precise:
            _quiet_until = time.perf_counter()
            sys.setswitchinterval(_SWITCH)


def hush() -> None:
    """For helper threads (the display tap's reader, the live panel) before Python work:
    when a precise deadline is due within moments, wait until it has passed, so the
    thread ending a press does not wait for the GIL. A no-op on the virtual clock."""
    left = _quiet_until - time.perf_counter()
    if left > 0:
        time.sleep(left)


_all_cpus: set[int] | None = None  # the CPUs a helper thread goes back to, once realtime() ran


def realtime(priority: int = 10, cpu: int | None = None) -> str:
    """Ask for real-time scheduling (SCHED_FIFO) and a CPU of its own for the calling
    thread (the one that presses), where the OS allows it; returns what was granted,
    in words. Never raises.

    Needs CAP_SYS_NICE (systemd: ``CPUSchedulingPolicy=fifo``, or
    ``AmbientCapabilities=CAP_SYS_NICE``). ``cpu`` defaults to the last one, which a
    Pi's kernel interrupts least. Threads started afterwards inherit both, so rig's
    helper threads call :func:`ordinary` first: a CPU-bound thread at FIFO priority on
    the pressing thread's CPU would starve it. Both only tighten the end of a hold;
    a press is never shorter than commanded.

    >>> isinstance(realtime(cpu=0), str) and (ordinary() or True)
    True
    """
    global _all_cpus
    said = []
    try:
        cpus = sorted(os.sched_getaffinity(0))
        want = cpus[-1] if cpu is None else cpu
        os.sched_setaffinity(0, {want})
        _all_cpus = _all_cpus or set(cpus)
        said.append(f"CPU {want}")
    except (AttributeError, OSError, IndexError) as exc:
        said.append(f"no CPU affinity ({exc})")
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        said.append(f"SCHED_FIFO priority {priority}")
    except (AttributeError, OSError) as exc:
        said.append(f"no real-time priority ({getattr(exc, 'strerror', None) or exc}; needs CAP_SYS_NICE)")
    return ", ".join(said)


def ordinary() -> None:
    """Start of a helper thread: ordinary scheduling on every CPU, whatever the thread
    that started it was given by :func:`realtime`. A no-op when realtime() never ran."""
    if _all_cpus is None:
        return
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        os.sched_setaffinity(0, _all_cpus)
    except (AttributeError, OSError):
        pass


class Clock(ABC):
    """What rig needs of time: now, sleep, sleep until, wait for a condition; and the stamp
    of progress the heartbeat reads (every wait and step refreshes it; a wait on purpose
    outside the clock says so with :meth:`outside`; a thread hung elsewhere lets it age)."""

    virtual = False
    _stamp: float | None = None  # perf_counter() of the last sign of progress
    _outside = 0                 # threads waiting on purpose outside the clock

    def progress(self) -> None:
        """The run moved on (a wait, a step): the heartbeat may keep beating."""
        self._stamp = time.perf_counter()

    def since_progress(self) -> float:
        """Seconds of real time since the last sign of progress."""
        return 0.0 if self._stamp is None else time.perf_counter() - self._stamp

    @property
    def blocked(self) -> bool:
        """Some thread is waiting on purpose outside the clock (see :meth:`outside`)."""
        return self._outside > 0

    @contextmanager
    def outside(self, what: str = "the operator"):
        """Around a wait that is not the clock's (a prompt, a queue): the run is not hung while inside."""
        with _outside_lock:
            self._outside += 1
        try:
            yield
        finally:
            with _outside_lock:
                self._outside -= 1
            self.progress()

    @abstractmethod
    def now(self) -> float:
        """Seconds on this clock (monotonic; only differences mean anything)."""

    @abstractmethod
    def sleep_until(self, deadline: float) -> None:
        """Return when ``now() >= deadline``."""

    def end_hold(self, deadline: float, release: Callable[[], object],
                 warm: Callable[[], object] | None = None) -> None:
        """Sleep until ``deadline``, then call ``release`` (let the keys go) at once.

        The real clock spins out the last moments calling ``warm`` (which touches
        what ``release`` will touch, so it runs from the caches) and lets nothing
        else take the GIL until ``release`` is done.
        """
        self.sleep_until(deadline)
        release()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        self.sleep_until(self.now() + max(0.0, seconds))

    @abstractmethod
    def wait_for(self, condition: Callable[[], bool], timeout: float, poll: float | None = None) -> bool:
        """Wait until ``condition()`` is true (True) or ``timeout`` passes (False)."""

    @contextmanager
    def precise(self):
        """Around a press: other Python threads give the GIL back within moments, so one
        busy thread cannot land between a key going down and the clock reading of it."""
        yield


class RealClock(Clock):
    """Monotonic wall time with precise deadlines.

    ``time.sleep`` overshoots by 0.1-1 ms (more under load); sleeping to just short
    of the deadline and spinning the rest lands within microseconds
    (research/gpio.md, section 5). For the last ``quiet`` seconds the other
    threads of rig stay off the GIL (:func:`hush`) and Python switches threads
    every 0.1 ms instead of every 5 ms, so a CPU-bound thread cannot
    hold the GIL across the deadline; the spin itself is short, so the scheduler
    has little reason to preempt it.
    """

    spin = 0.0005    # seconds before the deadline at which we stop sleeping and spin
    quiet = 0.003    # seconds before the deadline from which helper threads keep off the GIL

    def now(self) -> float:
        return time.perf_counter()

    @contextmanager
    def precise(self):
        _enter_precise()
        try:
            yield
        finally:
            _leave_precise()

    def sleep_until(self, deadline: float) -> None:
        self.end_hold(deadline, None)

    def end_hold(self, deadline: float, release, warm=None) -> None:
        self.progress()
        left = deadline - time.perf_counter()
        # Wake early enough that a thread holding the GIL for a whole switch interval
        # still hands it over before the quiet moments begin.
        early = self.quiet + _SWITCH
        while left > early:  # in pieces: each one is a sign of progress for the heartbeat
            time.sleep(min(left - early, CHUNK))
            self.progress()
            left = deadline - time.perf_counter()
        if left <= 0:
            if release is not None:
                release()
            return
        _enter_precise(quiet_until=deadline + self.quiet)
        try:
            while True:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                if left > self.spin:
                    time.sleep(left - self.spin)
                elif warm is not None:
                    warm()  # spin, touching what the release will touch
            if release is not None:
                release()
        finally:
            _leave_precise()

    def wait_for(self, condition, timeout, poll=None):
        poll = 0.01 if poll is None else poll
        deadline = self.now() + timeout
        while True:
            self.progress()
            if condition():
                return True
            now = self.now()
            if now >= deadline:
                return False
            time.sleep(min(poll, deadline - now, CHUNK))


class VirtualClock(Periodic, Clock):
    """Simulated time that jumps.

    Time moves only inside ``sleep``/``sleep_until``/``wait_for`` (or
    ``advance``). Callbacks scheduled with ``call_at``/``call_later`` fire in
    time order with ``now()`` equal to their own time. After each callback,
    registered *settle hooks* run: they block until data the callback put in
    flight (a line written to a pty, say) has been taken in, so the clock never
    jumps past it.

    A callback and its settling run whole: a Ctrl-C or SIGTERM that arrives meanwhile
    is raised after them, to whoever is sleeping. Cut short, a callback leaves its
    owner half-changed (a simulated unit that never started its own lockout timer),
    and a wait that goes on after a first Ctrl-C would go on with that.
    """

    virtual = True

    def __init__(self, start: float = 0.0, max_step: float = 1.0):
        self._periodic: list = []
        self._now = float(start)
        self._queue: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()
        self._lock = threading.RLock()
        self._settle: list[Callable[[], None]] = []
        self.max_step = max_step  # wait_for re-checks its condition at least this often

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, fn: Callable[[], None], wakes: bool = True) -> _Timer:
        """Run ``fn`` when the clock reaches ``when`` (at once, at the next advance, if past).

        ``wakes=False`` marks a callback no wait needs to wake for (the heartbeat's beat):
        :meth:`next_wake` passes over it, so an hour's wait is not a wake-up a second."""
        timer = _Timer(max(when, self._now), fn, wakes)
        with self._lock:
            heapq.heappush(self._queue, (timer.when, next(self._seq), timer))
        return timer

    def call_later(self, delay: float, fn: Callable[[], None], wakes: bool = True) -> _Timer:
        return self.call_at(self._now + max(0.0, delay), fn, wakes)

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

    def next_wake(self) -> float | None:
        """The time of the next callback that can change what a wait is waiting for."""
        with self._lock:
            return min((w for w, _, t in self._queue if t.wakes and not t.cancelled), default=None)

    def advance(self, seconds: float) -> None:
        self.sleep_until(self._now + seconds)

    def sleep_until(self, deadline: float) -> None:
        while True:
            with self._lock:
                nxt = self.next_event()
                timer = heapq.heappop(self._queue)[2] if nxt is not None and nxt <= deadline else None
            if timer is None:
                with signals.shielded():
                    self._run_periodic(deadline)
                    self.settle()
                if (self.next_event() or deadline + 1) <= deadline:
                    continue  # a periodic callback scheduled something before the deadline: run it too
                break
            with signals.shielded():
                self._run_periodic(timer.when)
                self._now = max(self._now, timer.when)
                timer.fn()
                self.settle()
        with signals.shielded():
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
