"""Where an attempt guard plugs into the bench: every press, before its keys go down, and every rail.

The bench knows pins, not head units: which press submits a code, and when, is the
unit's profile's knowledge (:mod:`rig.run.guard`). The bench only lets a guard see
each press before any key moves (it may refuse it, or count an attempt first), the
press's end, and each rail switched. A guard is duck-typed::

    pressing(keys: list[str], hold: float | None) -> token or None   # may raise a refusal
    pressed(token, whole: bool) -> None                               # the keys are up again
    rail_switched(rail: str, on: bool) -> None                        # after the relay moved
    resync() -> None                                                  # after unguarded(): assume the worst
    redactor                                                          # masks the unit's entry digits (Redactor)
    entering() -> bool                                                # a code may be going in: presses masked
"""

from __future__ import annotations

from contextlib import contextmanager


class GuardSeat:
    """The guard's seat on a :class:`rig.bench.bench.Bench` (a mixin)."""

    guard = None
    _unguarded = 0

    def _guard(self, what: str, *args):
        """Tell the guard (if any, and not set aside by :meth:`unguarded`) about a press or a rail."""
        guard = self.guard
        if guard is None or (self._unguarded and what != "rail_switched"):
            return None
        return getattr(guard, what)(*args)

    def _guard_down(self, names) -> None:
        token = self._guard("pressing", names, None)
        if token is not None:
            self.__dict__.setdefault("_guard_tokens", {})[frozenset(names)] = token

    def _guard_up(self, names) -> None:
        token = self.__dict__.get("_guard_tokens", {}).pop(frozenset(names), None)
        if token is not None:
            self._guard("pressed", token, True)

    def shown(self, text):
        """The display as anyone may see it: a code typed by hand is masked as a run masks it (``####``)."""
        guard = self.guard
        return text if guard is None or text is None else guard.redactor.text(text)

    def entering(self) -> bool:
        """A code may be going in by hand: the keys show as masked, as during a run's entry."""
        return self.guard is not None and not self._unguarded and self.guard.entering()

    def logged(self, record: dict) -> dict | None:
        """An event as a hand session's log (``rig --events``) keeps it: the entry digits masked,
        no key edge while a code may be going in (None: not logged)."""
        guard = self.guard
        if guard is None:
            return record
        return None if record.get("kind") == "key" and self.entering() else guard.redactor.record(record)

    @contextmanager
    def _guarded(self, names, hold):
        """Around a press: the guard sees it before any key moves, and again once they are up."""
        token = self._guard("pressing", names, hold)
        whole = False
        try:
            yield
            whole = True
        finally:
            if token is not None:
                self._guard("pressed", token, whole)

    @contextmanager
    def unguarded(self):
        """The rig's own code entry counts its attempt itself, before its confirm press: the guard
        steps aside, then takes up again knowing nothing of the unit's entry (it assumes the worst)."""
        self._unguarded += 1
        try:
            yield self
        finally:
            self._unguarded -= 1
            if not self._unguarded and self.guard is not None:
                self.guard.resync()
