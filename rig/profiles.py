"""Head-unit profiles: the YAML front matter of ``firmware_notes/*.md``.

Each value may carry its confidence - ``{value: 2, confidence: sourced,
source: "[5]"}`` - or be written plainly and take the profile's default
``confidence:``. A profile may ``extends:`` another and override only what
differs. Every problem is reported with file:line, all at once.

>>> from rig.profiles import load_profiles
>>> p = load_profiles()["vw-safe"]
>>> p.digits.scheme, p.entry.keys, p.attempts.before_lockout
('increment', ['mode', 'scan'], 2)
>>> p.confidence_of("attempts.before_lockout")
('sourced', '[5]')
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .durations import parse_duration
from .errors import ConfigError, Problem
from .templates import KNOWN, placeholders, render, to_regex
from .stepcheck import shown
from .yamlfile import LineDict, load_text, not_utf8

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
OPTIONAL_FIELDS = {("digits", "start"), ("confirm", "until"), ("attempts", "permanent_after"),
                   ("confirm", "ready_means_wrong"),
                   ("lockout", "margin"), ("lockout", "boot_within"), ("lockout", "off_settle"), ("lockout", "tolerance"),
                   ("entry", "opens_after"), ("attempts", "counter_shown"),
                   ("serial", "keys"), ("serial", "at_power_on"), ("serial", "hold"), ("serial", "label")}
TOP = {"id", "name", "models", "years", "confidence", "extends", "display", "display_pattern",
       "verified_combos"} | set(SCHEMA)
MAX_COUNT = 1000   # attempts: no unit allows more; a bigger number is a typo
MAX_DIGITS = 12    # the longest code of any family is 5 digits; 12 leaves room, 10**9 would hang entry
ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class Section:
    """A profile section (entry, digits, ...) with attribute access to its values."""

    def __init__(self, values: dict):
        self.__dict__.update(values)

    def __repr__(self):
        return f"Section({self.__dict__})"


@dataclass
class Profile:
    """One head-unit family (or model-year variant), as the rig and the simulator read it."""

    id: str
    name: str
    family: str
    title: str
    source: str
    line: int
    models: str = ""
    years: str = ""
    display: dict = field(default_factory=dict)      # name -> [templates]
    display_pattern: str | None = None               # regex pulling the display out of a debug UART line
    sections: dict = field(default_factory=dict)     # name -> Section
    confidence: dict = field(default_factory=dict)   # "digits.count" -> (level, source)
    verified_combos: list = field(default_factory=list)  # combos seen to work though their keys share a line

    def __getattr__(self, name):
        sections = self.__dict__.get("sections", {})
        if name in sections:
            return sections[name]
        raise AttributeError(name)

    def pattern(self, display: str) -> re.Pattern:
        """The regex for a display name (``ready`` falls back to ``locked``)."""
        return to_regex(self.templates(display), self.digits.count)

    def templates(self, display: str) -> list[str]:
        if display == "ready" and "ready" not in self.display:
            display = "locked"
        return self.display[display]

    def text(self, display: str, **fields) -> str:
        """What the unit shows for a display name (the first alternative, rendered)."""
        return render(self.templates(display)[0], **fields)

    def lockout_wait(self, lockout_number: int) -> float:
        """The wait for the Nth lockout (1-based), following ``lockout.growth``."""
        growth, base = self.lockout.growth, self.lockout.wait
        if growth == "fixed":
            return base
        if growth == "double":
            return base * 2 ** (lockout_number - 1)
        return growth[min(lockout_number, len(growth)) - 1]

    def lockout_margin(self, wait: float) -> float:
        """What the rig serves beyond a wait: the unit's timer starts after its boot and drifts.

        >>> load_profiles()["vw-safe"].lockout_margin(3600)
        102.0
        """
        fraction, extra = self.lockout.margin
        return round(wait * fraction + extra, 3)

    def confidence_of(self, path: str) -> tuple[str, str]:
        return self.confidence.get(path, ("assumed", ""))

    @property
    def keys_needed(self) -> set[str]:
        keys = set(self.entry.keys) | set(self.confirm.keys)
        keys |= set(self.digits.keys.values() if isinstance(self.digits.keys, dict) else self.digits.keys)
        if "serial" in self.sections and self.serial.keys:
            keys |= set(self.serial.keys)
        return keys


def note_sources(path) -> dict[str, str]:
    """What each bracket number of a note refers to, from its ``## Sources`` list (``- [5] ...``).

    >>> note_sources(notes_dirs()[-1] / "vw-safe.md")["5"]
    'myvehicle.help VW Eos TSB 91 07 13'
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    _, _, tail = text.partition("\n## Sources")
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^- \[(\d+)\]\s*(.+)$", tail, re.M)}


