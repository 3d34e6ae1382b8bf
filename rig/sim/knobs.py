"""The simulated unit's realism knobs: how untidy it is, each one named and documented.

A real head unit is not instant: it boots, raises its amp-remote late, updates its
display a moment after a key, counts its lockout hour on a drifting RC oscillator,
and sits behind fuses and a supply that can fail. Each of those is a knob, stored
with the unit's memory (``rig sim reset --knob NAME=VALUE``, ``reset_unit(...,
knobs={...})``), so every command on that unit sees the same behaviour. Random
knobs draw from one generator seeded by ``seed``: the same inputs give the same
event log, virtual timestamps included.

``ideal`` sets every knob to the instant behaviour of the first simulator (for
tests about logic, not timing); knobs given explicitly still apply on top of it.

======================  ==========  ==================  ===========================================
knob                    ideal       default             meaning (and why the default)
======================  ==========  ==================  ===========================================
``boot_delay``          0           1.2 s               s from battery+ACC at the connector to the
                                                        first display line (units boot in 1-2 s)
``amp_remote_delay``    0           0.5 s               s after boot until ``unit_on`` rises
                                                        (anti-thump: 0.3-2 s after power in all)
``amp_remote``          normal      normal              ``normal``; ``stuck_low`` (never rises: a
                                                        broken wire); ``low_while_locked`` (rises
                                                        only once the unit is unlocked)
``timer_drift``         0           0.01                the unit's own lockout timer runs slow by
                                                        this fraction (0.02: 1 h takes 1 h 72 s
                                                        of powered time; RC oscillators are +-2 %)
``rail_fault``          none        none                a fault between relay and connector, e.g.
                                                        ``{rail: acc, kind: fuse, after: 120}``
                                                        (see below)
``splash``              ""          HELLO               text shown at boot before the lock text
``splash_for``          0           1.5 s               how long the splash stays
``display_lag``         [0, 0]      [0.15, 0.4]         s from a key event to the display update,
                                                        drawn per update (LCD controllers refresh
                                                        on their own scan); boot lines and the
                                                        lockout timer's own lines are not lagged
``step_on``             press       release             when a digit key steps its digit: on
                                                        ``press`` or on ``release`` (most units)
``debounce``            0           0.05 s              presses shorter than this are ignored
``repeat_after``        none        1 s                 a digit key held this long auto-repeats
                                                        (GM notes: "once a second")
``repeat_every``        none        0.25 s              ... every this long after that
``combo_window``        none        0.25 s              a combo's keys must all go down within
                                                        this time of each other, else no combo
``result_delay``        0.5 s       0.5 s               s from the confirm (or the last digit of a unit
                                                        that checks by itself) to its verdict, before
                                                        ``display_lag``
``self_entry``          none        none                s after its lock text, the unit opens code
                                                        entry by itself; a confirm combo already held
                                                        then counts on from when it went down (one
                                                        long-press timer), so a hold begun to open
                                                        entry can confirm the start digits
``tap_duplicates``      0           0.02                probability a tap line is sent twice
``tap_blanks``          0           0.01                probability of a blank tap line before
                                                        a line (line noise, a tap board reset)
``can_sleep_after``     5 s         5 s                 a unit that needs CAN wake frames falls
                                                        asleep this long after the last one
``can_fault``           none        none                the bus fails on demand, e.g.
                                                        ``{kind: bus_off, after: 600, for: 30}``
                                                        (see below)
``seed``                0           0                   seeds every random knob
======================  ==========  ==================  ===========================================

``can_fault`` kinds, ``after`` seconds after the wake frames first reach the unit, for
``for`` seconds (then the controller recovers, as with ``restart-ms``):
``bus_off`` (the rig's controller is off the bus: nothing it sends arrives),
``error_passive`` (frames still arrive; the rig is told its controller is error-passive),
``no_ack`` (the unit's transceiver stops acknowledging: error frames, nothing arrives).

``rail_fault`` kinds (``rail`` is ``battery``, ``acc`` or ``ignition``):

- ``{"rail": "acc", "kind": "fuse", "after": S}``: the rail's fuse blows S seconds
  after the rail is switched on; the connector has no voltage on it from then on
  (the fuse stays blown until ``rig sim reset``).
- ``{"rail": "acc", "kind": "foldback", "for": S}``: switching the rail on makes a
  current-limited supply fold back: battery *and* ACC drop at the connector for S
  seconds (longer than the profile's arming time arms SAFE).
- ``{"rail": "acc", "kind": "welded"}``: once closed, the relay contact stays closed;
  the connector keeps voltage when the rig switches the rail off.
- ``{"rail": "acc", "kind": "sag", "after": S, "for": D}``: a brown-out. S seconds after
  the rail is switched on (constant power: after the bench opens) the supply sags for D
  seconds: the unit loses power and resets (its amp-remote falls, its display goes dark,
  then its splash), while the rail senses, whose opto needs only ~2 V, read on
  throughout. The rig sees only what the unit shows.

>>> k = resolve("vw-safe", {"boot_delay": "2s", "amp_remote": "stuck_low"}, ideal=True)
>>> k["boot_delay"], k["amp_remote"], k["display_lag"]
(2.0, 'stuck_low', [0.0, 0.0])
>>> parse_assignment("rail_fault={rail: acc, kind: fuse, after: 120}")
('rail_fault', {'rail': 'acc', 'kind': 'fuse', 'after': 120.0})
"""

