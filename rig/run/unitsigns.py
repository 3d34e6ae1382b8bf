"""What the unit itself says about its power: its own displays, its splash, its amp-remote.

A unit that browns out (a weak supply sagging for a moment) resets: its amp-remote falls
and rises, its display goes dark and shows its splash (a maker's logo, ``HELLO``) before
its own text again. The rig may never see a rail drop - a sag to 8 V still reads "on" at a
rail sense - but the unit has lost what a power cut loses, and what the unit shows
outranks what the rig counted.

>>> from rig.unit.profiles import load_profiles
>>> p = load_profiles()["ford"]
>>> own_display(p, "WAIT 18:47"), splash(p, "BLAUPUNKT"), splash(p, ""), splash(p, "CODE - - - -")
(True, True, False, False)
"""

from __future__ import annotations

from ..unit.display import normalise

# Every display a profile names except the serial number: shown only when asked for, and its
# pattern (letters and digits) would take any maker's logo for a serial.
OWN = ("locked", "entry", "wrong", "lockout", "ready", "unlocked", "permanent")


def own_display(profile, text: str | None) -> bool:
    """Is ``text`` one of the unit's own displays (as its profile writes them)?"""
    text = normalise(text or "")
    return bool(text) and any(profile.pattern(name).search(text) for name in OWN
                              if name in profile.display or name == "ready")


def splash(profile, text: str | None) -> bool:
    """A line that is none of the unit's own displays and not blank: what a unit shows while it
    boots (a blank line is no sign: a tap board sends one now and then)."""
    return bool(normalise(text or "")) and not own_display(profile, text)


def shows(profile, name: str, text: str | None, against: str | None = None) -> bool:
    """``text`` shows display ``name`` and, with ``against``, could not be that display too
    (SAFE proves no lockout on a unit whose lock and lockout both show SAFE)."""
    text = normalise(text or "")
    if not text or not profile.pattern(name).search(text):
        return False
    return against is None or not profile.pattern(against).search(text)
