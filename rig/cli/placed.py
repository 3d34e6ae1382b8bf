"""Which commands ``--place`` reaches: every command it accepts acts on that lab bench.

``run``, ``status``, ``press``, ``power``, ``shell``, ``stop``, ``can status``, ``units``,
``runs`` and ``report`` act on the place's bench and read its ledger. The others act on this
machine (its pin map, its simulated unit, its CAN interface, a ledger file here) and are
refused with ``--place``, saying so, rather than quietly answering for the wrong bench -
also when the place comes from ``RIG_PLACE``/``LG_PLACE``. Commands that read nothing of
a bench (``profiles``, ``procedures``, ``lab``, ``can pick``) refuse only a ``--place``
typed on their command line, and ignore one in the environment.

>>> local_only("wiring", "check")
"reads this machine's pin map, never a lab bench's"
>>> local_only("run", "enter-code") is None
True
"""

from __future__ import annotations

import os

from ..errors import UsageError

ON_THE_BENCH = {"run", "status", "press", "power", "shell", "stop", "units", "runs", "report"}

# what the command does instead of acting on the bench
HERE = {
    "selftest": "measures this machine's own wiring, never a lab bench's",
    "wiring": "reads this machine's pin map, never a lab bench's",
    "ledger": "checks a ledger file on this machine (a bench's own is checked on its Pi)",
    "sim": "drives this machine's simulated unit, never a lab bench's",
    "demo": "runs a simulated unit on this machine, never on a lab bench",
    "serve": "serves this machine's bench, never a lab bench it is not on",
    ("can", "watch"): "listens to this machine's CAN interface, never a lab bench's",
    ("can", "record"): "records this machine's CAN interface, never a lab bench's",
}
NO_BENCH = {
    "profiles": "shows the profiles installed here, not a bench's",
    "procedures": "shows the procedures installed here, not a bench's (a file of yours is checked on the bench "
                  "when it runs)",
    "lab": "speaks to the coordinator, not to a bench (rig lab release --place NAME lets go of one place)",
    ("can", "pick"): "reads a log file here, not a bench",
}


def local_only(command: str, sub: str | None = None) -> str | None:
    """What ``rig COMMAND [SUB]`` does on this machine instead of on a lab bench, or None."""
    return HERE.get((command, sub)) or HERE.get(command)


def check(ctx, command: str, sub: str | None = None) -> None:
    """Refuse ``rig --place P COMMAND [SUB]`` when that command would act on this machine."""
    app = ctx.find_root().obj
    place = getattr(app, "place", None)
    if not place or command in ON_THE_BENCH:
        return
    import click

    typed = ctx.find_root().get_parameter_source("place") == click.core.ParameterSource.COMMANDLINE
    what = local_only(command, sub)
    if what is None:
        what = NO_BENCH.get((command, sub)) or NO_BENCH.get(command)
        if what is None or not typed:  # a command of its own (can status) or the environment's place
            return
    name = f"rig {command}" + (f" {sub}" if sub else "")
    if typed:
        raise UsageError(f"--place {place}: `{name}` {what}; leave out --place")
    var = "RIG_PLACE" if os.environ.get("RIG_PLACE") else "LG_PLACE"
    raise UsageError(f"{var}={place} is set: `{name}` {what}; run it with {var} unset "
                     f"(or rig --place '' {command} ...)")
