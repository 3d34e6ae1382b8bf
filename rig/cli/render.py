"""How the CLI shows things: tables for a person, plain lines for a pipe."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..errors import BenchBusy, ConfigError, RigError, SafetyRefusal
from ..wiring import Wiring, boot_pulls_high

# BCM number -> physical pin on the 40-pin header.
HEADER = {2: 3, 3: 5, 4: 7, 17: 11, 27: 13, 22: 15, 10: 19, 9: 21, 11: 23, 0: 27, 5: 29, 6: 31, 13: 33,
          19: 35, 26: 37, 14: 8, 15: 10, 18: 12, 23: 16, 24: 18, 25: 22, 8: 24, 7: 26, 1: 28, 12: 32,
          16: 36, 20: 38, 21: 40}

# emoji off: "file:100: error" must not print as "file💯 error"
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

def esc(value) -> str:
    """User text (names, display lines, file paths) made safe to print with markup: ``[/bold]`` stays text."""
    return escape(str(value))


def report_error(exc: RigError) -> int:
    """Print a rig error the way a technician reads it; returns the exit code.

    Problems in files say file:line each; a command-line mistake says ``rig: error:``;
    "fix the file(s) above" only when a file is to blame.
    """
    if isinstance(exc, ConfigError):
        for p in exc.problems + exc.warnings:
            text = str(p) if p.file else f"rig: {p.severity}: {p.message}"
            err.print(f"[red]{esc(text)}[/]" if p.severity == "error" else f"[yellow]{esc(text)}[/]")
        if exc.from_files:
            err.print("nothing was switched: fix the file(s) above and run again")
        return exc.exit_code
    what = "refused" if isinstance(exc, (BenchBusy, SafetyRefusal)) else "error"
    err.print(f"[red]rig: {what}: {esc(exc)}[/]")
    return exc.exit_code


class KeepTable(Table):
    """A table whose key columns (an id, a serial: what one types next) are never cut or wrapped.

    The other columns wrap instead when the terminal, or a pipe's 80 columns, is narrow.
    """

    def __init__(self, *args, keep=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._keep = set(keep)

    def add_row(self, *cells, **kwargs):
        super().add_row(*cells, **kwargs)
        for col, cell in zip(self.columns, cells):
            if col.header in self._keep and isinstance(cell, str):
                width = Text.from_markup(cell).cell_len
                col.min_width = max(col.min_width or 0, width)
                col.no_wrap = True


def table(columns, keep=(), **kwargs) -> KeepTable:
    """A table with these column headers; ``keep`` names the ones never to cut."""
    t = KeepTable(keep=keep, **kwargs)
    for c in columns:
        t.add_column(c, no_wrap=c in keep, min_width=len(c) if c in keep else None)
    return t
