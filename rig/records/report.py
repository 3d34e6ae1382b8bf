"""Records of a run: the JSON-lines event log (the source of truth), and views of it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .events import Event
from .files import folder, write_new
from .xmltext import clean


class EventLog:
    """Appends each event as one JSON line, written at once, so a crash loses nothing.

    One ``write(2)`` per line on an ``O_APPEND`` descriptor, and no lock: the kernel
    keeps concurrent appends whole, and the bench's release - which logs after the
    pins have moved - can never wait on a lock an interrupted write left held.

    >>> import tempfile, os
    >>> from rig.records.events import Event
    >>> path = os.path.join(tempfile.mkdtemp(), "run.jsonl")
    >>> log = EventLog(path); log.write(Event(1.5, "rail", "acc", "off", "on")); log.close()
    >>> open(path).read()
    '{"t": 1.5, "kind": "rail", "what": "acc", "from": "off", "to": "on"}\\n'
    """

    def __init__(self, path: str | Path, redact=None, fd: int | None = None):
        self.path = Path(path)
        self.redact = redact  # e.g. Redactor.record: nothing reaches the file unmasked
        if fd is None:  # a file the user named (rig --events): appended to, made if missing
            folder(self.path.parent, "--events")
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._fd = fd  # a run's own log comes opened by files.new_run_log
        # a run's log is timed from the run's own start: a bench held by `rig serve` (or the real
        # clock) has been counting long before, and "2:08:55 into the run" would be a lie
        self.origin = 0.0

    def write(self, event: Event) -> None:
        record = event.as_dict()
        if self.origin:
            record["t"] = round(event.t - self.origin, 6)
        if self.redact is not None:
            record = self.redact(record)
            if record is None:
                return  # kept out of the log on purpose (a key pressed while a code goes in by hand)
        data = (json.dumps(record, default=str) + "\n").encode("utf-8")
        fd = self._fd
        if fd < 0:
            return  # closed: the run is over, nothing more belongs in its log
        try:
            os.write(fd, data)
        except OSError:
            pass  # a full disk must not stop a release; the line is lost, the run goes on

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


def read_events(path: str | Path) -> list[dict]:
    """Every event of a log, skipping a torn last line."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def write_junit(events: list[dict], path: str | Path, suite: str, properties: dict) -> None:
    """JUnit XML from a run's event log: one test case per step (for CI dashboards)."""
    from xml.etree import ElementTree as ET

    cases, open_steps = [], {}
    for e in events:
        if e.get("kind") != "step":
            continue
        key = (e.get("what"), e.get("where"))
        if e.get("to") == "started":
            open_steps[key] = e["t"]
        elif e.get("to") in ("passed", "failed", "skipped"):
            start = open_steps.pop(key, e["t"])
            cases.append((e.get("what"), e.get("where"), e["to"], e["t"] - start, e.get("message", "")))
    # a step cut short (interrupted) ran until the log's last word: a lockout wait stopped 15 min in took 15 min
    end = max((e["t"] for e in events if isinstance(e.get("t"), (int, float))), default=0.0)
    for (what, where), start in open_steps.items():
        cases.append((what, where, "failed", max(0.0, end - start), "interrupted"))
    root = ET.Element("testsuite", name=clean(suite), tests=str(len(cases)),
                      failures=str(sum(c[2] == "failed" for c in cases)),
                      skipped=str(sum(c[2] == "skipped" for c in cases)))
    props = ET.SubElement(root, "properties")
    for k, v in properties.items():
        ET.SubElement(props, "property", name=clean(k), value=clean(v))
    for what, where, status, seconds, message in cases:
        case = ET.SubElement(root, "testcase", classname=clean(suite), name=clean(what), file=clean(where),
                             time=f"{seconds:.3f}")
        if status == "failed":
            ET.SubElement(case, "failure", message=clean(message)).text = clean(message)
        elif status == "skipped":
            ET.SubElement(case, "skipped")
    folder(Path(path).parent, "--junit")
    write_new(path, ET.tostring(root, encoding="utf-8", xml_declaration=True))
