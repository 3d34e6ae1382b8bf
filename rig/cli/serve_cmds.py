"""rig serve (the bench server), rig stop, rig report; and rig status/run through a server."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

import click

from ..errors import ConfigError
from . import cli
from ..serve.countdown import words
from .render import err, esc, out, show_status


from .token_cmds import _tokens, token
CLEARTEXT = "--unencrypted-codes-and-tokens-on-the-network"


def _host() -> str:
    import socket

    return socket.gethostname()


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return "operator"


@cli.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs --tls-cert/--tls-key (or "
                   f"{CLEARTEXT}).")
@click.option("--port", type=click.IntRange(0, 65535), default=8470, show_default=True)
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=None,
              help="With --backend sim: simulated time runs this many times faster than the wall clock "
                   "(60: an hour's lockout in a minute), so the page can be watched. Default: jumps, as in tests.")
@click.option("--tokens", "tokens_path", type=click.Path(dir_okay=False), envvar="RIG_TOKENS", show_envvar=True,
              help="The token file (0600; made at first start). Default: ~/.config/rig/serve-tokens.json.")
@click.option("--access-log", is_flag=True, help="Log every HTTP request (paths only; no body is ever logged).")
@click.option("--unit", "serial", metavar="SERIAL", help="The unit on the bench (the page and a lab's place tags "
              "show it; jobs default to it).")
@click.option("--profile", "profile_id", metavar="ID", help="The profile of the unit on the bench (with --unit).")
@click.option("--tls-cert", type=click.Path(dir_okay=False), envvar="RIG_TLS_CERT", show_envvar=True,
              help="Serve HTTPS with this certificate (PEM; from your lab CA, README 'A lab CA').")
@click.option("--tls-key", type=click.Path(dir_okay=False), envvar="RIG_TLS_KEY", show_envvar=True,
              help="The certificate's private key (PEM, mode 600).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME", envvar="RIG_ALLOW_HOSTS",
              show_envvar=True, help="Another name clients reach this bench by (the Host header; repeat it). "
              "Loopback, the --host address and this machine's name are always allowed; any other is refused, "
              "so a web page cannot reach the bench through a DNS name of its own.")
@click.option(CLEARTEXT, "cleartext", is_flag=True,
              help="Listen off loopback WITHOUT TLS: anyone on the network can read the codes, tokens and "
                   "session cookies sent to the bench. Only for a network that is the bench's alone.")
@click.option("--login-link", is_flag=True, help="Print a one-time login link at start even when stderr is not a "
              "terminal (under systemd it is the journal: prefer `rig serve link`).")
@click.option("--lab", is_flag=True, help="The bench belongs to a labgrid lab: jobs and bench commands are refused "
              "unless they come through the place holding it (rig --place). See README, 'A lab of benches'.")
@click.option("--lab-grace", default="5m", show_default=True, metavar="DURATION",
              help="In a lab: how long a running job is kept after labgrid lost its place without a release "
                   "(a coordinator restart), for its holder to acquire it again.")
@click.pass_context
def serve(ctx, host, port, speed, tokens_path, access_log, serial, profile_id, tls_cert, tls_key, allow_hosts,
          cleartext, login_link, lab, lab_grace):
    """Hold the bench and serve its page: live state, runs, units.

    The bench is opened once and held between jobs (rails safe), and jobs run
    one at a time through the same code as `rig run`: same checks, ledger,
    logs and refusals. While it runs, `rig status/run/press/power/shell` on
    this machine go through it. SIGTERM stops the running job safely (keys
    up, rails safe, recorded as interrupted), then releases the bench.

    \b
    Examples:
      rig serve                                    the bench on this Pi, page on 127.0.0.1:8470
      rig --backend sim serve --speed 60           a simulated unit whose hour passes in a minute
      rig serve token new --role viewer --name tablet
      rig serve --lab --unit VW123 --profile vw-safe   a lab bench (with rig-lg-exporter beside it)
      rig serve --host 0.0.0.0 --tls-cert pi-07.crt --tls-key pi-07.key --allow-host pi-07.lab

    --unit puts that unit on the bench: a serial the ledger has never seen is
    registered with --profile (who and why are kept with it); a known one must
    have that profile.
    """
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.obj
    from ..serve.server import BenchServer, is_loopback
    from ..serve.benchunit import put_on_bench
    from ..serve.station import Station
    from .app import ledger_path, log_dir

    from ..serve.tls import check_files

    tls = check_files(tls_cert, tls_key)
    if not is_loopback(host) and tls is None and not cleartext:
        raise click.UsageError(f"--host {host} without TLS would send codes, tokens and session cookies in clear "
                               f"over the network: give --tls-cert/--tls-key (README, 'A lab CA'), or say "
                               f"{CLEARTEXT} if that network is the bench's alone")
    tokens = _tokens(tokens_path)
    first = None
    if not tokens.entries():
        first = tokens.new("operator", _user())
    if not is_loopback(host):
        err.print(f"[yellow]warning: listening on {host}"
                  + ("" if tls else " WITHOUT TLS: codes and tokens cross the network in clear") +
                  ": anyone who can reach it can try to log in. Prefer a VPN or `ssh -L 8470:127.0.0.1:8470`.[/]")
    wiring = app.wiring()
    make_backend = app.make_backend
    if speed is not None:
        if app.backend_name != "sim":
            raise click.UsageError("--speed paces a simulated unit: use it with --backend sim")
        from ..bench.pacedclock import PacedClock
        from ..sim.backend import sim_backend  # the edge may import the simulator

        def make_backend(w):
            return sim_backend(w, state_path=app.sim_state_path(), clock=PacedClock(speed), **app.unit_model_args())

    if bool(serial) != bool(profile_id):
        raise click.UsageError("--unit and --profile go together: the unit on the bench and what it is")
    from ..durations import parse_duration

    try:
        grace = parse_duration(lab_grace)
    except ValueError as exc:
        raise click.UsageError(f"--lab-grace {lab_grace}: {exc}") from None
    from ..bench import signals
    from ..records.files import folder
    from ..serve.client import runtime_dir
    from ..serve.server import check_discovery_dir

    check_discovery_dir()  # a /tmp/rig-UID made by another user is refused before the bench opens
    folder(runtime_dir(), "the folder where the server says where it listens ($XDG_RUNTIME_DIR/rig)", mode=0o700)
    station = Station(wiring, make_backend, ledger_path(app), str(folder(log_dir(), "the run log folder (RIG_LOG_DIR)")),
                      lab=lab, grace=grace)
    if serial:
        station.set_unit(serial, profile_id)  # an unknown profile is refused here, before the bench opens
        registered = put_on_bench(station.ledger_path, serial, profile_id, f"{_user()}@{_host()}")
        if registered:
            err.print(f"rig serve: {serial} is new to the ledger: registered as {profile_id}, {registered}")
    signals.refuse_stop()  # it holds the bench from here to its end: Ctrl-Z would freeze a job mid-press
    station.open()  # a busy bench or a missing simulated unit is refused here, before anything listens
    try:
        server = BenchServer(station, tokens, host, port, log_level="info" if access_log else "warning",
                             tls=tls, allow_hosts=allow_hosts)
    except OSError as exc:
        station.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    err.print(f"rig serve: the {station.bench.backend.name} bench is held; page at {server.url}/")
    if first:  # a file only this user reads, not stderr: under systemd stderr is the journal
        from ..serve.auth import write_private

        first_file = tokens.path.with_name(tokens.path.stem + "-first-token.txt")
        write_private(first_file, first + "\n")
        err.print(f"first start: an operator token for {_user()} is in {first_file} (only you can read it; "
                  f"delete it once you have it)")
    if login_link or sys.stderr.isatty():  # asked, or a person at a terminal (never the journal)
        err.print(f"log in (link works once, for 10 minutes): {server.login_link(_user())}")
    else:
        err.print("log in: `rig serve link` as this user on this machine prints a one-time link")
    server.run()
    err.print(f"rig serve: stopped ({server.stopped_by or 'done'}); keys released, rails safe, bench released")
    return 130 if server.signalled else 0  # Ctrl-C or SIGTERM: 130, as every rig command


@serve.command("link")
@click.option("--role", type=click.Choice(["viewer", "operator"]), default="operator", show_default=True)
@click.pass_obj
def link(app, role):
    """Print a one-time login link for the page of the rig server running here (10 minutes, one login).

    Only the user running that server can ask it (the link comes through its 0600
    discovery file), so the link never needs to go to a log.

    \b
    Example:
      sudo -u rig rig serve link
    """
    from ..serve.client import find_server

    client = find_server(None)
    if client is None:
        raise ConfigError("no rig server runs here as this user (rig serve); the link comes from the server itself")
    out.print(client.post("/api/login-link", {"role": role})["link"])


@cli.command()
@click.option("--discard-served", is_flag=True, help="Stop even a lockout wait whose served time a stop throws "
              "away (a unit whose wait starts over after a power loss). Without it, rig says how much and asks "
              "at a terminal, or refuses (exit 3).")
@click.pass_obj
def stop(app, discard_served):
    """Stop the job the rig server is running (keys up, rails safe, recorded as interrupted).

    A stop that would throw served lockout time away says how much first; one that
    keeps it (the ledger resumes the wait) just stops.

    \b
    Example:
      rig stop
      rig stop --discard-served      the wait starts over next time: no question asked
    """
    from ..errors import BenchBusy
    from ..serve.countdown import DISCARDS

    client = app.server()
    if client is None:
        raise ConfigError("no rig server is running here (rig serve); a job run by `rig run` stops with Ctrl-C")
    try:
        r = client.post("/api/stop", {"discard_served": True} if discard_served else {})
    except BenchBusy as exc:
        if DISCARDS not in str(exc) or not (sys.stdin.isatty() and err.is_terminal):
            raise
        err.print(str(exc).split(". Stop anyway")[0] + ".", markup=False, highlight=False)
        if not click.confirm("Stop anyway, throwing it away?", default=False, err=True):
            err.print("not stopped: the wait goes on")
            return
        r = client.post("/api/stop", {"discard_served": True})
    if not r.get("stopped"):
        out.print("nothing to stop: no job or bench command is running on the server")
        return
    out.print(f"stopping {r.get('stopped')}" + (f" (run {r['run_id']})" if r.get("run_id") else "")
              + ("; it was still queued" if r.get("queued") else ""))


@cli.command()
@click.argument("run_id", type=int)
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="The HTML file to write.")
@click.option("--sheet", is_flag=True, help="Write the run's code-request sheet instead (a read-serial run's): "
              "one printable page with the date, shop, customer and unit fields.")
@click.pass_obj
def report(app, run_id, output, sheet):
    """Write a run's page as one self-contained HTML file (for a ticket or a CI artifact).

    Summary, the code-request sheet's rows if the run made one, the timeline
    picture and the event log, with the CSS and SVG inline: it opens anywhere,
    with no script and no network.

    \b
    Example:
      rig report 12 -o run-12.html
      rig report 12 --sheet -o code-request.html    the paper to hand to the dealer
    """
    from ..serve.report import write_report, write_sheet_copy
    from .app import ledger_path

    client = app.server() if (app.place or app.server_url) else None
    if client is not None and client.remote:  # the bench's run, as its server renders it
        from ..records.files import write_new

        remote = f"/api/runs/{run_id}/sheet.html?download=1" if sheet else f"/api/runs/{run_id}/report.html"
        path = write_new(output, client.get(remote))
    else:
        path = (write_sheet_copy if sheet else write_report)(ledger_path(app), run_id, output)
    err.print(f"wrote {path}" + ("  (open it in a browser, fill in shop and customer, print it)" if sheet else ""))


# -- the CLI's commands through a server -------------------------------------
def remote_status(client, as_json: bool = False) -> None:
    """``rig status`` while a server holds the bench: the live state and the running job."""
    state = client.get("/api/state")
    bench = state.get("bench") or {}
    if as_json:
        import json

        click.echo(json.dumps({"bench": bench, "unit": state.get("unit"), "job": state.get("job"),
                               "place": state.get("place"), "server": client.url}))
        return
    show_status({k: bench.get(k) for k in ("t", "rails", "keys", "senses", "display", "can")})
    job = state.get("job")
    out.print(f"server: {client.url} ({bench.get('backend', '?')} bench)")
    if job:
        out.print(f"job: {job['procedure']}" + (f" on {job['unit']}" if job.get("unit") else "")
                  + (f", run {job['run_id']}" if job.get("run_id") else "") + f", started by {job['operator']}")
        out.print(f"step: {job.get('step') or '-'}")
        p = job.get("progress")
        if p:  # carried to this moment by the server: the figure the page and `rig run` show now
            out.print(words(p), markup=False, highlight=False)
        if job.get("question"):
            out.print(f"waiting for an answer in the page: {job['question']['text']}")
    else:
        out.print("job: none (the bench is idle)")
    unit = state.get("unit")
    if unit:
        out.print(f"unit: {unit['serial']} ({unit['profile']}): {unit.get('state') or '?'}", markup=False,
                  highlight=False)
    for q in state.get("queue") or []:
        out.print(f"queued: {q['procedure']} ({q['operator']})")


def remote_run(client, job, queue: bool = False, local_dir: str | None = None):
    """``rig run`` through the server: the same checks there, and its progress followed here.

    ``local_dir``: for a server on another machine (--place, --server), the run's event
    log, timeline and JUnit are copied here, and the result names the local copies.
    """
    from ..run.job import JobResult
    from ..serve.follow import follow_run, procedure_fields

    # a file of the user's (checked here already) is sent whole with the files it calls, even to a
    # server on this machine: its working directory is not the user's, so a relative call would miss
    body = {**procedure_fields(job.procedure), "profile": job.profile_id, "unit": job.serial, "params": job.params,
            "answers": job.answers, "yes": job.yes, "allow_lockout": job.allow_lockout,
            "allow_permanent": job.allow_permanent, "queue": queue, "new_unit": job.new_unit}
    if job.code is not None:
        body["code"] = job.code.reveal()
    from .remote_view import RemoteCountdown

    seen = {"step": None, "asked": set()}
    countdown = RemoteCountdown(err)  # the figure `rig status` and the page show: live at a terminal

    def on_job(j):
        if j.get("step") and j["step"] != seen["step"]:
            seen["step"] = j["step"]
            out.print(f"> {esc(j['step'])}")  # the run's story on stdout, as a local run tells it
        countdown.update(j.get("progress"))
        q = j.get("question")
        if q and q["id"] not in seen["asked"]:
            seen["asked"].add(q["id"])
            countdown.close()
            _answer(client, q)

    try:
        result = follow_run(
            client, body,
            on_ticket=lambda t: err.print(f"via the rig server at {client.url}"
                                          + ("; queued behind the running job" if t["queued"] else "")),
            on_job=on_job, on_note=lambda text: out.print(f"  {esc(text)}"),
            on_stop=lambda: err.print("stopping the job on the server (keys up, rails safe) ..."),
            on_warn=lambda text: err.print(f"  [bold yellow]!!! {esc(text)}[/]"))
    finally:
        countdown.close()
    from ..serve.client import ServerGone

    run_id = result.get("run_id") or 0
    log, message = "", result["message"]
    if run_id and result.get("followed", True):  # the server told the end: its records are there
        try:
            log = client.get(f"/api/runs/{run_id}").get("log") or ""
            if local_dir:
                from ..serve.artifacts import fetch_artifacts

                files = fetch_artifacts(client, run_id, Path(local_dir) / _host_dir(client))
                log = str(files[0])
            if job.junit:
                from ..records.files import write_new

                write_new(job.junit, client.get(f"/api/runs/{run_id}/junit.xml"))
        except ServerGone:  # it went away after telling the result: the result stands
            log, message = "", f"{message} (the server went away before its log could be fetched: run {run_id})"
    done = JobResult(result["outcome"], message, run_id, log, result["exit_code"])
    done.signal = result.get("signal")  # a stop asked too late: the job ended its own way first
    return done


def _host_dir(client) -> str:
    """Where a remote bench's runs go under the local log folder: one folder per place or server."""
    from urllib.parse import urlparse

    name = client.place or urlparse(client.url).netloc
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _answer(client, q: dict) -> None:
    if not sys.stdin.isatty():
        err.print(f"  the job asks: {q['text']} (answer it in the page)")
        return
    answer = input(q["text"] + (" [y/n] " if q["kind"] == "yesno" else " "))
    try:
        client.post("/api/answer", {"id": q["id"], "answer": answer})
    except ConfigError as exc:
        err.print(f"  {exc}")


serve.add_command(token)  # rig serve token new/list/revoke
