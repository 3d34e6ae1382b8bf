"""One countdown for every view of a served job: served and left now, and when it ends.

A wait reports its progress when it wakes - on a simulated clock a few times an hour, at
every checkpoint - and the views read it at other moments. :func:`live` carries the report
on to the bench clock's present, at the pace that clock runs, so `rig status`, `rig run` at
a terminal, the page's job card, its unit card and its units list say the same thing at the
same moment: served, left, and the wall-clock time it ends ("ends about 14:35").

>>> p = {"label": "lockout wait", "served": 600.0, "total": 1866.0, "t": 1000.0, "running": True}
>>> c = live(p, now=1060.0, wall=0.0, speed=1.0)
>>> c["served"], c["left"], c["ends_at"]
(660.0, 1206.0, 1206.0)
>>> words(dict(c, ends_at=None))
'lockout wait: 11:00 served, 20:06 left'
"""

from __future__ import annotations

import time


def live(progress: dict, now: float, wall: float, speed: float | None) -> dict:
    """``progress`` as reported (served at bench-clock time ``t``; ``running``: counting then),
    carried on to bench-clock ``now``. ``speed``: bench seconds per wall second (1 on the real
    clock, a paced simulation's speed; None for a simulated clock that jumps, which ends at once).
    Adds ``left``, ``ends_at`` (wall time, or None when it cannot be said) and ``at`` (``wall``)."""
    total = float(progress["total"])
    served = float(progress["served"])
    running = bool(progress.get("running", True)) and not progress.get("done")
    if running and "t" in progress:
        served += max(0.0, now - float(progress["t"]))
    served = min(served, total)
    left = max(0.0, total - served)
    ends = wall + left / speed if running and speed else None
    out = dict(progress, served=round(served, 3), left=round(left, 3), ends_at=ends, at=wall, pace=speed)
    if progress.get("lockout") is not None:  # the lockout's own wait, without the margin
        out["lockout_left"] = round(max(0.0, float(progress["lockout"]) - served), 3)
    return out


def onward(c: dict, wall: float) -> dict:
    """A countdown as a view received it (at wall time ``c["at"]``), carried on to ``wall`` at the
    bench clock's pace: a terminal's line moves between the server's reports."""
    if not c.get("pace") or not c.get("running", True) or c.get("done"):
        return c
    return live(dict(c, t=0.0), now=(wall - c["at"]) * c["pace"], wall=wall, speed=c["pace"])


def clock(seconds: float) -> str:
    s = int(round(max(0.0, seconds)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def ends_about(ends_at: float | None) -> str:
    """``ends about 14:35`` (local time), or nothing when it cannot be said."""
    return "" if ends_at is None else f"ends about {time.strftime('%H:%M', time.localtime(ends_at))}"


def words(c: dict) -> str:
    """The countdown in one line, as every text view shows it."""
    text = f"{c['label']}: {clock(c['served'])} served, {clock(c['left'])} left"
    if c.get("done"):
        return text + " (done)"
    if not c.get("running", True):
        return text + " (not counting: the rails it needs are not powered)"
    end = ends_about(c.get("ends_at"))
    return f"{text}, {end}" if end else text


DISCARDS = "throws away"  # the words of a stop refused for the served time it would lose


def discards(c: dict | None) -> str | None:
    """How much served time a stop would throw away (a unit whose wait starts over), in words, or None."""
    if not c or c.get("done") or c.get("keeps", True) or c.get("served", 0) <= 0:
        return None
    return clock(c["served"])


def lockout_words(c: dict) -> str:
    """A unit's state while its lockout wait counts, as the ledger's words say it."""
    from ..durations import format_duration

    text = (f"locked out: {format_duration(c['lockout_left'])} of {format_duration(c['lockout'])} powered wait "
            f"left")
    if not c.get("running", True):
        return text + " (not counting now)"
    end = ends_about(c.get("ends_at"))
    return f"{text}, counting" + (f": {end}" if end else "")


def with_countdown(job: dict | None, unit: dict | None, clock) -> tuple[dict | None, dict | None]:
    """The running job with its countdown carried to the present, and ``unit`` (a unit's standing,
    from the ledger: saved a few times an hour) with the live lockout when that job waits it out."""
    p = (job or {}).get("progress")
    if not p:
        return job, unit
    inner = getattr(clock, "inner", clock)
    speed = getattr(inner, "speed", None) if inner.virtual else 1.0
    c = live(p, clock.now(), time.time(), speed)
    job = dict(job, progress=c)
    if unit and c.get("lockout_left") is not None and not c.get("done") and job.get("unit") == unit.get("serial"):
        unit = dict(unit, lockout_left=c["lockout_left"], state=lockout_words(c))
    return job, unit
