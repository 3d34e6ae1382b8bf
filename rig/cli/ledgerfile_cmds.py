"""rig ledger: the ledger file itself, checked, and a damaged one recovered into a new file."""

from __future__ import annotations

import click

from ..errors import ConfigError
from ..records import integrity, recovery
from . import cli
from .app import ledger_path
from .render import err, esc, out


@cli.group()
def ledger():
    """The ledger file itself: check it, recover a damaged one into a new file."""


@ledger.command("check")
@click.pass_obj
def ledger_check(app):
    """Check the ledger file: SQLite's own check and the tables the rig needs.

    Exit 0 when it is sound; 1 when it is damaged (what is wrong is listed, and
    the file is left as it is).

    \b
    Example:
      rig ledger check
    """
    import sqlite3
    from pathlib import Path

    path = ledger_path(app)
    if not Path(path).exists():
        raise ConfigError(f"no ledger at {path} (a typo in --ledger or RIG_LEDGER?)")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        found = integrity.problems(db)
        db.close()
    except sqlite3.DatabaseError as exc:
        found = [f"SQLite cannot open it: {exc}"]
    if not found:
        out.print(f"{esc(path)}: sound")
        return
    for line in found:
        out.print(f"{esc(path)}: {esc(line)}")
    err.print(f"the ledger is damaged. Copy what can be read into a new ledger: rig --ledger {esc(path)} "
              f"ledger recover NEW.sqlite (the damaged file is left as it is)")
    raise click.exceptions.Exit(1)


@ledger.command("recover")
@click.argument("new", metavar="NEW.sqlite", type=click.Path(dir_okay=False))
@click.pass_obj
def ledger_recover(app, new):
    """Copy every readable record of a damaged ledger into a new ledger file NEW.

    Units, runs, attempts, lockouts, records and changes are copied row by row,
    past the damage. A unit's attempt count never goes down: attempts the damage
    took are put back as 'unknown' on every unit they could have belonged to (one
    each where nobody can tell how many). The damaged file is not changed; use
    the new one with --ledger NEW (or move it into place).

    \b
    Example:
      rig ledger recover ~/.local/share/rig/ledger-recovered.sqlite
    """
    source = ledger_path(app)
    from pathlib import Path

    if not Path(source).exists():
        raise ConfigError(f"no ledger at {source} (a typo in --ledger or RIG_LEDGER?)")
    report = recovery.recover(source, new)
    for table, n in report["copied"].items():
        lost = report["lost"][table]
        gone = "" if not lost else (", some rows lost (how many cannot be told)" if lost < 0 else f", {lost} lost")
        out.print(f"{table}: {n} copied{gone}")
    for serial, n in report["put_back"].items():
        out.print(f"{esc(serial)}: {n} attempt(s) counted back as unknown (lost in the damage); check the unit "
                  f"and correct it on purpose with rig units set {esc(serial)} --attempts-used N --reason '...'")
    err.print(f"recovered into {esc(new)}; use it with: rig --ledger {esc(new)} units list")
