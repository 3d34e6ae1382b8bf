"""rig serve token new/list/revoke: the tokens a bench's server accepts (hashes only are kept)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..errors import ConfigError
from .render import err, esc, out


def _config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "rig"


def _tokens(path=None):
    from ..serve.auth import Tokens

    return Tokens(path or os.environ.get("RIG_TOKENS") or _config_dir() / "serve-tokens.json")


@click.group("token")
def token():
    """Tokens for the server's page and API."""


@token.command("new")
@click.option("--role", type=click.Choice(["viewer", "operator", "exporter"]), required=True,
              help="viewer: sees everything but codes. operator: also switches rails, presses keys, runs jobs. "
                   "exporter: a lab bench's rig-lg-exporter, the only one that says which place holds the bench.")
@click.option("--name", default=None, help="Who or what it is for (goes into the event log). Default: the role.")
@click.option("--lab-user", metavar="HOST/USER", help="In a lab: the labgrid users (host/user as labgrid has them; "
              "* matches any part) whose places this operator token may act on, e.g. 'runner-07/*'.")
@click.option("--tokens", "tokens_path", type=click.Path(dir_okay=False), envvar="RIG_TOKENS")
def token_new(role, name, lab_user, tokens_path):
    """Make a token and print it once (only its hash is kept).

    \b
    Examples:
      rig serve token new --role viewer --name shop-tablet
      rig serve token new --role operator --name runner-07 --lab-user 'runner-07/*'
      rig serve token new --role exporter --name exporters
    """
    tokens = _tokens(tokens_path)
    secret = tokens.new(role, name or role, lab_user)
    err.print(f"{role} token for {name or role} (shown once; log in with it on the page, or send it as "
              f"`Authorization: Bearer ...`, or RIG_TOKEN for `rig --server URL`):")
    out.print(secret)


@token.command("list")
@click.option("--tokens", "tokens_path", type=click.Path(dir_okay=False), envvar="RIG_TOKENS")
def token_list(tokens_path):
    """The tokens: id, name, role, when made (never the tokens themselves: only hashes are kept).

    \b
    Example:
      rig serve token list
    """
    import time

    rows = _tokens(tokens_path).listing()
    for t in rows:
        made = time.strftime("%Y-%m-%d %H:%M", time.localtime(t["created"])) if t.get("created") else "-"
        out.print(f"{t['id']}  {t['role']:<8}  {made}  {esc(str(t['name']))}")
    if not rows:
        err.print("no tokens yet (rig serve makes one at its first start; rig serve token new makes more)")


@token.command("revoke")
@click.argument("which", metavar="NAME|ID")
@click.option("--tokens", "tokens_path", type=click.Path(dir_okay=False), envvar="RIG_TOKENS")
def token_revoke(which, tokens_path):
    """Remove a token (every token of that name, or the one with that id): it logs in no more, and the
    sessions and event streams opened with it end (a running server notices within a second).

    \b
    Example:
      rig serve token revoke shop-tablet
    """
    gone = _tokens(tokens_path).revoke(which)
    if not gone:
        raise ConfigError(f"no token named {which!r} and none with that id; rig serve token list shows them")
    for e in gone:
        out.print(f"revoked {e['role']} token {e['name']} ({str(e.get('sha256', ''))[:8]})")
