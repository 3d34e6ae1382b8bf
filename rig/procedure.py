"""The procedure language: YAML a technician can read and write.

A procedure has a name, a description, what it needs (profile, unit, code),
parameters with defaults, and steps. Each step is a mapping with one kind
(``power``, ``press``, ``wait``, ``expect``, ``wait_until``, ``enter_code``,
``prompt``, ``record``, ``call``, ``sheet``, ``end``) and optionally ``name``
and ``if``. Values may refer to the profile, the parameters and the unit:
``${profile.lockout.wait}``, ``${params.margin}``, ``${unit.lockout_left}``.

Loading checks the structure; :func:`check` then checks a procedure (and
everything it calls) against the pin map and the profile - keys, rails,
durations, display names, references - and reports every problem with
file:line before any pin moves.

>>> p = load_procedure("enter-code")
>>> sorted(p.needs), [s.kind for s in p.steps]
(['code', 'profile', 'unit'], ['power', 'expect', 'end', 'enter_code'])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .durations import parse_duration
from .errors import ConfigError, Problem
from .profiles import DISPLAYS
from .yamlfile import LineDict, load_file

KINDS = {
    "power": {"rails", "to"},  # or RAIL: on|off pairs
    "press": {"keys", "hold", "times", "gap", "at_power_on"},
    "wait": {"for"},
    "expect": {"display", "sense", "within", "not_matching"},
    "wait_until": {"until", "max", "rails", "label", "on_max", "lockout"},
    "enter_code": {"verify"},
    "prompt": {"ask", "kind", "record", "expect"},
    "record": {"name", "value", "from", "pattern", "within"},
    "call": {"procedure", "with"},
    "sheet": {"title"},
    "end": {"outcome", "message"},
}
SHORTHAND = {"press": "keys", "wait": "for", "call": "procedure", "end": "outcome", "prompt": "ask"}
COMMON = {"name", "if"}
TOP = {"name", "description", "needs", "params", "steps"}
NEEDS = {"profile", "unit", "code"}
REF = re.compile(r"\$\{([a-z_]+)\.([a-z_.]+)\}")
CONDITIONS = {"display", "sense", "ledger", "has", "tap", "not", "any", "all"}
LEDGER_STATES = {"locked_out", "unlocked", "permanent", "attempts_left"}


@dataclass
class Step:
    kind: str
    args: dict
    line: int
    file: str
    name: str = ""
    cond: dict | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def label(self) -> str:
        return self.name or self.kind.replace("_", " ")


@dataclass
class Procedure:
    name: str
    description: str
    needs: set
    params: dict          # name -> default
    steps: list
    source: str
    line_of_param: dict = field(default_factory=dict)


def builtin_dir() -> Path:
    return Path(__file__).resolve().parent / "procedures"


def builtin_names() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.yaml"))


def find_procedure(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.exists():
            raise ConfigError([Problem(str(p), None, "no such procedure file")])
        return p
    candidate = builtin_dir() / f"{name_or_path}.yaml"
    if candidate.exists():
        return candidate
    raise ConfigError(f"no procedure {name_or_path!r}: built-in ones are {', '.join(builtin_names())}, "
                      f"or give a path to a YAML file")


def load_procedure(name_or_path: str) -> Procedure:
    """Load and structurally check one procedure file (not the ones it calls)."""
    path = find_procedure(name_or_path)
    data = load_file(path)
    src = str(path)
    problems: list[Problem] = []
    err = lambda line, msg: problems.append(Problem(src, line, msg))
    if not isinstance(data, dict):
        raise ConfigError([Problem(src, 1, "a procedure is a mapping with name:, steps:")])
    for k in data:
        if k not in TOP:
            err(data.line_of(k), f"unknown field {k!r} (allowed: {', '.join(sorted(TOP))})")
    needs = data.get("needs") or []
    if not isinstance(needs, list) or set(needs) - NEEDS:
        err(data.line_of("needs"), f"needs: a list of {', '.join(sorted(NEEDS))}")
        needs = []
    params, param_lines = {}, {}
    for name, spec in (data.get("params") or {}).items():
        default = spec.get("default") if isinstance(spec, dict) else spec
        params[name] = default
        param_lines[name] = data["params"].line_of(name)
    steps = []
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        err(data.line_of("steps") if "steps" in data else 1, "steps: a list of steps")
        raw_steps = []
    for i, node in enumerate(raw_steps):
        step = _parse_step(node, raw_steps.line_of(i), src, err)
        if step:
            steps.append(step)
    if problems:
        raise ConfigError(problems)
    return Procedure(str(data.get("name", path.stem)), str(data.get("description", "")).strip(), set(needs),
                     params, steps, src, param_lines)


def _parse_step(node, line, src, err) -> Step | None:
    if not isinstance(node, dict):
        err(line, f"a step is a mapping with one kind ({', '.join(KINDS)})")
        return None
    kinds = [k for k in node if k not in COMMON]
    if len(kinds) != 1 or kinds[0] not in KINDS:
        unknown = [k for k in kinds if k not in KINDS]
        what = f"unknown step kind {unknown[0]!r}" if unknown else "a step has exactly one kind"
        err(node.line_of(unknown[0]) if unknown else line, f"{what} (kinds: {', '.join(KINDS)})")
        return None
    kind = kinds[0]
    args = node[kind]
    kline = node.line_of(kind)
    if not isinstance(args, dict):
        if kind in SHORTHAND and args is not None:
            args = LineDict({SHORTHAND[kind]: args})
            args.line, args.key_lines = kline, {SHORTHAND[kind]: kline}
        elif args is None and kind in ("enter_code", "sheet"):
            args = LineDict()
            args.line, args.key_lines = kline, {}
        else:
            err(kline, f"{kind}: expected a mapping of options")
            return None
    if kind == "power":
        if "rails" not in args:
            for rail, state in args.items():
                if _onoff(state) is None:
                    err(args.line_of(rail), f"power: {rail}: {state!r} is not on or off")
    else:
        for k in args:
            if k not in KINDS[kind]:
                err(args.line_of(k), f"{kind}: unknown field {k!r} (allowed: {', '.join(sorted(KINDS[kind]))})")
    cond = node.get("if")
    if cond is not None:
        _check_condition(cond, node.line_of("if"), err)
    return Step(kind, args, kline, src, str(node.get("name", "")), cond)


def _check_condition(cond, line, err) -> None:
    if not isinstance(cond, dict) or len(cond) != 1 or next(iter(cond)) not in CONDITIONS:
        err(line, f"if: one of {', '.join(sorted(CONDITIONS))}, e.g. {{display: lockout}}")
        return
    (k, v), = cond.items()
    if k in ("not",):
        _check_condition(v, line, err)
    elif k in ("any", "all"):
        for c in v if isinstance(v, list) else [v]:
            _check_condition(c, line, err)
    elif k == "ledger" and v not in LEDGER_STATES:
        err(line, f"if: ledger: one of {', '.join(sorted(LEDGER_STATES))}")


def _onoff(v):
    if isinstance(v, bool):
        return v
    return {"on": True, "off": False}.get(str(v).lower())


# -- references --------------------------------------------------------------
class Unresolved(Exception):
    pass


def resolve(value, ctx):
    """Replace ``${...}`` references; a whole-string reference keeps its type (a list stays a list)."""
    if isinstance(value, list):
        return [resolve(v, ctx) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, ctx) for k, v in value.items()}
    if not isinstance(value, str) or "${" not in value:
        return value
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
        if callable(obj):
            obj = obj()
    return obj


def durations(value) -> float:
    """A duration, or a list of durations added up (``[${profile.arming.battery_off}, 5s]``)."""
    if isinstance(value, list):
        return sum(parse_duration(v) for v in value)
    return parse_duration(value)


# -- checking against the bench and the profile ---------------------------------
def check(proc: Procedure, wiring, profile=None, params: dict | None = None, _seen=None) -> list[Problem]:
    """Every problem of ``proc`` and what it calls, against a pin map and a profile."""
    problems: list[Problem] = []
    seen = (_seen or set()) | {proc.source}
    values = dict(proc.params)
    for k, v in (params or {}).items():
        if k not in proc.params:
            problems.append(Problem(proc.source, 1, f"--set {k}: this procedure has no parameter {k!r} "
                                    f"(it has: {', '.join(proc.params) or 'none'})"))
        values[k] = v
    ctx = {"params": values, "unit": _UnitPlaceholder()}
    if profile is not None:
        ctx["profile"] = profile
    elif "profile" in proc.needs:
        problems.append(Problem(proc.source, 1, "this procedure needs a profile (--profile ID)"))
    for step in proc.steps:
        err = lambda msg, step=step: problems.append(Problem(step.file, step.line, f"{step.kind}: {msg}"))
        if profile is not None and static_false(step.cond, profile):
            continue  # e.g. a serial step on a profile that has no serial combo
        try:
            args = resolve(dict(step.args), ctx)
        except Unresolved as exc:
            err(str(exc))
            continue
        _check_step(step, args, wiring, profile, err)
        if step.kind == "call":
            try:
                sub = load_procedure(str(args.get("procedure")))
            except ConfigError as exc:
                problems += [Problem(step.file, step.line, f"call: {p.message}") for p in exc.problems]
                continue
            if sub.source in seen:
                err(f"{sub.name} calls itself (through {proc.name})")
                continue
            problems += check(sub, wiring, profile, args.get("with") or {}, seen)
    return problems


def has(profile, what: str) -> bool:
    """Static facts about a profile that steps can be conditional on."""
    serial = profile.sections.get("serial")
    facts = {
        "serial_keys": bool(serial and serial.keys),
        "serial_at_power_on": bool(serial and serial.keys and serial.at_power_on),
        "entry_keys": bool(profile.entry.keys),
        "confirm_keys": bool(profile.confirm.keys),
    }
    if what not in facts:
        raise Unresolved(f"has: {what!r} is not one of {', '.join(facts)}")
    return facts[what]


def static_false(cond, profile) -> bool:
    """True when a step's condition is decided by the profile alone, and false."""
    if not cond:
        return False
    (k, v), = cond.items()
    try:
        if k == "has":
            return not has(profile, v)
        if k == "all":
            return any(static_false(c, profile) for c in v)
        if k == "not" and next(iter(v)) == "has":
            return has(profile, v["has"])
    except Unresolved:
        return False
    return False


