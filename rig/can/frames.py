"""A periodic CAN frame as a technician writes it: id, payload, period, rolling counter, checksum.

A frame's payload may carry a rolling counter (a few bits that count up with every
send) and a checksum over the rest; a unit that checks them ignores a frame that
repeats one fixed payload. :meth:`Frame.payloads` gives the whole cycle of payloads
(16 for a 4-bit counter), each with its checksum, so the sender can hand the cycle
to the kernel once (socketcan's broadcast manager sends them in turn).

>>> f = parse_frame({"id": 0x3C0, "data": "00 00 03 00", "period": "100ms",
...                  "counter": {"byte": 1, "bits": "0-3"},
...                  "checksum": {"byte": 0, "kind": "crc8h2f", "magic": 0xC3}}, "wake.yaml", [])
>>> f.label, f.period, len(f.payloads())
('0x3C0', 0.1, 16)
>>> f.payloads()[1].hex(" ")
'c1 01 03 00'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..durations import parse_duration
from ..errors import Problem, shown

CONFIDENCE = ("sourced", "single-report", "assumed")
CHECKSUMS = ("xor", "sum", "crc8h2f")
MIN_PERIOD = 0.005   # a 5 ms frame is already a busy bus; faster is a typo
MAX_PERIOD = 10.0    # the slowest keep-alive in the notes is ~2 s (Ford SYNC2)
FIELDS = {"id", "name", "data", "period", "extended", "counter", "checksum", "confidence", "source", "note"}


@dataclass(frozen=True)
class Counter:
    """``width`` bits of byte ``byte``, from bit ``low`` up, counting 0, 1, ... 2**width-1, 0, ..."""

    byte: int
    low: int = 0
    width: int = 4

    def put(self, data: bytearray, n: int) -> None:
        mask = ((1 << self.width) - 1) << self.low
        data[self.byte] = (data[self.byte] & ~mask & 0xFF) | ((n << self.low) & mask)


@dataclass(frozen=True)
class Checksum:
    """Byte ``byte`` holds ``kind`` over the other bytes (``crc8h2f``: AUTOSAR CRC-8 0x2F, as
    VW MQB uses it, with a ``magic`` byte per message, or one per counter value)."""

    byte: int
    kind: str
    magic: tuple[int, ...] = ()

    def put(self, data: bytearray, n: int) -> None:
        data[self.byte] = self.of(data, n)

    def of(self, data, n: int = 0) -> int:
        rest = [b for i, b in enumerate(data) if i != self.byte]
        if self.kind == "xor":
            value = 0
            for b in rest:
                value ^= b
            return value
        if self.kind == "sum":
            return sum(rest) & 0xFF
        magic = self.magic[n % len(self.magic)] if self.magic else None
        return crc8h2f(rest + ([magic] if magic is not None else []))


def crc8h2f(data) -> int:
    """AUTOSAR CRC-8 (polynomial 0x2F, init and final XOR 0xFF), as VW MQB frames carry it.

    >>> crc8h2f(b"\\x00\\x00\\x00\\x00")   # AUTOSAR's own check value for four zero bytes
    18
    """
    crc = 0xFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = ((crc << 1) ^ 0x2F) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc ^ 0xFF


@dataclass(frozen=True)
class Frame:
    """One frame the rig sends every ``period`` seconds, and where its value comes from."""

    id: int
    data: bytes
    period: float
    extended: bool = False
    counter: Counter | None = None
    checksum: Checksum | None = None
    name: str = ""
    confidence: str = "assumed"
    source: str = ""
    file: str = ""
    line: int = 0
    note: str = field(default="", compare=False)

    @property
    def label(self) -> str:
        """``0x575``, or ``0x18FEF100`` for an extended id."""
        return id_label(self.id, self.extended)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.file and self.line else self.file

    def payloads(self) -> list[bytes]:
        """Every payload in the order they are sent: one, or a counter's whole cycle."""
        n = (1 << self.counter.width) if self.counter else 1
        out = []
        for i in range(n):
            data = bytearray(self.data)
            if self.counter:
                self.counter.put(data, i)
            if self.checksum:
                self.checksum.put(data, i)
            out.append(bytes(data))
        return out

    def describe(self) -> str:
        """``0x575 02 00 00 00 every 100ms (single-report)``: a line for status and logs."""
        extra = (" + counter" if self.counter else "") + (f" + {self.checksum.kind}" if self.checksum else "")
        name = f" {self.name}" if self.name else ""
        return (f"{self.label}{name} {self.data.hex(' ').upper()}{extra} every {period_text(self.period)} "
                f"({self.confidence})")


def id_label(ident: int, extended: bool = False) -> str:
    """An id as a technician reads it in candump: ``0x575``, ``0x18FEF100``."""
    return f"0x{ident:0{8 if extended else 3}X}"


# -- reading frames from YAML --------------------------------------------------------

