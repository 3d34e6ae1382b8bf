"""A wake set: the periodic frames a unit needs to hear to wake and stay awake, in a YAML file.

``rig can pick`` writes one from a log recorded on the car; a profile ships the
sourced ones (``firmware_notes/wake/``); a pin map or ``--wake-set`` names the one a
bench uses. Every value says where it came from (``confidence``, ``source``), as in
the profiles.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "rcd310.yaml")
>>> ws = WakeSet("rcd310", [parse_frame({"id": 0x575, "data": "03 00 00 00", "period": "100ms"}, "", [])],
...              bitrate=100000, source="recorded: car.asc")
>>> write_wake_set(path, ws)
>>> back = load_wake_set(path)
>>> back.name, back.bitrate, [f.describe() for f in back.frames]
('rcd310', 100000, ['0x575 03 00 00 00 every 100ms (assumed)'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, Problem, shown
from ..yamlfile import load_file
from .frames import Frame, frame_dict, parse_bitrate, parse_frame, parse_id, period_text

TOP = {"name", "bitrate", "source", "note", "recorded", "frames", "unit_ids", "confidence"}


@dataclass
class WakeSet:
    """The frames to send while the unit is meant to be awake, and where they came from."""

    name: str
    frames: list[Frame]
    bitrate: int | None = None
    source: str = ""
    file: str = ""
    note: str = ""
    unit_ids: list[int] = field(default_factory=list)   # ids the unit itself sends: never sent by the rig
    recorded: dict = field(default_factory=dict)         # from which log, how long, how many ids

    def describe(self) -> str:
        """``rcd310: 0x575 every 100ms`` - one line for status and logs."""
        frames = ", ".join(f"{f.label} every {period_text(f.period)}" for f in self.frames) or "no frames"
        return f"{self.name}: {frames}"


def load_wake_set(path, default_confidence: str = "assumed") -> WakeSet:
    """A wake set file, checked whole; ConfigError with every problem's file:line."""
    path = Path(path)
    data = load_file(path)
    problems: list[Problem] = []
    ws = wake_set_from(data, str(path), problems, default_confidence)
    problems += decimal_ids(path.read_text(encoding="utf-8"), str(path))
    if any(p.severity == "error" for p in problems) or ws is None:
        raise ConfigError(problems or [Problem(str(path), 1, "not a wake set")])
    return ws


def decimal_ids(text: str, file: str, where: str = "wake set") -> list[Problem]:
    """An id written without 0x (``id: 575``) is read as decimal by YAML, and is almost never meant so.

    >>> [p.message for p in decimal_ids("frames:\\n  - {id: 575, data: '02', period: 1s}", "w.yaml")]
    ['wake set.frames[0]: id 575 is written in decimal (0x23F); write 0x575 if that is what you meant, or 0x23F']
    """
    import re

    out, i = [], -1
    for n, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("- "):
            i += 1
        m = re.search(r"\bid:\s*(\d+)\b(?!\.)", line)
        if m and not re.search(r"\bid:\s*0[xX]", line):
            value = int(m.group(1))
            out.append(Problem(file, n, f"{where}.frames[{max(i, 0)}]: id {value} is written in decimal (0x{value:X}); "
                               f"write 0x{m.group(1)} if that is what you meant, or 0x{value:X}"))
    return out


