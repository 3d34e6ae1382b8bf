"""The simulated bench's CAN wire: python-can's ``virtual`` bus, with the unit on the far end.

The rig opens its side exactly as on a Pi, through python-can (``interface: virtual``),
and sends and hears frames as it would on a HAT. The unit's side hears every frame the
moment it is sent (in simulated time, before any of the unit's own timers of that
moment run), and can answer with frames and with error frames (error-passive, bus-off),
which the rig's side reads as it reads its controller's on socketcan.

>>> from rig.bench.clock import VirtualClock
>>> wire = SimCanWire(VirtualClock())
>>> heard = []
>>> wire.watch(lambda ident, data: heard.append((hex(ident), data.hex())))
>>> import can
>>> rig_side = wire.rig_bus()
>>> rig_side.send(can.Message(arbitration_id=0x575, data=b"\\x03\\x00\\x00\\x00", is_extended_id=False))
>>> wire.send(0x4C0, b"\\x02\\x34\\x00")
>>> heard, rig_side.recv(0).arbitration_id == 0x4C0
([('0x575', '03000000')], True)
>>> rig_side.shutdown(); wire.close()
"""

from __future__ import annotations

import itertools
import queue
import threading
from typing import Callable

_names = itertools.count()


class _Delivering(queue.Queue):
    """A virtual bus's receive queue that hands each frame to the unit as it is put in."""

    def __init__(self, deliver: Callable):
        super().__init__()
        self._deliver = deliver

    def put(self, item, block=True, timeout=None) -> None:
        self._deliver(item)


class SimCanWire:
    """One simulated bus: the rig's side is any python-can virtual bus on :attr:`channel`."""

    def __init__(self, clock):
        from ..can.bus import need_python_can
        from can.interfaces import virtual

        can = need_python_can()
        self.clock = clock
        self.channel = f"rig-sim-{next(_names)}"
        self._watchers: list[tuple[int | None, Callable[[int, bytes], None]]] = []
        self.heard = 0
        self._bus = can.Bus(interface="virtual", channel=self.channel, preserve_timestamps=True)
        mine = _Delivering(self._take)
        with virtual.channels_lock:  # the unit's end hears frames as they are sent, not when polled
            ends = self._bus.channel
            ends[ends.index(self._bus.queue)] = mine
        self._bus.queue = mine
        self._can = can

    def rig_bus(self):
        """A python-can bus on this wire, as the rig opens one (``interface: virtual``)."""
        return self._can.Bus(interface="virtual", channel=self.channel, preserve_timestamps=True)

    def watch(self, fn: Callable[[int, bytes], None], ident: int | None = None) -> None:
        self._watchers.append((ident, fn))

    def _take(self, msg) -> None:
        if msg.is_error_frame:
            return
        self.heard += 1
        for ident, fn in list(self._watchers):
            if ident is None or ident == msg.arbitration_id:
                fn(msg.arbitration_id, bytes(msg.data))

    def send(self, ident: int, data: bytes, extended: bool | None = None) -> None:
        """A frame from the unit (or the car) onto the bus."""
        ext = ident > 0x7FF if extended is None else extended
        self._bus.send(self._can.Message(arbitration_id=ident, data=bytes(data), is_extended_id=ext,
                                         timestamp=self.clock.now()))

    def error(self, kind: str, tx_errors: int = 0, rx_errors: int = 0) -> None:
        """An error frame as the rig's controller reports it: ``error-warning``, ``error-passive``,
        ``bus-off``, ``restarted``, ``error-active``, ``no-ack``."""
        from ..can.bus import error_frame

        ident, data = error_frame(kind, tx_errors, rx_errors)
        self._bus.send(self._can.Message(arbitration_id=ident, data=data, is_error_frame=True,
                                         is_extended_id=False, timestamp=self.clock.now()))

    def close(self) -> None:
        try:
            self._bus.shutdown()
        except Exception:  # noqa: BLE001
            pass


class LazySimCanWire:
    """A :class:`SimCanWire` made on first use, with the same methods.

    python-can takes ~0.15 s of CPU to import, and most simulated units never touch the bus
    (a honda on a bench whose pin map has a HAT): their ``rig --backend sim`` and ``rig serve``
    no longer pay it. The wire is made as soon as the unit watches or sends a frame, or the
    rig opens its side.

    >>> from rig.bench.clock import VirtualClock
    >>> wire = LazySimCanWire(VirtualClock())
    >>> wire.heard, wire.made
    (0, False)
    >>> wire.close(); wire.made
    False
    """

    def __init__(self, clock):
        self.clock = clock
        self._real: SimCanWire | None = None
        self._making = threading.Lock()

    @property
    def made(self) -> bool:
        return self._real is not None

    def _wire(self) -> SimCanWire:
        with self._making:
            if self._real is None:
                self._real = SimCanWire(self.clock)
            return self._real

    @property
    def heard(self) -> int:
        return 0 if self._real is None else self._real.heard

    def rig_bus(self):
        return self._wire().rig_bus()

    def watch(self, fn: Callable[[int, bytes], None], ident: int | None = None) -> None:
        self._wire().watch(fn, ident)

    def send(self, ident: int, data: bytes, extended: bool | None = None) -> None:
        self._wire().send(ident, data, extended)

    def error(self, kind: str, tx_errors: int = 0, rx_errors: int = 0) -> None:
        self._wire().error(kind, tx_errors, rx_errors)

    def close(self) -> None:
        if self._real is not None:
            self._real.close()
