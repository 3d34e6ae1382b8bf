"""rig profiles list / show."""

from __future__ import annotations

import json
import re

import click

from ..durations import format_duration
from ..errors import UsageError, unknown
from ..unit.profiles import load_profiles, note_sources
from . import cli
from .render import esc, out, table

MARK = {"sourced": "[green]sourced[/]", "single-report": "[yellow]single report[/]", "assumed": "[red]assumed[/]"}
PLAIN = {"sourced": "sourced", "single-report": "single-report", "assumed": "ASSUMED"}


@cli.group()
def profiles():
    """Head-unit profiles (from firmware_notes/): what each family shows and needs."""


@profiles.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per profile, for scripts.")
def list_(as_json):
    """List every profile with how much of it is backed by a source.

    \b
    Examples:
      rig profiles list
      rig profiles list --json
    """
    all_ = load_profiles()
    if as_json:
        click.echo(json.dumps([_summary(p) for p in all_.values()], indent=2))
        return
    t = table(("id", "family", "name", "entry", "digits", "attempts / lockout", "confidence"), keep=("id",),
              drop=("name", "confidence"), title="head-unit profiles", title_justify="left")
    for p in all_.values():
        t.add_row(esc(p.id), esc(p.family), esc(p.name), esc(_entry(p)), f"{p.digits.count} {p.digits.scheme}",
                  f"{p.attempts.before_lockout} then {format_duration(p.lockout.wait)}", _confidence(p))
    out.print(t)
    out.print(f"{len(all_)} profiles in {len({p.family for p in all_.values()})} families; "
              "rig profiles show ID for the details and sources")


def _entry(p) -> str:
    return "+".join(p.entry.keys) + (" at power-on" if p.entry.at_power_on else "") if p.entry.keys else "(open)"


def _confidence(p) -> str:
    levels = [lvl for lvl, _ in p.confidence.values()]
    return ", ".join(f"{levels.count(k)} {PLAIN[k].lower()}" for k in ("sourced", "single-report", "assumed")
                     if levels.count(k))


def _summary(p) -> dict:
    levels = [lvl for lvl, _ in p.confidence.values()]
    return {"id": p.id, "family": p.family, "name": p.name, "models": p.models, "years": p.years,
            "entry": _entry(p), "digits": p.digits.count, "scheme": p.digits.scheme,
            "attempts_before_lockout": p.attempts.before_lockout, "lockout_wait_s": p.lockout.wait,
            "confidence": {k: levels.count(k) for k in ("sourced", "single-report", "assumed")},
            "source": f"{p.source}:{p.line}"}


@profiles.command("show")
@click.argument("profile_id")
@click.option("--json", "as_json", is_flag=True, help="Every value with its confidence and source, for scripts.")
def show(profile_id, as_json):
    """Show one profile, every value with its confidence and source.

    Values marked ASSUMED are nobody's report: check them on the first unit.
    The bracket numbers are the note's source list, printed underneath.

    \b
    Example:
      rig profiles show vw-safe
    """
    all_ = load_profiles()
    if profile_id not in all_:
        raise UsageError(unknown("profile", profile_id, all_, "rig profiles list shows them"))
    p = all_[profile_id]
    rows = [(f"display.{name}", " | ".join(tpls)) for name, tpls in p.display.items()]
    rows += [(f"{sec_name}.{k}", _fmt(k, v)) for sec_name, sec in p.sections.items()
             for k, v in vars(sec).items() if v is not None]
    if p.can is not None:
        from ..unit.canprofile import can_rows

        rows += can_rows(p.can)
    sources = note_sources(p.source)
    cited = sorted({n for path, _ in rows for n in re.findall(r"\[(\d+)\]", p.confidence_of(path)[1])}, key=int)
    if as_json:
        data = _summary(p)
        data["values"] = {path: {"value": value, "confidence": p.confidence_of(path)[0],
                                 "source": p.confidence_of(path)[1]} for path, value in rows}
        data["sources"] = {n: sources.get(n, "") for n in cited}
        click.echo(json.dumps(data, indent=2))
        return
    out.print(f"[bold]{esc(p.id)}[/]: {esc(p.name)}\n{esc(p.title)}\nmodels: {esc(p.models)}\n"
              f"years: {esc(p.years)}\nfrom: {esc(p.source)}:{p.line}")
    t = table(("value", "is", "confidence", "source"), keep=("value",))
    for path, value in rows:
        level, source = p.confidence_of(path)
        t.add_row(path, esc(value), MARK[level] if out.is_terminal else PLAIN[level], esc(source))
    out.print(t)
    if cited:
        out.print("sources (the note's list):")
        for n in cited:
            out.print(f"  {esc(f'[{n}]')} {esc(sources.get(n, '(not in the note list: add it under ## Sources)'))}")


def _fmt(k, v):
    if isinstance(v, list):
        return ", ".join(format_duration(x) if isinstance(x, float) else str(x) for x in v) or "(none)"
    if isinstance(v, dict):
        return " ".join(f"{d}={key}" for d, key in v.items())
    if isinstance(v, float) and k in ("hold", "max_hold", "wait", "press", "gap", "result_within", "battery_off",
                                      "opens_after"):
        return format_duration(v)
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)
