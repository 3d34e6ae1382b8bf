"""The one exit-code table (under every command's --help, in the README), and the context a
suggested follow-up command needs to work when pasted."""

from __future__ import annotations

import re
import shlex

EXIT_CODES = """\
Exit codes (every command):
  0    done / passed
  1    failed: an expectation not met, a wrong code, a step the bench refused
  2    usage or configuration error: a command-line mistake or a bad file; nothing was switched
  3    refused for safety: it would risk a lockout or a permanent lock, or the bench is in use
  130  interrupted (Ctrl-C or SIGTERM): keys released, rails safe"""

EPILOG = "\b\n" + EXIT_CODES  # \b: click prints the table as written, not re-wrapped


def add_exit_codes(cmd):
    """Put the table under ``cmd``'s --help and its subcommands'; returns ``cmd`` (None stays None)."""
    if cmd is not None and cmd.epilog != EPILOG:
        cmd.epilog = EPILOG
        for sub in getattr(cmd, "commands", {}).values():
            add_exit_codes(sub)
    return cmd


# The global options of this invocation that a suggested command needs (--backend sim,
# --ledger FILE, ...): "rig units show VW123" printed after a run on another ledger must
# show that ledger's unit when pasted.
_CONTEXT: list[str] = []
_SUGGESTED = re.compile(r"\brig (?=(?:units|runs|sim|run|profiles|procedures|status|press|power|shell|wiring)\b)")


def remember_context(backend: str, wiring=None, sim_state=None, ledger=None) -> None:
    """Remember the global options given on the command line (one from the environment, RIG_LEDGER,
    is still set where the suggestion is pasted)."""
    import click

    ctx = click.get_current_context(silent=True)

    def typed(name: str) -> bool:
        if ctx is None:
            return True
        source = ctx.get_parameter_source(name)
        return source is not None and source.name == "COMMANDLINE"

    _CONTEXT[:] = []
    if backend != "hardware" and typed("backend"):
        _CONTEXT.extend(["--backend", backend])
    for opt, name, value in (("--wiring", "wiring", wiring), ("--sim-state", "sim_state", sim_state),
                             ("--ledger", "ledger", ledger)):
        if value and typed(name):
            _CONTEXT.extend([opt, str(value)])


def with_context(text: str) -> str:
    """``rig units show X`` in a message becomes ``rig --ledger L units show X`` when this run used L.

    >>> remember_context("sim", ledger="/tmp/l.sqlite"); with_context("see rig units show VW1")
    'see rig --backend sim --ledger /tmp/l.sqlite units show VW1'
    >>> remember_context("hardware")
    """
    if not _CONTEXT:
        return text

    def add(m: re.Match) -> str:
        wanted = _CONTEXT
        if text.startswith("sim ", m.end()) and "--backend" in wanted:  # rig sim ... needs no backend
            i = wanted.index("--backend")
            wanted = wanted[:i] + wanted[i + 2:]
        return "rig " + "".join(shlex.quote(a) + " " for a in wanted)

    return _SUGGESTED.sub(add, text)
