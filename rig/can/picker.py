"""From a log recorded on the car to a wake set: the periodic frames, their periods and payloads.

Replaying a whole drive blindly is not the method: events (a door, a button), a
tester's diagnostic traffic and the unit's own frames must not be sent back at it.
The picker keeps what a car sends *periodically* with the key in, works out each
frame's period, and recognises a rolling counter and a checksum (XOR, sum, or VW's
AUTOSAR CRC-8 with its magic byte) so they are computed afresh, not replayed stale.
A byte that varies any other way (a speed, a temperature) takes its most common
value, and the frame says so in its note.

>>> from rig.can.logs import LogFrame
>>> from rig.can.frames import parse_frame
>>> mqb = parse_frame({"id": 0x3C0, "data": "00 00 03 00", "period": "20ms", "counter": {"byte": 1},
...                    "checksum": {"byte": 0, "kind": "crc8h2f", "magic": 0xC3}}, "", []).payloads()
>>> log = [LogFrame(i * 0.1, 0x575, False, b"\\x03\\x00\\x00\\x00") for i in range(50)]
>>> log += [LogFrame(i * 0.02 + 0.01, 0x3C0, False, mqb[i % 16]) for i in range(250)]
>>> log += [LogFrame(1.234, 0x7DF, False, b"\\x02\\x01\\x00"), LogFrame(3.5, 0x470, False, b"\\x01")]
>>> result = pick(log)
>>> [f.describe() for f in result.wake_set.frames]
['0x3C0 00 00 03 00 + counter + crc8h2f every 20ms (sourced)', '0x575 03 00 00 00 every 100ms (sourced)']
>>> [(r.label, r.verdict) for r in result.rows if not r.picked]
[('0x470', 'left out: seen once (an event, not a periodic frame)'), ('0x7DF', 'left out: 0x7DF is the OBD/UDS functional request id')]
"""

from __future__ import annotations

from collections import Counter as Tally
from dataclasses import dataclass, field
from statistics import median

from .frames import Checksum, Counter, Frame, crc8h2f, diagnostic, id_label
from .wakeset import WakeSet

MIN_FRAMES = 5          # fewer repeats than this is not a period one can trust
REGULAR = 0.8           # share of intervals within half a period of the median for a frame to be periodic
NICE_MS = (10, 20, 25, 40, 50, 100, 200, 250, 500, 1000, 2000, 5000)


@dataclass
class Row:
    """One id of the log, and what the picker made of it."""

    label: str
    id: int
    extended: bool
    count: int
    period: float | None = None
    picked: bool = False
    verdict: str = ""
    frame: Frame | None = None


@dataclass
class Picked:
    wake_set: WakeSet
    rows: list[Row] = field(default_factory=list)
    duration: float = 0.0


def pick(frames, *, only=None, exclude=(), unit_ids=(), diagnostic_ids=(), source: str = "",
         name: str = "wake set", bitrate: int | None = None) -> Picked:
    """Pick the wake set from a log's frames (:class:`rig.can.logs.LogFrame`).

    ``only``: the ids to keep (from ``--id`` or a profile's known wake ids); ``exclude``: ids to
    leave out; ``unit_ids``: the unit's own ids (its display, its buttons' echo), never sent back.
    """
    by_id: dict[tuple[int, bool], list] = {}
    for f in frames:
        if f.error or f.remote:
            continue
        by_id.setdefault((f.id, f.extended), []).append(f)
    times = [f.t for f in frames]
    duration = (max(times) - min(times)) if times else 0.0
    only = set(only) if only is not None else None
    rows, chosen = [], []
    for (ident, ext), seen in sorted(by_id.items()):
        row = Row(id_label(ident, ext), ident, ext, len(seen))
        rows.append(row)
        why = diagnostic(ident, ext, diagnostic_ids)
        if why:
            row.verdict = f"left out: {why}"
            continue
        if ident in set(unit_ids):
            row.verdict = "left out: the unit sends it itself"
            continue
        if ident in set(exclude):
            row.verdict = "left out: excluded"
            continue
        if only is not None and ident not in only:
            row.verdict = "left out: not asked for"
            continue
        period, why = _period(seen)
        row.period = period
        if period is None:
            row.verdict = f"left out: {why}"
            continue
        row.frame = _frame(ident, ext, seen, period, source)
        row.picked = True
        row.verdict = "picked" + (f" ({row.frame.note})" if row.frame.note else "")
        chosen.append(row.frame)
    missing = sorted(only - {r.id for r in rows}) if only is not None else []
    for ident in missing:
        rows.append(Row(id_label(ident, ident > 0x7FF), ident, ident > 0x7FF, 0, verdict="left out: not in the log"))
    ws = WakeSet(name, chosen, bitrate, source,
                 recorded={"log": source, "seconds": round(duration, 1), "ids": len(by_id)})
    return Picked(ws, rows, duration)


