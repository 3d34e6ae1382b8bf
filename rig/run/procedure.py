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

from ..durations import parse_duration
from ..errors import ConfigError, Problem, UsageError, did_you_mean, shown
from .references import Unresolved, durations, has, resolve  # noqa: F401  (runner, waits import them from here)
from .stepcheck import CONDITIONS, LEDGER_STATES, StepChecker, is_ref
from ..records.files import SLUG
from .finding import builtin_dir, builtin_names, confine, find_procedure  # noqa: F401  (the API, as before)
from ..unit.canunit import can_keys
from ..yamlfile import LineDict, load_file

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
        """The step's name, or what it does when it has none (``wait 1s``, ``record lock_display``)."""
        return self.name or _describe(self.kind, self.args)


def _describe(kind: str, a: dict) -> str:
    """A step without a name still says what it does, on the live panel and in the log."""
    words = lambda v, sep: sep.join(map(str, v)) if isinstance(v, list) else str(v)  # noqa: E731
    what = {
        "power": lambda: (f"{words(a.get('rails'), ', ')} {a.get('to')}" if "rails" in a
                          else ", ".join(f"{r} {v}" for r, v in a.items())),
        "press": lambda: words(a.get("keys", ""), "+"),
        "wait": lambda: words(a.get("for", ""), " + "),
        "expect": lambda: " ".join(f"{k} {words(a[k], ' or ')}" for k in ("display", "sense") if k in a),
        "record": lambda: str(a.get("name", "")),
        "call": lambda: str(a.get("procedure", "")),
        "end": lambda: ": " + str(a.get("message") or a.get("outcome", "")),
        "sheet": lambda: str(a.get("title", "")),
    }.get(kind, lambda: "")()
    if kind == "prompt":
        text = f"ask for {a['record']}" if a.get("record") else f"ask: {a.get('ask', '')}"
    else:
        text = f"{kind.replace('_', ' ')}{'' if what.startswith(':') else ' '}{what}".strip()
    return text if len(text) <= 60 else text[:59] + "…"


@dataclass
class Procedure:
    name: str
    description: str
    needs: set
    params: dict          # name -> default
    steps: list
    source: str
    line_of_param: dict = field(default_factory=dict)
    param_help: dict = field(default_factory=dict)  # name -> what it is for (rig procedures show)


def load_procedure(name_or_path: str, beside: str | None = None) -> Procedure:
    """Load and check one procedure file (not the ones it calls): every problem of every step at once."""
    path = find_procedure(name_or_path, beside)
    data = load_file(path)
    src = str(path)
    problems: list[Problem] = []
    err = lambda line, msg: problems.append(Problem(src, line, msg))
    if not isinstance(data, dict):
        raise ConfigError([Problem(src, getattr(data, "line", 1) or 1, "a procedure is a mapping with name:, steps:")])
    for k in data:
        if k not in TOP:
            err(data.line_of(k), f"unknown field {shown(k)}{did_you_mean(k, TOP)} (allowed: {', '.join(sorted(TOP))})")
    for k in ("name", "description"):
        if k in data and not isinstance(data[k], (str, int, float)):
            err(data.line_of(k), f"{k}: {shown(data[k])} is not text")
    proc_name = str(data.get("name", path.stem))
    if not SLUG.fullmatch(proc_name) and isinstance(data.get("name", ""), (str, int, float)):
        said = f"name: {shown(proc_name[:60])}" if "name" in data else f"the file's name {shown(path.stem[:60])}"
        err(data.line_of("name") if "name" in data else 1,
            f"{said} is not a procedure name: up to 48 letters, digits, - and _ (it names the run's files)"
            + ("" if "name" in data else "; add a name: line"))
    needs = data.get("needs") or []
    if not isinstance(needs, list) or not all(isinstance(n, str) and n in NEEDS for n in needs):
        err(data.line_of("needs"), f"needs: a list of {', '.join(sorted(NEEDS))} (not {shown(needs)})")
        needs = []
    params, param_lines, param_help = {}, {}, {}
    raw_params = data.get("params") or {}
    if not isinstance(raw_params, dict):
        err(data.line_of("params"), "params: a mapping of name to default (e.g. margin: {default: 5s})")
        raw_params = {}
    for name, spec in raw_params.items():
        line = raw_params.line_of(name)
        if not isinstance(name, str) or not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            err(line, f"params: {shown(name)} is not a parameter name (lowercase letters, digits, _)")
            continue
        if isinstance(spec, dict):
            for k in spec:
                if k not in ("default", "help"):
                    err(spec.line_of(k), f"params: {name}: unknown field {shown(k)} (allowed: default, help)")
            default, param_help[name] = spec.get("default"), str(spec.get("help", ""))
        else:
            default = spec
        if isinstance(default, (dict, list)) or default is None:
            err(line, f"params: {name}: the default is one value (a duration, a number or a word)")
        params[name] = default
        param_lines[name] = line
    steps = []
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        err(data.line_of("steps") if "steps" in data else 1, "steps: a list of steps")
        raw_steps = []
    for i, node in enumerate(raw_steps):
        step = _parse_step(node, raw_steps.line_of(i), src, problems)
        if step:
            steps.append(step)
    if problems:
        raise ConfigError(problems)
    return Procedure(proc_name, str(data.get("description", "")).strip(), set(needs),
                     params, steps, src, param_lines, param_help)


