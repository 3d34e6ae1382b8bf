"""A virtual clock that runs at a chosen speed: simulated time anyone can watch."""

from __future__ import annotations

import time

from .clock import VirtualClock


class PacedClock(VirtualClock):
    """A VirtualClock whose waits take ``1/speed`` of their length in wall time.

    A plain VirtualClock jumps: an hour of lockout wait is over in milliseconds, which
    is what tests want and what nobody can watch. ``rig serve --backend sim --speed 60``
    runs the simulated unit on a PacedClock: an hour passes in a minute, and the page's
    countdown moves.

    >>> import time; clock = PacedClock(speed=1000.0); t0 = time.monotonic(); clock.sleep(50)
    >>> round(clock.now()), 0.04 <= time.monotonic() - t0 < 1
    (50, True)
    """

    def __init__(self, speed: float, start: float = 0.0, max_step: float = 1.0):
        super().__init__(start, max_step)
        self.speed = float(speed)

    def sleep_until(self, deadline: float) -> None:
        # Cut into short pieces of wall time so timers fire on time and a stop gets in.
        while self.now() < deadline:
            target = min(deadline, self.now() + 0.05 * self.speed)
            time.sleep((target - self.now()) / self.speed)
            super().sleep_until(target)
        super().sleep_until(deadline)
