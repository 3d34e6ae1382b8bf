"""Keys whose press and release are frames: a family whose buttons travel on the car's bus.

>>> k = parse_key_frames("preset1", {"id": 0x201, "press": "01 31 00", "release": "00 31 00",
...                                   "repeat": "100ms", "hold_byte": 2}, "opel.md", [], "can.keys.preset1")
>>> k.label, k.with_hold(k.release, 7).hex(" ")
('0x201', '00 31 07')
"""

from __future__ import annotations

from dataclasses import dataclass

from ..durations import parse_duration
from ..errors import Problem, shown
from .frames import CONFIDENCE, MIN_PERIOD, id_label, parse_data, parse_id


@dataclass(frozen=True)
class KeyFrames:
    """A button whose press and release are frames (Opel's radio panel on 0x201: ``01 31 00`` down,
    ``00 31 00`` up). ``repeat``: the press frame is sent again this often while the key is held,
    with ``hold_byte`` counting the repeats; the release carries the count there too (the hold time)."""

    name: str
    id: int
    press: bytes
    release: bytes
    extended: bool = False
    repeat: float | None = None
    hold_byte: int | None = None
    confidence: str = "assumed"
    source: str = ""
    line: int = 0

    @property
    def label(self) -> str:
        return id_label(self.id, self.extended)

    def with_hold(self, data: bytes, n: int) -> bytes:
        if self.hold_byte is None:
            return data
        out = bytearray(data)
        out[self.hold_byte] = min(255, n)
        return bytes(out)


KEY_FIELDS = {"id", "press", "release", "repeat", "hold_byte", "confidence", "source", "note"}


def parse_key_frames(name: str, node, file: str, problems: list[Problem], where: str,
                     default_confidence: str = "assumed") -> KeyFrames | None:
    """One CAN key from a profile's ``can.keys`` (``preset1: {id: 0x201, press: "01 31 00", ...}``)."""
    line = getattr(node, "line", 0)
    before = len(problems)
    if not isinstance(node, dict):
        problems.append(Problem(file, line, f"{where}: a CAN key is a mapping (id:, press:, release:)"))
        return None
    line_of = node.line_of if hasattr(node, "line_of") else (lambda k: line)

    def err(key, msg):
        problems.append(Problem(file, line_of(key), f"{where}: {msg}"))

    for k in node:
        if k not in KEY_FIELDS:
            err(k, f"unknown field {k!r} (allowed: {', '.join(sorted(KEY_FIELDS))})")
    ident = parse_id(node.get("id"))
    if ident is None:
        err("id", f"{shown(node.get('id'))} is not a CAN id (write it in hex, e.g. 0x201)")
    press, release = parse_data(node.get("press")), parse_data(node.get("release"))
    if press is None:
        err("press", f"press: {shown(node.get('press'))} is not a payload (e.g. \"01 31 00\")")
    if release is None:
        err("release", f"release: {shown(node.get('release'))} is not a payload (e.g. \"00 31 00\")")
    repeat = None
    if node.get("repeat") is not None:
        try:
            repeat = parse_duration(node["repeat"])
            if not MIN_PERIOD <= repeat <= 1.0:
                err("repeat", "repeat: a held key's frame comes every 5ms-1s")
        except ValueError as exc:
            err("repeat", f"repeat: {exc}")
    hold = node.get("hold_byte")
    if hold is not None and (isinstance(hold, bool) or not isinstance(hold, int) or
                             not 0 <= hold < min(len(press or b"x" * 8), len(release or b"x" * 8))):
        err("hold_byte", f"hold_byte: {shown(hold)} is not a byte of both payloads")
    confidence = node.get("confidence", default_confidence)
    if confidence not in CONFIDENCE:
        err("confidence", f"confidence {shown(confidence)} is not one of {', '.join(CONFIDENCE)}")
    if len(problems) > before:
        return None
    return KeyFrames(name, ident[0], press, release, ident[1], repeat, hold, confidence,
                     str(node.get("source", "")), line)