def _parse_step(node, line, src, problems) -> Step | None:
    err = lambda line, msg: problems.append(Problem(src, line, msg))
    if not isinstance(node, dict):
        err(line, f"a step is a mapping with one kind ({', '.join(KINDS)})")
        return None
    kinds = [k for k in node if k in KINDS]
    others = [k for k in node if k not in KINDS and k not in COMMON]
    if len(kinds) != 1:
        if kinds:
            err(line, f"a step has exactly one kind (this one has {' and '.join(kinds)})")
        elif others:
            err(node.line_of(others[0]), f"unknown step kind {shown(others[0])}{did_you_mean(others[0], KINDS)} "
                f"(kinds: {', '.join(KINDS)})")
        else:
            err(line, f"a step needs a kind ({', '.join(KINDS)})")
        return None
    kind = kinds[0]
    for k in others:
        err(node.line_of(k), f"{kind}: unknown field {shown(k)}{did_you_mean(k, KINDS[kind] | COMMON)} "
            f"(a step has name:, if: and one kind; {kind} takes {', '.join(sorted(KINDS[kind]))})")
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
    if kind != "power":
        for k in args:
            if k not in KINDS[kind]:
                err(args.line_of(k), f"{kind}: unknown field {shown(k)}{did_you_mean(k, KINDS[kind])} "
                    f"(allowed: {', '.join(sorted(KINDS[kind]))})")
    if "name" in node and not isinstance(node["name"], (str, int, float)):
        err(node.line_of("name"), f"name: {shown(node['name'])} is not text")
    cond = node.get("if")
    field_err = lambda f, msg: err(_field_line(args, f, kline), f"{kind}: {msg}")
    checker = StepChecker(field_err, literal_only=True)
    checker.step(kind, {k: v for k, v in args.items() if kind == "power" or k in KINDS[kind]})
    if "if" in node:
        StepChecker(lambda f, msg: err(node.line_of("if"), msg), literal_only=True).condition("if", cond)
    return Step(kind, args, kline, src, str(node.get("name", "")), cond)


def _field_line(args, field, default):
    if isinstance(field, str) and isinstance(args, LineDict) and field in args:
        return args.line_of(field)
    return default


def _onoff(v):
    if isinstance(v, bool):
        return v
    return {"on": True, "off": False}.get(str(v).lower())


