"""Durations as a technician writes them: ``250ms``, ``0.3s``, ``90s``, ``30min``, ``1h30min``.

Every duration the rig reads is finite and bounded: nothing on a bench takes
longer than :data:`MAX_WAIT` (48 h; the longest lockout in the notes is 24 h),
so ``inf``, ``nan`` and ``1000000h`` are refused before any pin moves instead
of hanging a run.
"""

from __future__ import annotations

import math
import re

MAX_WAIT = 48 * 3600.0      # the longest wait, hold-off or timeout anything may ask for
MAX_HOLD = 60.0             # the longest a key may be held down by hand (rig press)
MIN_HOLD = 0.02             # shorter than this no unit sees a press
MAX_TIMES = 100             # presses of one key in one step

_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def parse_duration(value, maximum: float = MAX_WAIT) -> float:
    """Seconds from a duration; plain numbers are seconds. At most ``maximum`` (48 h).

    >>> parse_duration("1h30min"), parse_duration("90s"), parse_duration(0.25)
    (5400.0, 90.0, 0.25)
    >>> parse_duration("inf")
    Traceback (most recent call last):
    ...
    ValueError: 'inf' is not a duration (write e.g. 250ms, 2s, 90s, 30min, 1h)
    """
    seconds = _seconds(value)
    if seconds > maximum:
        raise ValueError(f"{_shown(value)} is too long: at most {format_limit(maximum)}")
    return seconds


def _seconds(value) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{_shown(value)} is not a duration")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{_shown(value)} is not a duration (write e.g. 250ms, 2s, 90s, 30min, 1h)")
        if value < 0:
            raise ValueError(f"{_shown(value)} is negative")
        if value > 1e15:  # a huge int would overflow float(); it is too long anyway
            return math.inf
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{_shown(value)} is not a duration")
    text = value.strip().lower().replace(" ", "")
    if _NUMBER.fullmatch(text):  # plain digits only: float() would also take inf, nan, 1e9, 1_0
        return _seconds(float(text))
    pos, total = 0, 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"{_shown(value)} is not a duration (write e.g. 250ms, 2s, 90s, 30min, 1h)")
    return total


def _shown(value) -> str:
    """A value as the technician wrote it, kept short (a pasted megabyte is not echoed back)."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def format_limit(seconds: float) -> str:
    """A bound as one would write it: ``48h``, ``30min``, ``60s``, ``20ms``."""
    for unit, size in (("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return format_duration(seconds)


def format_duration(seconds: float | None) -> str:
    """Short human form: ``45ms``, ``0.25s``, ``3.5s``, ``12s``, ``29:59``, ``1:00:00``.

    >>> [format_duration(x) for x in (7.9511e-05, 0.25, 3.51655, 59.96, 3600)]
    ['0ms', '0.25s', '3.52s', '1:00', '1:00:00']
    """
    if seconds is None:
        return "-"
    if not math.isfinite(seconds):
        return "forever" if seconds > 0 else "-"
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 0.1 and seconds != 0:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 59.95:
        text = f"{seconds:.2f}" if seconds < 10 else f"{seconds:.1f}"
        return text.rstrip("0").rstrip(".") + "s"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
