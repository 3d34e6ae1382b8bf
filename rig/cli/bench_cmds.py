"""Bench commands: status, press, power, shell."""

from __future__ import annotations

import sys

import click

from ..durations import MAX_HOLD, MAX_WAIT, MIN_HOLD, format_duration, format_limit, parse_duration
from ..errors import RigError
from ..run.session import BenchSession, UsageError, check_press, check_rail
from . import cli
from .exitcodes import with_context
from .render import err, esc, out, show_status


class Duration(click.ParamType):
    """A click type for ``2``, ``2s``, ``250ms``, ``30min``, ``1h``."""

    name = "duration"

    def __init__(self, minimum: float = 0.0, maximum: float = MAX_WAIT):
        self.minimum, self.maximum = minimum, maximum

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        try:
            seconds = parse_duration(value, self.maximum)
        except ValueError as exc:
            why = f"{value!r} is too long" if "too long" in str(exc) else str(exc)
            self.fail(f"{why}; {self.allowed()}", param, ctx)
        if seconds < self.minimum:
            self.fail(f"{value!r} is too short; {self.allowed()}", param, ctx)
        return seconds

    def allowed(self) -> str:
        return f"allowed: {format_limit(self.minimum)} to {format_limit(self.maximum)}" if self.minimum \
            else f"allowed: up to {format_limit(self.maximum)}"


DURATION = Duration(minimum=0.001)
HOLD = Duration(MIN_HOLD, MAX_HOLD)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object: the bench, the unit on it (serial, profile, "
              "family, attempts), the running job and, with --place, the place; for scripts.")
@click.pass_obj
def status(app, as_json):
    """Show rails, keys, senses and the display.

    \b
    Examples:
      rig --backend sim status
      rig --place + status --json | jq -r .unit.serial     the unit on the bench this CI job got
    """
    client = app.server()
    if client is not None:  # a rig server holds the bench: its live state, and the job it runs
        from .serve_cmds import remote_status

        return remote_status(client, as_json)
    with app.bench() as bench:
        bench.clock.sleep(0.5)  # let a freshly powered unit settle before reading it
        if as_json:
            import json

            click.echo(json.dumps({"bench": dict(bench.snapshot(), pins=bench.backend.pin_library),
                                   "unit": None, "job": None, "place": None}))
            return
        show_status(bench.snapshot())
        out.print(f"pins: {bench.backend.pin_library}", markup=False)  # which pin library, and why not others


def guard_options(fn):
    """--unit and the override words: a press that submits a code is an attempt (rig.run.guard)."""
    fn = click.option("--allow-permanent-lock", "allow_permanent", is_flag=True,
                      help="Allow a press that would submit the code that locks the unit for good if wrong.")(fn)
    fn = click.option("--allow-lockout", is_flag=True,
                      help="Allow a press that would submit the last code before a lockout.")(fn)
    return click.option("--unit", "serial", metavar="SERIAL",
                        help="The unit on the bench (default: the last unit the ledger saw). A press that "
                             "submits a code on it is counted as an attempt before the press, or refused.")(fn)


@cli.command()
@click.argument("combo", metavar="KEY[+KEY...]")
@click.option("--hold", type=HOLD, default=None, help="How long to hold (e.g. 0.3, 2s, 250ms). Default: the pin map's press time.")
@click.option("--times", type=click.IntRange(1, 100), default=1, show_default=True, help="Press this many times.")
@click.option("--acc/--no-acc", default=False, help="Switch ACC on first, so the unit is awake for the press.")
@guard_options
@click.pass_obj
def press(app, combo, hold, times, acc, serial, allow_lockout, allow_permanent):
    """Press a key, or a combo of keys together.

    All keys of a combo go down together and come up together after the hold.
    A press that would submit a code on the unit (its confirm combo while its
    entry may be open, or the last digit of a unit that checks itself) is an
    attempt: counted in the ledger before the press, or refused as `rig run`
    refuses one.

    \b
    Examples:
      rig press preset1                      one short press
      rig press mode+scan --hold 2           hold mode and scan together for 2 s
      rig press preset3 --times 4            four presses (the pin map's gap between them)
    """
    check_press(app.wiring(), combo, hold, times)  # a mistyped key is refused before any pin moves
    unit = bench_unit(app, serial)
    with app.bench() as bench:
        guard(app, bench, unit, allow_lockout, allow_permanent, "by hand (rig press)")
        session = BenchSession(bench)
        if acc:
            session.power("acc", True)
        out.print(session.press(combo, hold, times))


@cli.command()
@click.argument("rail")
@click.argument("state", type=click.Choice(["on", "off"], case_sensitive=False))
@click.option("--for", "duration", type=DURATION, default=None,
              help="Hold it this long (e.g. 10s, 30min), then release safely. Default: until Ctrl-C.")
@click.option("--unit", "serial", metavar="SERIAL",
              help="The unit on the bench (default: the last unit the ledger saw): constant power cut past "
                   "its arming time records it as locked again.")
