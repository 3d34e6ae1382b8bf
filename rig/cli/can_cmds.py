"""rig can status, rig can watch, rig can record, rig can pick: the car's network on the bench."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError
from . import cli
from .bench_cmds import DURATION
from .render import esc, out


@cli.group("can")
@click.pass_context
def can_group(ctx):
    """The car's network: the bench's CAN bus, recording a car, picking a wake set."""
    from .placed import check

    check(ctx, "can", ctx.invoked_subcommand)  # with --place: status is the bench's; watch and record are here


def _ids(values) -> list[int] | None:
    from ..can.frames import parse_id

    ids = []
    for text in values or ():
        for part in str(text).split(","):
            ident = parse_id(part.strip())
            if ident is None:
                raise UsageError(f"--id {part!r} is not a CAN id (write it in hex, e.g. 0x575)")
            ids.append(ident[0])
    return ids or None


@can_group.command("status")
@click.pass_obj
def can_status(app):
    """The bench's CAN interface: bitrate, bus state, error counters, frames sent and seen, the wake set.

    \b
    Examples:
      rig can status
      rig --wake-set vw-pq can status
    """
    from ..can.wakeset import shipped_wake_sets

    client = app.server()
    if client is not None:  # the server's bench, as it stands
        snap = client.get("/api/state").get("bench") or {}
        can = snap.get("can")
        if can is None:
            out.print("can: the server's bench has no CAN bus open (no unit or wake set that needs it)")
        else:
            show_can(can)
        return
    with app.bench(can=True) as bench:
        show_can(bench.can.status(), kernel=bench.wiring.can)
    out.print(f"shipped wake sets (--wake-set NAME): {', '.join(shipped_wake_sets())}", markup=False)


def show_can(can: dict, kernel=None) -> None:
    """The lines of ``rig can status`` (and the CAN line under ``rig status``)."""
    rate = f" at {can['bitrate']} bit/s" if can.get("bitrate") else ""
    out.print(f"can: {can['channel']} ({can['interface']}){rate}, {can['state']}", markup=False)
    out.print(f"  error counters: tx {can['tx_errors']}, rx {can['rx_errors']}; error frames {can['error_frames']}; "
              f"frames sent {can['sent']}, seen {can['seen']}", markup=False)
    wake = can.get("wake_set")
    rails = " and ".join(can.get("wake_rails") or ["acc"])
    out.print(f"  wake set: {wake} - {can['wake']} (sent while {rails} is on)" if wake else
              "  wake set: none (--wake-set, the pin map's can.wake, or the unit's profile names one)", markup=False)
    if kernel is not None and kernel.interface == "socketcan":
        from ..can.bus import kernel_status

        k = kernel_status(kernel.channel)
        if k:
            out.print(f"  kernel: {k.get('state') or '?'}, {k.get('bitrate') or '?'} bit/s, restart-ms "
                      f"{k.get('restart_ms')}, tx {k.get('sent')} rx {k.get('seen')} frames", markup=False)


def _source(app):
    """What to listen to: the simulated car (--backend sim), else the pin map's interface. Nothing is sent."""
    wiring = app.wiring()
    if app.backend_name == "sim":
        from ..sim.car import car_bus

        return car_bus(app.sim_state_path())
    if wiring.can is None:
        raise UsageError(f"this bench has no CAN interface: the pin map {wiring.source} has no can: block")
    from ..bench.canbus import default_open
    from ..bench.clock import RealClock

    if app.backend_name == "mock":
        from ..bench.canbus import mock_can

        bus = mock_can(wiring.can)
    else:
        bus = default_open(wiring.can)
    return bus, RealClock(), bus.shutdown


def _listen(app, seconds, on_frame, source=None) -> None:
    from ..can.listen import listen

    bus, clock, close = source or _source(app)
    if clock.virtual and seconds is None:
        close()
        raise UsageError("the simulated car's time does not pass by itself: give --for (e.g. --for 10s)")
    try:
        listen(bus, clock, seconds, on_frame)
    except KeyboardInterrupt:
        pass  # Ctrl-C ends a recording: what was heard is kept
    finally:
        close()


