"""What a run shows while it runs: a live panel at a terminal, plain lines in a pipe.

Both say the same things: the step, the rails, keys, senses and display (as
they change), a countdown on long waits, notes and loud warnings. Every text
passes through the run's redactor, so a code never reaches the screen.
"""

from __future__ import annotations

import sys

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from .durations import format_duration


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
    """A live panel at a terminal: state table, step, countdown bar."""

    def __init__(self, bench, redact=lambda s: s, ask=None):
        super().__init__(redact, ask=ask)
        self.bench = bench
        self.console = Console(stderr=True)
        self.current_step = ""
        self.progress_bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                     TextColumn("{task.fields[served]} served"),
                                     TextColumn("[bold]{task.fields[left]} left"), console=self.console)
        self.tasks: dict[str, int] = {}
        self.live = Live(self._render(), console=self.console, refresh_per_second=8, transient=False)
        self.live.start()

    def _render(self):
        # once the bench is released its devices are closed: show the last state it had
        if self.bench.is_open or not hasattr(self, "_snap"):
            try:
                self._snap = self.bench.snapshot()
            except Exception:
                self._snap = getattr(self, "_snap", None) or {"rails": {}, "keys": {}, "senses": {}, "display": None}
        snap = self._snap
        t = Table.grid(padding=(0, 2))
        t.add_row("[bold]step[/]", self.redact(self.current_step))
        t.add_row("rails", "  ".join(f"{n} {'[green]on[/]' if v == 'on' else '[dim]off[/]'}"
                                      for n, v in snap["rails"].items()))
        down = [n for n, v in snap["keys"].items() if v == "down"]
        t.add_row("keys", "[yellow]" + "+".join(down) + " DOWN[/]" if down else "[dim]all up[/]")
        t.add_row("senses", "  ".join(f"{n} {'[green]on[/]' if v else '[dim]off[/]'}" for n, v in snap["senses"].items()))
        if snap["display"] is not None:
            t.add_row("display", f"[reverse] {self.redact(snap['display']) or ' '} [/]")
        return Group(t, self.progress_bar)

    def _refresh(self):
        self.live.update(self._render())

    def _print(self, text: str) -> None:
        self.live.console.print(self.redact(text), highlight=False, markup=False)

    def step(self, label):
        self.current_step = label
        self._refresh()

    def event(self, event):
        if event.kind in ("rail", "key", "sense", "display"):
            self._refresh()

    def progress(self, label, served, total, done=False):
        if label not in self.tasks:
            self.tasks[label] = self.progress_bar.add_task(label, total=total, served="0:00", left=_clock(total))
        self.progress_bar.update(self.tasks[label], completed=served, total=total, served=_clock(served),
                                 left=_clock(max(0.0, total - served)))
        if done:
            self.progress_bar.remove_task(self.tasks.pop(label))
            self._print(f"  {label}: {_clock(served)} served" + (" (done)" if served >= total else ""))
        self._refresh()

    def ask(self, question, kind):
        self.live.stop()
        try:
            return self._ask(question, kind)
        finally:
            self.live.start()

    def close(self):
        try:
            self._refresh()
        finally:
            self.live.stop()


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
