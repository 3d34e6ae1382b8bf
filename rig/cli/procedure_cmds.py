"""rig procedures list / show: what each built-in procedure does, its needs, parameters and steps."""

from __future__ import annotations

import json

import click

from ..errors import UsageError, unknown
from ..run.procedure import builtin_names, find_procedure, load_procedure
from . import cli
from .render import esc, out, table


@cli.group()
def procedures():
    """Procedures `rig run` can run: the built-ins, or your own YAML file."""


@procedures.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per procedure, for scripts.")
def procedures_list(as_json):
    """List the built-in procedures with what each does and needs.

    \b
    Example:
      rig procedures list
    """
    procs = [load_procedure(n) for n in builtin_names()]
    if as_json:
        click.echo(json.dumps([_summary(p) for p in procs], indent=2))
        return
    t = table(("procedure", "needs", "what it does"), keep=("procedure",))
    for p in procs:
        t.add_row(esc(p.name), ", ".join(sorted(p.needs)) or "-", esc(_first_sentence(p.description)))
    out.print(t)
    out.print("rig procedures show NAME for its steps and parameters")


@procedures.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="The procedure as JSON, for scripts.")
def procedures_show(name, as_json):
    """One procedure: what it does, what it needs, its parameters and its steps.

    NAME is a built-in name or a YAML file.

    \b
    Example:
      rig procedures show unlock
    """
    _exists(name)
    p = load_procedure(name)
    if as_json:
        data = _summary(p)
        data["steps"] = [{"step": s.label, "kind": s.kind, "line": s.line, "if": s.cond} for s in p.steps]
        click.echo(json.dumps(data, indent=2, default=str))
        return
    out.print(f"[bold]{esc(p.name)}[/]  ({esc(p.source)})")
    if p.description:
        out.print(esc(p.description))
    give = {"profile": "--profile ID", "unit": "--unit SERIAL", "code": "the code by prompt, --code-file or RIG_CODE"}
    said = [give[n] for n in ("profile", "unit", "code") if n in p.needs]  # a code only where one is entered
    out.print(f"needs: {', '.join(sorted(p.needs)) or 'nothing'}" + (f"  (give {'; '.join(said)})" if said else ""))
    if p.params:
        out.print("parameters (--set NAME=VALUE):")
        for k, v in p.params.items():
            helptext = p.param_help.get(k, "")
            out.print(f"  {esc(k)} = {esc(v)}" + (f"  {esc(helptext)}" if helptext else ""))
    t = table(("#", "step", "kind", "when", "line"), keep=("#", "kind", "line"))  # step and when wrap at 80
    for i, s in enumerate(p.steps, 1):
        t.add_row(str(i), esc(s.label), s.kind.replace("_", " "), esc(_cond(s.cond)) if s.cond else "always",
                  str(s.line))
    out.print(t)


def _exists(name: str) -> None:
    """A mistyped built-in name is a command-line error with a suggestion, not a file error."""
    if name in builtin_names() or name.endswith((".yaml", ".yml")) or "/" in name:
        return
    try:
        find_procedure(name)
    except Exception:
        raise UsageError(unknown("procedure", name, builtin_names(), "rig procedures list shows them, "
                                 "or give a path to a YAML file")) from None


def _summary(p) -> dict:
    return {"name": p.name, "description": p.description, "needs": sorted(p.needs),
            "params": {k: {"default": v, "help": p.param_help.get(k, "")} for k, v in p.params.items()},
            "source": p.source}


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    end = flat.find(". ")
    return flat if end < 0 else flat[:end + 1]


def _cond(cond) -> str:
    if not isinstance(cond, dict) or len(cond) != 1:
        return str(cond)
    (k, v), = cond.items()
    if k == "not":
        return f"not {_cond(v)}"
    if k in ("any", "all"):
        return f" {'or' if k == 'any' else 'and'} ".join(_cond(c) for c in (v if isinstance(v, list) else [v]))
    if isinstance(v, list):
        v = " or ".join(map(str, v))
    if isinstance(v, dict):
        v = ", ".join(f"{a} {'on' if b else 'off'}" if isinstance(b, bool) else f"{a}={b}" for a, b in v.items())
    return f"{k}: {v}"
