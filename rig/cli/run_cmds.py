"""rig run: one procedure on the bench, from check to record."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

import click

from ..errors import ConfigError
from ..run.job import Job, check_plan, needs_code, prepare, run_job
from ..records.ledger import Ledger
from ..run.procedure import builtin_names, check_answers
from ..records.secret import Code
from .ui import LivePanel, Plain
from . import cli
from .app import ledger_path, log_dir
from .exitcodes import with_context
from .render import beside_the_log, err, esc


def read_code(code_file: str | None) -> Code:
    """From --code-file, RIG_CODE, or a hidden prompt; never from the command line."""
    if code_file:
        try:
            with open(code_file, "rb") as fh:
                data = fh.read(1025)  # a code is a few digits: /dev/zero or a disk image is not read whole
            text = data.decode("utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"--code-file {code_file}: {exc.strerror}") from None
        except UnicodeDecodeError:  # say nothing of the bytes: they may be the code
            raise ConfigError(f"--code-file {code_file}: not UTF-8 text; write the code as plain digits") from None
        if len(data) > 1024:
            raise ConfigError(f"--code-file {code_file}: over 1 KiB; a code is a few digits (is this the right file?)")
        return Code(text)
    if os.environ.get("RIG_CODE"):
        return Code(os.environ["RIG_CODE"])
    if sys.stdin.isatty():
        first = getpass.getpass("unit code (not shown): ")
        # typed blind, so typed twice: a slip of the finger would cost an attempt
        if getpass.getpass("the same code again: ") != first:
            raise ConfigError("the two codes typed differ; nothing was switched. Run again")
        return Code(first)
    raise ConfigError("this procedure enters a code: give it with --code-file FILE or RIG_CODE "
                      "(there is no terminal to ask on)")


def ask(question: str, kind: str) -> str:
    suffix = " [y/n] " if kind == "yesno" else " "
    return input(question + suffix)


def make_ui(bench, redact):
    if sys.stdout.isatty() and sys.stderr.isatty():
        return LivePanel(bench, redact, ask=ask)
    return Plain(redact, ask=ask if sys.stdin.isatty() else None)


def _ask_new_unit(job) -> bool:
    """At a terminal, a serial the ledger has never seen is asked about, naming the closest known ones."""
    near = []
    if Path(job.ledger_path).exists():  # no ledger yet: nothing to ask it (and none made to ask)
        led = Ledger(job.ledger_path)
        try:
            if led.unit(job.serial) is not None:
                return False
            near = led.closest(job.serial)
        finally:
            led.close()
    err.print(f"The ledger has never seen a unit {job.serial!r}" + (f" (closest: {', '.join(near)})" if near else "")
              + ".", markup=False)
    return click.confirm("Start it as a new unit, with a full set of attempts?", default=False, err=True)


def _ask_profile(serial) -> str:
    """A new unit is registered with its profile: at a terminal, asked for (no default)."""
    from ..errors import did_you_mean
    from ..unit.profiles import load_profiles

    profiles = load_profiles()
    err.print(f"{serial} is registered with its profile (its family's attempt rules): "
              f"{', '.join(profiles)}", markup=False)
    while True:
        answer = click.prompt("Profile of this unit", err=True).strip()
        if answer in profiles:
            return answer
        err.print(f"no profile {answer!r}{did_you_mean(answer, profiles)}", markup=False)


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
@click.option("--queue", is_flag=True, help="With a rig server busy on another job: wait in its queue.")
@click.option("--new-unit", is_flag=True, help="The serial is new to the ledger: start its record (with a full "
              "set of attempts). Without it, a serial the ledger has never seen is refused, so a typo cannot "
              "reset the attempt guard.")
@click.pass_obj
def run(app, procedure, profile_id, serial, sets, answers, yes, code_file, allow_lockout, allow_permanent, junit,
        queue, new_unit):
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
    """
    wiring = app.wiring()
    client = app.server()  # first: with --place, the bench's unit is the default unit
    pb = app.lab_bench()
    if pb is not None:
        serial = serial or (pb.bench or {}).get("serial") or None
        profile_id = profile_id or (pb.bench or {}).get("profile") or None
    job = Job(procedure, wiring, app.make_backend, ledger_path(app), log_dir(), profile_id, serial,
              _pairs(sets, "--set"), None, _pairs(answers, "--answer"), yes, allow_lockout, allow_permanent,
              junit, make_ui, app.events_path, new_unit=new_unit)
    job.ledger_here = client is None or not client.remote  # a remote bench checks its own ledger
    if client is not None:
        app.no_wake_set_for(client)
    if serial and not new_unit and job.ledger_here and sys.stdin.isatty() and sys.stderr.isatty():
        job.new_unit = _ask_new_unit(job)
    if job.new_unit and not job.profile_id and job.ledger_here and sys.stdin.isatty() and sys.stderr.isatty():
        job.profile_id = _ask_profile(serial)
    proc, profile = prepare(job)
    check_answers(proc, job.answers)
    check_plan(job, proc, profile)  # before the code is asked for: a run refused later is refused now
    if needs_code(proc):
        job.code = read_code(code_file)
    if client is not None:  # a rig server holds the bench: the same job, run there
        from .serve_cmds import remote_run

        if pb is not None:
            err.print(f"place {esc(pb.place)}: the bench at {esc(pb.url)}"
                      + (f" with {esc(serial)} ({esc(profile_id)})" if serial else ""))
        with _kept(pb, client):  # a coordinator restart mid-job: the place is acquired again, the job goes on
            result = remote_run(client, job, queue, local_dir=log_dir() if client.remote else None)
    else:
        result = run_job(job, proc, profile)
    colour = {"passed": "green", "failed": "red", "error": "red", "refused": "yellow", "interrupted": "yellow"}[result.outcome]
    err.print(f"[bold {colour}]{result.outcome.upper()}[/]: {esc(with_context(result.message))}", markup=True)
    if result.log:  # none for a job that never got a run (an error before it began, a server gone)
        err.print(f"log: {esc(result.log)}\n{beside_the_log(result.log)}")
    if serial and profile is not None and job.ledger_here:
        _standing_line(ledger_path(app), serial, profile)
    if getattr(result, "signal", None) is not None:  # told what the bench did; still ended by the signal
        raise result.signal
    raise click.exceptions.Exit(result.exit_code)


def _kept(pb, client):
    if pb is None:
        from contextlib import nullcontext

        return nullcontext()
    from ..lab.reserve import KeepAcquired

    return KeepAcquired(pb.place, client)


def _standing_line(path, serial, profile):
    led = Ledger(path)
    try:
        st = led.standing(serial, profile)
    finally:
        led.close()
    err.print(f"{esc(serial)}: {st.describe()}")


__all__ = ["run", "builtin_names"]
