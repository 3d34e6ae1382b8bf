"""A profile's schema and its values checked: kinds, ranges, and the checks across sections.

:mod:`rig.unit.profiles` walks a note's front matter and calls these for every
value, collecting each problem with its file:line.
"""

from __future__ import annotations

from ..durations import parse_duration
from ..errors import shown

CONFIDENCE = ("sourced", "single-report", "assumed")
DISPLAYS_REQUIRED = ("locked", "entry", "wrong", "lockout", "unlocked")
DISPLAYS = DISPLAYS_REQUIRED + ("ready", "permanent", "serial")
SCHEMA = {
    "entry": {"keys": "keys", "at_power_on": "bool", "hold": "duration", "max_hold": "duration",
              "opens_after": "duration?"},
    "digits": {"scheme": ("increment", "direct"), "count": "int", "start": "str?", "allowed": "str",
               "keys": "digitkeys", "press": "duration", "gap": "duration"},
    "confirm": {"keys": "keys", "hold": "duration", "until": "display?", "max_hold": "duration",
                "result_within": "duration", "ready_means_wrong": "bool?"},
    "attempts": {"before_lockout": "int", "after_lockout": "int", "persistent": "bool", "permanent_after": "int?",
                 "counter_shown": ("used", "left")},
    "lockout": {"wait": "duration", "growth": "growth", "rails": "keys", "rail_off": ("pause", "restart"),
                "ends": ("display", "power_off"), "margin": "margin?", "boot_within": "duration?",
                "off_settle": "duration?", "tolerance": "fraction?"},
    "arming": {"battery_off": "duration"},
    "serial": {"keys": "keys", "at_power_on": "bool", "hold": "duration", "label": "str"},
}
OPTIONAL_SECTIONS = {"serial"}
# Where a wait's safety margins are not in the notes, these stand: a unit's timer starts after
# its boot and runs on an RC oscillator (+-2 %), so the rig serves 2 % + 30 s more than the wait.
LOCKOUT_DEFAULTS = {"margin": (0.02, 30.0), "boot_within": 10.0, "off_settle": 5.0, "tolerance": 0.02}
# Where only time can end a wait (the unit's lockout looks like its ready display, and it does not
# switch itself off), the margin is all that stands between a slow timer and a lost wait: unless
# the notes give one with a source (a measurement on the bench counts), a timer up to 10 % slow is
# allowed for. The PSA helpline's 1 h 10 min for a 60 min wait ([46] [47]) is a 17 % margin.
UNPROVEN_MARGIN = (0.10, 60.0)
OPTIONAL_FIELDS = {("digits", "start"), ("confirm", "until"), ("attempts", "permanent_after"),
                   ("confirm", "ready_means_wrong"),
                   ("lockout", "margin"), ("lockout", "boot_within"), ("lockout", "off_settle"), ("lockout", "tolerance"),
                   ("entry", "opens_after"), ("attempts", "counter_shown"),
                   ("serial", "keys"), ("serial", "at_power_on"), ("serial", "hold"), ("serial", "label")}
TOP = {"id", "name", "models", "years", "confidence", "extends", "display", "display_pattern", "can",
       "verified_combos", "ladders"} | set(SCHEMA)
MAX_COUNT = 1000   # attempts: no unit allows more; a bigger number is a typo
MAX_DIGITS = 12    # the longest code of any family is 5 digits; 12 leaves room, 10**9 would hang entry


