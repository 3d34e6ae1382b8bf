"""rig units, rig runs: what the ledger knows of units and runs."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from ..durations import format_duration
from ..errors import UsageError, did_you_mean, unknown
from ..ledger import Ledger
from ..profiles import load_profiles
from . import cli
from .render import out
from .run_cmds import ledger_path


@cli.group()
def units():
    """Units in the ledger: history, attempts left, lockouts."""


@units.command("list")
@click.pass_obj
def units_list(app):
    """List every unit the ledger knows.

    \b
    Example:
      rig units list
    """
    led = Ledger(ledger_path(app))
    profiles = load_profiles()
    t = Table()
    for c in ("serial", "profile", "model", "VIN", "state", "attempts"):
        t.add_column(c)
    for u in led.units():
        p = profiles.get(u["profile"])
        state, att = "?", "?"
        if p:
            st = led.standing(u["serial"], p)
            state, att = st.describe().split(":")[0], f"{st.left} of {st.allowed} left"
        t.add_row(u["serial"], u["profile"] or "-", u["model"] or "-", u["vin"] or "-", state, att)
    out.print(t)


@units.command("add")
@click.argument("serial")
@click.option("--profile", "profile_id", required=True, help="Profile id (rig profiles list).")
@click.option("--attempts-used", type=click.IntRange(0, 100), default=0, show_default=True,
              help="Wrong codes the unit had already been given before it reached this bench.")
@click.option("--model", help="Model, as on the label.")
@click.option("--vin", help="The car's VIN.")
@click.pass_obj
def units_add(app, serial, profile_id, attempts_used, model, vin):
    """Register a unit, with the attempts it had used before it reached the bench.

    The ledger can only count what the rig did. A unit that arrives having
    been given wrong codes (Opel shows its attempts left, e.g. 7 SAFE) must be
    told, or the rig would think it has attempts it does not.

    \b
    Example:
      rig units add W0L1234567 --profile vauxhall-opel --attempts-used 3 --model CDR500
    """
    profiles = load_profiles()
    if profile_id not in profiles:
        raise UsageError(unknown("profile", profile_id, profiles, "rig profiles list shows them"))
    led = Ledger(ledger_path(app))
    led.upsert_unit(serial, profile_id, model=model, vin=vin)
    for _ in range(attempts_used):
        led.resolve_attempt(led.begin_attempt(serial, None), "unknown")  # before the bench: counted, not seen
    st = led.standing(serial, profiles[profile_id])
    out.print(f"{serial}: {profile_id}, {st.used} attempt(s) used, {st.left} of {st.allowed} left before a lockout")


@units.command("show")
@click.argument("serial")
@click.pass_obj
def units_show(app, serial):
    """A unit's history: runs, attempts, lockouts and time left, records.

    \b
    Example:
      rig units show VW123
    """
    led = Ledger(ledger_path(app))
    u = led.unit(serial)
    if u is None:
        raise UsageError(f"the ledger has no unit {serial!r}"
                         f"{did_you_mean(serial, [x['serial'] for x in led.units()])}; rig units list shows them")
    p = load_profiles().get(u["profile"])
    out.print(f"[bold]{serial}[/]  profile {u['profile']}  model {u['model'] or '-'}  VIN {u['vin'] or '-'}")
    if p:
        st = led.standing(serial, p)
        out.print(f"state: {st.describe()}; attempts: {st.used} used, {st.left} of {st.allowed} left before a lockout"
                  + (f"; {st.permanent_left} before a permanent lock" if st.permanent_left is not None else ""))
    t = Table(title="attempts", title_justify="left")
    for c in ("#", "when", "run", "outcome"):
        t.add_column(c)
    for a in led.attempts(serial):
        t.add_row(str(a["id"]), _when(a["t"]), str(a["run_id"]), a["outcome"])
    out.print(t)
    for lk in led.lockouts(serial):
        out.print(f"lockout {lk['id']}: started {_when(lk['started'])}, wait {format_duration(lk['wait'])}, "
                  f"served {format_duration(lk['powered'])}, " + (f"ended {_when(lk['ended'])}" if lk["ended"] else "OPEN"))
    for r in led.records(serial):
        out.print(f"record {r['name']}: {r['value']}  ({_when(r['t'])}, run {r['run_id']})")


@cli.group()
def runs():
    """Runs in the ledger."""


@runs.command("list")
@click.option("--unit", "serial", help="Only this unit's runs.")
@click.pass_obj
def runs_list(app, serial):
    """List recent runs.

    \b
    Example:
      rig runs list --unit VW123
    """
    led = Ledger(ledger_path(app))
    t = Table()
    for c in ("run", "procedure", "unit", "profile", "backend", "started", "outcome", "message"):
        t.add_column(c)
    for r in led.runs(serial):
        t.add_row(str(r["id"]), r["procedure"], r["serial"] or "-", r["profile"] or "-", r["backend"] or "-",
                  _when(r["started"]), r["outcome"] or "RUNNING/KILLED", (r["message"] or "")[:60])
    out.print(t)


@runs.command("show")
@click.argument("run_id", type=click.IntRange(1, 2**63 - 1))  # SQLite's largest id; more overflows
@click.pass_obj
def runs_show(app, run_id):
    """One run: outcome, message and where its event log is.

    \b
    Example:
      rig runs show 3
    """
    led = Ledger(ledger_path(app))
    r = led.run(run_id)
    if r is None:
        raise UsageError(f"no run {run_id} in the ledger {led.path}; rig runs list shows them")
    for k in ("id", "procedure", "serial", "profile", "backend", "outcome", "message", "log"):
        out.print(f"{k}: {r[k]}")
    if r["log"]:
        out.print(f"timeline: {Path(r['log']).with_suffix('.svg')}  (open it in a browser)")
    out.print(f"started: {_when(r['started'])}  ended: {_when(r['ended']) if r['ended'] else '-'}")


def _when(t):
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"
