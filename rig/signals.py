"""Ctrl-C and SIGTERM become exceptions that unwind through ``with bench:``.

Python's default SIGTERM handler kills the process without running ``finally``
blocks or atexit, which would leave a key pressed and ACC on. Here SIGTERM
raises :class:`Terminated` (a KeyboardInterrupt), so every exit path goes
through the bench's release. While the bench is releasing, signals are held
back until it is done: a second Ctrl-C cannot cut a release short.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (e.g. a CI job was cancelled)."""


_state = {"installed": 0, "shield": 0, "pending": None, "saved": {}}


def _handler(signum, frame):
    exc = Terminated("SIGTERM") if signum == signal.SIGTERM else KeyboardInterrupt()
    if _state["shield"]:
        _state["pending"] = exc
        return
    raise exc


def install() -> bool:
    """Route SIGINT/SIGTERM to exceptions (main thread only). Returns whether it did."""
    if threading.current_thread() is not threading.main_thread():
        return False
    if _state["installed"] == 0:
        for sig in (signal.SIGINT, signal.SIGTERM):
            _state["saved"][sig] = signal.getsignal(sig)
            signal.signal(sig, _handler)
    _state["installed"] += 1
    return True


def uninstall() -> None:
    if threading.current_thread() is not threading.main_thread() or _state["installed"] == 0:
        return
    _state["installed"] -= 1
    if _state["installed"] == 0:
        for sig, old in _state["saved"].items():
            signal.signal(sig, old)
        _state["saved"].clear()


@contextmanager
def shielded():
    """Hold signals back for the duration; re-raise the last one afterwards."""
    _state["shield"] += 1
    try:
        yield
    finally:
        _state["shield"] -= 1
        if _state["shield"] == 0 and _state["pending"] is not None:
            exc, _state["pending"] = _state["pending"], None
            raise exc
