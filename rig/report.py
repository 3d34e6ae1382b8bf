"""Records of a run: the JSON-lines event log (the source of truth), and views of it."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from .events import Event


class EventLog:
    """Appends each event as one JSON line, flushed at once, so a crash loses nothing.

    >>> import tempfile, os
    >>> from rig.events import Event
    >>> path = os.path.join(tempfile.mkdtemp(), "run.jsonl")
    >>> log = EventLog(path); log.write(Event(1.5, "rail", "acc", "off", "on")); log.close()
    >>> open(path).read()
    '{"t": 1.5, "kind": "rail", "what": "acc", "from": "off", "to": "on"}\\n'
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, event: Event) -> None:
        line = json.dumps(event.as_dict(), default=str)
        with self._lock:
            if not self._fh.closed:
                self._fh.write(line + "\n")
                self._fh.flush()

    def close(self) -> None:
        with self._lock:
            self._fh.close()


def read_events(path: str | Path) -> list[dict]:
    """Every event of a log, skipping a torn last line."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