from __future__ import annotations

from ..durations import parse_duration
from ..errors import ConfigError

# A fresh unit is realistic unless asked otherwise (ideal=True, rig sim reset --ideal).
REALISTIC_BY_DEFAULT = True

IDEAL: dict = {
    "boot_delay": 0.0,
    "amp_remote_delay": 0.0,
    "amp_remote": "normal",
    "timer_drift": 0.0,
    "rail_fault": None,
    "splash": "",
    "splash_for": 0.0,
    "display_lag": [0.0, 0.0],
    "step_on": "press",
    "debounce": 0.0,
    "repeat_after": None,
    "repeat_every": None,
    "combo_window": None,
    "result_delay": 0.5,
    "self_entry": None,
    "tap_duplicates": 0.0,
    "tap_blanks": 0.0,
    "can_sleep_after": 5.0,
    "can_fault": None,
    "seed": 0,
}

REALISTIC: dict = {
    "boot_delay": 1.2,
    "amp_remote_delay": 0.5,
    "amp_remote": "normal",
    "timer_drift": 0.01,
    "rail_fault": None,
    "splash": "HELLO",
    "splash_for": 1.5,
    "display_lag": [0.15, 0.4],
    "step_on": "release",
    "debounce": 0.05,
    "repeat_after": 1.0,
    "repeat_every": 0.25,
    "combo_window": 0.25,
    "result_delay": 0.5,
    "self_entry": None,
    "tap_duplicates": 0.02,
    "tap_blanks": 0.01,
    "can_sleep_after": 5.0,
    "can_fault": None,
    "seed": 0,
}

# Per-family defaults where firmware_notes say so (the family is the profile id's prefix).
PER_FAMILY: dict[str, dict] = {
    # gm-theftlock.md: "a held button repeats (once a second for the first two steps...)"
    "gm-theftlock": {"repeat_after": 1.0, "repeat_every": 1.0},
}

AMP_REMOTE = ("normal", "stuck_low", "low_while_locked")
STEP_ON = ("press", "release")
FAULT_KINDS = {"fuse": ("after",), "foldback": ("for",), "welded": (), "sag": ("after", "for")}
CAN_FAULTS = ("bus_off", "error_passive", "no_ack")
RAILS = ("battery", "acc", "ignition")


def defaults_for(profile_id: str, ideal: bool = False) -> dict:
    """The knobs a fresh unit of ``profile_id`` gets when none are given."""
    if ideal or not REALISTIC_BY_DEFAULT:
        return _copy(IDEAL)
    return realistic_for(profile_id)


def realistic_for(profile_id: str) -> dict:
    """The realistic knobs of a unit of ``profile_id`` (per family where its notes say)."""
    knobs = _copy(REALISTIC)
    for family, over in PER_FAMILY.items():
        if profile_id == family or profile_id.startswith(family + "-"):
            knobs.update(_copy(over))
    return knobs


def resolve(profile_id: str, knobs: dict | None = None, ideal: bool = False) -> dict:
    """Defaults for the profile (or ideal), with ``knobs`` checked and applied on top."""
    out = defaults_for(profile_id, ideal)
    for name, value in (knobs or {}).items():
        out[name] = check(name, value)
    return out


def effective(stored: dict | None) -> dict:
    """The knobs of a unit from its memory file; a file from before the knobs is ideal."""
    out = _copy(IDEAL)
    out.update(stored or {})
    return out


