"""The bench's seat for its CAN channel (mixed into :class:`rig.bench.bench.Bench`).

The channel itself, and everything it does, is :mod:`rig.bench.canbus`; this is only when
the bench opens it and how it lets it go (its place in the safe order is the bench's
``_make_safe``: keys, then frames, then rails).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def wants_can(wiring, can: bool | None) -> bool:
    """Open the bus with the bench? ``True``: a run whose unit needs it; ``None``: only if the pin
    map's ``can:`` block names a wake set of the bench's own; ``False``: not until :meth:`CanSeat.use_can`."""
    return bool(wiring.can is not None and wiring.can.wake) if can is None else can


class CanSeat:
    can = None  # the open rig.bench.canbus.CanChannel, if any

    def use_can(self):
        """The bench's CAN bus (:class:`rig.bench.canbus.CanChannel`), opened on first use; a missing
        ``can:`` block or interface is a CanError (exit 2) that says what to do."""
        if self.can is None:
            from .canbus import open_channel

            self.can = open_channel(self)
        return self.can

    def _open_can_first(self) -> None:
        if self._want_can:
            self.use_can()

    def _close_can(self) -> None:
        if self.can is not None:
            try:
                self.can.close()
            except Exception:  # noqa: BLE001 - a broken bus must not stop the pins going back
                log.exception("while closing the CAN bus")
