"""rig selftest: commission the bench (no head unit connected) and record the result in the ledger."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click

from ..errors import UsageError
from . import cli
from .render import err, out

FAULTS = ("missing-pulldown", "deadman-stuck-on", "slow-rail", "welded")


@cli.command()
@click.option("--write", is_flag=True, help="Write the measured rail decay into the pin map as timing.rail_settle.")
@click.option("--fault", "faults", multiple=True, type=click.Choice(FAULTS),
              help="--backend mock only: build the simulated bench with this fault, to see it caught.")
@click.pass_obj
def selftest(app, write, faults):
    """Commission the bench: measure what its wiring does, against limits.

    Run it with no head unit connected: it switches every rail.

    The pin library and its gpiochip, persist_gpio_outputs, every output's pull-down,
    each relay followed by its rail sense (the decay timed, as timing.rail_settle), the
    interlock, the display tap, and the dead-man tripping within T and staying tripped.
    The result goes into the ledger: `rig run` on the hardware refuses a unit until the
    pin map, as it is now, has passed here. Exit 0 passed, 1 failed.

    \b
    Examples:
      rig selftest                      on the bench, after building it or changing the map
      rig selftest --write              and write the rail decay it measured into the map
      rig --backend mock selftest --fault welded      see a fault caught, no hardware
    """
    from ..bench.selftest import passed, run_selftest
    from ..records import selftests
    from ..records.ledger import Ledger
    from .app import ledger_path

    wiring = app.wiring()
    if app.backend_name == "sim":
        raise UsageError("rig selftest measures the bench's own wiring: run it on the hardware (or --backend mock "
                         "to try it), with no unit connected")
    if faults and app.backend_name != "mock":
        raise UsageError("--fault builds a simulated bench: it needs --backend mock")
    backend = _backend(app, wiring, faults)
    try:
        results = run_selftest(wiring, backend)
    finally:
        backend.close()
    settle = next((m for m in results if m.name == "timing.rail_settle"), None)
    if write and settle is not None and settle.passed is False:
        _write_settle(Path(wiring.source), settle.value)
        settle.passed, settle.note = True, f"written into {wiring.source}"
        app._wiring = None
        wiring = app.wiring()
    for m in results:
        mark = {True: "[green]pass[/]", False: "[red]FAIL[/]", None: "[dim]n/a[/]"}[m.passed]
        out.print(f"{mark}  {m.name}: {m.value}{m.unit and ' ' + m.unit}  (limit {m.limit})"
                  + (f"\n      {m.note}" if m.note else ""), highlight=False)
    ok = passed(results)
    led = Ledger(ledger_path(app))
    try:
        selftests.record(led, backend.name, wiring.source, selftests.wiring_hash(wiring), ok,
                         [m.as_dict() for m in results])
    finally:
        led.close()
    out.print(f"selftest {'passed' if ok else 'FAILED'}: recorded in the ledger for this pin map "
              f"({selftests.wiring_hash(wiring)})")
    if not ok:
        err.print("fix what failed and run rig selftest again; rig run refuses a unit on this bench until it passes")
        raise click.exceptions.Exit(1)


def _backend(app, wiring, faults):
    if app.backend_name != "mock":
        return app.make_backend(wiring)
    from ..bench.backends import mock_backend
    from ..bench.clock import RealClock, VirtualClock

    circuit = {}
    first = lambda group: next(iter(group.values()))  # noqa: E731
    if "missing-pulldown" in faults:
        circuit["missing_pulldown"] = [first(wiring.keys).pin]
    if "deadman-stuck-on" in faults:
        circuit["stuck_on"] = True
    sensed = [r for r in wiring.rails if wiring.rail_sense(r)]
    if "slow-rail" in faults and sensed:
        circuit["slow"] = {sensed[0]: 3.0}
    if "welded" in faults and sensed:
        circuit["welded"] = [sensed[0]]
    clock = VirtualClock() if os.environ.get("RIG_CLOCK") == "virtual" else RealClock()
    return mock_backend(wiring, clock, circuit=circuit)


def _write_settle(path: Path, seconds) -> None:
    """timing.rail_settle in the map, by a line edit: the file's comments and layout stay."""
    text = path.read_text(encoding="utf-8")
    value = f"{seconds:g}s"
    if re.search(r"(?m)^(\s+)rail_settle:", text):
        text = re.sub(r"(?m)^(\s+)rail_settle:\s*[^#\n]*?(\s*(#.*)?)$", rf"\g<1>rail_settle: {value}\g<2>", text, count=1)
    elif re.search(r"(?m)^timing:\s*$", text):
        text = re.sub(r"(?m)^timing:\s*$", f"timing:\n  rail_settle: {value}       # measured by rig selftest", text,
                      count=1)
    else:
        text = text.rstrip("\n") + f"\n\ntiming:\n  rail_settle: {value}       # measured by rig selftest\n"
    path.write_text(text, encoding="utf-8")
