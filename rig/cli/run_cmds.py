"""rig run, rig units, rig runs."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

import click
from rich.table import Table

from ..durations import format_duration
from ..errors import ConfigError
from ..job import Job, needs_code, prepare, run_job
from ..ledger import Ledger
from ..procedure import builtin_names
from ..profiles import load_profiles
from ..secret import Code
from ..ui import LivePanel, Plain
from . import cli
from .app import data_dir
from .render import err, out


def ledger_path(app) -> str:
    return app.ledger_path or str(data_dir() / "ledger.sqlite")


def log_dir() -> str:
    return os.environ.get("RIG_LOG_DIR") or str(data_dir() / "runs")


def read_code(code_file: str | None) -> Code:
    """From --code-file, RIG_CODE, or a hidden prompt; never from the command line."""
    if code_file:
        try:
            text = Path(code_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"--code-file {code_file}: {exc.strerror}") from None
        return Code(text)
    if os.environ.get("RIG_CODE"):
        return Code(os.environ["RIG_CODE"])
    if sys.stdin.isatty():
        return Code(getpass.getpass("unit code (not shown): "))
    raise ConfigError("this procedure enters a code: give it with --code-file FILE or RIG_CODE "
                      "(there is no terminal to ask on)")


def ask(question: str, kind: str) -> str:
    suffix = " [y/n] " if kind == "yesno" else " "
    return input(question + suffix)


def make_ui(bench, redact):
    if sys.stdout.isatty() and sys.stderr.isatty():
        return LivePanel(bench, redact, ask=ask)
    return Plain(redact, ask=ask if sys.stdin.isatty() else None)


def _pairs(values, what):
    out_ = {}
    for v in values:
        if "=" not in v:
            raise click.BadParameter(f"{v!r}: write NAME=VALUE", param_hint=what)
        k, val = v.split("=", 1)
        out_[k.strip()] = val
    return out_


@cli.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("procedure", metavar="PROCEDURE")
@click.option("--profile", "profile_id", help="Head-unit profile id (rig profiles list).")
@click.option("--unit", "serial", help="The unit's serial (the ledger's key for attempts and lockouts).")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Set a procedure parameter.")
@click.option("--answer", "answers", multiple=True, metavar="NAME=VALUE",
              help="Pre-answer a prompt that records NAME (for unattended runs).")
@click.option("--yes", is_flag=True, help="Answer yes to every yes/no prompt (unattended runs).")
@click.option("--code-file", type=click.Path(dir_okay=False), help="Read the code from this file (else RIG_CODE, "
              "else a hidden prompt).")
@click.option("--allow-lockout", is_flag=True, help="Allow the attempt that would start a lockout if wrong.")
@click.option("--allow-permanent-lock", "allow_permanent", is_flag=True,
              help="Allow the attempt that would lock the unit for good if wrong.")
@click.option("--junit", type=click.Path(dir_okay=False), help="Also write JUnit XML here (for CI).")
@click.pass_obj
def run(app, procedure, profile_id, serial, sets, answers, yes, code_file, allow_lockout, allow_permanent, junit):
    """Run a procedure on the bench.

    PROCEDURE is a built-in name or a YAML file. Everything is checked first
    (pin map, profile, procedure: errors name file:line) before any pin moves.
    The code comes from a hidden prompt, --code-file or RIG_CODE, and is never
    written anywhere in clear. Each run writes a JSON-lines event log and a
    ledger entry.

    \b
    Built-in procedures:
      reproduce-safe   cut constant power past the arming time; check the lock shows
      enter-code       enter the known code; a wrong one fails with attempts left
      lockout-wait     sit out the powered lockout wait (resumable)
      read-serial      show/read the serial, record model and VIN, print a code request
      bench-removal    a checklist to get the unit onto the bench safely
      unlock           all of it: wait out a lockout if needed, then enter the code
    \b
    Examples:
      rig --backend sim run reproduce-safe --profile vw-safe --unit VW123
      RIG_CODE=... rig run enter-code --profile ford --unit M123456
      rig run lockout-wait --profile vw-safe --unit VW123 --junit out.xml
    \b
    Exit codes: 0 passed, 1 failed (expectation not met, wrong code),
    2 usage/configuration error, 3 refused for safety, 130 interrupted.
    """
    wiring = app.wiring()
    job = Job(procedure, wiring, app.make_backend, ledger_path(app), log_dir(), profile_id, serial,
              _pairs(sets, "--set"), None, _pairs(answers, "--answer"), yes, allow_lockout, allow_permanent,
              junit, make_ui, app.events_path)
    proc, profile = prepare(job)
    if needs_code(proc):
        job.code = read_code(code_file)
    result = run_job(job, proc, profile)
    colour = {"passed": "green", "failed": "red", "error": "red", "refused": "yellow", "interrupted": "yellow"}[result.outcome]
    err.print(f"[bold {colour}]{result.outcome.upper()}[/]: {result.message}", markup=True)
    err.print(f"log: {result.log}\ntimeline: {Path(result.log).with_suffix('.svg')}")
    if serial and profile is not None:
        _standing_line(ledger_path(app), serial, profile)
    raise click.exceptions.Exit(result.exit_code)


def _standing_line(path, serial, profile):
    led = Ledger(path)
    try:
        st = led.standing(serial, profile)
    finally:
        led.close()
    err.print(f"{serial}: {st.describe()}")


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
        raise ConfigError(f"no profile {profile_id!r}; rig profiles list shows them")
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
        raise ConfigError(f"the ledger has no unit {serial!r} (rig units list)")
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
@click.argument("run_id", type=int)
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
        raise ConfigError(f"no run {run_id} in the ledger")
    for k in ("id", "procedure", "serial", "profile", "backend", "outcome", "message", "log"):
        out.print(f"{k}: {r[k]}")
    if r["log"]:
        out.print(f"timeline: {Path(r['log']).with_suffix('.svg')}  (open it in a browser)")
    out.print(f"started: {_when(r['started'])}  ended: {_when(r['ended']) if r['ended'] else '-'}")


def _when(t):
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


__all__ = ["run", "builtin_names"]
