"""Durations as a technician writes them: ``250ms``, ``0.3s``, ``90s``, ``30min``, ``1h30min``."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h)")


def parse_duration(value) -> float:
    """Seconds from a duration; plain numbers are seconds.

    >>> parse_duration("1h30min"), parse_duration("90s"), parse_duration(0.25)
    (5400.0, 90.0, 0.25)
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"{value!r} is negative")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration")
    text = value.strip().lower().replace(" ", "")
    try:
        return parse_duration(float(text))
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"{value!r} is not a duration (write e.g. 250ms, 2s, 90s, 30min, 1h)")
    return total


def format_duration(seconds: float) -> str:
    """Short human form: ``0.25s``, ``2s``, ``29:59``, ``1:00:00``."""
    if seconds < 60:
        return f"{seconds:g}s" if seconds != int(seconds) else f"{int(seconds)}s"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
