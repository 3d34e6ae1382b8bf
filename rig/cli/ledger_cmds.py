"""rig units, rig runs: what the ledger knows of units and runs."""

from __future__ import annotations

from pathlib import Path

import json

import click

from ..durations import format_duration, parse_duration
from ..errors import ConfigError, UsageError, did_you_mean, unknown
from ..records.ledger import Ledger, local_user
from ..unit.profiles import load_profiles
from . import cli
from .render import beside_the_log, esc, out, table
from .app import ledger_path


def _open(app, write: bool = False) -> Ledger:
    """The ledger for this command, closed when the command ends, however it ends.

    With ``--place`` (or ``--server`` naming another machine), the bench's ledger, read through
    its server; a change to it is refused here (it is made on the bench, where its reason is kept).
    """
    client = app.server() if (app.place or app.server_url) else None
    if client is not None and client.remote:
        if write:
            where = f"--place {app.place}" if app.place else f"--server {app.server_url}"
            raise UsageError(f"{where}: a bench's units are changed on the bench (`rig units ...` on its Pi, or "
                             f"its page), not over the network; reading them works: rig {where} units show SERIAL")
        from ..serve.remote_ledger import fetch_ledger

        led = fetch_ledger(client)
    else:
        led = Ledger(ledger_path(app), create=write)  # a command that only reads never makes an empty ledger
    click.get_current_context().call_on_close(led.close)
    return led


@cli.group()
def units():
    """Units in the ledger: history, attempts left, lockouts."""


@units.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per unit, for scripts.")
@click.pass_obj
def units_list(app, as_json):
    """List every unit the ledger knows.

    \b
    Examples:
      rig units list
      rig units list --json
    """
    if not (app.place or app.server_url) and not Path(ledger_path(app)).exists():
        out.print(f"no units: no ledger at {esc(ledger_path(app))} yet (rig units add, or a run with --new-unit, "
                  f"starts it)")
        return
    led = _open(app)
    profiles = load_profiles()
    rows = []
    for u in led.units():
        p = profiles.get(u["profile"])
        st = led.standing(u["serial"], p) if p else None
        rows.append({"serial": u["serial"], "profile": u["profile"], "model": u["model"], "vin": u["vin"],
                     "state": st.describe().split(":")[0] if st else None,
                     "attempts_used": st.used if st else None, "attempts_left": st.left if st else None,
                     "attempts_allowed": st.allowed if st else None, "runs": len(led.runs(u["serial"], limit=10**6))})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    t = table(("serial", "profile", "model", "VIN", "state", "attempts", "runs"), keep=("serial",),
              drop=("model", "VIN"))
    for r in rows:
        att = f"{r['attempts_left']} of {r['attempts_allowed']} left" if r["state"] else "?"
        t.add_row(esc(r["serial"]), esc(r["profile"] or "-"), esc(r["model"] or "-"), esc(r["vin"] or "-"),
                  r["state"] or "? (unknown profile)", att, str(r["runs"]))
    out.print(t)
    if not rows:
        out.print(f"no units in {led.path} yet: rig run ... --unit SERIAL adds one, or rig units add")


ENDED = {"display": "the unit showed its ready display", "served": "the wait and its margin were served",
         "power_off": "the unit switched itself off after the wait"}


def _profile(profile_id):
    profiles = load_profiles()
    if profile_id not in profiles:
        raise UsageError(unknown("profile", profile_id, profiles, "rig profiles list shows them"))
    return profiles[profile_id]


def _known(led, serial) -> dict:
    unit = led.unit(serial)
    if unit is None:
        raise UsageError(f"the ledger has no unit {serial!r}"
                         f"{did_you_mean(serial, [x['serial'] for x in led.units()])}; rig units list shows them")
    return unit


@units.command("add")
@click.argument("serial")
@click.option("--profile", "profile_id", required=True, help="Profile id (rig profiles list).")
@click.option("--attempts-used", type=click.IntRange(0, 100), default=0, show_default=True,
              help="Wrong codes the unit had already been given before it reached this bench.")