def _check(value, kind, path, line, err, prof):
    def bad(what):
        err(line, f"{path}: {shown(value)} is not {what}")
        return None

    if isinstance(kind, str) and kind.endswith("?") and value is None:
        return None
    if kind == "bool?":
        return value if isinstance(value, bool) else bad("true or false")
    if kind == "fraction?":
        return _fraction(value, path, line, err)
    if kind == "margin?":
        return parse_margin(value, path, line, err)
    if kind in ("duration", "duration?"):
        try:
            return parse_duration(value)
        except ValueError as exc:
            err(line, f"{path}: {exc}")
            return None
    if kind in ("int", "int?"):
        if value is None and kind == "int?":
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return bad("a whole number")
        high = MAX_DIGITS if path == "digits.count" else MAX_COUNT
        if not (1 if path == "digits.count" else 0) <= value <= high:
            return bad(f"in range (at most {high})")
        return value
    if kind == "bool":
        return value if isinstance(value, bool) else bad("true or false")
    if kind in ("str", "str?"):
        if value is None and kind == "str?":
            return None
        return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else bad("text")
    if kind == "keys":
        if isinstance(value, list) and all(isinstance(k, str) for k in value):
            return list(value)
        return bad("a list of key/rail names")
    if kind == "digitkeys":
        if isinstance(value, list) and all(isinstance(k, str) for k in value):
            return list(value)
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            return {str(k): v for k, v in value.items()}
        return bad("a list of keys (increment) or a digit -> key mapping (direct)")
    if kind == "display?":
        if value is None:
            return None
        return value if value in DISPLAYS else bad(f"a display name ({', '.join(DISPLAYS)})")
    if kind == "growth":
        if value in ("fixed", "double"):
            return value
        if isinstance(value, list):
            try:
                return [parse_duration(v) for v in value]
            except ValueError:
                pass
        return bad("fixed, double, or a list of durations")
    if isinstance(kind, tuple):
        return value if value in kind else bad(f"one of {', '.join(kind)}")
    raise AssertionError(kind)


def _fraction(value, path, line, err):
    """``2%`` or ``0.02`` -> 0.02."""
    text = str(value).strip()
    try:
        f = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        f = None
    if isinstance(value, bool) or f is None or not 0 <= f < 0.5:
        err(line, f"{path}: {value!r} is not a fraction (write e.g. 2% or 0.02)")
        return None
    return f


def parse_margin(value, path="margin", line=None, err=None):
    """A wait's safety margin: a fraction of the wait plus a fixed time.

    >>> parse_margin("2% + 30s"), parse_margin("1min"), parse_margin("5%")
    ((0.02, 30.0), (0.0, 60.0), (0.05, 0.0))
    """
    parts = [p.strip() for p in str(value).split("+") if p.strip()]
    fraction, extra = 0.0, 0.0
    try:
        if not parts or isinstance(value, bool):
            raise ValueError
        for part in parts:
            if part.endswith("%"):
                fraction += float(part[:-1]) / 100
            else:
                extra += parse_duration(part)
        if not 0 <= fraction < 0.5 or extra > 6 * 3600:
            raise ValueError
    except ValueError:
        if err is None:
            raise ValueError(f"{value!r} is not a margin (write e.g. 2% + 30s)") from None
        err(line, f"{path}: {value!r} is not a margin (write e.g. 2% + 30s: a share of the wait plus a time)")
        return None
    return fraction, extra


def _cross_checks(prof, node, err) -> None:
    d = prof.digits
    line = node["digits"].line
    if d.scheme == "increment":
        if not isinstance(d.keys, list) or len(d.keys) != d.count:
            err(line, f"digits: an increment scheme needs one key per digit position ({d.count})")
        if d.start is None or len(str(d.start)) != d.count or any(c not in "0123456789-" for c in str(d.start)):
            err(line, f"digits.start: an increment scheme needs a start of {d.count} digits or '-'")
    else:
        if not isinstance(d.keys, dict):
            err(line, "digits.keys: a direct scheme maps each digit to its key, e.g. {'1': preset1}")
        elif set(d.allowed) - set(d.keys):
            err(line, f"digits.keys: no key for digit(s) {', '.join(sorted(set(d.allowed) - set(d.keys)))}")
    if prof.confirm.until is not None and prof.confirm.until not in prof.display and prof.confirm.until != "ready":
        err(node["confirm"].line, f"confirm.until: no display {prof.confirm.until!r} in this profile")
    if not prof.confirm.keys and prof.digits.scheme == "increment":
        err(node["confirm"].line, "confirm.keys: an increment scheme needs a confirm (the unit cannot tell when you are done)")
    if isinstance(prof.lockout.growth, list) and not prof.lockout.growth:
        err(node["lockout"].line, "lockout.growth: the list of waits is empty")
