"""rig lab: the lab's places on labgrid, the benches behind them, and their tags."""

from __future__ import annotations

import json
import os

import click

from . import cli
from .render import err, esc, out


@cli.group()
def lab():
    """A lab of benches on labgrid: places, their units, who holds them.

    Each Pi runs `rig serve --lab` and `rig-lg-exporter`; labgrid's
    coordinator (LG_COORDINATOR) decides who holds which bench. Reserve by tag
    with labgrid-client, acquire, then run with `rig --place +`.

    \b
    Examples:
      rig lab status                     every place: unit, family, holder, what runs
      rig lab sync-tags                  copy each bench's unit and family into its place's tags
      eval "$(labgrid-client reserve --wait --shell family=vw-safe)"
      labgrid-client -p + acquire && rig --place + run enter-code --code-file code.txt
    """


@lab.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per place, for scripts.")
@click.option("--coordinator", metavar="HOST:PORT", help="The coordinator (default: LG_COORDINATOR, else "
              "127.0.0.1:20408).")
def status(as_json, coordinator):
    """Every place: bench, unit, holder, what runs.

    For each place: its bench, the unit and family on it, who holds it and what it runs.

    What runs is asked of each bench's rig serve (with RIG_TOKEN); a bench that
    does not answer shows as unavailable.

    \b
    Example:
      LG_COORDINATOR=coord.lab:20408 rig lab status
    """
    from ..lab.places import Lab, entry_url
    from ..serve.client import Client

    with Lab(coordinator) as lab_:
        places = lab_.places()
        me = lab_.me
    rows = []
    for pb in places:
        row = {"place": pb.place, "tags": pb.tags, "acquired": pb.acquired, "mine": pb.acquired == me,
               "reserved": bool(pb.reservation), "bench": pb.bench, "avail": pb.avail, "job": None}
        if pb.avail and not os.environ.get("RIG_TOKEN"):
            row["job"] = {"error": "no RIG_TOKEN: the benches answer only with a token (a viewer's will do)"}
        elif pb.avail:
            try:
                ca = getattr(click.get_current_context().find_root().obj, "ca", None)  # rig --ca
                url = entry_url(pb.entry)  # through an SSH forward for an isolated bench
                info = Client(url, os.environ.get("RIG_TOKEN"), ca=ca).call("GET", "/api/lab", timeout=3)
                row["job"] = info.get("job")
                row["bench_place"] = (info.get("place") or {}).get("place")
            except Exception as exc:  # noqa: BLE001  (a status line per bench, never a traceback)
                row["job"] = {"error": str(exc)}
        rows.append(row)
    if as_json:
        for row in rows:
            out.print(json.dumps(row), markup=False, highlight=False, soft_wrap=True)
        return
    if not rows:
        err.print("no places on the coordinator yet: labgrid-client -p NAME create; "
                  "labgrid-client -p NAME add-match EXPORTER/GROUP/RigBench")
        return
    from rich.table import Table

    whys: set[str] = set()
    t = Table(box=None, pad_edge=False)
    for col in ("place", "unit", "family", "bench", "held by", "running"):
        t.add_column(col, no_wrap=col in ("place", "unit"))
    for row in rows:
        b = row["bench"] or {}
        bench = "no RigBench matched" if not b else (f"{b.get('host')}:{b.get('port')}"
                                                     + ("" if row["avail"] else " (not answering)"))
        held = (row["acquired"] or "-") + (" (you)" if row["mine"] else "")
        if not row["acquired"] and row["reserved"]:
            held = "- (reserved)"
        job = row["job"] or {}
        running = ("?" if "error" in job else f"{job.get('procedure')}" + (f" run {job['run_id']}" if job.get("run_id")
                                                                          else "")) if job else "-"
        whys.update({job["error"]} if "error" in job else set())
        t.add_row(esc(row["place"]), esc(b.get("serial") or "-"), esc(b.get("family") or "-"), esc(bench),
                  esc(held), esc(running))
    out.print(t)
    for why in sorted(whys):  # what a "?" means, once
        err.print(f"?: {esc(why)}")


@lab.command()
@click.argument("tags", nargs=-1, required=True, metavar="TAG=VALUE...")
@click.option("--timeout", default="2h", show_default=True, metavar="DURATION",
              help="Give up (exit 3) when no matching place was free for this long.")
@click.option("--coordinator", metavar="HOST:PORT", help="The coordinator (default: LG_COORDINATOR).")
def reserve(tags, timeout, coordinator):
    """Wait for a free bench with these tags and acquire it.

    Prints the place's name on stdout (progress goes to stderr); the job then
    holds it as its labgrid user (LG_USERNAME), so `rig --place +` finds it
    without a token. It waits through a coordinator restart (reserving again if
    the coordinator forgot), and fails with exit 3, leaving nothing reserved,
    when no place is free within --timeout.

    \b
    Example (a CI job; the trap lets the bench go however the job ends):
      trap 'rig lab release' EXIT
      rig lab reserve family=vw-safe
      rig --place + run enter-code --code-file code.txt
    """
    from ..durations import parse_duration
    from ..errors import UsageError
    from ..lab.reserve import reserve as reserve_place
    import re

    try:
        seconds = parse_duration(timeout)
    except ValueError as exc:
        raise UsageError(f"--timeout {timeout}: {exc}") from None
    filters = {}
    for pair in tags:
        k, _, v = pair.partition("=")
        if not re.fullmatch(r"[a-z][a-z0-9_]+", k) or not re.fullmatch(r"[a-z0-9_.-]+", v, re.I):
            raise UsageError(f"{pair!r}: a tag is NAME=VALUE (family=vw-safe); names are lower-case")
        filters[k] = v
    said = lambda text: err.print(f"rig lab reserve: {text}", markup=False)  # noqa: E731
    out.print(reserve_place(filters, seconds, address=coordinator, say=said), markup=False)


