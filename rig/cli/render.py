"""How the CLI shows things: tables for a person, plain lines for a pipe."""

from __future__ import annotations

from rich.console import Console
from rich.errors import MarkupError
from rich.cells import cell_len
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..errors import BenchBusy, ConfigError, RigError, SafetyRefusal
from ..bench.wiring import HEADER, Wiring, boot_pulls_high
from .exitcodes import with_context


class SafeConsole(Console):
    """A console that never dies of a user's text: emoji off ("file:100: error" must not print
    as "file💯 error"), and a line whose markup does not parse (a key named ``[/bold]`` that
    slipped past :func:`esc`) is printed as plain text instead of raising MarkupError."""

    def __init__(self, **kwargs):
        super().__init__(highlight=False, soft_wrap=True, emoji=False, **kwargs)

    def print(self, *objects, **kwargs):
        try:
            super().print(*objects, **kwargs)
        except MarkupError:
            super().print(*objects, **{**kwargs, "markup": False})


out = SafeConsole()
err = SafeConsole(stderr=True)

_CONTROL = {c: f"\\x{c:02x}" for c in list(range(0x20)) + [0x7F] if c not in (0x0A, 0x09)}


def esc(value) -> str:
    """User text (names, display lines, file paths) made safe to print with markup: ``[/bold]`` stays
    text, and a control character shows as ``\\x1b`` instead of steering the terminal."""
    return escape(str(value).translate(_CONTROL))


def report_error(exc: RigError) -> int:
    """Print a rig error the way a technician reads it; returns the exit code.

    Problems in files say file:line each; a command-line mistake says ``rig: error:``;
    "fix the file(s) above" only when a file is to blame.
    """
    if isinstance(exc, ConfigError):
        for p in exc.problems + exc.warnings:
            text = with_context(str(p) if p.file else f"rig: {p.severity}: {p.message}")
            err.print(f"[red]{esc(text)}[/]" if p.severity == "error" else f"[yellow]{esc(text)}[/]")
        if exc.from_files:
            err.print("nothing was switched: fix the file(s) above and run again")
        return exc.exit_code
    what = "refused" if isinstance(exc, (BenchBusy, SafetyRefusal)) else "error"
    err.print(f"[red]rig: {what}: {esc(with_context(str(exc)))}[/]")
    return exc.exit_code


def beside_the_log(log) -> str:
    """The files a run leaves beside its log, said where they are: its timeline, and a read-serial
    run's code-request sheet (the paper for the dealer)."""
    from pathlib import Path

    sheet = Path(log).with_suffix(".sheet.html")
    return f"timeline: {esc(Path(log).with_suffix('.svg'))}  (open it in a browser)" + (
        f"\ncode-request sheet: {esc(sheet)}  (open it in a browser, fill in shop and customer, print it)"
        if sheet.exists() else "")


WORD = 20  # a word longer than this (a path, a hash) may be folded in a narrow column


