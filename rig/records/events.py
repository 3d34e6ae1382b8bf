"""Events: every edge, display line, step and result, stamped with the clock.

The bench, the display tap and the procedure runner *emit*; the event log,
the live view and tests *listen*. Emitting never fails because of a listener,
and never takes a lock: the bench's release emits, and it must not wait on
anything an interrupted path could still hold.

Two things keep the record honest:

- :meth:`EventBus.holding` - while a pin moves, whatever is emitted (the
  simulated unit answers inside the pin write, on another thread) waits, and
  is told after the pin's own edge. So the log says what the pins did, in the
  order they did it, and stays deterministic.
- :meth:`EventBus.masked` - during code entry, no key edge, display line or
  correction is told; at the end one ``masked`` span says how long it took
  and whether read-back corrected anything. Nothing from which a code could
  be counted reaches a listener (the log, the timeline, the terminal).

>>> from rig.bench.clock import VirtualClock
>>> bus = EventBus(VirtualClock()); seen = []
>>> _ = bus.subscribe(lambda e: seen.append((e.kind, e.what)))
>>> with bus.masked("code entry"):
...     _ = bus.emit("key", "preset1", "up", "down")
>>> seen
[('masked', 'code entry')]
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger(__name__)

# What a masked span swallows: everything that happens once per press.
MASKED_KINDS = frozenset({"key", "display", "correction", "dwell"})


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


class _Mask:
    __slots__ = ("label", "start", "corrected", "last_display")

    def __init__(self, label: str, start: float):
        self.label, self.start, self.corrected, self.last_display = label, start, False, None


class EventBus:
    """Listeners, told of each event in order; a failing listener is logged, not raised."""

    def __init__(self, clock):
        self.clock = clock
        self._listeners: tuple = ()      # replaced, never changed in place: emit reads it without a lock
        self._changing = threading.Lock()  # only subscribers serialise; held for an assignment
        self._held: deque | None = None
        self._mask: _Mask | None = None
        self.origin = 0.0  # the clock time a run's record counts from (its log, the page's events)

    def subscribe(self, fn: Listener) -> Callable[[], None]:
        with self._changing:
            self._listeners = self._listeners + (fn,)
        return lambda: self.unsubscribe(fn)

    def unsubscribe(self, fn: Listener) -> None:
        with self._changing:
            self._listeners = tuple(f for f in self._listeners if f is not fn)

    def emit(self, kind: str, what: str = "", old=None, new=None, **data) -> Event:
        event = Event(self.clock.now(), kind, what, old, new, data)
        self.tell(event)
        return event

    def tell(self, event: Event) -> None:
        """Pass an event on (or queue it behind a pin edge being made)."""
        held = self._held
        if held is not None:
            held.append(event)
            if self._held is held:
                return
            self._drain(held)  # the pin edge was told meanwhile: what is queued is ours to pass on
            return
        self._dispatch(event)

    def _drain(self, queue: deque) -> None:
        while True:
            try:
                event = queue.popleft()  # atomic: two threads draining never tell one event twice
            except IndexError:
                return
            self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        mask = self._mask
        if mask is not None and event.kind in MASKED_KINDS:
            if event.kind == "correction":
                mask.corrected = True
            elif event.kind == "display":
                mask.last_display = event
            return
        for fn in self._listeners:
            try:
                fn(event)
            except Exception:  # a broken listener must not stop a release
                log.exception("event listener %r failed", fn)

    # -- pin edges ---------------------------------------------------------
    def holding(self) -> "_Holding":
        """``with bus.holding() as edges:`` move pins, ``edges.append(Event)`` for each pin
        that moved; the edges are told first, then what was emitted meanwhile."""
        return _Holding(self)

    # -- secrecy -----------------------------------------------------------
    def masked(self, label: str) -> "_Masked":
        """One masked span instead of the per-press detail (see the module docstring)."""
        return _Masked(self, label)


class _Holding:
    __slots__ = ("bus", "queue", "edges")

    def __init__(self, bus: EventBus):
        self.bus, self.queue, self.edges = bus, None, []

    def __enter__(self) -> list:
        if self.bus._held is None:
            self.queue = deque()
            self.bus._held = self.queue
        return self.edges

    def __exit__(self, *exc_info) -> bool:
        bus, queue = self.bus, self.queue
        if queue is None:  # nested: the outer holder tells everything
            for e in self.edges:
                bus.tell(e)
            return False
        try:
            for e in self.edges:
                bus._dispatch(e)  # while still held: nothing emitted meanwhile overtakes an edge
        finally:
            bus._held = None
            bus._drain(queue)
        return False


class _Masked:
    __slots__ = ("bus", "label", "mask", "outer")

    def __init__(self, bus: EventBus, label: str):
        self.bus, self.label, self.mask, self.outer = bus, label, None, None

    def __enter__(self) -> "_Masked":
        self.outer = self.bus._mask
        if self.outer is None:
            self.mask = _Mask(self.label, self.bus.clock.now())
            self.bus._mask = self.mask
        return self

    def __exit__(self, *exc_info) -> bool:
        if self.mask is None:
            return False
        bus, mask = self.bus, self.mask
        bus._mask = None
        end = bus.clock.now()
        # the span is stamped at its start; from its end on the display is told again
        bus._dispatch(Event(mask.start, "masked", mask.label, data={
            "duration": round(end - mask.start, 6), "corrected": mask.corrected,
            "ended": "completed" if exc_info[0] is None else "cut short"}))
        if mask.last_display is not None:
            d = mask.last_display
            bus._dispatch(Event(end, "display", "", None, d.new))
        return False
