"""The bench's command vocabulary, independent of how commands arrive.

``rig press``, ``rig power``, ``rig status`` and every line of ``rig shell`` go
through :class:`BenchSession`. Today it wraps a Bench this process owns; a
later bench server will hold the pins between commands and run the same
session, with the CLI talking to it instead.

>>> from rig.wiring import load_wiring
>>> from rig.backends import mock_backend
>>> from rig.bench import Bench
>>> from rig.clock import VirtualClock
>>> w = load_wiring()
>>> with Bench(w, mock_backend(w, VirtualClock())) as bench:
...     s = BenchSession(bench)
...     s.execute("power acc on")
...     s.execute("press mode+scan 3s")
...     s.execute("wait 5s")
'acc on'
'pressed mode+scan for 3s'
'waited 5s'
"""

from __future__ import annotations

import shlex

from .bench import Bench
from .durations import format_duration, parse_duration
from .errors import BenchRefused, RigError

HELP = """\
commands (one per line; durations like 250ms, 2s, 90s, 30min, 1h):
  power RAIL on|off          switch a rail (battery, acc, ignition)
  press KEY[+KEY..] [HOLD] [xN]
                             press a key or combo, e.g. press mode+scan 3s, press preset1 x3
  wait DURATION              let time pass (the unit keeps running)
  status                     rails, keys, senses and the display
  help                       this text
  quit                       leave the session; the bench is released safely"""


class UsageError(RigError):
    """A command line the session cannot parse (exit code 2)."""

    exit_code = 2


class BenchSession:
    """Runs bench commands, by method or by text line."""

    def __init__(self, bench: Bench):
        self.bench = bench

    def power(self, rail: str, on: bool) -> str:
        self.bench.power(rail, on)
        return f"{rail} {'on' if on else 'off'}"

    def press(self, combo: str, hold: float | None = None, times: int = 1) -> str:
        hold = self.bench.wiring.timing.press if hold is None else hold
        self.bench.press(combo, hold=hold, times=times)
        return f"pressed {combo} for {format_duration(hold)}" + (f" x{times}" if times > 1 else "")

    def wait(self, seconds: float) -> str:
        self.bench.clock.sleep(seconds)
        return f"waited {format_duration(seconds)}"

    def status(self) -> dict:
        return self.bench.snapshot()

    def execute(self, line: str):
        """Run one text command; returns a message (str), a snapshot (dict), or None to quit."""
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if not words:
            return ""
        cmd, args = words[0].lower(), words[1:]
        if cmd in ("quit", "exit", "q"):
            return None
        if cmd in ("help", "?"):
            return HELP
        if cmd == "status":
            return self.status()
        if cmd == "power":
            if len(args) != 2 or args[1].lower() not in ("on", "off"):
                raise UsageError("usage: power RAIL on|off   (e.g. power acc on)")
            return self.power(args[0], args[1].lower() == "on")
        if cmd == "press":
            if not args:
                raise UsageError("usage: press KEY[+KEY...] [HOLD] [xN]   (e.g. press mode+scan 3s)")
            hold, times = None, 1
            for a in args[1:]:
                if a.lower().startswith("x") and a[1:].isdigit():
                    times = int(a[1:])
                else:
                    hold = _duration(a)
            return self.press(args[0], hold, times)
        if cmd == "wait":
            if len(args) != 1:
                raise UsageError("usage: wait DURATION   (e.g. wait 5s)")
            return self.wait(_duration(args[0]))
        raise UsageError(f"unknown command {cmd!r}; type help")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


__all__ = ["BenchSession", "UsageError", "BenchRefused", "HELP"]