def wake_set_from(data, file: str, problems: list[Problem], default_confidence: str = "assumed",
                  where: str = "wake set") -> WakeSet | None:
    """A wake set from a YAML mapping (a file's, or a profile's ``can.wake``)."""
    if not isinstance(data, dict):
        problems.append(Problem(file, getattr(data, "line", 1) or 1,
                                f"{where}: a mapping with frames: (a list of id/data/period)"))
        return None
    for k in data:
        if k not in TOP:
            problems.append(Problem(file, data.line_of(k), f"{where}: unknown field {k!r} "
                                    f"(allowed: {', '.join(sorted(TOP))})"))
    confidence = data.get("confidence", default_confidence)
    bitrate = None
    if data.get("bitrate") is not None:
        bitrate = parse_bitrate(data["bitrate"])
        if bitrate is None:
            problems.append(Problem(file, data.line_of("bitrate"), f"{where}.bitrate: {shown(data['bitrate'])} "
                                    f"is not a CAN bitrate (e.g. 100k, 95.238k, 125000)"))
    frames_node = data.get("frames")
    frames: list[Frame] = []
    if not isinstance(frames_node, list):
        problems.append(Problem(file, data.line_of("frames") if "frames" in data else getattr(data, "line", 1),
                                f"{where}.frames: a list of frames (id:, data:, period:)"))
    else:
        for i, node in enumerate(frames_node):
            line = frames_node.line_of(i) if hasattr(frames_node, "line_of") else 0
            f = parse_frame(node, file, problems, f"{where}.frames[{i}]", line, confidence)
            if f is not None:
                frames.append(f)
        seen: dict[tuple, Frame] = {}
        for f in frames:
            if (f.id, f.extended) in seen:
                problems.append(Problem(file, f.line, f"{where}: {f.label} is listed twice (also line "
                                        f"{seen[(f.id, f.extended)].line}); one frame per id"))
            seen[(f.id, f.extended)] = f
    unit_ids = []
    for value in data.get("unit_ids") or []:
        ident = parse_id(value)
        if ident is None:
            problems.append(Problem(file, data.line_of("unit_ids"), f"{where}.unit_ids: {shown(value)} is not an id"))
        else:
            unit_ids.append(ident[0])
    name = str(data.get("name") or Path(file).stem)
    return WakeSet(name, frames, bitrate, str(data.get("source", "")), file, str(data.get("note", "")),
                   unit_ids, dict(data.get("recorded") or {}))


def write_wake_set(path, ws: WakeSet, header: str = "") -> None:
    """Write ``ws`` as YAML a technician can read and edit (ids in hex, one frame a block)."""
    import yaml

    doc: dict = {"name": ws.name}
    if ws.bitrate:
        doc["bitrate"] = ws.bitrate
    if ws.source:
        doc["source"] = ws.source
    if ws.recorded:
        doc["recorded"] = dict(ws.recorded)
    if ws.unit_ids:
        doc["unit_ids"] = [f"0x{i:X}" for i in ws.unit_ids]
    if ws.note:
        doc["note"] = ws.note
    doc["frames"] = [frame_dict(f) for f in ws.frames]
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=100, allow_unicode=True)
    # the ids and payloads are hex strings for yaml's sake; unquote the ids so they read as written
    text = "\n".join(_unquote_id(line) for line in text.splitlines()) + "\n"
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    Path(path).write_text(comment + text, encoding="utf-8")


def _unquote_id(line: str) -> str:
    stripped = line.lstrip(" -")
    if stripped.startswith("id: '0x") and line.endswith("'"):
        return line.replace("'", "")
    return line


def wake_dirs() -> list[Path]:
    """Where shipped wake sets are found: ``wake/`` beside the firmware notes ($RIG_PROFILES first)."""
    import os

    here = Path(__file__).resolve().parent.parent  # rig/
    dirs = [Path(p) / "wake" for p in os.environ.get("RIG_PROFILES", "").split(os.pathsep) if p]
    for candidate in (here.parent / "firmware_notes" / "wake", here / "data" / "firmware_notes" / "wake"):
        if candidate.is_dir():
            dirs.append(candidate)
            break
    return dirs


def shipped_wake_sets() -> dict[str, Path]:
    """The wake sets that come with rig (and with $RIG_PROFILES), by name."""
    found: dict[str, Path] = {}
    for d in reversed(wake_dirs()):
        for f in sorted(d.glob("*.yaml")):
            found[f.stem] = f
    return found


def find_wake_set(spec: str, beside=None) -> WakeSet:
    """A wake set by file name (relative to ``beside``'s folder, then the working directory) or by
    the name of a shipped one (``vw-pq``); a ConfigError naming what there is, otherwise."""
    from ..errors import unknown

    candidates = [Path(spec)]
    if beside is not None and not Path(spec).is_absolute():
        candidates.insert(0, Path(beside).parent / spec)
    for path in candidates:
        if path.is_file():
            return load_wake_set(path)
    shipped = shipped_wake_sets()
    if spec in shipped:
        return load_wake_set(shipped[spec], default_confidence="assumed")
    raise ConfigError([Problem(str(beside) if beside else "", None,
                               unknown("wake set", spec, shipped, f"a file, or one of the shipped: "
                                       f"{', '.join(shipped) or 'none'}"))])
