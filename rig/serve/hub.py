"""Live state to every page and CLI that listens: server-sent events, and the job's web UI.

The bench's worker thread publishes; each listener (an SSE stream on the
server's event loop) has a bounded queue. A listener that falls too far behind
is dropped rather than letting memory grow: its browser reconnects and gets
the whole state again.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

from ..records.secret import every_string

QUEUE_LIMIT = 500


class Listener:
    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.queue: asyncio.Queue = asyncio.Queue(QUEUE_LIMIT)
        self.dropped = False

    def _put(self, item) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped = True  # its stream ends; the browser reconnects and gets the whole state


class Hub:
    """Publish ``(event, data)`` pairs to every listener, from any thread."""

    def __init__(self):
        self._listeners: set[Listener] = set()
        self._lock = threading.Lock()
        self.published = 0
        self.closed = False

    def listen(self) -> Listener:
        listener = Listener(asyncio.get_running_loop())
        with self._lock:
            self._listeners.add(listener)
        return listener

    def leave(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def count(self) -> int:
        with self._lock:
            return len(self._listeners)

    def publish(self, event: str, data) -> None:
        text = sse(event, data)
        self.published += 1
        with self._lock:
            listeners = list(self._listeners)
        for li in listeners:
            try:
                li.loop.call_soon_threadsafe(li._put, text)
            except RuntimeError:  # its loop has closed
                self.leave(li)

    def close(self, why: str | None = None) -> None:
        """Tell every stream to end (the server is stopping): a last ``closing`` event saying why,
        so a client following a job knows the server is stopping it (not that it died)."""
        if self.closed:
            return
        self.closed = True
        last = sse("closing", {"by": why or "the server stopping"})
        with self._lock:
            listeners = list(self._listeners)
        for li in listeners:
            try:
                li.loop.call_soon_threadsafe(li._put, last)
                li.loop.call_soon_threadsafe(li._put, None)
            except RuntimeError:
                pass


def sse(event: str, data) -> str:
    body = json.dumps(data, default=str, separators=(",", ":"))
    return f"event: {event}\ndata: {body}\n\n"


class WebUI:
    """What a run shows, for the page: the same calls as rig.cli.ui.Plain, published instead of printed.

    Every text passes through the run's redactor first. ``ask`` blocks the job's
    thread until someone answers in the page (or the CLI), or the job is stopped.
    """

    can_ask = True

    def __init__(self, station, redact):
        self.station = station
        self.redact = redact
        self.job = station.current
        self.origin = getattr(station.bench.events, "origin", 0.0)  # the bench lent to this run carries its bus

    def _text(self, text) -> str:
        return self.redact(str(text))

    def step(self, label: str) -> None:
        self.job["step"] = self._text(label)
        self.job["progress"] = None
        self.station.changed()

    def note(self, text: str) -> None:
        self._line("note", text)

    def warn(self, text: str) -> None:
        self._line("warn", text)

    def _line(self, kind: str, text: str) -> None:
        line = {"kind": kind, "text": self._text(text)}
        self.job["notes"] = (self.job["notes"] + [line])[-8:]
        self.station.hub.publish("note", line)
        self.station.changed()

    def event(self, event) -> None:
        record = every_string(self.redact, event.as_dict())
        record["t"] = round(event.t - self.origin, 6)  # as the run's log has it: from the run's start
        self.station.hub.publish("log", record)
        if event.kind in ("rail", "key", "sense", "display", "result"):
            self.station.changed()

    def progress_facts(self, **facts) -> None:
        """What the wait knows beyond the figures (counting now? a lockout, kept on a stop?)."""
        self._facts = facts

    def progress(self, label: str, served: float, total: float, done: bool = False) -> None:
        # served as of the bench clock's t: the station carries it on to the present for every view
        self.job["progress"] = dict(getattr(self, "_facts", {}), label=self._text(label), served=served,
                                    total=total, t=self.station.clock.now(), done=done)
        self._facts = {}
        if done and total >= self.station.notify_after:
            self.station.hub.publish("notice", {"kind": "wait-done", "text": f"{self._text(label)}: done"})
        self.station.changed(soon=not done)

    def sheet(self, title: str, rows) -> None:
        self._line("note", title + ": " + "; ".join(f"{k}: {v}" for k, v in rows))

    def ask(self, question: str, kind: str) -> str:
        qid = next(self.station.question_ids)
        self.job["question"] = {"id": qid, "text": self._text(question), "kind": kind}
        self.station.hub.publish("notice", {"kind": "question", "text": self._text(question)})
        self.station.changed()
        try:
            answer, by = self.station.wait_answer(qid)
        finally:
            self.job["question"] = None
            self.station.changed()
        self.station.bench.events.emit("operator", by, new="answered", question=self._text(question))
        return answer

    def close(self) -> None:
        pass
