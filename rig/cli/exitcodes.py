"""The one exit-code table: under every command's --help, in the README, and what main() returns."""

from __future__ import annotations

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
