"""The ``rig`` command.

Exit codes: 0 ok/passed, 1 the bench refused or a check/expectation failed,
2 usage or configuration error, 3 refused for safety, 130 interrupted.
"""

from __future__ import annotations

import importlib
import sys

import click

from ..errors import RigError
from .exitcodes import EPILOG, add_exit_codes

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SAFETY, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# Each command's module, imported only when that command runs (or its own --help is
# asked for), so `rig --help` starts without gpiozero, rich or the profiles. The short
# help shown by `rig --help` is kept here; tests/test_startup.py checks it against
# each command's docstring, and that every command a module registers is listed.
COMMANDS = {
    "demo": ("demo_cmd", "The whole story on a simulated head unit, no Pi needed."),
    "power": ("bench_cmds", "Hold a rail on or off, then put everything back safe."),
    "press": ("bench_cmds", "Press a key, or a combo of keys together."),
    "procedures": ("procedure_cmds", "Procedures `rig run` can run: the built-ins, or your own YAML file."),
    "profiles": ("profile_cmds", "Head-unit profiles (from firmware_notes/): what each family shows and needs."),
    "run": ("run_cmds", "Run a procedure on the bench."),
    "report": ("serve_cmds", "Write a run's page as one self-contained HTML file (for a ticket or a CI artifact)."),
    "runs": ("ledger_cmds", "Runs in the ledger."),
    "serve": ("serve_cmds", "Hold the bench and serve its page: live state, runs, units."),
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
@click.option("--ledger", type=click.Path(dir_okay=False), envvar="RIG_LEDGER", show_envvar=True,
              help="SQLite ledger of units, runs and code attempts (default: ~/.local/share/rig/ledger.sqlite).")
@click.option("--events", type=click.Path(dir_okay=False), envvar="RIG_EVENTS", show_envvar=True,
              help="Also write every bench event (edges, display lines) to this JSON-lines file.")
@click.option("--server", "server", metavar="URL", envvar="RIG_SERVER", show_envvar=True,
              help="Go through the rig server at URL (default: the one `rig serve` runs on this machine, if any; "
                   "off: never).")
@click.option("-v", "--verbose", is_flag=True, help="Log every step to stderr.")
@click.version_option(package_name="rig")
@click.pass_context
def cli(ctx, backend, wiring, sim_state, ledger, events, server, verbose):
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


def main(argv=None) -> int:
    """Entry point: run the CLI and turn every way it can end into a meaningful exit code."""
    try:
        # without standalone mode, click returns an Exit's code instead of raising it
        rv = cli.main(args=argv, prog_name="rig", standalone_mode=False)
        return rv if isinstance(rv, int) else EXIT_OK
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        exc.show()
        return EXIT_USAGE
    except click.Abort as exc:  # click turns KeyboardInterrupt (and our SIGTERM) into Abort
        cause = exc.__cause__ or exc.__context__
        what = "SIGTERM" if type(cause).__name__ == "Terminated" else "Ctrl-C"
        err.print(f"interrupted ({what}); keys released, rails safe")
        return EXIT_INTERRUPTED
    except RigError as exc:  # ConfigError, UsageError, refusals: worded in render.report_error
        from .render import report_error

        return report_error(exc)
    except KeyboardInterrupt as exc:
        err.print(f"interrupted ({'SIGTERM' if type(exc).__name__ == 'Terminated' else 'Ctrl-C'}); "
                  "keys released, rails safe")
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
