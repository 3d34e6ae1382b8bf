"""ISO-TP (ISO 15765-2) reception: a unit's long messages, such as its display text, put back together.

A unit sends a text longer than one frame as a first frame, waits for a flow control
from the display (on the bench: the rig, on the id the profile names), then sends the
rest. This uses can-isotp, driven one frame at a time by the bench's CAN reader, so
it runs on the virtual clock as on the real one. The rig only ever *receives* this
way: the one frame it sends is the flow control the unit asks for.

>>> sent = []
>>> rx = IsoTpReceiver(0x4C0, 0x4C8, lambda ident, data: sent.append((hex(ident), data.hex())))
>>> rx.feed(bytes.fromhex("100a3453414645"))          # first frame: 10 bytes, "4SAFE" so far
[]
>>> sent
[('0x4c8', '3000000000000000')]
>>> rx.feed(bytes.fromhex("21202020202000"))           # the rest
[b'4SAFE     ']
>>> rx.feed(bytes.fromhex("0734434f44452020"))         # a single frame
[b'4CODE  ']
"""

from __future__ import annotations

from typing import Callable


class IsoTpReceiver:
    """Reassembles the payloads a unit sends on ``rxid``; answers on ``fcid`` (flow control only)."""

    def __init__(self, rxid: int, fcid: int, send: Callable[[int, bytes], None], extended: bool = False,
                 padding: int = 0x00):
        try:
            import isotp
        except ImportError:
            from .bus import CanError

            raise CanError("a display over CAN (ISO-TP) needs can-isotp: pip install 'rig[can]'") from None
        self._isotp = isotp
        self._queue: list = []
        self._send = send
        mode = isotp.AddressingMode.Normal_29bits if extended else isotp.AddressingMode.Normal_11bits
        self.logic = isotp.TransportLayerLogic(
            rxfn=self._rx, txfn=self._tx, address=isotp.Address(mode, rxid=rxid, txid=fcid),
            params={"stmin": 0, "blocksize": 0, "tx_padding": padding, "rx_flowcontrol_timeout": 2000,
                    "rx_consecutive_frame_timeout": 2000, "max_frame_size": 4095})
        self.rxid = rxid

    def _rx(self, timeout):
        return self._queue.pop(0) if self._queue else None

    def _tx(self, msg) -> None:
        self._send(msg.arbitration_id, bytes(msg.data))

    def feed(self, data: bytes) -> list[bytes]:
        """One frame received on ``rxid``; returns the payloads it completed (usually none or one)."""
        self._queue.append(self._isotp.CanMessage(arbitration_id=self.rxid, dlc=len(data), data=bytes(data)))
        self.logic.process()
        done = []
        while self.logic.available():
            payload = self.logic.recv()
            if payload is not None:
                done.append(bytes(payload))
        return done
