"""Events: every edge, display line, step and result, stamped with the clock.

The bench, the display tap and the procedure runner *emit*; the event log,
the live view and tests *listen*. Emitting never fails because of a listener.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """One thing that happened.

    ``kind`` is e.g. ``rail``, ``key``, ``sense``, ``display``, ``step``,
    ``result``; ``what`` names the thing (``acc``, ``preset1``); ``old``/``new``
    are the values before and after; ``data`` carries anything else.
    """

    t: float
    kind: str
    what: str = ""
    old: Any = None
    new: Any = None
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = {"t": round(self.t, 6), "kind": self.kind}
        if self.what:
            out["what"] = self.what
        if self.old is not None or self.new is not None:
            out["from"], out["to"] = self.old, self.new
        out.update(self.data)
        return out


Listener = Callable[[Event], None]


class EventBus:
    """A list of listeners; thread-safe, and a failing listener is logged, not raised."""

    def __init__(self, clock):
        self.clock = clock
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()

    def subscribe(self, fn: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(fn)
        return lambda: self.unsubscribe(fn)

    def unsubscribe(self, fn: Listener) -> None:
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def emit(self, kind: str, what: str = "", old=None, new=None, **data) -> Event:
        event = Event(self.clock.now(), kind, what, old, new, data)
        with self._lock:
            listeners = list(self._listeners)
            for fn in listeners:
                try:
                    fn(event)
                except Exception:  # a broken listener must not stop a release
                    log.exception("event listener %r failed", fn)
        return event