@lab.command()
@click.option("--place", "pattern", default="+", show_default=True, metavar="NAME|+",
              help="The place to let go of (+: the place of the reservation in LG_TOKEN, or without one, "
                   "every place and reservation of this labgrid user).")
@click.option("--coordinator", metavar="HOST:PORT", help="The coordinator (default: LG_COORDINATOR).")
def release(pattern, coordinator):
    """Release your place and cancel your reservation.

    The next job gets the bench at once.

    labgrid's own `release` then `cancel-reservation` leave the next job waiting
    for the coordinator's next pass (up to 15 s); this does the same two things in
    the order that hands over within a second. Safe to run twice (a CI trap).

    \b
    Example (the end of a CI job):
      trap 'rig lab release' EXIT
    """
    from ..lab.places import Lab

    with Lab(coordinator) as lab_:
        done = lab_.release(pattern)
    out.print("; ".join(done) if done else "nothing to release (not acquired, no reservation of yours)",
              markup=False)


@lab.command()
@click.option("--idle", default="2h", show_default=True, metavar="DURATION",
              help="Release a place whose bench has run nothing for this long (30m, 2h, ...).")
@click.option("--dry-run", is_flag=True, help="Say what would be released; release nothing.")
@click.option("--coordinator", metavar="HOST:PORT", help="The coordinator (default: LG_COORDINATOR).")
def sweep(idle, dry_run, coordinator):
    """Release the places of jobs that are gone.

    labgrid's locks never time out, so a job that died without its trap keeps its place.

    A place is released only when its bench answers, runs no job and has been
    idle for --idle, and only from the user who held it (release-from), so a job
    that has just acquired it keeps it. A bench mid-wait is never swept. Needs
    RIG_TOKEN (a viewer token is enough) to ask the benches.

    \b
    Example (nightly, from the lab admin's cron or a systemd timer):
      rig lab sweep --idle 2h
    """
    from ..durations import parse_duration
    from ..errors import UsageError
    from ..lab.admin import sweep as sweep_places
    from ..lab.places import Lab

    try:
        seconds = parse_duration(idle)
    except ValueError as exc:
        raise UsageError(f"--idle {idle}: {exc}") from None
    with Lab(coordinator) as lab_:
        report = sweep_places(lab_, seconds, os.environ.get("RIG_TOKEN"), dry_run)
    for place, what in report:
        out.print(f"{place}: {what}", markup=False)
    if not report:
        out.print("no place is acquired")


@lab.command("sync-tags")
@click.option("--coordinator", metavar="HOST:PORT", help="The coordinator (default: LG_COORDINATOR).")
def sync_tags(coordinator):
    """Copy each bench's unit and family into tags.

    Each bench's unit, profile and family become its place's tags.

    Reservations filter on place tags only, so this is what lets
    `labgrid-client reserve family=ford` find the bench with a Ford unit on it.
    Run it after changing the unit on a bench (rig serve --unit), or nightly.

    \b
    Example:
      rig lab sync-tags && labgrid-client reserve --wait --shell family=ford
    """
    from ..lab.admin import sync_tags as sync
    from ..lab.places import Lab

    with Lab(coordinator) as lab_:
        changed = sync(lab_)
    for place, tags in changed:
        out.print(f"{place}: " + " ".join(f"{k}={v}" if v else f"{k} (removed)" for k, v in sorted(tags.items())),
                  markup=False)
    if not changed:
        out.print("every place's tags already match its bench")


@lab.command()
@click.argument("places_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--coordinator", metavar="HOST:PORT", help="The coordinator (default: LG_COORDINATOR).")
def apply(places_file, coordinator):
    """Create the lab's places from a YAML file.

    Run it again after any change: only what differs is changed.

    The whole file is checked first; a mistake names file:line and changes nothing.
    Then sync-tags copies each bench's unit and family into its place's tags.

    \b
    places.yaml:
      places:
        bench-01: {match: pi-01/bench-01/RigBench, tags: {shop: north}, comment: left bench}
        bench-02: {match: pi-02/bench-02/RigBench}
    \b
    Example:
      rig lab apply places.yaml
    """
    from ..lab.admin import add_place, read_places_file, sync_tags as sync
    from ..lab.places import Lab

    wanted = read_places_file(places_file)
    with Lab(coordinator) as lab_:
        for p in wanted:
            done = add_place(lab_, p["name"], p["match"], p["tags"], p["comment"])
            out.print(f"{p['name']}: " + (", ".join(done) if done else "as it should be"), markup=False)
        for place, tags in sync(lab_):
            out.print(f"{place}: " + " ".join(f"{k}={v}" for k, v in sorted(tags.items()) if v), markup=False)
