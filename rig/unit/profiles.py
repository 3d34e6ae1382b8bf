"""Head-unit profiles: the YAML front matter of ``firmware_notes/*.md``.

Each value may carry its confidence - ``{value: 2, confidence: sourced,
source: "[5]"}`` - or be written plainly and take the profile's default
``confidence:``. A profile may ``extends:`` another and override only what
differs. Every problem is reported with file:line, all at once.

>>> from rig.unit.profiles import load_profiles
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

from ..errors import ConfigError, Problem
from .canprofile import parse_can
from .templates import KNOWN, placeholders, render, to_regex
from ..yamlfile import LineDict, load_text, read_text

from .profilecheck import (  # noqa: F401  (the schema lives there; these names are part of this module's API)
    CONFIDENCE, DISPLAYS, DISPLAYS_REQUIRED, LOCKOUT_DEFAULTS, OPTIONAL_FIELDS,
    OPTIONAL_SECTIONS, SCHEMA, TOP, UNPROVEN_MARGIN, _check, _cross_checks, parse_margin,
)

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
    ladders: dict = field(default_factory=dict)          # key line (one ADC input) -> the keys on it, as measured
    can: object = None  # what it needs of the car's network (rig.unit.canprofile.CanProfile), if anything

    def __getattr__(self, name):
        sections = self.__dict__.get("sections", {})
        if name in sections:
            return sections[name]
        raise AttributeError(name)

    def pattern(self, display: str) -> re.Pattern:
        """The regex for a display name (``ready`` falls back to ``locked``, never as proof: :attr:`wait_proof`)."""
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

    @property
    def wait_proof(self) -> str:
        """What can prove a lockout wait over: ``display`` (its own ready display, unlike its lockout
        display), ``power_off`` (it switches itself off after the wait) or ``time`` (nothing but the
        time served). Only a ``ready`` written out counts: ``locked`` shows at every boot, so proves nothing.

        >>> ps = load_profiles(); ps["ford"].wait_proof, ps["vw-safe"].wait_proof, ps["vw-safe-seed"].wait_proof
        ('display', 'time', 'power_off')
        """
        if self.lockout.ends == "power_off":
            return "power_off"
        if "ready" not in self.display:
            return "time"
        d = self.digits.count
        sample = lambda t: " ".join(render(t, digits="-" * d, n=1, time=1740, serial="X1234", stars=d).split())  # noqa: E731
        overlap = any(self.pattern("lockout").search(sample(t)) for t in self.display["ready"]) or \
            any(self.pattern("ready").search(sample(t)) for t in self.display["lockout"])
        return "time" if overlap else "display"

    @property
    def margin_sourced(self) -> bool:
        """Does the margin come from the notes with a source (or a bench's measurement), not a guess?"""
        return self.confidence_of("lockout.margin")[0] != "assumed"

    def lockout_margin(self, wait: float, proof: str | None = None) -> float:
        """What the rig serves beyond a wait: the unit's timer starts after its boot and drifts.

        Where only time proves the end (``proof``, by default :attr:`wait_proof`; a bench that cannot
        see the proof has only time) and the notes give no sourced margin, at least
        ``UNPROVEN_MARGIN`` (10 % + 60 s).

        >>> ps = load_profiles(); ps["ford"].lockout_margin(3600), ps["vw-safe"].lockout_margin(3600)
        (102.0, 420.0)
        """
        fraction, extra = self.lockout.margin
        if (proof or self.wait_proof) == "time" and not self.margin_sourced:
            fraction, extra = max(fraction, UNPROVEN_MARGIN[0]), max(extra, UNPROVEN_MARGIN[1])
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
    here = Path(__file__).resolve().parent.parent  # rig/
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


NOTE_MAX = 1024 * 1024  # bytes: the longest shipped note is ~20 KB of prose and front matter
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
        with open(path, "rb") as fh:
            return hashlib.blake2b(fh.read(NOTE_MAX + 1), digest_size=16).digest()
    except OSError:
        return None


def _load(files: list[Path]) -> dict[str, Profile]:
    problems: list[Problem] = []
    raw: dict[str, tuple[LineDict, str, str, str]] = {}
    for f in files:
        try:  # read_text: a note saved as Latin-1 in $RIG_PROFILES, or not a note at all, says so
            text, first = front_matter(read_text(f, NOTE_MAX), str(f))
            data = load_text(text, str(f), first_line=first)
        except ConfigError as exc:
            problems += exc.problems
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

    if node.get("ladders") is not None:  # which keys share a key line is the unit's business, not the rig's
        ladders = _unwrap(node["ladders"], "ladders", default_conf, conf, problems, src)
        seen: dict[str, str] = {}
        if not isinstance(ladders, dict):
            err(node.line_of("ladders"), "ladders: a mapping of key line -> its keys (e.g. {ladder1: [mode, scan]})")
            ladders = {}
        for line, keys in ladders.items():
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                err(node.line_of("ladders"), f"ladders: {line}: a list of key names")
                continue
            for k in keys:
                if k in seen:
                    err(node.line_of("ladders"), f"ladders: {k} is on both {seen[k]} and {line}")
                seen[k] = str(line)
            prof.ladders[str(line)] = list(keys)

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
    if node.get("can") is not None:
        prof.can = parse_can(node["can"], src, default_conf, conf, problems, pid,
                             lambda value, path: _unwrap(value, path, default_conf, conf, problems, src))
    if len(problems) == start:
        _cross_checks(prof, node, err)
    return prof if len(problems) == start else None
