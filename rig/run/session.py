"""The bench's command vocabulary, independent of how commands arrive.

``rig press``, ``rig power``, ``rig status`` and every line of ``rig shell`` go
through :class:`BenchSession`. Today it wraps a Bench this process owns; a
later bench server will hold the pins between commands and run the same
session, with the CLI talking to it instead.

>>> from rig.bench.wiring import load_wiring
>>> from rig.bench.backends import mock_backend
>>> from rig.bench.bench import Bench
>>> from rig.bench.clock import VirtualClock
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

from ..bench.bench import Bench
from ..durations import MAX_HOLD, MAX_TIMES, MIN_HOLD, format_duration, format_limit, parse_duration
from ..errors import BenchRefused, UsageError, did_you_mean

HELP = """\
commands (one per line; durations like 250ms, 2s, 90s, 30min, 1h):
  power RAIL on|off          switch a rail (battery, acc, ignition)
  press KEY[+KEY..] [HOLD] [xN]
                             press a key or combo, e.g. press mode+scan 3s, press preset1 x3
  wait DURATION              let time pass (the unit keeps running)
  status                     rails, keys, senses and the display
  help                       this text
  quit                       leave the session; the bench is released safely"""


class BenchSession:
    """Runs bench commands, by method or by text line."""

    def __init__(self, bench: Bench):
        self.bench = bench

    def power(self, rail: str, on: bool) -> str:
        check_rail(self.bench.wiring, rail)
        self.bench.power(rail, on)
        return f"{rail} {'on' if on else 'off'}"

    def press(self, combo: str, hold: float | None = None, times: int = 1) -> str:
        check_press(self.bench.wiring, combo, hold, times)
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
                    times = int(a[1:]) if len(a) < 8 else MAX_TIMES + 1
                else:
                    hold = _duration(a, MAX_HOLD)
            return self.press(args[0], hold, times)
        if cmd == "wait":
            if len(args) != 1:
                raise UsageError("usage: wait DURATION   (e.g. wait 5s)")
            return self.wait(_duration(args[0]))
        commands = ("power", "press", "wait", "status", "help", "quit")
        raise UsageError(f"unknown command {cmd!r}{did_you_mean(cmd, commands)}; type help")


def _duration(text: str, maximum: float | None = None) -> float:
    try:
        return parse_duration(text) if maximum is None else parse_duration(text, maximum)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def check_rail(wiring, rail: str) -> None:
    """An unknown rail is a command-line mistake, refused before the bench opens."""
    if rail not in wiring.rails:
        raise UsageError(f"no rail {rail!r} on this bench{did_you_mean(rail, wiring.rails)} "
                         f"(rails: {', '.join(wiring.rails)})")


def check_press(wiring, combo: str, hold: float | None = None, times: int = 1) -> None:
    """A press the bench can make: keys it has, a hold a unit can see, a sane count; else UsageError."""
    names = [p.strip() for p in str(combo).split("+")]
    if not combo or not all(names):
        raise UsageError(f"{combo!r} is not a key or combo (write e.g. mode or mode+scan; "
                         f"keys: {', '.join(wiring.keys)})")
    for k in names:
        if k not in wiring.keys:
            raise UsageError(f"no key {k!r} on this bench{did_you_mean(k, wiring.keys)} "
                             f"(keys: {', '.join(wiring.keys)})")
    if hold is not None and not MIN_HOLD <= hold <= MAX_HOLD:
        raise UsageError(f"a hold of {format_duration(hold)} is out of range: "
                         f"{format_limit(MIN_HOLD)} to {format_limit(MAX_HOLD)}")
    if not 1 <= times <= MAX_TIMES:
        raise UsageError(f"x{times}: press 1 to {MAX_TIMES} times")


__all__ = ["BenchSession", "UsageError", "BenchRefused", "HELP", "check_press", "check_rail"]