class KeepTable(Table):
    """A table whose key columns (an id, a serial: what one types next) are never cut or wrapped.

    The other columns wrap instead when the terminal, or a pipe's 80 columns, is narrow.
    """

    def __init__(self, *args, keep=(), columns=(), shown=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._keep = set(keep)
        self._all, self._shown = list(columns), set(shown)

    def add_row(self, *cells, **kwargs):
        """Cells for every column named to :func:`table`; those of dropped columns are left out."""
        if self._all and len(cells) == len(self._all):
            cells = tuple(c for name, c in zip(self._all, cells) if name in self._shown)
        super().add_row(*cells, **kwargs)
        for col, cell in zip(self.columns, cells):
            if not isinstance(cell, str):
                continue
            text = Text.from_markup(cell).plain
            if col.header in self._keep:
                col.min_width = max(col.min_width or 0, cell_len(text))
                col.no_wrap = True
            else:  # wrapped at spaces; a word ("reproduce-safe", "interrupted") is not split, up to WORD
                col.min_width = max(col.min_width or 0, min(WORD, max(map(cell_len, text.split() or [""]))))

    def _calculate_column_widths(self, console, options):
        # whole words only while they fit: past the width, the wrapped columns fold rather than the
        # table growing wider than the terminal (which would wrap every line of it)
        need = sum((c.min_width or 0) + self._get_padding_width(c._index) for c in self.columns) + self._extra_width
        if need > options.max_width:
            for c in self.columns:
                if c.header not in self._keep:
                    c.min_width = None
        return super()._calculate_column_widths(console, options)


def table(columns, keep=(), drop=(), **kwargs) -> KeepTable:
    """A table with these column headers; ``keep`` names the ones never to cut, ``drop`` the ones
    left out first when the width (a terminal, or 80 columns in a pipe) is too narrow for them all."""
    width = out.width
    shown = [c for c in columns if c not in drop or width >= 120]
    t = KeepTable(keep=keep, columns=columns, shown=shown, **kwargs)
    for c in shown:
        # the other columns wrap (fold) rather than end in "...": what is shown is whole
        t.add_column(c, no_wrap=c in keep, min_width=max(map(len, c.split())), overflow="fold")
    return t


def wiring_table(w: Wiring) -> Table:
    t = Table(title=f"{w.name}  ({w.source})", title_justify="left")
    for col in ("what", "name", "GPIO", "header pin", "drive / input", "boot pull", "safe / released", "notes"):
        t.add_column(col)
    for r in w.rails.values():
        t.add_row("rail", r.name, str(r.pin), str(HEADER.get(r.pin, "?")),
                  ("active-high" if r.active_high else "active-low") + f", {r.contact.upper()} contact",
                  "up" if boot_pulls_high(r.pin) else "down", "on" if r.safe_on else "off",
                  " ".join(x for x in (r.iso and f"ISO {r.iso}", "" if r.required else "optional") if x))
    for k in w.keys.values():
        t.add_row("key", k.name, str(k.pin), str(HEADER.get(k.pin, "?")),
                  "active-high" if k.active_high else "active-low",
                  "up" if boot_pulls_high(k.pin) else "down", "released",
                  "" if k.switch == "photomos" else k.switch)
    for s in w.senses.values():
        t.add_row("sense", s.name, str(s.pin), str(HEADER.get(s.pin, "?")),
                  f"pull {s.pull}, active {'high' if s.active_high else 'low'}",
                  "up" if boot_pulls_high(s.pin) else "down", "-", "")
    if w.heartbeat:
        hb = w.heartbeat
        t.add_row("heartbeat", "dead-man", str(hb.pin), str(HEADER.get(hb.pin, "?")), f"toggles every {hb.every:g}s",
                  "up" if boot_pulls_high(hb.pin) else "down", "still: supply off", "")
    if w.display:
        t.add_row("display", "tap", "-", "-", f"{w.display.port} @ {w.display.baud}", "-", "-", "")
    t.caption = (f"press {w.timing.press:g}s, gap {w.timing.gap:g}s, relay dwell {w.timing.relay_dwell:g}s")
    return t


def status_table(snap: dict) -> Table:
    t = Table(show_header=True, title_justify="left")
    t.add_column("rail")
    t.add_column("state")
    t.add_column("key")
    t.add_column("state")
    t.add_column("sense")
    t.add_column("value")
    rails = list(snap["rails"].items())
    keys = list(snap["keys"].items())
    senses = list(snap["senses"].items())
    if snap.get("display") is not None:
        senses.append(("display", snap["display"]))
    for i in range(max(len(rails), len(keys), len(senses))):
        row = []
        for items, fmt in ((rails, _rail), (keys, _key), (senses, _sense)):
            if i < len(items):
                row += [items[i][0], fmt(items[i][1])]
            else:
                row += ["", ""]
        t.add_row(*row)
    return t


def status_lines(snap: dict) -> str:
    """The same as status_table, one fact a line (for pipes and scripts)."""
    lines = [f"rail {n}: {v}" for n, v in snap["rails"].items()]
    lines += [f"key {n}: {v}" for n, v in snap["keys"].items() if v == "down"] or ["keys: all up"]
    lines += [f"sense {n}: {'on' if v else 'off'}" for n, v in snap["senses"].items()]
    if snap.get("display") is not None:
        lines.append(f"display: {snap['display']}")
    return "\n".join(lines)


def _rail(v):
    return "[green]on[/]" if v == "on" else "[dim]off[/]"


def _key(v):
    return "[yellow]DOWN[/]" if v == "down" else "[dim]up[/]"


def _sense(v):
    if isinstance(v, bool):
        return "[green]on[/]" if v else "[dim]off[/]"
    return f"[bold]{esc(v)}[/]" if v else "[bold](blank)[/]"


def show_status(snap: dict) -> None:
    if out.is_terminal:
        out.print(status_table(snap))
    else:
        print(status_lines(snap), flush=True)
    if snap.get("can"):
        out.print(can_line(snap["can"]), markup=False)


def can_line(can: dict) -> str:
    """The bench's CAN bus in one line: its state, its wake set, whether the frames go out."""
    wake = f"wake set {can['wake_set']}, {can['wake']}" if can.get("wake_set") else "no wake set"
    return f"can: {can['channel']} ({can['interface']}), {can['state']}; {wake}"
