"""The ``rig`` command.

Exit codes: 0 ok/passed, 1 the bench refused or a check/expectation failed,
2 usage or configuration error, 3 refused for safety, 130 interrupted.
"""

from __future__ import annotations

import logging
import sys

import click

from ..errors import ConfigError, RigError
from .app import App
from .render import err

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SAFETY, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
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
@click.option("-v", "--verbose", is_flag=True, help="Log every step to stderr.")
@click.version_option(package_name="rig")
@click.pass_context
def cli(ctx, backend, wiring, sim_state, ledger, events, verbose):
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

    \b
    Exit codes: 0 ok, 1 refused or failed, 2 usage/configuration error,
    3 refused for safety, 130 interrupted (Ctrl-C or SIGTERM).
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    ctx.obj = App(backend, wiring, sim_state, ledger, events)


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
    except ConfigError as exc:
        for p in exc.problems + exc.warnings:
            err.print(f"[red]{p}[/]" if p.severity == "error" else f"[yellow]{p}[/]")
        err.print("nothing was switched: fix the file(s) above and run again")
        return exc.exit_code
    except RigError as exc:
        err.print(f"[red]rig: {exc}[/]")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        err.print(f"interrupted ({'SIGTERM' if type(exc).__name__ == 'Terminated' else 'Ctrl-C'}); "
                  "keys released, rails safe")
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code


from . import bench_cmds  # noqa: E402,F401  (registers commands)
from . import wiring_cmds  # noqa: E402,F401
from . import profile_cmds  # noqa: E402,F401
from . import sim_cmds  # noqa: E402,F401
from . import run_cmds  # noqa: E402,F401
from . import ledger_cmds  # noqa: E402,F401
from . import demo_cmd  # noqa: E402,F401

if __name__ == "__main__":
    sys.exit(main())
