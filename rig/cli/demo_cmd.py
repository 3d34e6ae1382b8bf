"""rig demo: the whole story on the simulated bench, with no arguments."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import click

from ..run.job import Job, run_job
from ..records.ledger import LedgerRefused
from ..records.secret import Code
from . import cli
from .app import data_dir
from .render import err, out
from .run_cmds import make_ui

PROFILE = "vw-safe"
MARK = ".rig-demo"  # the demo's own directories carry this, so it never wipes anything else
UNIT = "DEMO-VWZ1Z7"


def _fresh(base: Path) -> None:
    """Wipe a directory the demo made before; never one that holds a real ledger or anyone's logs."""
    if base.exists() and any(base.iterdir()):
        if not (base / MARK).exists():
            raise LedgerRefused(f"{base} already holds files the demo did not create (a ledger, run logs?); "
                                f"the demo will not write there. Give it an empty or new directory: "
                                f"rig demo --dir /tmp/rig-demo")
        shutil.rmtree(base)
    base.mkdir(parents=True, exist_ok=True)
    (base / MARK).write_text("made by rig demo: this directory is wiped at the next rig demo\n")


@cli.command()
@click.option("--with-lockout", is_flag=True, help="Also use up the attempts, sit out the simulated one-hour "
              "lockout wait (seconds of wall time), and unlock after it.")
@click.option("--dir", "workdir", type=click.Path(file_okay=False), help="Where the demo keeps its unit, ledger "
              "and logs (default: ~/.local/share/rig/demo). Only a directory the demo made itself is wiped; "
              "one holding anything else is refused.")
@click.pass_obj
def demo(app, with_lockout, workdir):
    """The whole story on a simulated head unit, no Pi needed.

    A fresh seed-scheme unit (VW/Blaupunkt SAFE, mode+scan, presets 1-4 step
    the digits) with a code only the demo knows: reproduce SAFE by cutting
    constant power, enter one wrong code, watch the rig refuse the attempt
    that would lock the unit out, then enter the right code with the override
    and see it unlock. Every run leaves an event log and a ledger entry.

    \b
    Example:
      rig demo
      rig demo --with-lockout      also sit out a simulated one-hour lockout
    """
    from ..sim.backend import reset_unit, sim_backend

    base = data_dir() / "demo" if workdir is None else Path(workdir)
    if workdir is None and base.exists() and not (base / MARK).exists():
        (base / MARK).touch()  # rig's own demo directory, from a rig that did not mark it yet
    _fresh(base)
    state, ledger, logs = base / "sim-unit.json", str(base / "ledger.sqlite"), str(base / "runs")
    right = "".join(secrets.choice("0123456789") for _ in range(4))
    wrong = "".join(str((int(c) + 3) % 10) for c in right)  # a deliberately wrong code, for the story
    reset_unit(state, PROFILE, right, state="unlocked", serial=UNIT)
    wiring = app.wiring()

    first = [True]

    def run(procedure, code=None, **kw):
        out.rule(f"rig run {procedure}" + (" " + " ".join(f"--{k.replace('_', '-')}" for k in kw) if kw else ""))
        job = Job(procedure, wiring, lambda w: sim_backend(w, state), ledger, logs, PROFILE, UNIT,
                  code=Code(code) if code else None, make_ui=make_ui, new_unit=first[0], **kw)
        first[0] = False
        result = run_job(job)
        colour = {"passed": "green", "failed": "red", "error": "red", "refused": "yellow", "interrupted": "yellow"}[result.outcome]
        out.print(f"[bold {colour}]{result.outcome.upper()}[/] (exit {result.exit_code}): {result.message}")
        out.print(f"[dim]log: {result.log}[/]")
        return result

    out.print(f"[bold]rig demo[/]: a simulated {PROFILE} unit, serial {UNIT}; its code is known only to the demo.")
    out.print(f"[dim]the demo's unit, ledger and logs: {base}[/]")
    steps = [run("reproduce-safe")]
    on_purpose = ("[yellow]Next, the demo enters a wrong code on purpose (not the unit's): to show the attempt "
                  "counted in the ledger before the confirm press, and the attempts left.[/]")
    out.print(on_purpose)
    steps.append(run("enter-code", wrong))
    if with_lockout:
        out.print("[yellow]And a second wrong code on purpose, with --allow-lockout: to show the lockout it "
                  "starts and the wait sat out.[/]")
        steps.append(run("enter-code", wrong, allow_lockout=True))
        steps.append(run("enter-code", right))  # refused: locked out
        steps.append(run("lockout-wait"))
        steps.append(run("enter-code", right, allow_lockout=True))
    else:
        steps.append(run("enter-code", right))  # refused: the last attempt before a lockout
        out.print("[yellow]The rig refused the last attempt before a lockout. The demo knows its code is right, "
                  "so it says so with --allow-lockout.[/]")
        steps.append(run("enter-code", right, allow_lockout=True))
    final = steps[-1]
    out.rule("done")
    out.print(f"the unit is {'UNLOCKED' if final.outcome == 'passed' else 'still locked'}.")
    out.print(f"event logs: {logs}")
    out.print(f"ledger:     rig --ledger {ledger} units show {UNIT}")
    if final.outcome != "passed":
        err.print("the demo did not end unlocked: that is a bug, please report it with the logs above")
        raise click.exceptions.Exit(1)