@click.option("--model", help="Model, as on the label.")
@click.option("--vin", help="The car's VIN.")
@click.option("--notes", help="Anything worth knowing about this unit.")
@click.pass_obj
def units_add(app, serial, profile_id, attempts_used, model, vin, notes):
    """Register a unit, with the attempts it had used before it reached the bench.

    The ledger can only count what the rig did. A unit that arrives having
    been given wrong codes (Opel shows its attempts left, e.g. 7 SAFE) must be
    told, or the rig would think it has attempts it does not. A unit that has
    used them all is recorded as locked out. A serial the ledger already has is
    refused: change it with `rig units set`.

    \b
    Example:
      rig units add W0L1234567 --profile vauxhall-opel --attempts-used 3 --model CDR500
    """
    profile = _profile(profile_id)
    led = _open(app, write=True)
    led.register(serial, profile, who=local_user(), why="rig units add", new=True, attempts_used=attempts_used,
                 model=model, vin=vin, notes=notes)
    st = led.standing(serial, profile)
    out.print(f"{esc(serial)}: {profile_id}, {st.used} attempt(s) used; {st.describe()}")


@units.command("set")
@click.argument("serial")
@click.option("--profile", "profile_id", help="The unit's profile, changed on purpose (rig profiles list).")
@click.option("--attempts-used", type=click.IntRange(0, 100), help="Wrong codes used in the current window, as the "
              "unit itself shows them (e.g. Opel's 7 SAFE = 3 used of 10).")
@click.option("--model", help="Model, as on the label.")
@click.option("--vin", help="The car's VIN.")
@click.option("--notes", help="Replace the unit's notes.")
@click.option("--reason", required=True, help="Why: kept in the ledger with the old value.")
@click.pass_obj
def units_set(app, serial, profile_id, attempts_used, model, vin, notes, reason):
    """Change what the ledger holds for a unit, on purpose and with a reason.

    The old value and the reason are kept (rig units show lists them). A
    different --profile on `rig run` is refused; this is how a unit's
    profile is changed when it really is another family.

    \b
    Examples:
      rig units set VW123 --profile vw-concert-us --reason "label says Concert, US"
      rig units set W0L1234567 --attempts-used 3 --reason "display shows 7 SAFE"
    """
    led = _open(app, write=True)
    unit = _known(led, serial)
    if profile_id is None and attempts_used is None and not any((model, vin, notes)):
        raise click.UsageError("nothing to change: give --profile, --attempts-used, --model, --vin or --notes")
    if profile_id is not None:
        _profile(profile_id)
        led.change(serial, "profile", profile_id, reason, local_user())
    for field, value in (("model", model), ("vin", vin), ("notes", notes)):
        if value is not None:
            led.change(serial, field, value, reason, local_user())
    profile_now = load_profiles().get(profile_id or unit["profile"])
    if attempts_used is not None:
        if profile_now is None:
            raise ConfigError(f"{serial} has no known profile; set --profile first")
        led.set_attempts_used(serial, attempts_used, profile_now, reason, local_user())
    if profile_now is not None:
        out.print(f"{esc(serial)}: {profile_now.id}; {led.standing(serial, profile_now).describe()}")


@units.command("remove")
@click.argument("serial")
@click.option("--reason", required=True, help="Why: kept in the ledger.")
@click.option("--yes", is_flag=True, help="Do not ask (unattended use).")
@click.pass_obj
def units_remove(app, serial, reason, yes):
    """Forget a unit: its attempts, lockouts and records go; its runs stay as history.

    \b
    Example:
      rig units remove DEMO-1 --reason "practice unit, scrapped"
    """
    led = _open(app, write=True)
    _known(led, serial)
    if not yes and not click.confirm(f"Forget {serial} and its attempt count? The next run would start it afresh",
                                     default=False, err=True):
        raise click.exceptions.Exit(1)
    led.remove_unit(serial, reason)
    out.print(f"{esc(serial)} removed from the ledger")


