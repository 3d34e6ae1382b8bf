"""The display over CAN: a unit's text frames read into the same display lines a serial tap gives.

Ford's 6000CD and Opel's CD30 write their text to the dashboard over the bus; on the
bench the rig plays the dashboard (answering ISO-TP's flow control, the only frame it
sends for this) and every expect, verdict and timeline works unchanged.

>>> decode(bytes.fromhex("3453414645202020"), CanDisplaySpec(0x4C0, skip=1))
'SAFE'
>>> decode(bytes.fromhex("c0002b0301040053004100460045"), CanDisplaySpec(0x6C1, format="opel", field=1))
'SAFE'
"""

from __future__ import annotations

from ..can.transport import IsoTpReceiver
from .canprofile import CanDisplaySpec
from .display import LineTap


def decode(payload: bytes, spec: CanDisplaySpec) -> str | None:
    """The text a display payload carries, or None if it carries none of ours (another field)."""
    if spec.format == "opel":
        return _opel_field(payload, spec.field)
    text = payload[spec.skip:].decode("latin-1")
    return text.replace("\x00", " ").strip()


def _opel_field(payload: bytes, wanted: int | None) -> str | None:
    """Opel's display message: a 2-byte command, a size, a type, then fields of (id, characters,
    UTF-16 text) (JJToB/Car-CAN-Message-DB, Info-Display.md)."""
    i, found = 4, {}
    while i + 2 <= len(payload):
        field, count = payload[i], payload[i + 1]
        raw = payload[i + 2:i + 2 + 2 * count]
        if len(raw) < 2 * count:
            break
        found[field] = raw.decode("utf-16-be", errors="replace")
        i += 2 + 2 * count
    if wanted is None:
        return next(iter(found.values()), None)
    text = found.get(wanted)
    return None if text is None else text.strip()


class CanDisplayTap(LineTap):
    """Display lines from the unit's text frames on the bench's CAN channel."""

    def __init__(self, channel, spec: CanDisplaySpec, clock):
        super().__init__(clock)
        self.spec, self.channel = spec, channel
        self.url = f"CAN 0x{spec.id:03X}"
        self.frames = 0
        self._rx = None
        if spec.flow_control is not None:
            self._rx = IsoTpReceiver(spec.id, spec.flow_control, self._flow_control, spec.extended)
        self._unsubscribe = channel.subscribe(self._frame, spec.id)

    def _flow_control(self, ident: int, data: bytes) -> None:
        self.channel.send(ident, data, self.spec.extended, why="the display's flow control")

    def _frame(self, t: float, ident: int, extended: bool, data: bytes) -> None:
        self.frames += 1
        payloads = self._rx.feed(data) if self._rx is not None else [data]
        for payload in payloads:
            text = decode(payload, self.spec)
            if text is not None:
                self._add(text, t)

    def hint(self) -> str:
        if self.frames:
            return ""
        return f"; no display frame came on {self.url} ({self.channel.describe_wake()})"

    def close(self) -> None:
        self._unsubscribe()