@click.pass_obj
def power(app, rail, state, duration, serial):
    """Hold a rail on or off, then put everything back safe.

    The rail stays as asked while this command runs: for --for, or until
    Ctrl-C. Then the bench is released: keys up, every rail to its safe state
    (constant power on, ACC off). A released relay cannot hold a rail, so there
    is no "switch it and walk away".

    \b
    Examples:
      rig power acc on --for 1s
      rig power battery off --for 30s        cut constant power (arms SAFE on most units)
      rig power acc on                       until Ctrl-C
    """
    check_rail(app.wiring(), rail)
    try:
        unit = bench_unit(app, serial)
    except UsageError:
        if serial:
            raise
        unit = None  # the last unit has no profile on record: no arming time to judge a cut by
    with app.bench() as bench:
        guard(app, bench, unit, False, False, "by hand (rig power)")
        session = BenchSession(bench)
        session.power(rail, state.lower() == "on")
        _hold(bench, f"{rail} {state.lower()}", duration)


def _hold(bench, what: str, duration: float | None) -> None:
    clock = bench.clock
    if clock.virtual and duration is None:
        raise UsageError("simulated time does not pass by itself: give --for (e.g. --for 1h)")
    start = clock.now()
    end = None if duration is None else start + duration
    if not err.is_terminal:
        err.print(f"holding {what}" + (f" for {format_duration(duration)}" if duration else " until Ctrl-C"))
        if end is not None:
            clock.sleep_until(end)
        else:
            while True:
                clock.sleep(3600)
        return
    from rich.live import Live

    with Live(console=err, refresh_per_second=4, transient=True) as live:
        while end is None or clock.now() < end:
            now = clock.now()
            left = "" if end is None else f", {format_duration(max(0.0, end - now))} left"
            live.update(f"holding [bold]{what}[/] for {format_duration(now - start)}{left}  (Ctrl-C to release)")
            clock.sleep(0.25 if end is None else min(0.25, max(0.0, end - now)))
    err.print(f"held {what} for {format_duration(clock.now() - start)}")


@cli.command()
@guard_options
@click.pass_obj
def shell(app, serial, allow_lockout, allow_permanent):
    """One bench session across many commands.

    The bench stays open (rails where you put them) until quit or end of
    input, then is released safely. At a terminal you get line editing and
    history; piped, it reads one command per line, so a script can drive it.
    A press that submits a code on the unit is an attempt, as with rig press.

    \b
    Commands: power RAIL on|off, press KEY[+KEY..] [HOLD] [xN], wait DURATION,
              status, help, quit
    \b
    Examples:
      rig --backend sim shell
      printf 'power acc on\\npress mode+scan 3s\\nstatus\\n' | rig --backend sim shell
    """
    interactive = sys.stdin.isatty()
    failed = 0
    unit = bench_unit(app, serial)
    with app.bench() as bench:
        guard(app, bench, unit, allow_lockout, allow_permanent, "by hand (rig shell)")
        session = BenchSession(bench)
        if interactive:
            _enable_history()
            out.print(f"rig shell on the {bench.backend.name} bench; type help, quit or Ctrl-D to leave")
        lineno = 0
        while True:
            try:
                with bench.clock.outside("the next command"):  # rails held between commands stay held
                    line = input("rig> ") if interactive else sys.stdin.readline()
            except EOFError:
                break
            if not interactive and line == "":
                break
            lineno += 1
            try:
                result = session.execute(line)
            except (UsageError, RigError) as exc:
                where = "" if interactive else f"line {lineno}: "
                err.print(f"[red]{where}{esc(with_context(str(exc)))}[/]")
                failed = failed or exc.exit_code
                if not interactive:  # a script that went wrong should stop, not press on
                    break
                continue
            if result is None:
                break
            if isinstance(result, dict):
                show_status(result)
            elif result:
                out.print(result)
    if failed:
        raise click.exceptions.Exit(failed)  # the first failure's: 3 for a refusal, 2 for a mistyped line


def bench_unit(app, serial: str | None) -> tuple | None:
    """The unit a hand session presses on, and its profile: ``--unit``, else the last unit the
    ledger saw (said on stderr); None when the ledger knows no unit at all. Checked
    before the bench opens: an unknown serial or a unit with no profile is refused."""
    from ..run.guard import on_record
    from .app import ledger_path

    if app.server() is not None:
        return (serial, None) if serial else None  # the server guards the unit on its bench
    found = on_record(ledger_path(app), serial)
    if found is None:
        return None
    serial, profile, guessed = found
    if guessed:
        err.print(f"unit on the bench: {esc(serial)} ({profile.id}), the last the ledger saw; a press that "
                  f"submits a code on it is counted (--unit names another)")
    return serial, profile


def guard(app, bench, unit, allow_lockout: bool, allow_permanent: bool, via: str) -> None:
    """Put the attempt guard on a bench this command opened (a server's bench has its own)."""
    if unit is None:
        return
    serial, profile = unit
    if profile is None:  # through a server: it counts; the words and the unit go with each press
        bench.guard_words = {"unit": serial, "allow_lockout": allow_lockout, "allow_permanent": allow_permanent}
        return
    from ..run.guard import AttemptGuard
    from .app import ledger_path

    bench.guard = AttemptGuard(bench, serial, profile, ledger_path(app), via=via, allow_lockout=allow_lockout,
                               allow_permanent=allow_permanent,
                               tell=lambda m: err.print(f"[yellow]{esc(with_context(m))}[/]"))


def _enable_history() -> None:
    try:
        import readline  # noqa: F401  (input() gains line editing and history)
        import os

        path = os.path.expanduser("~/.rig_history")
        try:
            readline.read_history_file(path)
        except OSError:
            pass
        import atexit

        atexit.register(lambda: _save_history(readline, path))
    except ImportError:
        pass


def _save_history(readline, path):
    try:
        readline.write_history_file(path)
    except OSError:
        pass