def parse_assignment(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` from the command line (VALUE is YAML: ``0.3``, ``2s``, ``[0.1, 0.2]``,
    ``{rail: acc, kind: fuse, after: 120}``)."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ConfigError(f"--knob {text!r}: write NAME=VALUE, e.g. --knob boot_delay=1.5 (knobs: {', '.join(IDEAL)})")
    from ..yamlfile import load_text  # the rig's YAML rules: no aliases, bounded, no stray types

    try:
        value = load_text(raw, f"--knob {name}", remember=False) if raw.strip() else None
    except ConfigError as exc:
        raise ConfigError(f"--knob {name}: {raw[:80]!r} is not a value ({exc.problems[0].message})") from None
    return name, check(name, value)


def check(name: str, value):
    """The knob's value in its stored form, or a ConfigError saying what is wrong."""
    if name not in IDEAL:
        raise ConfigError(f"no knob {name!r} (knobs: {', '.join(IDEAL)})")
    try:
        return _CHECKS[name](value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"knob {name}: {exc}") from None


def _seconds(value) -> float:
    return parse_duration(value)


def _optional_seconds(value):
    return None if value is None or value == "none" else _seconds(value)


def _fraction(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{value!r} is not a fraction from 0 to 1")
    return float(value)


def _drift(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -0.5 < value < 0.5:
        raise ValueError(f"{value!r} is not a drift fraction (0.02 = 2 % slow, -0.02 = 2 % fast)")
    return float(value)


def _choice(options):
    def check_choice(value):
        if value not in options:
            raise ValueError(f"{value!r} is not one of {', '.join(options)}")
        return value
    return check_choice


def _range(value) -> list:
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        value = [value, value]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{value!r} is not [min, max] seconds")
    lo, hi = (_seconds(v) for v in value)
    if lo > hi:
        raise ValueError(f"{value!r}: min is above max")
    return [lo, hi]


def _text(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(f"{value!r} is not display text")
    return str(value)


def _seed(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number")
    return value


def _fault(value):
    if value is None or value == "none":
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{value!r} is not a fault; write e.g. {{rail: acc, kind: fuse, after: 120}}")
    rail, kind = value.get("rail"), value.get("kind")
    if rail not in RAILS:
        raise ValueError(f"rail {rail!r} is not one of {', '.join(RAILS)}")
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(FAULT_KINDS)}")
    params = FAULT_KINDS[kind]
    extra = set(value) - {"rail", "kind"} - set(params)
    if extra:
        raise ValueError(f"a {kind} fault takes {', '.join(('rail', 'kind') + params)}; "
                         f"not {', '.join(sorted(extra))}")
    out = {"rail": rail, "kind": kind}
    for param in params:
        if param not in value:
            raise ValueError(f"a {kind} fault needs {param!r} (seconds)")
        out[param] = _seconds(value[param])
    return out


def _can_fault(value):
    if value is None or value == "none":
        return None
    if not isinstance(value, dict) or value.get("kind") not in CAN_FAULTS:
        raise ValueError(f"{value!r} is not a CAN fault; write e.g. {{kind: bus_off, after: 600, for: 30}} "
                         f"(kinds: {', '.join(CAN_FAULTS)})")
    extra = set(value) - {"kind", "after", "for"}
    if extra:
        raise ValueError(f"a CAN fault takes kind, after, for; not {', '.join(sorted(extra))}")
    return {"kind": value["kind"], "after": _seconds(value.get("after", 0)), "for": _seconds(value.get("for", 30))}


_CHECKS = {
    "boot_delay": _seconds,
    "amp_remote_delay": _seconds,
    "amp_remote": _choice(AMP_REMOTE),
    "timer_drift": _drift,
    "rail_fault": _fault,
    "splash": _text,
    "splash_for": _seconds,
    "display_lag": _range,
    "step_on": _choice(STEP_ON),
    "debounce": _seconds,
    "repeat_after": _optional_seconds,
    "repeat_every": _optional_seconds,
    "combo_window": _optional_seconds,
    "result_delay": _seconds,
    "self_entry": _optional_seconds,
    "tap_duplicates": _fraction,
    "tap_blanks": _fraction,
    "can_sleep_after": _seconds,
    "can_fault": _can_fault,
    "seed": _seed,
}


def _copy(d: dict) -> dict:
    return {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v) for k, v in d.items()}


def help_table() -> str:
    """One line per knob, for ``rig sim reset --help``: name, meaning, realistic value."""
    return "\n".join(f"  {name:<17} {_DESCRIBE[name]} [realistic: {_short(REALISTIC[name])}]" for name in IDEAL)


def _short(value) -> str:
    return "none" if value is None else ("''" if value == "" else str(value))


_DESCRIBE = {
    "boot_delay": "s from battery+ACC at the connector to the first display line",
    "amp_remote_delay": "s after boot until unit_on rises",
    "amp_remote": "normal | stuck_low (broken wire) | low_while_locked",
    "timer_drift": "lockout timer runs slow by this fraction (0.02: 1 h takes 1 h 72 s)",
    "rail_fault": "{rail: acc, kind: fuse, after: S} | {.., kind: foldback, for: S} | {.., kind: welded} | "
                  "{.., kind: sag, after: S, for: S} (a brown-out the rail senses do not see)",
    "splash": "text shown at boot before the lock text",
    "splash_for": "s the splash stays",
    "display_lag": "[min, max] s from a key event to the display update",
    "step_on": "press | release: when a digit key steps its digit",
    "debounce": "presses shorter than this (s) are ignored",
    "repeat_after": "a digit key held this long (s) auto-repeats (none: never)",
    "repeat_every": "... every this long (s)",
    "combo_window": "a combo's keys must go down within this (s) of each other (none: any)",
    "result_delay": "s from the confirm to the verdict (before display_lag)",
    "self_entry": "s after its lock text, entry opens by itself; a held confirm combo counts on (none: never)",
    "tap_duplicates": "probability a tap line is sent twice",
    "tap_blanks": "probability of a blank tap line before a line",
    "can_sleep_after": "s a unit that needs CAN wake frames stays awake after the last one",
    "can_fault": "{kind: bus_off|error_passive|no_ack, after: S, for: S}: the CAN bus fails",
    "seed": "seeds the random knobs (display_lag, tap_*)",
}
