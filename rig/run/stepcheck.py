"""Every field of every procedure step checked for type and range, before any pin moves.

One validator serves both passes: loading a file checks the values written
literally (no pin map or profile needed); :func:`rig.run.procedure.check` checks
them again once ``${...}`` references are resolved, against the pin map and
the profile. A value that would only fail after pins moved (``times: abc``,
``if: {sense: unit_on}``, a ``prompt`` without ``ask``) fails here instead.
"""

from __future__ import annotations

import re

from ..durations import MAX_HOLD, MAX_TIMES, MAX_WAIT, format_limit, parse_duration
from ..errors import did_you_mean, shown
from ..unit.canunit import can_keys

DISPLAY_NAMES = ("locked", "entry", "wrong", "lockout", "unlocked", "ready", "permanent", "serial")
CONDITIONS = ("display", "sense", "ledger", "has", "tap", "not", "any", "all")
LEDGER_STATES = ("locked_out", "unlocked", "permanent", "attempts_left")
HAS_FACTS = ("serial_keys", "serial_at_power_on", "entry_keys", "confirm_keys", "wait_ends_power_off")
_NAME_LIKE = re.compile(r"^[a-z_]+$")  # a word like this is a display name, not text the unit shows


def is_ref(value) -> bool:
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, list):
        return any(is_ref(v) for v in value)
    if isinstance(value, dict):
        return any(is_ref(v) for v in value.values())
    return False