def notes_dirs() -> list[Path]:
    """Where profiles are looked for: $RIG_PROFILES (colon-separated), then the packaged notes."""
    dirs = [Path(p) for p in os.environ.get("RIG_PROFILES", "").split(os.pathsep) if p]
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "firmware_notes", here / "data" / "firmware_notes"):
        if candidate.is_dir():
            dirs.append(candidate)
            break
    return dirs


def front_matter(text: str, filename: str) -> tuple[str, int]:
    """The YAML between the first two ``---`` lines, and the line it starts on."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise ConfigError([Problem(filename, 1, "a firmware note starts with '---' and its YAML front matter")])
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return "".join(lines[1:i]), 2
    raise ConfigError([Problem(filename, 1, "the front matter has no closing '---'")])


_CACHE: dict[tuple, dict[str, Profile]] = {}  # what the notes said -> their profiles, per process


def load_profiles(paths=None) -> dict[str, Profile]:
    """Every profile in the given files/dirs (default: :func:`notes_dirs`), by id.

    Parsed once per process: a later call on the same, unchanged files returns
    the same Profile objects (shared: read them, never change them).
    """
    files: list[Path] = []
    for p in (paths or notes_dirs()):
        p = Path(p)
        files += sorted(f for f in p.glob("*.md") if f.name.lower() != "readme.md") if p.is_dir() else [p]
    key = tuple((str(f), _fingerprint(f)) for f in files)
    if key not in _CACHE:
        profiles = _load(files)  # a ConfigError is not kept: the next call reports it afresh
        if len(_CACHE) >= 8:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = profiles
    return dict(_CACHE[key])


def _fingerprint(path: Path) -> bytes | None:
    # the contents, not the mtime: a note rewritten within the same clock tick still counts as changed
    try:
        return hashlib.blake2b(path.read_bytes(), digest_size=16).digest()
    except OSError:
        return None


def _load(files: list[Path]) -> dict[str, Profile]:
    problems: list[Problem] = []
    raw: dict[str, tuple[LineDict, str, str, str]] = {}
    for f in files:
        try:
            text, first = front_matter(f.read_text(encoding="utf-8"), str(f))
            data = load_text(text, str(f), first_line=first)
        except ConfigError as exc:
            problems += exc.problems
            continue
        except UnicodeDecodeError as exc:  # a note saved as Latin-1 in $RIG_PROFILES
            problems.append(not_utf8(f, exc))
            continue
        except OSError as exc:
            problems.append(Problem(str(f), None, f"cannot read: {exc.strerror}"))
            continue
        if not isinstance(data, dict) or not isinstance(data.get("profiles"), list):
            problems.append(Problem(str(f), 2, "front matter needs family:, title: and a profiles: list"))
            continue
        for k in data:
            if k not in ("family", "title", "profiles"):
                problems.append(Problem(str(f), data.line_of(k), f"unknown field {k!r} (allowed: family, title, profiles)"))
        for i, node in enumerate(data["profiles"]):
            line = data["profiles"].line_of(i)
            if not isinstance(node, dict) or not isinstance(node.get("id"), str) or not ID.match(node["id"]):
                problems.append(Problem(str(f), line, "each profile needs an id: lowercase letters, digits, dashes"))
                continue
            if node["id"] in raw:
                problems.append(Problem(str(f), line, f"profile id {node['id']!r} is already used in {raw[node['id']][1]}"))
                continue
            raw[node["id"]] = (node, str(f), str(data.get("family", f.stem)), str(data.get("title", "")))
    profiles = {}
    for pid, (node, src, family, title) in raw.items():
        merged = _resolve(pid, raw, src, problems, set())
        if merged is not None:
            prof = _build(merged, src, family, title, problems)
            if prof is not None:
                profiles[pid] = prof
    if any(p.severity == "error" for p in problems):
        raise ConfigError(list(dict.fromkeys(problems)))  # a base's problem shows once, not once per heir
    return profiles


def _resolve(pid, raw, src, problems, seen) -> LineDict | None:
    node = raw[pid][0]
    base_id = node.get("extends")
    if base_id is None:
        return node
    if base_id not in raw or base_id in seen | {pid}:
        problems.append(Problem(src, node.line_of("extends"), f"extends: no profile {base_id!r} to extend"
                                if base_id not in raw else f"extends: {base_id!r} extends itself in a loop"))
        return None
    base = _resolve(base_id, raw, raw[base_id][1], problems, seen | {pid})
    return None if base is None else _merge(base, node)


def _merge(base, over):
    if isinstance(base, LineDict) and isinstance(over, LineDict) and "value" not in over:
        out = copy.copy(base)
        out.key_lines = dict(base.key_lines)
        for k, v in over.items():
            if k == "extends":
                continue
            out[k] = _merge(base[k], v) if k in base else v
            out.key_lines[k] = over.line_of(k)
        out.line = over.line
        return out
    return over


def _unwrap(node, path, default_conf, confidence, problems, src):
    """Strip a ``{value, confidence, source}`` wrapper and remember its confidence."""
    if isinstance(node, dict) and "value" in node and set(node) <= {"value", "confidence", "source"}:
        level = node.get("confidence", default_conf)
        if level not in CONFIDENCE:
            problems.append(Problem(src, node.line_of("confidence"), f"{path}: confidence {level!r} is not one of "
                                    f"{', '.join(CONFIDENCE)}"))
        confidence[path] = (level, str(node.get("source", "")))
        return node["value"]
    confidence[path] = (default_conf, "")
    return node


def _build(node, src, family, title, problems) -> Profile | None:
    pid = node["id"]
    start = len(problems)
    err = lambda line, msg: problems.append(Problem(src, line, f"{pid}: {msg}"))
    for k in node:
        if k not in TOP:
            err(node.line_of(k), f"unknown field {k!r} (allowed: {', '.join(sorted(TOP))})")
    default_conf = node.get("confidence")
    if default_conf not in CONFIDENCE:
        err(node.line_of("confidence"), f"confidence: say the default confidence ({', '.join(CONFIDENCE)})")
        default_conf = "assumed"
    conf: dict = {}
    prof = Profile(pid, str(node.get("name", pid)), family, title, src, node.line,
                   str(node.get("models", "")), str(node.get("years", "")), confidence=conf)

    if node.get("display_pattern") is not None:
        try:
            rx = re.compile(str(node["display_pattern"]))
            prof.display_pattern = rx.pattern
            if "display" not in rx.groupindex:
                err(node.line_of("display_pattern"), "display_pattern: name the display text's group "
                    "(?P<display>...)")
        except re.error as exc:
            err(node.line_of("display_pattern"), f"display_pattern: not a regular expression ({exc})")

    if node.get("verified_combos") is not None:
        combos = _unwrap(node["verified_combos"], "verified_combos", default_conf, conf, problems, src)
        if not isinstance(combos, list):
            combos = [combos]
        for c in combos:
            keys = c.split("+") if isinstance(c, str) else c
            if not isinstance(keys, list) or len(keys) < 2 or not all(isinstance(k, str) and k.strip() for k in keys):
                err(node.line_of("verified_combos"), f"verified_combos: {c!r} is not a combo (write e.g. mode+scan)")
                continue
            prof.verified_combos.append([k.strip() for k in keys])

    disp = node.get("display")
    if not isinstance(disp, dict):
        err(node.line, "display: missing (locked, entry, wrong, lockout, unlocked)")
        disp = LineDict()
    for k in disp:
        if k not in DISPLAYS:
            err(disp.line_of(k), f"display: unknown display {k!r} (allowed: {', '.join(DISPLAYS)})")
    for name in DISPLAYS_REQUIRED:
        if name not in disp:
            err(disp.line or node.line, f"display: missing {name!r}")
    for name in DISPLAYS:
        if name in disp:
            value = _unwrap(disp[name], f"display.{name}", default_conf, conf, problems, src)
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                err(disp.line_of(name), f"display.{name}: a text or a list of texts")
                continue
            for tpl in value:
                for ph in placeholders(tpl):
                    if ph not in KNOWN:
                        err(disp.line_of(name), f"display.{name}: unknown placeholder {{{ph}}} "
                            f"(known: {', '.join('{' + k + '}' for k in KNOWN)})")
            prof.display[name] = list(value)

    for section, fields in SCHEMA.items():
        sec = node.get(section)
        if sec is None:
            if section not in OPTIONAL_SECTIONS:
                err(node.line, f"missing section {section!r}")
            continue
        if not isinstance(sec, dict):
            err(node.line_of(section), f"{section}: expected a mapping")
            continue
        values = {}
        for k in sec:
            if k not in fields:
                err(sec.line_of(k), f"{section}: unknown field {k!r} (allowed: {', '.join(fields)})")
        for k, kind in fields.items():
            path = f"{section}.{k}"
            if k not in sec:
                if (section, k) not in OPTIONAL_FIELDS:
                    err(sec.line, f"{section}: missing field {k!r}")
                values[k] = None
                continue
            value = _unwrap(sec[k], path, default_conf, conf, problems, src)
            values[k] = _check(value, kind, path, sec.line_of(k), err, prof)
        if section == "lockout":
            for k, default in LOCKOUT_DEFAULTS.items():
                if values.get(k) is None:
                    values[k] = default
        prof.sections[section] = Section(values)
    if len(problems) == start:
        _cross_checks(prof, node, err)
    return prof if len(problems) == start else None


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


def _cross_checks(prof: Profile, node, err) -> None:
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