def parse_id(value) -> tuple[int, bool] | None:
    """An id as written (``0x575``, ``1397``, ``"0x18FEF100"``) -> (id, extended), or None.

    >>> parse_id("0x575"), parse_id(0x18FEF100), parse_id("575")
    ((1397, False), (419361024, True), None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if not text.startswith("0x"):
            return None  # "575" is ambiguous: decimal or hex? say it
        try:
            value = int(text, 16)
        except ValueError:
            return None
    if not isinstance(value, int) or not 0 <= value <= 0x1FFFFFFF:
        return None
    return value, value > 0x7FF


def parse_data(value) -> bytes | None:
    """``"02 00 00 00"``, ``"02000000"``, ``"02:00:00:00"`` or ``[2, 0, 0, 0]`` -> bytes (0-8 of them).

    >>> parse_data("02 00 00 00"), parse_data([0x47, 0x20]), parse_data("0")
    (b'\\x02\\x00\\x00\\x00', b'G ', None)
    """
    if isinstance(value, (list, tuple)):
        if all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in value) and len(value) <= 8:
            return bytes(value)
        return None
    if not isinstance(value, str):
        return None
    text = value.replace(":", " ").replace(".", " ").strip()
    parts = text.split()
    if len(parts) == 1 and len(text) % 2 == 0:
        parts = [text[i:i + 2] for i in range(0, len(text), 2)]
    try:
        raw = bytes(int(p, 16) for p in parts if len(p) == 2)
    except ValueError:
        return None
    if len(raw) != len(parts) or len(raw) > 8:
        return None
    return raw


def parse_frame(node, file: str, problems: list[Problem], where: str = "frame", line: int = 0,
                default_confidence: str = "assumed") -> Frame | None:
    """One frame from a YAML mapping; every problem is added to ``problems`` with file:line."""
    line_of = getattr(node, "line_of", lambda k: line)
    line = getattr(node, "line", 0) or line
    before = len(problems)

    def err(key, msg):
        problems.append(Problem(file, line_of(key) if key else line, f"{where}: {msg}"))

    if not isinstance(node, dict):
        problems.append(Problem(file, line, f"{where}: a frame is a mapping (id:, data:, period:)"))
        return None
    for k in node:
        if k not in FIELDS:
            err(k, f"unknown field {k!r} (allowed: {', '.join(sorted(FIELDS))})")
    for k in ("id", "data", "period"):
        if k not in node:
            err(None, f"missing field {k!r}")
    ident = parse_id(node.get("id")) if "id" in node else None
    if "id" in node and ident is None:
        err("id", f"{shown(node['id'])} is not a CAN id (write it in hex, e.g. 0x575; up to 0x1FFFFFFF)")
    data = parse_data(node.get("data")) if "data" in node else None
    if "data" in node and data is None:
        err("data", f"{shown(node['data'])} is not a payload (write 0-8 bytes in hex, e.g. \"02 00 00 00\")")
    period = None
    if "period" in node:
        try:
            period = parse_duration(node["period"])
            if not MIN_PERIOD <= period <= MAX_PERIOD:
                err("period", f"{shown(node['period'])} is outside 5ms-10s (a keep-alive, not a flood)")
        except ValueError as exc:
            err("period", str(exc))
    extended = node.get("extended", ident[1] if ident else False)
    if not isinstance(extended, bool):
        err("extended", f"{shown(extended)} is not true or false")
        extended = False
    if ident and not extended and ident[0] > 0x7FF:
        err("extended", f"{node.get('id')} needs a 29-bit id: leave extended out or set it true")
    confidence = node.get("confidence", default_confidence)
    if confidence not in CONFIDENCE:
        err("confidence", f"confidence {shown(confidence)} is not one of {', '.join(CONFIDENCE)}")
    counter = _counter(node, data, err) if "counter" in node else None
    checksum = _checksum(node, data, err) if "checksum" in node else None
    if counter and checksum and counter.byte == checksum.byte:
        err("checksum", "the checksum and the counter share a byte")
    if len(problems) > before or ident is None or data is None or period is None:
        return None
    return Frame(ident[0], data, period, extended, counter, checksum, str(node.get("name", "")), confidence,
                 str(node.get("source", "")), file, line, str(node.get("note", "")))


def _byte(node, data, err, key) -> int | None:
    value = node.get("byte")
    size = len(data) if data is not None else 8
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < size:
        err(key, f"{key}.byte: {shown(value)} is not a byte of the payload (0-{size - 1})")
        return None
    return value


def _counter(node, data, err) -> Counter | None:
    spec = node["counter"]
    if not isinstance(spec, dict):
        err("counter", "counter: write {byte: 1, bits: 0-3} (the bits that count up with every send)")
        return None
    byte = _byte(spec, data, err, "counter")
    bits = str(spec.get("bits", "0-3"))
    try:
        low, high = (int(b) for b in bits.split("-")) if "-" in bits else (int(bits), int(bits))
        if not 0 <= low <= high <= 7:
            raise ValueError
    except ValueError:
        err("counter", f"counter.bits: {shown(spec.get('bits'))} is not a bit range within a byte (e.g. 0-3)")
        return None
    return None if byte is None else Counter(byte, low, high - low + 1)


def _checksum(node, data, err) -> Checksum | None:
    spec = node["checksum"]
    if not isinstance(spec, dict):
        err("checksum", "checksum: write {byte: 0, kind: xor|sum|crc8h2f}")
        return None
    byte = _byte(spec, data, err, "checksum")
    kind = spec.get("kind")
    if kind not in CHECKSUMS:
        err("checksum", f"checksum.kind: {shown(kind)} is not one of {', '.join(CHECKSUMS)}")
        return None
    magic = spec.get("magic", ())
    magic = [magic] if isinstance(magic, int) and not isinstance(magic, bool) else magic
    if not isinstance(magic, (list, tuple)) or not all(isinstance(m, int) and 0 <= m <= 255 for m in magic) \
            or len(magic) not in (0, 1, 16) or (magic and kind != "crc8h2f"):
        err("checksum", "checksum.magic: one byte, or 16 (one per counter value), and only for crc8h2f")
        return None
    return None if byte is None else Checksum(byte, kind, tuple(magic))


def frame_dict(f: Frame) -> dict:
    """A frame as it is written back to a wake set file (the inverse of :func:`parse_frame`)."""
    out: dict = {"id": f.label, "data": f.data.hex(" ").upper(), "period": period_text(f.period)}
    if f.name:
        out["name"] = f.name
    if f.counter:
        c = f.counter
        out["counter"] = {"byte": c.byte, "bits": f"{c.low}-{c.low + c.width - 1}"}
    if f.checksum:
        s = f.checksum
        out["checksum"] = {"byte": s.byte, "kind": s.kind}
        if s.magic:
            out["checksum"]["magic"] = [f"0x{m:02X}" for m in s.magic] if len(s.magic) > 1 else f"0x{s.magic[0]:02X}"
    out["confidence"] = f.confidence
    if f.source:
        out["source"] = f.source
    if f.note:
        out["note"] = f.note
    return out


def period_text(seconds: float) -> str:
    """``100ms``, ``2s``, ``1500ms``: a period as a technician writes it."""
    ms = round(seconds * 1000)
    return f"{ms}ms" if ms < 1000 or ms % 1000 else f"{ms // 1000}s"


# -- what the rig never sends ----------------------------------------------------------

def diagnostic(ident: int, extended: bool, extra=()) -> str | None:
    """Why an id is a diagnostic one (a request to a unit's diagnostic service), or None.

    The rig never sends diagnostic requests unless a profile says so on purpose:
    a tester's request can open a session, clear adaptation or start a routine.
    Known here: OBD/UDS on 0x7DF and 0x7E0-0x7EF, 29-bit normal-fixed addressing
    (0x18DAxxxx, 0x18DBxxxx), and the ids a profile lists as its unit's diagnostic ones.

    >>> diagnostic(0x7DF, False), diagnostic(0x575, False)
    ('0x7DF is the OBD/UDS functional request id', None)
    """
    if ident in set(extra):
        return f"0x{ident:X} is a diagnostic id of this unit (its profile's can.diagnostic_ids)"
    if not extended and ident == 0x7DF:
        return "0x7DF is the OBD/UDS functional request id"
    if not extended and 0x7E0 <= ident <= 0x7EF:
        return f"0x{ident:X} is an OBD/UDS physical request or response id (0x7E0-0x7EF)"
    if extended and (ident >> 16) in (0x18DA, 0x18DB):
        return f"0x{ident:X} is a 29-bit UDS id (normal fixed addressing, 0x18DA/0x18DB)"
    return None


def parse_bitrate(value) -> int | None:
    """A bus speed as written: ``100000``, ``100k``, ``95.238k``, ``83.3k`` -> bit/s, or None.

    >>> parse_bitrate("95.238k"), parse_bitrate(125000), parse_bitrate("83.333 kbit/s"), parse_bitrate("fast")
    (95238, 125000, 83333, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        rate = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace("bit/s", "").replace("bps", "").replace(" ", "")
        scale = 1000.0 if text.endswith("k") else 1.0
        try:
            rate = float(text.rstrip("k")) * scale
        except ValueError:
            return None
    else:
        return None
    return int(round(rate)) if 10_000 <= rate <= 1_000_000 else None


def same_bitrate(a: int, b: int) -> bool:
    """Two written rates that are one bus speed (``83.3k`` is the 83.333k of CAN-B and CAN-IHS).

    >>> same_bitrate(83300, 83333), same_bitrate(95238, 100000)
    (True, False)
    """
    return abs(a - b) <= 0.005 * max(a, b)