class StepChecker:
    """Checks one step's (resolved or literal) arguments; ``err(field, message)`` reports a problem.

    ``wiring`` and ``profile`` may be None (loading a file): names are then checked
    only for their shape, not against the bench.
    """

    def __init__(self, err, wiring=None, profile=None, literal_only=False):
        self.err, self.wiring, self.profile, self.literal_only = err, wiring, profile, literal_only

    def _skip(self, value) -> bool:
        return self.literal_only and is_ref(value)

    # -- value kinds -------------------------------------------------------------
    def duration(self, field, value, maximum=MAX_WAIT):
        if self._skip(value):
            return
        items = value if isinstance(value, list) else [value]
        total = 0.0
        for v in items:
            try:
                total += parse_duration(v, maximum)
            except (ValueError, TypeError) as exc:
                text = str(exc)
                if "too long" in text:
                    self.err(field, f"{field}: {text}")
                else:
                    self.err(field, f"{field}: {shown(v)} is not a duration (write e.g. 90s, 30min, 1h)")
                return
        if total > maximum:
            self.err(field, f"{field}: {shown(value)} adds up to more than {format_limit(maximum)}")

    def count(self, field, value, low, high):
        if self._skip(value):
            return
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)
            else:
                self.err(field, f"{field}: {shown(value)} is not a whole number ({low} to {high})")
                return
        if not low <= value <= high:
            self.err(field, f"{field}: {shown(value)} is out of range ({low} to {high})")

    def text(self, field, value, required=False):
        if value is None:
            if required:
                self.err(field, f"{field}: missing")
            return
        if self._skip(value):
            return
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            self.err(field, f"{field}: {shown(value)} is not text")

    def boolean(self, field, value):
        if self._skip(value):
            return
        if not isinstance(value, bool):
            self.err(field, f"{field}: {shown(value)} is not true or false")

    def choice(self, field, value, choices):
        if self._skip(value) or (isinstance(value, str) and value in choices):
            return
        if value is None:
            self.err(field, f"{field}: missing ({' or '.join(choices)})")
            return
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        self.err(field, f"{field}: {shown(value)} is not {' or '.join(choices)}{hint}")

    def onoff(self, field, value):
        if self._skip(value):
            return
        if not (isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("on", "off"))):
            self.err(field, f"{field}: {shown(value)} is not on or off")

    def rails(self, field, value):
        if self._skip(value):
            return
        names = value if isinstance(value, list) else [value]
        if not names and isinstance(value, list):
            return
        for r in names:
            if not isinstance(r, str):
                self.err(field, f"{field}: {shown(r)} is not a rail name")
            elif self.wiring is not None and r not in self.wiring.rails:
                self.err(field, f"rail {r!r} is not on this bench{did_you_mean(r, self.wiring.rails)} "
                         f"(the pin map has: {', '.join(self.wiring.rails)})")

    def keys(self, field, value):
        if self._skip(value):
            return
        if isinstance(value, str):
            names = [p.strip() for p in value.split("+")]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            names = [v.strip() for v in value]
        else:
            self.err(field, f"{shown(value)} is not a key or combo (write e.g. mode or mode+scan)")
            return
        if not names or any(not n for n in names):
            self.err(field, f"{shown(value)} is not a key or combo (write e.g. mode or mode+scan)")
            return
        if self.wiring is not None:
            for k in names:
                if k not in self.wiring.keys and k not in can_keys(self.profile):
                    self.err(field, f"key {k!r} is not on this bench{did_you_mean(k, self.wiring.keys)} "
                             f"(the pin map has: {', '.join(self.wiring.keys)})")
            self.combo(field, names)
            if len(names) > self.wiring.max_keys_down:
                self.err(field, f"{'+'.join(names)}: {len(names)} keys at once, and the pin map allows "
                         f"{self.wiring.max_keys_down} (max_keys_down)")

    def combo(self, field, names):
        """Keys on one ladder line pressed together can read as a third key: refused unless verified
        (on the hardware, a key the profile gives no line counts as possibly shared)."""
        why = self.wiring.combo_problem(names, self.profile, strict=self.wiring.strict_combos)
        if why:
            self.err(field, why)
        self.switches(field, names)

    def switches(self, field, names):
        """A phototransistor conducts one way and does not saturate: on a ladder it shifts the reading."""
        on_ladder = {k for keys in getattr(self.profile, "ladders", {}).values() for k in keys}
        for k in names:  # a phototransistor conducts one way and does not saturate: it shifts a ladder's reading
            spec = self.wiring.keys.get(k)
            if spec is not None and spec.switch == "pc817" and k in on_ladder:
                self.err(field, f"key {k!r} is a PC817 (switch: pc817) and the profile puts it on a key ladder, "
                         f"where it can read as a neighbouring key: fit a PhotoMOS (wiring/README.md section 4)")
                return

    def display(self, field, value):
        """A display spec: a profile display name, /regex/, or the literal text, or a list of them."""
        if self._skip(value):
            return
        items = value if isinstance(value, list) else [value]
        if not items:
            self.err(field, f"{field}: name at least one display (e.g. locked)")
        for s in items:
            if self._skip(s):
                continue
            if not isinstance(s, (str, int)) or isinstance(s, bool):
                self.err(field, f"{field}: {shown(s)} is not a display name or text "
                         f"(e.g. locked, or the text 'SAFE')")
                continue
            s = str(s)
            if len(s) > 1 and s.startswith("/") and s.endswith("/"):
                try:
                    re.compile(s[1:-1])
                except re.error as exc:
                    self.err(field, f"{field}: {s} is not a regular expression ({exc})")
                continue
            if _NAME_LIKE.match(s) and s not in DISPLAY_NAMES:
                self.err(field, f"{field}: no display {s!r}{did_you_mean(s, DISPLAY_NAMES)} "
                         f"(display names: {', '.join(DISPLAY_NAMES)}; write the unit's own text in capitals)")
            elif s in DISPLAY_NAMES and self.profile is not None and s not in self.profile.display \
                    and s != "ready" and not isinstance(value, list):  # in a list: the ones this unit has
                self.err(field, f"{field}: the profile {self.profile.id} has no {s!r} display")

    def senses(self, field, value):
        """``{unit_on: true}``: each sense and the level wanted."""
        if self._skip(value):
            return
        if not isinstance(value, dict) or not value:
            self.err(field, f"{field}: a mapping of sense to true or false, e.g. {{unit_on: true}} "
                     f"(not {shown(value)})")
            return
        for s, want in value.items():
            if not isinstance(want, bool):
                self.err(field, f"{field}: {s}: {shown(want)} is not true or false")
            if self.wiring is not None and s not in self.wiring.senses:
                self.err(field, f"sense {s!r} is not on this bench{did_you_mean(s, self.wiring.senses)} "
                         f"(the pin map has: {', '.join(self.wiring.senses) or 'none'})")

    def condition(self, field, cond, depth=0):
        if self._skip(cond):
            return
        if depth > 20:
            self.err(field, f"{field}: conditions nested too deep")
            return
        if not isinstance(cond, dict) or len(cond) != 1:
            self.err(field, f"{field}: one of {', '.join(CONDITIONS)}, e.g. {{display: lockout}}")
            return
        (k, v), = cond.items()
        if k not in CONDITIONS:
            self.err(field, f"{field}: unknown condition {shown(k)}{did_you_mean(k, CONDITIONS)} "
                     f"(conditions: {', '.join(CONDITIONS)})")
        elif k == "not":
            self.condition(field, v, depth + 1)
        elif k in ("any", "all"):
            if not isinstance(v, list) or not v:
                self.err(field, f"{field}: {k}: a list of conditions")
                return
            for c in v:
                self.condition(field, c, depth + 1)
        elif k == "display":
            self.display(f"{field}: display", v)
        elif k == "sense":
            self.senses(f"{field}: sense", v)
        elif k == "ledger":
            self.choice(f"{field}: ledger", v, LEDGER_STATES)
        elif k == "has":
            self.choice(f"{field}: has", v, HAS_FACTS)
        elif k == "tap":
            self.boolean(f"{field}: tap", v)

    # -- step kinds --------------------------------------------------------------
    def step(self, kind, a) -> None:
        getattr(self, "_" + kind)(a)

    def _require(self, a, field, example):
        if field not in a:
            self.err(None, f"{field}: missing ({example})")
            return False
        return True

    def _power(self, a):
        if "rails" in a or "to" in a:
            if self._require(a, "rails", "e.g. rails: [acc]") and self._require(a, "to", "on or off"):
                self.rails("rails", a["rails"])
                self.onoff("to", a["to"])
            return
        if not a:
            self.err(None, "which rail, on or off (e.g. power: {acc: on})")
        for rail, state in a.items():
            self.rails(rail, rail)
            self.onoff(rail, state)

    def _press(self, a):
        if self._require(a, "keys", "e.g. press: mode+scan"):
            self.keys("keys", a["keys"])
        if "hold" in a:  # a procedure may hold a key for long (a soak test); rig press may not
            self.duration("hold", a["hold"])
        if "gap" in a:
            self.duration("gap", a["gap"], MAX_HOLD)
        if "times" in a:
            self.count("times", a["times"], 1, MAX_TIMES)
        if "at_power_on" in a:
            self.rails("at_power_on", a["at_power_on"])
            if not self._skip(a["at_power_on"]) and not isinstance(a["at_power_on"], str):
                self.err("at_power_on", "at_power_on: one rail (the one switched on while the keys are down)")

    def _wait(self, a):
        if self._require(a, "for", "e.g. wait: 5s"):
            self.duration("for", a["for"])

    def _expect(self, a):
        if "display" not in a and "sense" not in a:
            self.err(None, "what to expect: display: or sense: (e.g. expect: {display: locked, within: 5s})")
        if self._require(a, "within", "how long to wait for it, e.g. within: 5s"):
            self.duration("within", a["within"])
        if "display" in a:
            self.display("display", a["display"])
        if "not_matching" in a:
            self.display("not_matching", a["not_matching"])
        if "sense" in a:
            self.senses("sense", a["sense"])

    def _wait_until(self, a):
        if "max" in a:
            self.duration("max", a["max"])
        elif not a.get("lockout"):
            self.err(None, "max: the longest it may take (e.g. max: ${profile.lockout.wait})")
        if "lockout" in a:
            self.boolean("lockout", a["lockout"])
        if a.get("lockout") is True and ("until" in a or "max" in a):
            self.err(None, "with lockout: true the profile decides when the wait is over (its ready display, "
                     "the unit switching itself off, or the whole wait plus its margin): drop until/max")
        if "rails" in a:
            self.rails("rails", a["rails"])
        if "label" in a:
            self.text("label", a["label"])
        if "on_max" in a:
            self.choice("on_max", a["on_max"], ("passed", "failed"))
        if "until" in a:
            until = a["until"]
            for c in until if isinstance(until, list) else [until]:
                self.condition("until", c)

    def _enter_code(self, a):
        if "verify" in a:
            self.boolean("verify", a["verify"])

    def _prompt(self, a):
        if self._require(a, "ask", "the question to ask, e.g. prompt: Is the unit on the bench?"):
            self.text("ask", a["ask"])
        if "kind" in a:
            self.choice("kind", a["kind"], ("yesno", "text"))
        if "record" in a:
            self.text("record", a["record"])
        if "expect" in a:
            self.choice("expect", a["expect"], ("yes", "no"))

    def _record(self, a):
        if self._require(a, "name", "what to record: serial, model, vin, ..."):
            self.text("name", a["name"])
        if "from" in a:
            self.choice("from", a["from"], ("display",))
        if "pattern" in a:
            self.display("pattern", a["pattern"])
        if "within" in a:
            self.duration("within", a["within"])
        if "value" in a:
            self.text("value", a["value"])

    def _call(self, a):
        if self._require(a, "procedure", "e.g. call: enter-code"):
            self.text("procedure", a["procedure"])
        w = a.get("with")
        if w is not None and not self._skip(w) and not isinstance(w, dict):
            self.err("with", f"with: a mapping of parameter to value (not {shown(w)})")

    def _sheet(self, a):
        if "title" in a:
            self.text("title", a["title"])

    def _end(self, a):
        self.choice("outcome", a.get("outcome"), ("passed", "failed"))
        if "message" in a:
            self.text("message", a["message"])