@units.command("show")
@click.argument("serial")
@click.option("--json", "as_json", is_flag=True, help="The unit's history as JSON, for scripts.")
@click.pass_obj
def units_show(app, serial, as_json):
    """A unit's history: runs, attempts, lockouts and time left, records.

    \b
    Example:
      rig units show VW123
    """
    led = _open(app)
    u = _known(led, serial)
    p = load_profiles().get(u["profile"])
    st = led.standing(serial, p) if p else None
    runs_ = list(reversed(led.runs(serial, limit=10**6)))
    attempts = led.attempts(serial)
    if as_json:
        click.echo(json.dumps({
            "unit": u, "state": st.describe() if st else None,
            "attempts_used": st.used if st else None, "attempts_left": st.left if st else None,
            "runs": runs_, "attempts": [dict(a, number=i) for i, a in enumerate(attempts, 1)],
            "lockouts": led.lockouts(serial), "records": led.records(serial),
            "changes": led.changes(serial)}, indent=2, default=str))
        return
    out.print(f"[bold]{esc(serial)}[/]  profile {esc(u['profile'] or '-')}  model {esc(u['model'] or '-')}  "
              f"VIN {esc(u['vin'] or '-')}")
    if st:
        out.print(f"state: {st.describe()}; attempts: {st.used} used, {st.left} of {st.allowed} left before a lockout"
                  + (f"; {st.permanent_left} before a permanent lock" if st.permanent_left is not None else ""))
    t = table(("run", "procedure", "started", "took", "outcome", "message"), keep=("run",), title="runs",
              title_justify="left")
    for r in runs_:
        t.add_row(str(r["id"]), esc(r["procedure"]), _when(r["started"]), _took(r), _outcome(r),
                  esc(r["message"] or ""))
    out.print(t if runs_ else "runs: none yet")
    t = table(("attempt", "when", "run", "outcome"), keep=("attempt",), title="attempts (numbered for this unit)",
              title_justify="left")
    for i, a in enumerate(attempts, 1):
        how = a.get("via") or ("before the bench" if not a["run_id"] else "")
        t.add_row(f"#{i}", _when(a["t"]), " ".join(filter(None, (str(a["run_id"] or ""), how))), a["outcome"])
    out.print(t if attempts else "attempts: none")
    for lk in led.lockouts(serial):
        out.print(f"lockout {lk['id']}: started {_when(lk['started'])}, wait {format_duration(lk['wait'])}, "
                  f"served {format_duration(lk['powered'])}, "
                  + (f"ended {_when(lk['ended'])} ({ENDED.get(lk.get('end_reason'), 'how: not recorded')})"
                     if lk["ended"] else "OPEN"))
    for c in led.changes(serial):
        who = f"by {c['who']}; " if c.get("who") else ""
        what = (f"registered as {esc(c['new'] or '-')}" if c["field"] == "registered" else
                f"changed {esc(c['field'])}: {esc(c['old'] or '-')} -> {esc(c['new'] or '-')}")
        out.print(f"{what}  ({_when(c['t'])}; {esc(who)}{esc(c['reason'] or '')})")
    for r in led.records(serial):
        out.print(f"record {esc(r['name'])}: {esc(r['value'])}  ({_when(r['t'])}, run {r['run_id']})")


@cli.group()
def runs():
    """Runs in the ledger."""


@runs.command("list")
@click.option("--unit", "serial", help="Only this unit's runs.")
@click.option("--limit", type=click.IntRange(1, 100000), default=20, show_default=True, help="At most this many, newest first.")
@click.option("--since", metavar="WHEN", help="Only runs started since then: a date (2026-12-01), a date and time "
              "(2026-12-01 14:00), or a time ago (2h, 30min).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run, for scripts.")
@click.pass_obj
def runs_list(app, serial, limit, since, as_json):
    """List recent runs, newest first.

    \b
    Examples:
      rig runs list --unit VW123
      rig runs list --since 2h --limit 5
    """
    t0 = _since(since) if since else None
    led = _open(app)
    rows = [r for r in led.runs(serial, limit=10**6) if t0 is None or r["started"] >= t0][:limit]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    t = table(("run", "procedure", "unit", "profile", "backend", "started", "took", "outcome", "message"),
              keep=("run", "unit"), drop=("profile", "backend", "message"))  # started wraps at its space
    for r in rows:
        t.add_row(str(r["id"]), esc(r["procedure"]), esc(r["serial"] or "-"), esc(r["profile"] or "-"),
                  esc(r["backend"] or "-"), _when(r["started"]), _took(r), _outcome(r), esc(r["message"] or ""))
    out.print(t)
    if not rows:
        out.print("no runs" + (f" since {esc(since)}" if since else "") + (f" for {esc(serial)}" if serial else ""))


@runs.command("show")
@click.argument("run_id", type=click.IntRange(1, 2**63 - 1))  # SQLite's largest id; more overflows
@click.option("--events", "max_events", type=click.IntRange(0, 10**7), default=200, show_default=True,
              help="Show at most this many events of its log (0: none).")
