"""The ``rig`` command.

Exit codes: 0 ok/passed, 1 the bench refused or a check/expectation failed,
2 usage or configuration error, 3 refused for safety, 130 interrupted (Ctrl-C
or SIGTERM alike: 130, not 143, for both).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from ..bench import signals
from ..errors import RigError
from .exitcodes import EPILOG, add_exit_codes

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SAFETY, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# Each command's module, imported only when that command runs (or its own --help is
# asked for), so `rig --help` starts without gpiozero, rich or the profiles. The short
# help shown by `rig --help` is kept here; tests/test_startup.py checks it against
# each command's docstring, and that every command a module registers is listed.
COMMANDS = {
    "can": ("can_cmds", "The car's network: the bench's CAN bus, recording a car, picking a wake set."),
    "demo": ("demo_cmd", "The whole story on a simulated head unit, no Pi needed."),
    "power": ("bench_cmds", "Hold a rail on or off, then put everything back safe."),
    "press": ("bench_cmds", "Press a key, or a combo of keys together."),
    "procedures": ("procedure_cmds", "Procedures `rig run` can run: the built-ins, or your own YAML file."),
    "profiles": ("profile_cmds", "Head-unit profiles (from firmware_notes/): what each family shows and needs."),
    "run": ("run_cmds", "Run a procedure on the bench."),
    "report": ("serve_cmds", "Write a run's page as one self-contained HTML file (for a ticket or a CI artifact)."),
    "lab": ("lab_cmds", "A lab of benches on labgrid: places, their units, who holds them."),
    "ledger": ("ledgerfile_cmds", "The ledger file itself: check it, recover a damaged one into a new file."),
    "runs": ("ledger_cmds", "Runs in the ledger."),
    "serve": ("serve_cmds", "Hold the bench and serve its page: live state, runs, units."),
    "selftest": ("selftest_cmd", "Commission the bench: measure what its wiring does, against limits."),
    "shell": ("bench_cmds", "One bench session across many commands."),
    "sim": ("sim_cmds", "The simulated head unit used by --backend sim (demo, CI, procedure development)."),
    "status": ("bench_cmds", "Show rails, keys, senses and the display."),
    "stop": ("serve_cmds", "Stop the job the rig server is running (keys up, rails safe, recorded as interrupted)."),
    "units": ("ledger_cmds", "Units in the ledger: history, attempts left, lockouts."),
    "wiring": ("wiring_cmds", "The pin map: which GPIO drives which rail, key and sense."),
}


class LazyGroup(click.Group):
    """A group whose commands' modules load on first use (click's documented lazy-loading pattern)."""

    def list_commands(self, ctx):
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx, name):
        if name not in self.commands and name in COMMANDS:
            importlib.import_module(f"{__name__}.{COMMANDS[name][0]}")  # registers it on `cli`
        return add_exit_codes(self.commands.get(name))

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][1] if name not in self.commands else
                 self.commands[name].get_short_help_str(formatter.width))
                for name in self.list_commands(ctx) if name in COMMANDS or not self.commands[name].hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class _Err:
    """The error console, made on first use (rich is not needed to print --help)."""

    def print(self, *args, **kwargs):
        from .render import err as console

        console.print(*args, **kwargs)


err = _Err()


@click.group(cls=LazyGroup, context_settings=CONTEXT, epilog=EPILOG)
@click.option("--backend", type=click.Choice(["hardware", "sim", "mock"]), default="hardware",
              envvar="RIG_BACKEND", show_default=True, show_envvar=True,
              help="hardware: the Pi's GPIO. sim: a simulated head unit (no Pi needed). mock: bare mocked pins.")
@click.option("--wiring", "wiring", type=click.Path(dir_okay=False), envvar="RIG_WIRING", show_envvar=True,
              help="Pin map YAML (default: the packaged wiring/bench.yaml).")
@click.option("--sim-state", type=click.Path(dir_okay=False), envvar="RIG_SIM_STATE", show_envvar=True,
              help="Where the simulated unit keeps its memory between commands.")
@click.option("--unit-model", "unit_model", metavar="MODULE:FACTORY[,NAME=VALUE...]", envvar="RIG_UNIT_MODEL",
              show_envvar=True,
              help="With --backend sim: your own simulated unit instead of the shipped one (package.module:factory, "
                   "or a name in the rig.unit_models entry-point group), then its own settings; see rig.sim.model.")
@click.option("--ledger", type=click.Path(dir_okay=False), envvar="RIG_LEDGER", show_envvar=True,
              help="SQLite ledger of units, runs and code attempts (default: ~/.local/share/rig/ledger.sqlite).")
@click.option("--events", type=click.Path(dir_okay=False), envvar="RIG_EVENTS", show_envvar=True,
              help="Also write every bench event (edges, display lines) to this JSON-lines file.")
@click.option("--server", "server", metavar="URL", envvar="RIG_SERVER", show_envvar=True,
              help="Go through the rig server at URL (default: the one `rig serve` runs on this machine, if any; "
                   "off: never).")
@click.option("--place", "place", metavar="NAME|+", envvar=["RIG_PLACE", "LG_PLACE"], show_envvar=True,
              help="Act on the bench of this labgrid place, which you must have acquired (+: the place of the "
                   "reservation in LG_TOKEN, or the one your labgrid user holds): runs, bench commands and its "
                   "ledger. The coordinator is LG_COORDINATOR; the bench's token RIG_TOKEN.")
@click.option("--ca", "ca", type=click.Path(dir_okay=False), envvar="RIG_CA", show_envvar=True,
              help="The lab's CA certificate (PEM): an https:// bench's certificate must be signed by it "
                   "(default: the system's trust store).")
@click.option("--wake-set", "wake_set", metavar="FILE|NAME", envvar="RIG_WAKE_SET", show_envvar=True,
              help="The CAN wake set to send while ACC is on (a file from `rig can pick`, or a shipped one such as "
                   "vw-pq), in place of the pin map's can.wake and the profile's.")
@click.option("-v", "--verbose", is_flag=True, help="Log every step to stderr.")
@click.version_option(package_name="rig")
@click.pass_context
def cli(ctx, backend, wiring, sim_state, ledger, events, server, ca, verbose, unit_model, place, wake_set):
    """Bench rig for removed car-stereo head units.

    The Pi switches the unit's power rails through relays and presses its
    buttons through optocouplers. A command owns the bench while it runs:
    opening puts every rail in its safe state (constant power on, ACC off),
    and however the command ends, every key is let go and every rail goes
    back to its safe state.

    \b
    Try it without a Pi:
      rig demo                                   the whole story on a simulated unit
      rig --backend mock press mode+scan --hold 2
      rig sim reset --profile vw-safe --code 1234    a simulated unit for --backend sim
      printf 'power acc on\\nstatus\\n' | rig --backend sim shell
      rig wiring check                           the pin map as a table
    """
    import logging

    from .app import App

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    ctx.obj = App(backend, wiring, sim_state, ledger, events, server)
    ctx.obj.unit_model = unit_model
    if place and server:
        raise click.UsageError("--place finds the bench's server through labgrid: leave out --server/RIG_SERVER")
    ctx.obj.place = place
    ctx.obj.ca = ca
    ctx.obj.wake_set = wake_set
    if place and ctx.invoked_subcommand:  # every command --place accepts acts on that bench
        from .placed import check

        check(ctx, ctx.invoked_subcommand)


def main(argv=None) -> int:
    """Entry point: run the CLI and turn every way it can end into a meaningful exit code.

    From its first line to its last (and on through the interpreter's exit), Ctrl-C and
    SIGTERM both end in exit 130 with one line on stderr and no traceback. 130 for
    SIGTERM too (not the shell's 143): one code for "interrupted, keys released, rails
    safe", as the README and ``rig run --help`` document.
    """
    try:
        signals.install()  # first: a SIGTERM from here on unwinds like Ctrl-C
        if argv is None:  # the program: files parsed by the last command are not parsed again
            from ..yamlfile import remember_parses

            remember_parses(_cache_dir())
        code = EXIT_INTERRUPTED
        try:
            _END.update(late=None, returned=False)
            code = _dispatch(argv)
        finally:
            signals.exiting(_late)  # the end: a signal now only makes the exit 130
    except KeyboardInterrupt as exc:
        code = _interrupted(exc)
    if _END["late"] is not None and code != EXIT_INTERRUPTED:
        code = _interrupted(_END["late"])
    if argv is not None:  # called from Python (tests): hand the handlers back
        signals.exiting(None)
        signals.uninstall()
        return code
    _END["returned"] = True  # the program: a signal from here on ends it at once, 130, with its line
    _exit(code)


def _exit(code: int) -> None:
    """The program's end: atexit's functions (the bench's release among them) with rig's
    handlers still in place, then out at once with ``code``. Python's own finalisation puts
    the default handlers back after atexit and then takes 40-200 ms tearing modules down:
    a Ctrl-C or SIGTERM there killed rig with no word and no 130."""
    import atexit

    try:
        atexit._run_exitfuncs()
    finally:
        signals.exit_now(code)


_END: dict = {"late": None, "returned": False}


def _cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "rig", "parsed")


def _late(exc) -> None:
    if _END["returned"]:
        _interrupted(exc, "while exiting")
        signals.exit_now(EXIT_INTERRUPTED)
    if _END["late"] is None:
        _END["late"] = exc


def _interrupted(exc, when: str = "") -> int:
    bench = sys.modules.get("rig.bench.bench")
    if bench is not None:
        bench._release_all()  # before saying so: "rails safe" is printed only once it is true
    try:
        sys.stderr.write(f"interrupted ({signals.describe(exc)}){' ' + when if when else ''}; "
                         f"keys released, rails safe\n")
        sys.stderr.flush()
    except Exception:
        pass
    return EXIT_INTERRUPTED


def _dispatch(argv) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        # make_context/invoke rather than cli.main: click's main turns Ctrl-C into a blank
        # line and an Abort; here an interrupt reaches main() as itself.
        with cli.make_context("rig", args) as ctx:
            rv = cli.invoke(ctx)
        return rv if isinstance(rv, int) else EXIT_OK
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        exc.show()
        return EXIT_USAGE
    except click.Abort as exc:  # a click prompt turns Ctrl-C (and our SIGTERM) into Abort
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, KeyboardInterrupt):
            raise cause from None
        sys.stderr.write("aborted\n")
        return EXIT_FAILED
    except RigError as exc:  # ConfigError, UsageError, refusals: worded in render.report_error
        from .render import report_error

        return report_error(exc)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
