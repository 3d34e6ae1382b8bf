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


def _known_profile(ctx, param, profile_id):
    """A mistyped profile is said (with the near misses) before the code is asked for."""
    from ..errors import UsageError, unknown
    from ..unit.profiles import load_profiles

    profiles = load_profiles()
    if profile_id is not None and profile_id not in profiles:
        raise UsageError(unknown("profile", profile_id, profiles, "rig profiles list shows them"))
    return profile_id


@sim.command()
@click.option("--profile", "profile_id", required=True, callback=_known_profile, help="Profile id (rig profiles list).")
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
    """Start a fresh simulated unit (with --unit-model: a fresh unit of that model, its settings
    given in --unit-model MODULE:FACTORY,NAME=VALUE,...).

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
    model = app.model()
    if model is not None and not model.shipped:
        _reset_model(app, model, path, profile_id, code, state, attempts, serial, knob_args, drop, ideal)
        return
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


def _reset_model(app, model, path, profile_id, code, state, attempts, serial, knob_args, drop, ideal) -> None:
    from ..bench.benchlock import BenchLock
    from ..errors import UsageError

    given = [opt for opt, used in (("--knob", knob_args), ("--drop-press", drop), ("--ideal", ideal)) if used]
    if given:
        raise UsageError(f"{', '.join(given)}: the shipped unit's; give {model.spec}'s own settings in "
                         f"--unit-model {model.spec},NAME=VALUE,...")
    lock = BenchLock(path.with_name(path.name + ".lock"))
    lock.acquire()
    try:
        model.reset(path, profile=profile_id, code=code, state=state, attempts=attempts, serial=serial)
    finally:
        lock.release()
    settings = model.resolved()
    said = ", ".join(f"{k}={v}" for k, v in settings.items())
    out.print(f"fresh {profile_id} unit of {model.spec}, {state}, {attempts} wrong code(s) used"
              f"{' (' + said + ')' if said else ''}  ({path})", markup=False)


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
    from ..sim.backend import describe_unit

    path = app.sim_state_path()
    model = app.model()
    data = describe_unit(path) if model is None or model.shipped else model.describe(path)
    if as_json:
        print(json.dumps(data, indent=1))
        return
    out.print(f"simulated unit ({path})" if model is None or model.shipped else
              f"simulated unit of {model.spec} ({path})", markup=False)
    for k, v in data.items():
        if k == "lockout_left" and v is not None:
            v = f"{format_duration(v)} left"
        if k == "knobs":
            out.print("  knobs:" + ("" if v else " none stored (a unit from before the knobs: ideal)"))
            for name, value in v.items():
                out.print(f"    {name}: {value}", markup=False)
            continue
        out.print(f"  {k}: {v}", markup=False)