@click.option("--json", "as_json", is_flag=True, help="The run and its events as JSON, for scripts.")
@click.pass_obj
def runs_show(app, run_id, max_events, as_json):
    """One run: outcome, message, its events, and where its log and timeline are.

    \b
    Example:
      rig runs show 3
    """
    led = _open(app)
    r = led.run(run_id)
    if r is None:
        raise UsageError(f"no run {run_id} in the ledger {led.path}; rig runs list shows them")
    if getattr(led, "remote", None) is not None and r["log"]:  # the bench's log, copied here to be read
        from ..serve.artifacts import fetch_artifacts
        from .app import log_dir
        from .serve_cmds import _host_dir

        r["log"] = str(fetch_artifacts(led.remote, r["id"], Path(log_dir()) / _host_dir(led.remote))[0])
    events = _events(r["log"])
    if as_json:
        click.echo(json.dumps(dict(r, events=events), indent=2, default=str))
        return
    out.print(f"[bold]run {r['id']}[/]: {esc(r['procedure'])}  unit {esc(r['serial'] or '-')}  "
              f"profile {esc(r['profile'] or '-')}  backend {esc(r['backend'] or '-')}")
    out.print(f"outcome: {_outcome(r)}" + (f": {esc(r['message'])}" if r["message"] else ""))
    if r.get("place") or r.get("operator"):  # a run started on a bench's server
        out.print(f"by: {esc(r.get('operator') or '-')}" + (f"  place {esc(r['place'])}  labgrid user "
                                                              f"{esc(r.get('lab_user') or '-')}" if r.get("place") else ""))
    out.print(f"started: {_when(r['started'])}  ended: {_when(r['ended'])}  took: {_took(r)}")
    if r["log"]:
        out.print(f"log: {esc(r['log'])}" + ("" if events is not None else "  (missing)"))
        out.print(beside_the_log(r["log"]))
    if events and max_events:
        t = table(("at", "what", "change"), keep=("at",), title="events", title_justify="left")
        for e in events[:max_events]:
            t.add_row(_offset(e.get("t")), esc(f"{e.get('kind', '?')} {e.get('what', '')}"), esc(_change(e)))
        out.print(t)
        if len(events) > max_events:
            out.print(f"... {len(events) - max_events} more events in the log (--events N shows more)")


def _events(log) -> list | None:
    if not log or not Path(log).exists():
        return None
    from ..records.report import read_events

    try:
        return read_events(log)
    except (OSError, UnicodeDecodeError):
        return None


def _change(e: dict) -> str:
    parts = []
    if e.get("from") is not None or e.get("to") is not None:
        parts.append(f"{_word(e.get('from'))} -> {_word(e.get('to'))}" if e.get("from") is not None
                     else _word(e.get("to")))
    if e.get("message"):
        parts.append(str(e["message"]))
    return "  ".join(parts)


def _word(v) -> str:
    return {True: "on", False: "off", None: "-"}.get(v, str(v)) if isinstance(v, (bool, type(None))) else str(v)


def _offset(t) -> str:
    """Clock time since the run began, as on a stopwatch: ``0:05.25``, ``1:02:03.5``."""
    if not isinstance(t, (int, float)):
        return "-"
    h, rem = divmod(float(t), 3600)
    m, s = divmod(rem, 60)
    return f"{int(h)}:{int(m):02d}:{s:04.1f}" if h else f"{int(m)}:{s:05.2f}"


def _outcome(r) -> str:
    if r["outcome"]:
        return r["outcome"]
    return "running (or killed)"


def _took(r) -> str:
    if not r["ended"] or not r["started"]:
        return "-"
    return format_duration(max(0.0, r["ended"] - r["started"]))


def _since(text: str) -> float:
    """A --since value as an epoch: a local date or date and time, or a time ago."""
    import time

    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return time.mktime(time.strptime(text.strip(), fmt))
        except ValueError:
            pass
    try:
        return time.time() - parse_duration(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: write a date (2026-12-01), a date and time (2026-12-01 14:00) "
                                 "or a time ago (2h, 30min, at most 48h)", param_hint="--since") from None


def _when(t):
    """A local date and time, to the second; ``-`` for none."""
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"
