"""Callbacks every period on the virtual clock, told once per jump of time (a mixin of
:class:`rig.bench.clock.VirtualClock`).

A beat nothing waits for (the heartbeat's, a periodic CAN frame's) must not cost a
callback per period during an hour's simulated wait; but what a callback sets off (a
unit woken by a frame) must still happen at its own time, in order with everything else.
"""

from __future__ import annotations

from typing import Callable


class _Timer:
    """A handle on something scheduled on a VirtualClock."""

    __slots__ = ("when", "fn", "cancelled", "wakes")

    def __init__(self, when: float, fn: Callable[[], None], wakes: bool = True):
        self.when, self.fn, self.cancelled, self.wakes = when, fn, False, wakes

    def cancel(self) -> None:
        self.cancelled = True


class Periodic:
    """``call_every`` and the running of what it registered; the clock keeps ``_now``, ``_periodic``
    and ``next_event()``."""

    def call_every(self, period: float, fn: Callable[[int], None], coalesce: int = 0,
                   first: bool = False) :
        """Call ``fn(n)`` once for each jump of the clock that passes ``n >= 1`` periods of
        ``period``, at the last of them, without waking any wait; a jump of at most ``coalesce``
        periods is told period by period instead. ``first=True`` tells a long jump at its first
        period and again at its last before the next other callback.

        A beat that nothing waits for (the heartbeat) costs one callback per jump, never
        one per period: an hour's wait that wakes once a minute is 60 callbacks, not 3,600.
        A periodic CAN frame is told at the first, period by period over short stretches:
        a unit wakes when frames start, and notices that they keep coming, not how many came.

        >>> from rig.bench.clock import VirtualClock
        >>> clock = VirtualClock(); told = []
        >>> _ = clock.call_every(1.0, lambda n: told.append((clock.now(), n)))
        >>> clock.sleep(0.5); clock.sleep(1.0); clock.sleep(3600)
        >>> told
        [(1.0, 1), (3601.0, 3600)]
        """
        handle = _Timer(self._now + period, fn, wakes=False)
        self._periodic.append((handle, period, coalesce, first))
        return handle

    def _run_periodic(self, upto: float) -> None:
        """Run the periodic callbacks due up to ``upto``, in time order with each other, stopping
        early if one of them scheduled a callback that is due sooner (the caller runs it next)."""
        while True:
            soonest = None
            for entry in list(self._periodic):
                handle, period, coalesce, first = entry
                if handle.cancelled:
                    self._periodic.remove(entry)
                    continue
                if handle.when > upto:
                    continue
                n = int((upto - handle.when) // period) + 1
                n = n if n > coalesce else 1     # a long jump: once, with the count; a short one: each period
                at = handle.when if first or n == 1 else handle.when + (n - 1) * period
                if soonest is None or at < soonest[0]:
                    soonest = (at, n, entry)
            if soonest is None:
                return
            at, n, (handle, period, _, first) = soonest
            queued = self.next_event()
            if queued is not None and queued < at:
                return  # something a periodic callback set off comes first
            if first and n > 1:
                self._first_and_last(handle, period, upto)
                continue
            handle.when += n * period
            self._now = max(self._now, at)
            handle.fn(n)

    def _first_and_last(self, handle, period: float, upto: float) -> None:
        """A frame stream over a long jump: told at its first period (what it sets off starts then), and
        at its last before the next callback or ``upto`` (whoever looks then sees it still coming)."""
        first = handle.when
        self._now = max(self._now, first)
        handle.fn(1)
        queued = self.next_event()  # what the first one set off (a unit booting) comes before the rest
        limit = upto if queued is None else min(upto, queued)
        k = max(0, int((limit - first) // period + 1e-9))
        handle.when = first + (k + 1) * period
        if k:
            self._now = max(self._now, first + k * period)
            handle.fn(k)

