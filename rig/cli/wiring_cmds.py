"""rig wiring check, rig wiring diagram."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import ConfigError
from ..bench.wiring import load_wiring
from . import cli
from .render import err, out, wiring_table


@cli.group()
def wiring():
    """The pin map: which GPIO drives which rail, key and sense."""


def _load(path, advice: str):
    """The pin map, or every problem with file:line and exit code 1."""
    try:
        return load_wiring(path)
    except ConfigError as exc:
        for p in exc.problems + exc.warnings:
            err.print(f"[red]{p}[/]" if p.severity == "error" else f"[yellow]{p}[/]")
        err.print(f"{len(exc.problems)} error(s){advice}")
        raise click.exceptions.Exit(1)


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
    w = _load(file or app.wiring_path, "")
    out.print(wiring_table(w))
    for p in w.warnings:
        err.print(f"[yellow]{p}[/]")
    for p in w.notes:  # a shared pin: fine until config.txt hands it to a peripheral (refused at open)
        err.print(str(p), markup=False)
    out.print(f"ok: {len(w.rails)} rails, {len(w.keys)} keys, {len(w.senses)} senses"
              + (f", heartbeat on GPIO{w.heartbeat.pin}" if w.heartbeat else "")
              + (f", {len(w.warnings)} warning(s)" if w.warnings else ""))


@wiring.command("diagram")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the SVG here (default: the map's name with .svg in the current directory; "
                   "'-' for standard output).")
@click.pass_obj
def diagram(app, file, output):
    """Draw the pin map as a wiring picture (SVG). No pin is touched.

    The header pins in use, each channel's driver, where it lands on the head
    unit (ISO 10487 pin, button, key line), coloured by kind, with the state
    a released pin leaves it in. Open it in a browser, or print it.

    \b
    Examples:
      rig wiring diagram                         the default map -> bench.svg
      rig wiring diagram my-bench.yaml -o my-bench.svg
      rig wiring diagram -o - | rsvg-convert -o bench.png
    """
    from ..bench.diagram import render_svg

    w = _load(file or app.wiring_path, ": fix the pin map first")
    svg = render_svg(w)
    if output == "-":
        sys.stdout.write(svg)
        return
    target = Path(output or Path(w.source).with_suffix(".svg").name)
    target.write_text(svg, encoding="utf-8")
    out.print(f"wrote {target} ({len(w.rails)} rails, {len(w.keys)} keys, {len(w.senses)} senses"
              + (", heartbeat" if w.heartbeat else "") + ")")


@wiring.command("schematic")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(file_okay=False), default=".", show_default=True,
              help="The folder the sheets are written to.")
@click.pass_obj
def schematic(app, file, output):
    """Draw the schematic sheets from the pin map (SVG): relays, keys, senses, power, dead-man, harness.

    Sheet 1 is the pin sheet (rig wiring diagram). Needs schemdraw, a drawing tool
    the Pi's install does not carry: pip install '.[docs]'.

    \b
    Examples:
      rig wiring schematic -o wiring/schematic
    """
    try:
        from ..bench.schematic import render_all
    except ImportError:  # pragma: no cover - only without the docs extra
        raise click.UsageError("the schematic needs schemdraw: pip install 'rig[docs]'") from None
    w = _load(file or app.wiring_path, ": fix the pin map first")
    try:
        sheets = render_all(w)
    except ModuleNotFoundError:
        raise click.UsageError("the schematic needs schemdraw: pip install 'rig[docs]'") from None
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    for name, svg in sheets.items():
        (folder / name).write_text(svg, encoding="utf-8")
    out.print(f"wrote {len(sheets)} sheets to {folder}: {', '.join(sheets)}")
