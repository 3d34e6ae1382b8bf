"""References in a procedure's values, and the profile facts its conditions ask about.

A value may refer to the profile, the parameters and the unit:
``${profile.lockout.wait}``, ``${params.margin}``, ``${unit.lockout_left}``. A
whole-string reference keeps its type; one inside text becomes text. A
reference that names nothing raises :class:`Unresolved` with what is known.

>>> resolve("${params.hold}", {"params": {"hold": "2s"}})
'2s'
>>> resolve("wait ${params.hold} then", {"params": {"hold": 2}})
'wait 2 then'
>>> resolve("${profile}", {"profile": None})
Traceback (most recent call last):
rig.run.references.Unresolved: ${profile}: a reference names one value: ${profile.SECTION.FIELD}, ${params.NAME} or ${unit.FIELD}
>>> durations(["1m", "30s"])
90.0
"""

from __future__ import annotations

import re

from ..durations import parse_duration

REF = re.compile(r"\$\{([a-z]+)\.([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*)\}")
FORMS = "${profile.SECTION.FIELD}, ${params.NAME} or ${unit.FIELD}"


class Unresolved(Exception):
    """A reference names nothing: the check reports it at the step's file:line."""


def resolve(value, ctx):
    """Replace ``${...}`` references; a whole-string reference keeps its type (a list stays a list)."""
    if isinstance(value, list):
        return [resolve(v, ctx) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, ctx) for k, v in value.items()}
    if not isinstance(value, str) or "${" not in value:
        return value
    for start in (m.start() for m in re.finditer(r"\$\{", value)):
        if not REF.match(value, start):  # ${profile}, ${profile.__class__}, ${params.}: not a reference
            raise Unresolved(f"{_cut(value[start:])}: a reference names one value: {FORMS}")
    m = REF.fullmatch(value.strip())
    if m:
        return _lookup(m.group(1), m.group(2), ctx)
    return REF.sub(lambda m: str(_lookup(m.group(1), m.group(2), ctx)), value)


def _lookup(root, path, ctx):
    if root not in ctx:
        raise Unresolved(f"${{{root}.{path}}}: no {root!r} here (known: {', '.join(ctx)})")
    obj = ctx[root]
    for part in path.split("."):
        if isinstance(obj, dict):
            if part not in obj:
                raise Unresolved(f"${{{root}.{path}}}: no {part!r}")
            obj = obj[part]
        elif hasattr(obj, "sections") and part in getattr(obj, "sections"):
            obj = obj.sections[part]
        elif hasattr(obj, part):
            obj = getattr(obj, part)
        else:
            raise Unresolved(f"${{{root}.{path}}}: no {part!r}")
        if callable(obj):  # a method or a class (${profile.pattern}): not something a step can use
            raise Unresolved(f"${{{root}.{path}}}: {part!r} is not a value")
    return obj


def _cut(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def durations(value) -> float:
    """A duration, or a list of durations added up (``[${profile.arming.battery_off}, 5s]``)."""
    if isinstance(value, list):
        return sum(parse_duration(v) for v in value)
    return parse_duration(value)


def has(profile, what: str) -> bool:
    """Static facts about a profile that steps can be conditional on."""
    serial = profile.sections.get("serial")
    facts = {
        "serial_keys": bool(serial and serial.keys),
        "serial_at_power_on": bool(serial and serial.keys and serial.at_power_on),
        "entry_keys": bool(profile.entry.keys),
        "confirm_keys": bool(profile.confirm.keys),
        "wait_ends_power_off": profile.lockout.ends == "power_off",
    }
    if what not in facts:
        raise Unresolved(f"has: {what!r} is not one of {', '.join(facts)}")
    return facts[what]
