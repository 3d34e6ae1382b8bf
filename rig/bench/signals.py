"""Ctrl-C and SIGTERM become exceptions that unwind through ``with bench:``.

Python's default SIGTERM handler kills the process without running ``finally``
blocks or atexit, which would leave a key pressed and ACC on. Here SIGTERM
raises :class:`Terminated` (a KeyboardInterrupt), so every exit path goes
through the bench's release. ``rig`` installs the handlers on the first line
of ``main``; a bench installs them too when it is opened from Python.

Where a signal must wait, it waits, and is raised once the work is done:

- inside ``with shielded():`` (a counter, so shields nest);
- anywhere in a function marked :func:`protect` (the bench's open, release,
  ``__enter__`` and ``__exit__``) or in anything it calls - *including* the
  first instruction of the function, before its shield is even taken. That
  is what closes the windows between "the function was called" and "the
  shield is up" that a counter alone leaves open.

A protected function's frame counts as protected until its own outermost
``shielded()`` block ends; after that a signal is raised at once (the work is
done, and a pending signal has just been raised there anyway).

>>> install()
True
>>> try:
...     with shielded():
...         signal.raise_signal(signal.SIGINT)    # held back...
...         print("the work is finished")
... except KeyboardInterrupt:
...     print("then the interrupt")
the work is finished
then the interrupt
>>> uninstall()
"""

from __future__ import annotations

import os
import signal
import sys
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (e.g. a CI job was cancelled)."""


def describe(exc: BaseException) -> str:
    """``SIGTERM`` or ``Ctrl-C``: the words for a message."""
    return "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"


_state: dict = {"installed": 0, "shield": 0, "pending": None, "saved": {}, "finished": [], "exiting": None}
_PROTECTED: set = set()  # code objects in which a signal waits for the shield's end


def protect(fn):
    """Mark ``fn`` as a function no signal may cut into: one that lands in it (or in what
    it calls) is held back until its outermost ``shielded()`` block ends. ``fn`` must run
    its whole body inside ``with shielded():``, so that held-back signals are delivered."""
    _PROTECTED.add(fn.__code__)
    return fn


def _exception(signum: int) -> KeyboardInterrupt:
    return Terminated("SIGTERM") if signum == signal.SIGTERM else KeyboardInterrupt()


def _in_protected(frame) -> bool:
    finished = _state["finished"]
    while frame is not None:
        if frame.f_code in _PROTECTED and not any(frame is f for f in finished):
            return True
        frame = frame.f_back
    return False


def _handler(signum, frame):
    exc = _exception(signum)
    exiting = _state["exiting"]
    if exiting is not None:
        exiting(exc)
        return
    if _state["shield"] or _in_protected(frame):
        if _state["pending"] is None:  # the first signal is the one reported
            _state["pending"] = exc
        return
    _state["pending"] = None  # one signal raised now; nothing owed for later
    raise exc


def install() -> bool:
    """Route SIGINT/SIGTERM to exceptions (main thread only). Returns whether it did."""
    if _state["installed"] == 0:
        try:  # SIGTERM first and at once: until it is set, SIGTERM still kills outright
            saved = {signal.SIGTERM: signal.signal(signal.SIGTERM, _handler)}
        except ValueError:  # not the main thread
            return False
        saved[signal.SIGINT] = signal.signal(signal.SIGINT, _handler)
        _state["saved"] = saved
    elif threading.current_thread() is not threading.main_thread():
        return False
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


_MAIN = threading.main_thread().ident


class shielded:
    """Hold signals back for the duration; raise the first one held back at the end.

    A class, not a generator: its ``__exit__`` runs directly in the frame of the ``with``,
    so it can mark that frame's protected work as finished. Only the main thread's shields
    count: signals reach only the main thread, and a shield up on another thread (the
    server's bench worker) would hold the main thread's signal back, then raise it there.
    """

    __slots__ = ()

    def __enter__(self):
        if threading.get_ident() != _MAIN:
            return self
        _state["shield"] += 1  # first: a loop below is a point where a signal can land
        if _state["shield"] == 1 and _state["finished"]:
            # frames finished earlier that are no longer running are forgotten
            live = set()
            f = sys._getframe(1)
            while f is not None:
                live.add(id(f))
                f = f.f_back
            _state["finished"] = [f for f in _state["finished"] if id(f) in live]
        return self

    def __exit__(self, *exc_info):
        if threading.get_ident() != _MAIN:
            return False
        if _state["shield"] == 1:
            caller = sys._getframe(1)
            if caller.f_code in _PROTECTED:
                _state["finished"].append(caller)
        _state["shield"] -= 1
        if _state["shield"] == 0:
            exc, _state["pending"] = _state["pending"], None
            if exc is not None:
                raise exc
        return False


@protect
def finish(fn, *args):
    """``fn(*args)`` with no signal cutting in, from the call's first instruction on; one that
    arrives meanwhile is raised when it returns. For bookkeeping that must not be half done
    (a run's record): a ``with shielded():`` in a ``finally`` leaves the instant before the
    shield is up, this leaves none.

    >>> finish(print, "recorded")
    recorded
    """
    with shielded():
        return fn(*args)


def pending() -> KeyboardInterrupt | None:
    """The signal held back so far, if any (it will be raised when the shield ends)."""
    return _state["pending"]


def exiting(on_signal) -> None:
    """From now on a signal raises nothing: ``on_signal(exc)`` is called instead.

    For the very end of the program (its last message, atexit), where an exception
    could only become a traceback. ``exiting(None)`` goes back to raising.
    """
    _state["exiting"] = on_signal


def exit_now(code: int) -> None:
    """Flush what was printed and end the process at once with ``code``."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)
