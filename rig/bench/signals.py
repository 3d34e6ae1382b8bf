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
    """SIGTERM arrived (e.g. a CI job was cancelled), or SIGHUP (the SSH session dropped)."""


def describe(exc: BaseException) -> str:
    """``SIGTERM``, ``SIGHUP`` or ``Ctrl-C``: the words for a message."""
    if isinstance(exc, Terminated):
        name = str(exc.args[0]) if exc.args else ""
        return name if name.startswith("SIG") else "SIGTERM"
    return "Ctrl-C"


_state: dict = {"installed": 0, "shield": 0, "pending": None, "saved": {}, "finished": [], "exiting": None}
_PROTECTED: set = set()  # code objects in which a signal waits for the shield's end


def protect(fn):
    """Mark ``fn`` as a function no signal may cut into: one that lands in it (or in what
    it calls) is held back until its outermost ``shielded()`` block ends. ``fn`` must run
    its whole body inside ``with shielded():``, so that held-back signals are delivered."""
    _PROTECTED.add(fn.__code__)
    return fn


def _exception(signum: int) -> KeyboardInterrupt:
    if signum == signal.SIGINT:
        return KeyboardInterrupt()
    return Terminated(signal.Signals(signum).name)  # SIGTERM; SIGHUP is treated as SIGTERM


def _in_protected(frame) -> bool:
    finished = _state["finished"]
    while frame is not None:
        if frame.f_code in _PROTECTED and not any(frame is f for f in finished):
            return True
        frame = frame.f_back
    return False


def _handler(signum, frame):
    if signum == signal.SIGHUP:
        hung_up()
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


def hung_up() -> None:
    """The terminal is gone (the SSH session dropped): what rig still says on the way out goes
    nowhere, rather than failing with EIO and turning a clean unwind into an error."""
    import termios

    for fd in _state.get("ttys", ()):
        try:
            termios.tcgetattr(fd)  # a terminal still there (kill -HUP by hand): keep it
        except (termios.error, OSError):
            try:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, fd)
                os.close(null)
            except OSError:
                pass


def install() -> bool:
    """Route SIGINT, SIGTERM and SIGHUP to exceptions (main thread only). Returns whether it did.

    SIGHUP is what a dropped SSH session sends; by default it kills outright, with no release:
    here it unwinds exactly as SIGTERM does."""
    if _state["installed"] == 0:
        try:  # SIGTERM first and at once: until it is set, SIGTERM still kills outright
            saved = {signal.SIGTERM: signal.signal(signal.SIGTERM, _handler)}
        except ValueError:  # not the main thread
            return False
        saved[signal.SIGHUP] = signal.signal(signal.SIGHUP, _handler)
        _state["ttys"] = [fd for fd in (1, 2) if _isatty(fd)]
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


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


STOP_REFUSED = (b"rig: Ctrl-Z ignored while the bench is open (stopped, rig would leave ACC on or a key held "
                b"until fg); Ctrl-C stops it and releases the bench\n")


def refuse_stop() -> bool:
    """While the bench is open, Ctrl-Z (SIGTSTP) does not stop the process: a stopped rig holds
    its relays and keys where they are, mid-press, until ``fg``. It says so on stderr instead.
    Pairs with :func:`allow_stop`; main thread only (returns whether it took effect)."""
    if threading.get_ident() != _MAIN:
        return False
    if _state.setdefault("no_stop", 0) == 0:
        _state["tstp"] = signal.signal(signal.SIGTSTP, _refuse_tstp)
    _state["no_stop"] += 1
    return True


def allow_stop() -> None:
    if threading.get_ident() != _MAIN or not _state.get("no_stop"):
        return
    _state["no_stop"] -= 1
    if _state["no_stop"] == 0:
        signal.signal(signal.SIGTSTP, _state.pop("tstp", signal.SIG_DFL))


def _refuse_tstp(signum, frame) -> None:
    try:
        os.write(2, STOP_REFUSED)  # not sys.stderr: the handler may have cut into a write to it
    except OSError:
        pass


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


def in_protected() -> bool:
    """Is the caller running inside a protected function (the bench's open or release)?

    For code called from deep inside a pin write or a clock step that has bad news to
    tell (a simulated unit's model that failed): raising inside the release would stop a
    rail from going safe, so such news waits until the caller is outside.
    """
    return _in_protected(sys._getframe(1))


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