@can_group.command("watch")
@click.option("--for", "seconds", type=DURATION, default=None, help="Listen this long (default: until Ctrl-C).")
@click.option("--id", "ids", multiple=True, metavar="ID[,ID]", help="Only these ids (hex, e.g. 0x575).")
@click.option("--dbc", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Decode frames with this DBC file (needs cantools: pip install 'rig[dbc]').")
@click.pass_obj
def can_watch(app, seconds, ids, dbc):
    """Show the frames on the bus as they come (candump-style), and what a wake set would pick from them.

    Nothing is sent. On --backend sim the bus is the simulated unit's car, key in.

    \b
    Examples:
      rig can watch --for 10s
      rig can watch --id 0x575,0x2C3 --dbc vw_pq.dbc
      rig --backend sim can watch --for 5s
    """
    from ..can.picker import pick

    only = _ids(ids)
    decode = _decoder(dbc) if dbc else (lambda f: "")
    heard = []

    def show(f):
        if only is not None and f.id not in only:
            return
        heard.append(f)
        t0 = heard[0].t  # times from the first frame, as candump -td would
        if f.error:
            out.print(f"{f.t - t0:9.3f}  error frame 0x{f.id:03X} {f.data.hex(' ')}", markup=False)
            return
        out.print(f"{f.t - t0:9.3f}  {_label(f):>10}  [{len(f.data)}]  {f.data.hex(' ').upper():<24} {decode(f)}",
                  markup=False)

    _listen(app, seconds, show)
    if heard:
        _show_rows(pick(heard, source="this watch").rows)


def _label(f) -> str:
    from ..can.frames import id_label

    return id_label(f.id, f.extended)


def _decoder(path):
    try:
        import cantools
    except ImportError:
        raise UsageError("--dbc needs cantools: pip install 'rig[dbc]'") from None
    try:
        db = cantools.database.load_file(path)
    except Exception as exc:  # noqa: BLE001 - cantools raises its own parse errors
        raise UsageError(f"{path}: not a DBC file cantools reads ({exc})") from None

    def decode(f) -> str:
        try:
            msg = db.get_message_by_frame_id(f.id)
            values = msg.decode(f.data, decode_choices=True)
        except Exception:  # noqa: BLE001 - not in the DBC, or a payload it cannot read
            return ""
        return f"{msg.name}: " + ", ".join(f"{k}={v}" for k, v in values.items())

    return decode


def _show_rows(rows) -> None:
    out.print("\nid           frames  period   what a wake set would make of it", markup=False)
    for r in rows:
        period = f"{r.period * 1000:.0f} ms" if r.period else "-"
        what = r.frame.describe() if r.frame is not None else r.verdict
        out.print(f"{r.label:<12} {r.count:>6}  {period:>7}  {what}", markup=False)


@can_group.command("record")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--for", "seconds", type=DURATION, default=None, help="Record this long (default: until Ctrl-C).")
@click.pass_obj
def can_record(app, file, seconds):
    """Record every frame on the bus into FILE, in the format its suffix names.

    .log is candump's (candump -l), .asc and .blf Vector's, .trc PCAN's, .csv: what
    SavvyCAN, candump and CANalyzer users already have. Nothing is sent. On the car:
    key in, ignition on, a minute is plenty; then `rig can pick FILE`. On --backend sim
    it records the simulated unit's car.

    \b
    Examples:
      rig can record golf6.log --for 60s
      rig --backend sim can record car.asc --for 10s
    """
    from ..can.logs import LogWriter

    source = _source(app)  # the bus first: a bench without one leaves no empty log behind
    try:
        log = LogWriter(file, channel=app.wiring().can.channel if app.wiring().can else "can0")
    except BaseException:
        source[2]()
        raise
    with log:
        _listen(app, seconds, log.write, source)
    out.print(f"recorded {log.count} frame(s) into {file}; pick the wake set: rig can pick {file}", markup=False)


@can_group.command("pick")
@click.argument("log", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the wake set here (default: LOG with .wake.yaml).")
@click.option("--profile", "profile_id", default=None,
              help="The unit's profile: its known wake ids are picked, its own frames and diagnostic ids left out.")
@click.option("--id", "ids", multiple=True, metavar="ID[,ID]", help="Pick only these ids.")
@click.option("--exclude", multiple=True, metavar="ID[,ID]", help="Leave these ids out.")
@click.option("--all", "every", is_flag=True, help="Every periodic frame, even where the profile names its wake ids.")
@click.option("--force", is_flag=True, help="Write over an existing wake set file (its edits are lost).")
@click.pass_obj
def can_pick(app, log, output, profile_id, ids, exclude, every, force):
    """Turn a log recorded on the car into a wake set: its periodic frames, periods and payloads.

    Events, diagnostic requests and the unit's own frames are left out; rolling
    counters and checksums (XOR, sum, VW's CRC-8) are recognised and computed afresh.
    Read what it says about each id, and narrow it with --id if you know better.

    \b
    Examples:
      rig can pick golf6.log --profile vw-rcd310          the profile's wake id, as your car sends it
      rig can pick astra.log -o wake/astra.yaml --profile opel-cd30
      rig can pick car.asc --id 0x575 -o rcd310.yaml
    """
    from ..can.logs import read_log
    from ..can.picker import pick
    from ..can.wakeset import write_wake_set
    from ..unit.canunit import wake_for

    only, can, profile = _ids(ids), None, None
    if profile_id:
        from ..errors import unknown
        from ..unit.profiles import load_profiles

        profiles = load_profiles()
        if profile_id not in profiles:
            raise UsageError(unknown("profile", profile_id, profiles, "rig profiles list shows them"))
        profile = profiles[profile_id]
        can = profile.can
    if only is None and not every and profile is not None:
        known, _ = wake_for(None, profile)
        only = [f.id for f in known.frames] if known is not None and known.frames else None
    output = output or str(Path(log).with_suffix("")) + ".wake.yaml"
    if Path(output).exists() and not force:  # a wake set is often edited by hand after it is picked
        raise UsageError(f"{output} already exists (a wake set you may have edited): give another -o, or --force "
                         f"to write over it")
    frames = read_log(log)
    bitrate = (can.bitrate if can is not None else None) or (app.wiring().can.bitrate if app.wiring().can else None)
    result = pick(frames, only=only, exclude=_ids(exclude) or (), unit_ids=can.unit_ids if can else (),
                  diagnostic_ids=can.diagnostic_ids if can else (), source=Path(log).name,
                  name=Path(output or log).name.split(".")[0], bitrate=bitrate)
    _show_rows(result.rows)
    ws = result.wake_set
    if not ws.frames:
        hint = " (the profile's wake ids are not in it: --all picks every periodic frame)" if only and profile else ""
        raise UsageError(f"{log}: nothing to pick{hint}")
    try:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        write_wake_set(output, ws, header=f"A wake set picked by `rig can pick` from {Path(log).name} "
                       f"({result.duration:.1f} s, {len(ws.frames)} of {len(result.rows)} ids).\nEdit it freely: "
                       f"every frame here is sent while ACC is on.")
    except OSError as exc:
        raise UsageError(f"{output}: cannot write: {exc.strerror}") from None
    out.print(f"wrote {esc(output)}: {len(ws.frames)} frame(s); use it with --wake-set {esc(output)} or under "
              f"can.wake in the pin map")
