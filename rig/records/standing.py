"""Where a unit stands against its profile's limits: the ledger's answer, in a technician's words."""

from __future__ import annotations

from dataclasses import dataclass

from ..durations import format_duration


@dataclass
class Standing:
    """Attempts used and left in the current window, the open lockout, and the unit's lock state.

    >>> Standing(used=1, allowed=2, total=1, permanent_after=None, lockout=None,
    ...          unlocked=False, permanent=False).describe()
    'locked: 1 of 2 attempt(s) left before a lockout'
    """

    used: int                 # attempts counted in the current window (pending/unknown count as used)
    allowed: int              # attempts the window allows before a lockout
    total: int                # every attempt not known to be accepted
    permanent_after: int | None
    lockout: dict | None      # the open lockout, if any
    unlocked: bool
    permanent: bool

    @property
    def left(self) -> int:
        return max(0, self.allowed - self.used)

    @property
    def permanent_left(self) -> int | None:
        return None if self.permanent_after is None else max(0, self.permanent_after - self.total)

    @property
    def lockout_left(self) -> float | None:
        if not self.lockout:
            return None
        return max(0.0, self.lockout["wait"] - self.lockout["powered"])

    def describe(self) -> str:
        """Where the unit stands, in a technician's words."""
        if self.permanent:
            return "PERMANENTLY LOCKED"
        if self.lockout:
            return (f"locked out: {format_duration(self.lockout_left)} of {format_duration(self.lockout['wait'])} "
                    f"powered wait left")
        if self.unlocked:
            return "unlocked"
        return f"locked: {self.left} of {self.allowed} attempt(s) left before a lockout"
