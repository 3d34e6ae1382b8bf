"""rig wiring check."""

from __future__ import annotations

import click

from ..errors import ConfigError
from ..wiring import load_wiring
from . import cli
from .render import err, out, wiring_table


@cli.group()
def wiring():
    """The pin map: which GPIO drives which rail, key and sense."""


@wiring.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.pass_obj
def check(app, file):
    """Check a pin map and print it as a table. No pin is touched.

    Every problem is listed with file:line. Exit code 1 if there are errors;
    warnings alone are printed and the exit code is 0.

    \b
    Examples:
      rig wiring check                      the default (or $RIG_WIRING) map
      rig wiring check my-bench.yaml
    """
    path = file or app.wiring_path
    try:
        w = load_wiring(path)
    except ConfigError as exc:
        for p in exc.problems + exc.warnings:
            err.print(f"[red]{p}[/]" if p.severity == "error" else f"[yellow]{p}[/]")
        err.print(f"{len(exc.problems)} error(s)")
        raise click.exceptions.Exit(1)
    out.print(wiring_table(w))
    for p in w.warnings:
        err.print(f"[yellow]{p}[/]")
    out.print(f"ok: {len(w.rails)} rails, {len(w.keys)} keys, {len(w.senses)} senses"
              + (f", {len(w.warnings)} warning(s)" if w.warnings else ""))