# -- checking against the bench and the profile ---------------------------------
def check(proc: Procedure, wiring, profile=None, params: dict | None = None, _seen=None) -> list[Problem]:
    """Every problem of ``proc`` and what it calls, against a pin map and a profile."""
    problems: list[Problem] = []
    seen = (_seen or set()) | {proc.source}
    values = dict(proc.params)
    for k, v in (params or {}).items():
        if k not in proc.params:
            problems.append(Problem(proc.source if _seen else "", None if not _seen else 1,
                                    f"--set {k}: this procedure has no parameter {k!r}{did_you_mean(k, proc.params)} "
                                    f"(it has: {', '.join(proc.params) or 'none'})"))
            continue
        bad = _check_param(proc, k, v, bool(_seen))
        problems += bad
        if not bad:  # a bad value is reported as the user typed it, not again where the file uses it
            values[k] = v
    ctx = {"params": values, "unit": _UnitPlaceholder()}
    if profile is not None:
        ctx["profile"] = profile
    elif "profile" in proc.needs:
        problems.append(Problem("--profile", None, f"{proc.name} needs a profile: --profile ID (rig profiles list)"))
    for step in proc.steps:
        err = lambda msg, step=step: problems.append(Problem(step.file, step.line, f"{step.kind}: {msg}"))
        if profile is not None and static_false(step.cond, profile):
            continue  # e.g. a serial step on a profile that has no serial combo
        try:
            cond = resolve(step.cond, ctx) if step.cond else None
        except Unresolved as exc:
            problems.append(Problem(step.file, step.line, f"if: {exc}"))
            continue
        try:
            args = resolve(dict(step.args), ctx)
        except Unresolved as exc:
            err(str(exc))
            continue
        _check_step(step, args, wiring, profile, err)
        if cond is not None:
            StepChecker(lambda f, msg, step=step: problems.append(Problem(step.file, step.line, msg)),
                        wiring, profile).condition("if", cond)
        if step.kind == "enter_code":
            missing = sorted({"profile", "unit", "code"} - proc.needs)
            if missing:
                err(f"entering a code needs {' and '.join(missing)} in the procedure's needs: "
                    f"(the attempt is counted against the unit), e.g. needs: [profile, unit, code]")
        if step.kind == "call":
            try:
                sub = load_procedure(str(args.get("procedure")), beside=step.file)
            except ConfigError as exc:
                # a problem inside the called file keeps its own file:line; one about finding or
                # reading it (no line) belongs to this call step
                problems += [p if p.file and p.line else
                             Problem(step.file, step.line, f"call: {p.file + ': ' if p.file else ''}{p.message}")
                             for p in exc.problems]
                continue
            if sub.source in seen:
                err(f"{sub.name} calls itself (through {proc.name})")
                continue
            missing = sorted(sub.needs - proc.needs)
            if missing:
                err(f"{sub.name} needs {', '.join(missing)}; add it to this procedure's needs:")
            problems += check(sub, wiring, profile, args.get("with") or {}, seen)
    return problems


def _check_param(proc, name, value, nested) -> list[Problem]:
    """A --set value of the kind its default is: a duration parameter takes a duration."""
    default = proc.params.get(name)
    where = (proc.source, proc.line_of_param.get(name)) if nested else ("", None)
    try:
        parse_duration(default)
    except (ValueError, TypeError):
        return []
    if is_ref(value):
        return []
    try:
        parse_duration(value)
    except (ValueError, TypeError) as exc:
        why = str(exc).split(" (")[0] if "too long" in str(exc) else f"{shown(value)} is not a duration"
        return [Problem(*where, f"--set {name}={value}: {why} (write e.g. {default}, 90s, 30min)")]
    return []


def prompt_records(proc: Procedure, _seen=None) -> list[str]:
    """The names ``--answer NAME=VALUE`` can pre-answer: every prompt's ``record:``, called ones included."""
    seen = (_seen or set()) | {proc.source}
    names = []
    for step in proc.steps:
        if step.kind == "prompt" and isinstance(step.args.get("record"), str):
            names.append(step.args["record"])
        elif step.kind == "call" and isinstance(step.args.get("procedure"), str) and not is_ref(step.args["procedure"]):
            try:
                sub = load_procedure(step.args["procedure"], beside=step.file)
            except ConfigError:
                continue
            if sub.source not in seen:
                names += prompt_records(sub, seen)
    return list(dict.fromkeys(names))


def check_answers(proc: Procedure, answers: dict) -> None:
    """An --answer for a prompt the procedure does not have is a typo, not something to ignore."""
    names = prompt_records(proc)
    for name in answers:
        if name not in names:
            raise UsageError(f"--answer {name}: {proc.name} has no prompt recording {name!r}"
                             f"{did_you_mean(name, names)} (it asks for: {', '.join(names) or 'nothing'})")


def static_false(cond, profile) -> bool:
    """True when a step's condition is decided by the profile alone, and false."""
    if not isinstance(cond, dict) or len(cond) != 1:
        return False  # not a condition (if: ${profile}): the check says so at the step's line
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
    checker = StepChecker(lambda field, msg: err(msg), wiring, profile)
    checker.step(step.kind, args)
    if step.kind == "enter_code":
        if profile is None:
            err("needs a profile (--profile ID)")
        else:
            missing = sorted(profile.keys_needed - set(wiring.keys) - can_keys(profile))
            if missing:
                err(f"the profile {profile.id} needs key(s) {', '.join(missing)} which the pin map "
                    f"{wiring.source} lacks; wire them and add them under keys:")
            checker.switches("digits.keys", sorted(profile.keys_needed & set(wiring.keys)))
            combos = []  # the profile's own combos, each once (entry and confirm are often the same)
            for section in ("entry", "confirm", "serial"):
                sec = profile.sections.get(section)
                if sec is not None and sec.keys and len(sec.keys) > 1 and set(sec.keys) not in combos:
                    combos.append(set(sec.keys))
                    checker.combo(f"{section}.keys", list(sec.keys))
