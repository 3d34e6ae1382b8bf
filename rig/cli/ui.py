"""What a run shows while it runs: a live panel at a terminal, plain lines in a pipe.

Both say the same things: the step, the rails, keys, senses and display (as
they change), a countdown on long waits, notes and loud warnings. Every text
passes through the run's redactor, so a code never reaches the screen.
"""

from __future__ import annotations

import sys
import threading

from ..bench.clock import hush, ordinary
from ..durations import format_duration


class Plain:
    """One line per thing that happened; for CI logs and pipes."""

    can_ask = False

    def __init__(self, redact=lambda s: s, stream=None, ask=None):
        self.redact = redact
        self.out = stream or sys.stdout
        self._next_report: dict[str, float] = {}
        self._ask = ask
        self.can_ask = ask is not None

    def _print(self, text: str) -> None:
        print(self.redact(text), file=self.out, flush=True)

    def step(self, label: str) -> None:
        self._print(f"> {label}")

    def note(self, text: str) -> None:
        self._print(f"  {text}")

    def warn(self, text: str) -> None:
        self._print(f"  !!! {text.upper()} !!!")

    def event(self, event) -> None:
        if event.kind == "can" and event.what in ("bus", "wake"):  # the bus's health, the wake frames on and off
            self._print(f"  [{format_duration(event.t)}] {can_line(event)}")
        if event.kind in ("rail", "display", "sense"):
            if event.kind == "display":
                shown = self.redact(event.new)
                if shown == getattr(self, "_last_display", None):
                    return  # masked entry digits change under the mask; say it once
                self._last_display = shown
                what = f"display: {shown!r}"
            elif event.kind == "sense":
                what = f"{event.what}: {'on' if event.new else 'off'}"
            else:
                what = f"{event.kind} {event.what}: {event.new}"
            self._print(f"  [{format_duration(event.t)}] {what}")

    def progress(self, label: str, served: float, total: float, done: bool = False) -> None:
        # a line every tenth of a long wait; start and end only of a short one
        step = total / 10.0 if total >= 600 else max(total, 1.0)
        if done or served >= self._next_report.get(label, 0.0):
            left = max(0.0, total - served)
            self._print(f"  {label}: {_clock(served)} served, {_clock(left)} left" + (" (done)" if done else ""))
            self._next_report[label] = 0.0 if done else (served // step + 1) * step

    def ask(self, question: str, kind: str) -> str:
        return self._ask(question, kind)

    def sheet(self, title: str, rows) -> None:
        width = max(len(k) for k, _ in rows)
        self._print(f"\n  {title}\n  " + "-" * (width + 30))
        for k, v in rows:
            self._print(f"  {k.ljust(width)}  {v}")
        self._print("")

    def close(self) -> None:
        pass


class LivePanel(Plain):
    """A live panel at a terminal: state table, step, countdown bar.

    Events and progress only note what changed; a thread of the panel's own
    draws it at a fixed frame rate (``FPS``), so an hour of simulated wait costs
    a few frames, not one per tick. The panel keeps the bench's state from the
    events it is told (it never reads a pin from its thread) and stays off the
    GIL while a hold ends. When the run is over its last frame says the result
    and what the unit showed last, not the released bench's blank display.
    """

    FPS = 10

    def __init__(self, bench, redact=lambda s: s, ask=None, console=None):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        super().__init__(redact, ask=ask)
        self.bench = bench
        self.console = console or Console(stderr=True)
        self.current_step = ""
        self.result: tuple[str, str] | None = None
        self.shown_last: str | None = None  # the last text the unit showed (a release blanks it)
        try:
            self._snap = bench.snapshot()
        except Exception:
            self._snap = {"rails": {}, "keys": {}, "senses": {}, "display": None}
        self.progress_bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                     TextColumn("{task.fields[served]} served"),
                                     TextColumn("[bold]{task.fields[left]} left"), console=self.console)
        self.tasks: dict[str, int] = {}
        self.frames = 0
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the drawing thread and the run's thread take turns with the screen
        self._start_live()
        self._thread = threading.Thread(target=self._draw, name="live panel", daemon=True)
        self._thread.start()

    # -- what changed (cheap: called from the run's thread and the tap's) ---------
    def step(self, label):
        self.current_step = label
        self._dirty.set()

    def event(self, event):
        kind, snap = event.kind, self._snap
        if kind == "rail":
            snap["rails"][event.what] = event.new
        elif kind == "key":
            snap["keys"][event.what] = event.new
        elif kind == "sense":
            snap["senses"][event.what] = bool(event.new)
        elif kind == "display":
            snap["display"] = event.new
            if event.new:
                self.shown_last = event.new
        elif kind == "result":
            self.result = (event.what, str(event.data.get("message", "")))
        elif kind == "can" and event.what == "bus":  # the panel has no row for it: said in a line, as notes are
            self._print(f"  [{format_duration(event.t)}] {can_line(event)}")
        else:
            return
        self._dirty.set()

    def progress(self, label, served, total, done=False):
        if label not in self.tasks:
            self.tasks[label] = self.progress_bar.add_task(label, total=total, served="0:00", left=_clock(total))
        self.progress_bar.update(self.tasks[label], completed=served, total=total, served=_clock(served),
                                 left=_clock(max(0.0, total - served)))
        if done:
            self.progress_bar.remove_task(self.tasks.pop(label))
            self._print(f"  {label}: {_clock(served)} served" + (" (done)" if served >= total else ""))
        self._dirty.set()

    # -- drawing -----------------------------------------------------------------
    def _draw(self) -> None:
        ordinary()
        while not self._stop.is_set():
            self._dirty.wait()
            if self._stop.wait(1.0 / self.FPS):
                return
            hush()
            self._dirty.clear()
            try:
                self._frame()
            except Exception:  # a frame that fails to draw must not end the panel (or the run)
                pass

    def _start_live(self) -> None:
        from rich.live import Live

        # transient: a prompt or the end takes the panel off the screen instead of leaving a copy of
        # it; a new Live each time, since a restarted one would first erase what was printed meanwhile
        self.live = Live(self._render(), console=self.console, auto_refresh=False, transient=True)
        self.live.start(refresh=True)

    def _frame(self, final: bool = False):
        renderable = self._render(final)
        self.frames += 1
        if final:
            return renderable
        with self._lock:
            if self.live.is_started:
                self.live.update(renderable, refresh=True)

    def _render(self, final: bool = False):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        snap, r = self._snap, self.redact
        t = Table.grid(padding=(0, 2))
        if final and self.result is not None:
            outcome, message = self.result
            colour = {"passed": "green", "refused": "yellow", "interrupted": "yellow"}.get(outcome, "red")
            t.add_row(Text("result", style="bold"), Text(f"{outcome.upper()}", style=f"bold {colour}")
                      + Text(f"  {r(message)}" if message else ""))
        t.add_row(Text("step", style="bold"), Text(r(self.current_step)))
        if final and self.shown_last:
            t.add_row("unit", Text(f"the unit shows {r(self.shown_last)}"))
        elif final and getattr(self.bench, "display", None) is not None:
            t.add_row("unit", Text("the unit showed nothing", style="dim"))
        t.add_row("rails", Text("  ").join(Text(f"{n} {v}", style="green" if v == "on" else "dim")
                                           for n, v in list(snap["rails"].items())))
        down = [n for n, v in list(snap["keys"].items()) if v == "down"]
        t.add_row("keys", Text("+".join(down) + " DOWN", style="yellow") if down else Text("all up", style="dim"))
        t.add_row("senses", Text("  ").join(Text(f"{n} {'on' if v else 'off'}", style="green" if v else "dim")
                                            for n, v in list(snap["senses"].items())))
        if not final and snap["display"] is not None:
            t.add_row("display", Text(f" {r(snap['display']) or ' '} ", style="reverse"))
        return t if final else Group(t, self.progress_bar)

    def _print(self, text: str) -> None:
        self.live.console.print(self.redact(text), highlight=False, markup=False)

    def ask(self, question, kind):
        with self._lock:
            self.live.stop()  # the panel leaves the screen while the technician answers
        try:
            return self._ask(question, kind)
        finally:
            with self._lock:
                self._start_live()

    def close(self):
        self._stop.set()
        self._dirty.set()
        self._thread.join(timeout=1.0)
        try:
            final = self._frame(final=True)
        except Exception:
            final = None
        with self._lock:
            self.live.stop()
        if final is not None:
            self.console.print(final)


def can_line(event) -> str:
    """``CAN bus: bus-off (tx errors 255)``, ``CAN wake frames: on``."""
    if event.what == "wake":
        return f"CAN wake frames: {event.new}"
    tx = event.data.get("tx_errors")
    return f"CAN bus: {event.new}" + (f" (tx errors {tx})" if tx else "")


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
