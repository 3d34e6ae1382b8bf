"""rig profiles list / show."""

from __future__ import annotations

import click
from rich.table import Table

from ..durations import format_duration
from ..errors import UsageError, unknown
from ..profiles import load_profiles
from . import cli
from .render import out

MARK = {"sourced": "[green]sourced[/]", "single-report": "[yellow]single report[/]", "assumed": "[red]assumed[/]"}
PLAIN = {"sourced": "sourced", "single-report": "single-report", "assumed": "ASSUMED"}


@cli.group()
def profiles():
    """Head-unit profiles (from firmware_notes/): what each family shows and needs."""


@profiles.command("list")
def list_():
    """List every profile with how much of it is backed by a source.

    \b
    Example:
      rig profiles list
    """
    all_ = load_profiles()
    t = Table(title="head-unit profiles", title_justify="left")
    for col in ("id", "family", "name", "entry", "digits", "attempts / lockout", "confidence"):
        t.add_column(col)
    for p in all_.values():
        levels = [lvl for lvl, _ in p.confidence.values()]
        conf = ", ".join(f"{levels.count(k)} {PLAIN[k].lower()}" for k in ("sourced", "single-report", "assumed")
                         if levels.count(k))
        entry = "+".join(p.entry.keys) + (" at power-on" if p.entry.at_power_on else "") if p.entry.keys else "(open)"
        digits = f"{p.digits.count} {p.digits.scheme}"
        att = f"{p.attempts.before_lockout} then {format_duration(p.lockout.wait)}"
        t.add_row(p.id, p.family, p.name, entry, digits, att, conf)
    out.print(t)
    out.print(f"{len(all_)} profiles in {len({p.family for p in all_.values()})} families; "
              "rig profiles show ID for the details and sources")


@profiles.command("show")
@click.argument("profile_id")
def show(profile_id):
    """Show one profile, every value with its confidence and source.

    Values marked ASSUMED are nobody's report: check them on the first unit.

    \b
    Example:
      rig profiles show vw-safe
    """
    all_ = load_profiles()
    if profile_id not in all_:
        raise UsageError(unknown("profile", profile_id, all_, "rig profiles list shows them"))
    p = all_[profile_id]
    out.print(f"[bold]{p.id}[/]: {p.name}\n{p.title}\nmodels: {p.models}\nyears: {p.years}\nfrom: {p.source}:{p.line}")
    t = Table(show_header=True)
    for col in ("value", "is", "confidence", "source"):
        t.add_column(col)
    for name, tpls in p.display.items():
        _row(t, p, f"display.{name}", " | ".join(tpls))
    for sec_name, sec in p.sections.items():
        for k, v in vars(sec).items():
            if v is None:
                continue
            _row(t, p, f"{sec_name}.{k}", _fmt(k, v))
    out.print(t)


def _row(t, p, path, value):
    level, source = p.confidence_of(path)
    t.add_row(path, value, MARK[level] if out.is_terminal else PLAIN[level], source)


def _fmt(k, v):
    if isinstance(v, list):
        return ", ".join(format_duration(x) if isinstance(x, float) else str(x) for x in v) or "(none)"
    if isinstance(v, dict):
        return " ".join(f"{d}={key}" for d, key in v.items())
    if isinstance(v, float) and k in ("hold", "max_hold", "wait", "press", "gap", "result_within", "battery_off"):
        return format_duration(v)
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)
