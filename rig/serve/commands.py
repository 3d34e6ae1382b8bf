"""The bench command running on the station's worker: bounded as the CLI bounds it, stoppable, watched.

A bench command over HTTP (``power``, ``press``, ``wait``, ``safe``) gets the
limits its CLI twin has (a wait of at most 48 h, a hold of at most 60 s, at
most 100 presses; no Infinity, no NaN), is refused by name while another one
runs (it counts as busy, as a job does), is cut short by a stop or a ``safe``
(keys up, rails safe, as Ctrl-C does to ``rig power ... --for``), and has a
deadline: a command still running well past the time it should take is
*stuck*, and the health report (and so systemd's watchdog) says so.

>>> slot = CommandSlot()
>>> slot.start("wait", "alice", expected=2.0)["what"], slot.busy_reason()
('wait', 'the bench is running a bench command (wait, from alice)')
>>> slot.stuck(now=slot.running["started"] + 1.0) is None
True
>>> slot.stuck(now=slot.running["started"] + 2.0 + GRACE + 1) is not None
True
"""

from __future__ import annotations

import math
import threading
import time

from ..durations import MAX_HOLD, MAX_TIMES, MAX_WAIT, format_limit
from ..errors import BenchBusy, UsageError

GRACE = 30.0  # s of wall time a command may run past what it should take before it counts as stuck


def wait_seconds(value) -> float:
    """The seconds of a ``wait`` (the CLI's ``wait DURATION``): a finite number, at most 48 h."""
    seconds = _finite(value, "seconds")
    if seconds > MAX_WAIT:
        raise UsageError(f"a wait of {seconds:g} s is too long: at most {format_limit(MAX_WAIT)}")
    return seconds


def press_args(hold, times) -> tuple[float | None, int]:
    """``hold`` (seconds, None: the pin map's) and ``times`` as ``rig press`` takes them."""
    hold = None if hold is None else _finite(hold, "hold")
    if hold is not None and hold > MAX_HOLD:
        raise UsageError(f"a hold of {hold:g} s is out of range: at most {format_limit(MAX_HOLD)}")
    if times is None:
        return hold, 1
    if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= MAX_TIMES:
        raise UsageError(f"times is a whole number of presses, 1 to {MAX_TIMES}")
    return hold, times


def _finite(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise UsageError(f"{what} must be a number of seconds, not {str(value)[:40]!r}")
    return float(value)


def takes(what: str, args, wiring) -> float:
    """The bench-clock seconds a command should take (its deadline, before the grace)."""
    if what == "wait":
        return args[0]
    if what == "press":
        hold = wiring.timing.press if args[1] is None else args[1]
        return args[2] * (2 * hold + 1.0)  # each press, its gap and the relays' dwell, generously
    return 1.0


def expected_wall(clock, seconds: float) -> float:
    """How much wall time ``seconds`` on the bench's clock take (a jumping simulated clock: none)."""
    inner = getattr(clock, "inner", clock)
    speed = getattr(inner, "speed", None)
    if speed:
        return seconds / speed
    return 0.0 if inner.virtual else seconds


def run_command(station, fut, fn, what: str, by: str, expected: float) -> None:
    """One bench command on the station's worker; a stop (or a ``safe``) cuts it short and makes the
    bench safe, as Ctrl-C does to ``rig power ... --for``."""
    from .held import Stopped

    if not fut.set_running_or_notify_cancel():
        return
    station.commands.start(what, by, expected)
    station.changed()
    try:
        done = (fut.set_result, fn())
    except Stopped as exc:
        done = (fut.set_exception, BenchBusy(f"{what} stopped ({exc.by}): keys released, rails safe"))
        station.bench.make_safe("interrupted")
    except BaseException as exc:  # noqa: BLE001  (handed to the caller)
        done = (fut.set_exception, exc)
    finally:  # the slot is free before the caller hears: its next command is not refused as busy
        station.commands.end(station.clock)
        station.changed()
        done[0](done[1])


class CommandSlot:
    """The one bench command the worker runs, if any."""

    def __init__(self):
        self.running: dict | None = None
        self._lock = threading.Lock()

    def start(self, what: str, by: str, expected: float) -> dict:
        with self._lock:
            self.running = {"what": what, "by": by, "started": time.monotonic(), "expected": expected}
            return dict(self.running)

    def end(self, clock) -> None:
        with self._lock:
            self.running = None
            clock.clear()  # a stop that came as it ended must not hit the next command or job

    def interrupt(self, clock, exc: BaseException) -> dict | None:
        """Raise ``exc`` in the running command at its next sleep; returns what ran (None: nothing)."""
        with self._lock:
            if self.running is None:
                return None
            clock.interrupt(exc)
            return dict(self.running)

    def busy_reason(self) -> str | None:
        r = self.running
        return None if r is None else f"the bench is running a bench command ({r['what']}, from {r['by']})"

    def stuck(self, now: float | None = None) -> str | None:
        """Why the running command counts as stuck (past its time and the grace), or None."""
        r = self.running
        if r is None:
            return None
        over = (time.monotonic() if now is None else now) - r["started"] - r["expected"]
        if over <= GRACE:
            return None
        return f"the bench command {r['what']} (from {r['by']}) is {over:.0f} s past its end"


__all__ = ["CommandSlot", "GRACE", "expected_wall", "press_args", "run_command", "takes", "wait_seconds"]
