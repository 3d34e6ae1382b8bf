"""rig sim reset / show: the simulated unit (for development; the rig never reads its internals)."""

from __future__ import annotations

import json

import click

from ..durations import format_duration
from . import cli
from .render import out


@cli.group()
def sim():
    """The simulated head unit used by --backend sim (demo, CI, procedure development)."""


@sim.command()
@click.option("--profile", "profile_id", required=True, help="Profile id (rig profiles list).")
@click.option("--code", prompt=True, hide_input=True, envvar="RIG_SIM_CODE",
              help="The unit's true code (prompted, hidden, if not given).")
@click.option("--state", type=click.Choice(["locked", "unlocked", "lockout"]), default="locked", show_default=True,
              help="locked: shows its lock display when powered. lockout: in its first lockout wait.")
@click.option("--attempts", type=click.IntRange(0, 100), default=0, show_default=True,
              help="Wrong codes already used.")
@click.option("--serial", default="SIM0000001", show_default=True, help="The unit's serial number.")
@click.option("--drop-press", "drop", type=int, multiple=True,
              help="Fault injection: the Nth digit press is missed by the unit (repeatable).")
@click.option("--knob", "knob_args", multiple=True, metavar="NAME=VALUE",
              help="A realism knob (repeatable; the list is above).")
@click.option("--ideal", is_flag=True,
              help="Instant behaviour (no boot delay, lag, debounce...): for tests about logic, not timing. "
                   "--knob still applies on top.")
@click.pass_obj
def reset(app, profile_id, code, state, attempts, serial, drop, knob_args, ideal):
    """Start a fresh simulated unit.

    \b
    Examples:
      rig sim reset --profile vw-safe --code 1234
      rig sim reset --profile ford --code 5678 --state lockout
      rig sim reset --profile honda --code 12345 --attempts 2
      rig sim reset --profile ford --code 5678 --knob amp_remote=stuck_low
      rig sim reset --profile vw-safe --code 1234 --knob 'rail_fault={rail: acc, kind: fuse, after: 120}'

    \b
    Knobs (VALUE is YAML; durations in s or as 250ms, 2s; seeded, deterministic):
    KNOBS_TABLE
    """
    from ..sim.backend import reset_unit
    from ..sim.knobs import parse_assignment

    from ..bench.benchlock import BenchLock

    knobs = dict(parse_assignment(a) for a in knob_args)
    path = app.sim_state_path()
    # the unit's lock, as every command using it takes: a reset under a running shell would be
    # overwritten when the shell saves the unit's memory at its end
    lock = BenchLock(path.with_name(path.name + ".lock"))
    lock.acquire()
    try:
        mem = reset_unit(path, profile_id, code, state, attempts, serial, knobs=knobs, ideal=ideal)
        if drop:
            mem.drop_presses = list(drop)
            mem.save(path)
    finally:
        lock.release()
    from ..sim.knobs import REALISTIC_BY_DEFAULT

    what = "ideal" if ideal or not REALISTIC_BY_DEFAULT else "realistic"
    out.print(f"fresh {profile_id} unit, {state}, {attempts} wrong code(s) used, {what}"
              f"{' + ' + ', '.join(sorted(knobs)) if knobs else ''}  ({path})")


def _knobs_help() -> str:
    # The table lives with the knobs (rig/sim/knobs.py); --help shows the same lines.
    from ..sim.knobs import help_table

    return help_table().replace("\n", "\n    ")


reset.help = reset.help.replace("KNOBS_TABLE", _knobs_help())


@sim.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable.")
@click.pass_obj
def show(app, as_json):
    """Print the simulated unit's internal state (the code itself is never stored in clear).

    \b
    Example:
      rig sim show
    """
    from ..sim.memory import UnitMemory

    path = app.sim_state_path()
    mem = UnitMemory.load(path)
    data = {k: v for k, v in vars(mem).items() if k not in ("code_hash", "salt")}
    if as_json:
        print(json.dumps(data, indent=1))
        return
    out.print(f"simulated unit ({path})")
    for k, v in data.items():
        if k == "lockout_left" and v is not None:
            v = f"{format_duration(v)} left"
        if k == "knobs":
            out.print("  knobs:" + ("" if v else " none stored (a unit from before the knobs: ideal)"))
            for name, value in v.items():
                out.print(f"    {name}: {value}", markup=False)
            continue
        out.print(f"  {k}: {v}", markup=False)