class _UnitPlaceholder:
    """Stands in for run-time unit values while checking (they are known only when running)."""

    serial = "UNIT"
    lockout_left = 1.0
    lockout_wait = 1.0
    attempts_left = 1


def _check_step(step, args, wiring, profile, err) -> None:
    def duration(key, value):
        try:
            durations(value)
        except (ValueError, TypeError):
            err(f"{key}: {value!r} is not a duration (write e.g. 90s, 30min, 1h)")

    def keys(value):
        from .bench import parse_combo
        try:
            names = parse_combo(value)
        except Exception:
            err(f"{value!r} is not a key or combo")
            return
        for k in names:
            if k not in wiring.keys:
                err(f"key {k!r} is not on this bench (the pin map has: {', '.join(wiring.keys)})")

    def rails(value):
        for r in value if isinstance(value, list) else [value]:
            if r not in wiring.rails:
                err(f"rail {r!r} is not on this bench (the pin map has: {', '.join(wiring.rails)})")

    def display(key, value):
        if isinstance(value, str) and value in DISPLAYS and profile is not None and value not in profile.display \
                and value != "ready":
            err(f"{key}: the profile {profile.id} has no {value!r} display")

    k = step.kind
    if k == "power":
        if "rails" in args:
            rails(args["rails"])
            if _onoff(args.get("to")) is None:
                err(f"to: {args.get('to')!r} is not on or off")
        else:
            rails(list(args))
    elif k == "press":
        keys(args.get("keys"))
        for f in ("hold", "gap"):
            if f in args:
                duration(f, args[f])
        if "at_power_on" in args:
            rails(args["at_power_on"])
    elif k == "wait":
        duration("for", args.get("for"))
    elif k in ("expect", "wait_until"):
        for f in ("within", "max"):
            if f in args:
                duration(f, args[f])
        if k == "expect" and "within" not in args:
            err("within: how long to wait for it (e.g. within: 5s)")
        if k == "wait_until" and "max" not in args and not args.get("lockout"):
            err("max: the longest it may take (e.g. max: ${profile.lockout.wait})")
        for f in ("display", "not_matching"):
            if f in args:
                display(f, args[f])
        if "sense" in args:
            for s in args["sense"]:
                if s not in wiring.senses:
                    err(f"sense {s!r} is not on this bench (the pin map has: {', '.join(wiring.senses) or 'none'})")
        if "rails" in args:
            rails(args["rails"])
    elif k == "enter_code":
        if profile is None:
            err("needs a profile (--profile ID)")
        else:
            missing = sorted(profile.keys_needed - set(wiring.keys))
            if missing:
                err(f"the profile {profile.id} needs key(s) {', '.join(missing)} which the pin map "
                    f"{wiring.source} lacks; wire them and add them under keys:")
    elif k == "prompt":
        if args.get("kind", "yesno") not in ("yesno", "text"):
            err(f"kind: {args.get('kind')!r} is not yesno or text")
    elif k == "record":
        if "name" not in args:
            err("name: what to record (serial, model, vin, ...)")
    elif k == "end":
        if args.get("outcome") not in ("passed", "failed"):
            err("outcome: passed or failed")