def _period(seen) -> tuple[float | None, str]:
    if len(seen) == 1:
        return None, "seen once (an event, not a periodic frame)"
    if len(seen) < MIN_FRAMES:
        return None, f"seen {len(seen)} times: too few to call it periodic (record longer)"
    gaps = [b.t - a.t for a, b in zip(seen, seen[1:])]
    typical = median(gaps)
    if typical <= 0:
        return None, "no time between frames (a log without timestamps?)"
    regular = sum(1 for g in gaps if 0.5 * typical <= g <= 1.5 * typical) / len(gaps)
    if regular < REGULAR:
        return None, f"irregular ({regular:.0%} of its gaps near {typical * 1000:.0f} ms): an event, not periodic"
    if not 0.005 <= typical <= 10.0:
        return None, f"its period ({typical * 1000:.0f} ms) is outside 5 ms-10 s"
    return _nice(typical), ""


def _nice(seconds: float) -> float:
    ms = seconds * 1000
    for nice in NICE_MS:
        if abs(ms - nice) <= 0.05 * nice:
            return nice / 1000
    return round(ms) / 1000


def _frame(ident: int, ext: bool, seen, period: float, source: str) -> Frame:
    size = Tally(len(f.data) for f in seen).most_common(1)[0][0]
    payloads = [f.data for f in seen if len(f.data) == size]
    counter = _counter(payloads)
    checksum = _checksum(payloads, counter)
    fixed = {b for b in (counter.byte if counter else None, checksum.byte if checksum else None) if b is not None}
    masked = []
    for p in payloads:
        data = bytearray(p)
        if counter:
            counter.put(data, 0)
        if checksum:
            data[checksum.byte] = 0
        masked.append(bytes(data))
    base, _ = Tally(masked).most_common(1)[0]
    varies = [i for i in range(size) if i not in fixed and len({m[i] for m in masked}) > 1]
    note = ""
    if varies:
        note = f"byte{'s' if len(varies) > 1 else ''} {', '.join(map(str, varies))} varied; the most common payload is kept"
    return Frame(ident, base, period, ext, counter, checksum, "", "sourced", f"recorded: {source}" if source else
                 "recorded", note=note)


def _counter(payloads) -> Counter | None:
    """A nibble or byte that counts up by one from frame to frame (a few dropped frames allowed)."""
    if len(payloads) < MIN_FRAMES:
        return None
    size = len(payloads[0])
    for byte in range(size):
        for low, width in ((0, 4), (4, 4), (0, 8)):
            mask = (1 << width) - 1
            values = [(p[byte] >> low) & mask for p in payloads]
            if len(set(values)) < min(4, mask + 1):
                continue
            steps = [(b - a) & mask for a, b in zip(values, values[1:])]
            if sum(1 for s in steps if s == 1) >= 0.9 * len(steps):
                return Counter(byte, low, width)
    return None


def _checksum(payloads, counter: Counter | None) -> Checksum | None:
    """A byte that is the XOR, the sum or VW's CRC-8 of the others, in every frame."""
    size = len(payloads[0])
    for byte in range(size):
        if counter and byte == counter.byte:
            continue
        if len({p[byte] for p in payloads}) < 2:
            continue  # a constant byte proves nothing
        for kind in ("xor", "sum"):
            c = Checksum(byte, kind)
            if all(c.of(p) == p[byte] for p in payloads):
                return c
        magic = _crc_magic(payloads, byte, counter)
        if magic is not None:
            return Checksum(byte, "crc8h2f", magic)
    return None


def _crc_magic(payloads, byte: int, counter: Counter | None) -> tuple[int, ...] | None:
    """The magic byte(s) under which byte ``byte`` is the AUTOSAR CRC-8 of the rest: one for every
    frame, or one per counter value (VW's per-message tables)."""
    def rest(p):
        return [b for i, b in enumerate(p) if i != byte]

    def fits(group):
        return [m for m in range(256) if all(crc8h2f(rest(p) + [m]) == p[byte] for p in group)]

    everyone = fits(payloads[:64])
    if len(everyone) == 1 and all(crc8h2f(rest(p) + everyone) == p[byte] for p in payloads):
        return (everyone[0],)
    if counter is None or counter.width != 4:
        return None
    per = []
    for n in range(16):
        group = [p for p in payloads if (p[counter.byte] >> counter.low) & 15 == n][:16]
        found = fits(group) if group else []
        if len(found) != 1:
            return None
        per.append(found[0])
    return tuple(per)
