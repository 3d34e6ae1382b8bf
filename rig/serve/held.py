"""A bench the server keeps open between jobs, and a clock a stop can reach from another thread.

Signals only reach the main thread, but the server runs jobs on a worker
thread. :class:`StoppableClock` wraps the backend's clock: a stop from the page
(:meth:`StoppableClock.interrupt`) is raised at the job's next sleep or wait,
so the job unwinds through the bench exactly as it does for SIGTERM: keys up,
rails safe, run recorded as interrupted.

>>> from rig.bench.clock import VirtualClock
>>> clock = StoppableClock(VirtualClock())
>>> clock.interrupt(Stopped("the page (alice)"))
>>> try:
...     clock.sleep(3600)
... except Stopped as exc:
...     print(exc.by, clock.now())
the page (alice) 0.0
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from ..bench.bench import Bench, _quietly


class Stopped(KeyboardInterrupt):
    """A stop asked for from outside the job's thread (the page, the CLI, SIGTERM to the server)."""

    def __init__(self, by: str = "a stop"):
        super().__init__(by)
        self.by = by  # rig.run.job words the interrupted message with it


class StoppableClock:
    """Wraps a clock; waits are cut into short pieces so a pending stop is raised within one.

    Every piece also stamps :attr:`alive`, which the watchdog reads: a job sitting
    out an hour-long wait is healthy as long as its clock keeps ticking.
    """

    REAL_PIECE = 0.1      # seconds of wall time between stop checks on a real clock
    VIRTUAL_PIECE = 1.0   # seconds of simulated time between checks on a virtual clock

    def __init__(self, inner):
        self.inner = inner
        self._pending: BaseException | None = None
        self._shield = 0
        self.alive = time.monotonic()

    def __getattr__(self, name):  # call_at, add_settle_hook, max_step, ... of the wrapped clock
        return getattr(self.inner, name)

    @property
    def virtual(self) -> bool:
        return self.inner.virtual

    def interrupt(self, exc: BaseException) -> None:
        """Raise ``exc`` in whichever thread next sleeps or waits on this clock."""
        self._pending = exc

    def clear(self) -> None:
        self._pending = None

    def check(self) -> None:
        """Raise the pending stop, if any (not while the bench is being made safe)."""
        self.alive = time.monotonic()
        if self._pending is not None and not self._shield:
            exc, self._pending = self._pending, None
            raise exc

    @contextmanager
    def shielded(self):
        """No stop is raised inside: a release must never be cut short."""
        self._shield += 1
        try:
            yield
        finally:
            self._shield -= 1

    def _piece(self) -> float:
        return self.VIRTUAL_PIECE if self.inner.virtual else self.REAL_PIECE

    def now(self) -> float:
        return self.inner.now()

    def sleep(self, seconds: float) -> None:
        self.sleep_until(self.now() + max(0.0, seconds))

    def sleep_until(self, deadline: float) -> None:
        while True:
            self.check()
            now = self.inner.now()
            if now >= deadline:
                return
            self.inner.sleep_until(min(deadline, now + self._piece()))

    def wait_for(self, condition, timeout, poll=None) -> bool:
        deadline = self.inner.now() + timeout
        while True:
            self.check()
            left = deadline - self.inner.now()
            if self.inner.wait_for(condition, max(0.0, min(left, self._piece())), poll):
                return True
            if left <= self._piece():
                return False


class HeldBench(Bench):
    """A Bench that stays open across jobs; each job borrows it with :meth:`lend`.

    Between jobs the rails are in their safe state, unless a bench command put
    one elsewhere on purpose (``rig power acc on`` through the server).
    """

    def make_safe(self, reason: str = "end") -> None:
        """What a release does to the pins - keys up, then rails safe - without giving them back."""
        with self._releasing, self._clock_shield():
            if not self.is_open:
                return
            self._make_safe()
            self.events.emit("bench", "released", reason=reason)

    def release(self, reason: str = "end") -> None:
        with self._clock_shield():
            super().release(reason)

    def _clock_shield(self):
        shield = getattr(self.clock, "shielded", None)
        return shield() if shield is not None else _nothing()

    @contextmanager
    def lend(self, events):
        """Lend the open bench to one run: its events go to the run's log, and however the
        run ends the pins are made safe exactly as a release would; the bench stays open."""
        saved_events, saved_display = self.events, self.display
        self.events = events
        events.emit("bench", "open", backend=self.backend.name)
        try:
            self.rearm()  # a dead-man that tripped between jobs: every pin is safe here, so beat again
            yield self
        except KeyboardInterrupt:
            self.make_safe("interrupted")
            raise
        except BaseException as exc:
            self.make_safe(f"error: {type(exc).__name__}")
            raise
        else:
            self.make_safe("end")
        finally:
            self.events, self.display = saved_events, saved_display
            clear = getattr(self.clock, "clear", None)
            if clear is not None:
                clear()  # a stop that came after the job's last wait must not hit the next one


@contextmanager
def _nothing():
    yield


__all__ = ["HeldBench", "StoppableClock", "Stopped"]
