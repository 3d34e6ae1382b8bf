"""Who may look and who may switch: tokens, roles, one-time login links, sessions.

Tokens live in a 0600 file created at the server's first start; only their
SHA-256 is kept there, so the file cannot log anyone in. A token is shown
once, when it is made (``rig serve token list`` shows names and ids, never
tokens; ``token revoke`` removes one, and ends the sessions opened with it). Three roles: ``viewer`` sees everything (except codes,
which nobody sees), ``operator`` may also switch rails, press keys, start
and stop jobs, and ``exporter`` (a lab bench's ``rig-lg-exporter``) is the only
one that may say which labgrid place holds the bench. In a lab an operator
token is bound to the labgrid users it acts for (``lab_user``, a pattern of
``host/user``), so it reaches only the benches its own jobs acquired.

>>> import tempfile, os
>>> tokens = Tokens(os.path.join(tempfile.mkdtemp(), "tokens.json"))
>>> secret = tokens.new("operator", "bench-pc")
>>> tokens.check(secret)["role"], tokens.check("guess")
('operator', None)
>>> oct(os.stat(tokens.path).st_mode & 0o777)
'0o600'
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from pathlib import Path

from ..errors import ConfigError
from ..records.files import folder

log = logging.getLogger(__name__)

ROLES = ("viewer", "operator", "exporter")
SESSION_HOURS = 12
LOGIN_LINK_MINUTES = 10


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def write_private(path: Path, text: str) -> None:
    """Write a file only this user can read (created 0600, never wider for a moment)."""
    folder(path.parent, "a folder for rig's private files", mode=0o700)
    if path.parent.stat().st_uid != os.getuid():  # e.g. a /tmp/rig-UID someone else made first
        raise ConfigError(f"{path.parent} belongs to another user; remove it")
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class Tokens:
    """The token file: ``[{"name", "role", "sha256", "created"}]``."""

    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def _load(self) -> list[dict]:
        if not self.path.exists():
            return []
        try:
            entries = json.loads(self.path.read_text())
        except ValueError as exc:
            raise ConfigError(f"{self.path}: not a token file ({exc}); remove it to start over") from None
        mode = self.path.stat().st_mode & 0o077
        if mode:
            raise ConfigError(f"{self.path} can be read by other users (mode {oct(mode | 0o600)}); "
                              f"chmod 600 it")
        return entries

    def entries(self) -> list[dict]:
        with self._lock:
            return self._load()

    def new(self, role: str, name: str, lab_user: str | None = None) -> str:
        """Make a token; returns it (the only time it is ever shown).

        ``lab_user``: the labgrid users (``host/user``, ``*`` matches any part) whose places this
        operator token may act on in a lab, e.g. ``runner-07/*`` for one CI runner's jobs.
        """
        if role not in ROLES:
            raise ConfigError(f"no role {role!r}: a token is for a viewer, an operator or an exporter")
        if lab_user is not None and (role != "operator" or "/" not in lab_user or len(lab_user) > 200):
            raise ConfigError(f"--lab-user {lab_user!r}: an operator's labgrid user is HOST/USER "
                              f"(a pattern: runner-07/*)")
        secret = secrets.token_urlsafe(24)
        with self._lock:
            entries = self._load()
            entry = {"name": name, "role": role, "sha256": _digest(secret), "created": time.time()}
            if lab_user:
                entry["lab_user"] = lab_user
            entries.append(entry)
            write_private(self.path, json.dumps(entries, indent=1))
        return secret

    def listing(self) -> list[dict]:
        """Each token as ``rig serve token list`` shows it: its id (the hash's first 8), name, role, created."""
        return [{"id": str(e.get("sha256", ""))[:8], "name": e.get("name"), "role": e.get("role"),
                 "created": e.get("created")} for e in self.entries()]

    def revoke(self, which: str) -> list[dict]:
        """Remove every token named ``which`` (a name, or an id from :meth:`listing`); returns them.

        Sessions opened with a removed token, and their event streams, end at their next request
        (a stream within a second): the server reads this file on every check.
        """
        with self._lock:
            entries = self._load()
            gone = [e for e in entries if which in (e.get("name"), str(e.get("sha256", ""))[:8])]
            if gone:
                write_private(self.path, json.dumps([e for e in entries if e not in gone], indent=1))
        return gone

    def known(self, digest: str | None) -> bool:
        """Whether a token with this SHA-256 is still in the file (a session's token, not revoked)."""
        try:
            entries = self.entries()
        except ConfigError:
            return False  # fail closed, as check() does
        return bool(digest) and any(hmac.compare_digest(digest, str(e.get("sha256", ""))) for e in entries)

    def check(self, secret: str | None) -> dict | None:
        """The token's entry, or None; every entry is compared, in constant time."""
        if not secret:
            return None
        want, found = _digest(secret), None
        try:
            entries = self.entries()
        except ConfigError as exc:  # fail closed: a file others could read (or a broken one) logs nobody in
            log.error("no token is accepted: %s", exc)
            return None
        for e in entries:
            if hmac.compare_digest(want, str(e.get("sha256", ""))):
                found = e
        return found


class Sessions:
    """Browser sessions (cookie) and one-time login codes, in memory: a restart logs everyone out."""

    def __init__(self):
        self._sessions: dict[str, dict] = {}
        self._links: dict[str, dict] = {}
        self._lock = threading.Lock()

    def login_link(self, who: dict) -> str:
        """A code for one login within the next few minutes."""
        code = secrets.token_urlsafe(18)
        with self._lock:
            self._links[_digest(code)] = dict(who, expires=time.time() + LOGIN_LINK_MINUTES * 60)
        return code

    def redeem(self, code: str | None) -> dict | None:
        if not code:
            return None
        key = _digest(code)
        with self._lock:
            match = next((k for k in self._links if hmac.compare_digest(k, key)), None)
            who = self._links.pop(match, None) if match else None
        if who is None or who["expires"] < time.time():
            return None
        return who

    def start(self, who: dict) -> dict:
        sid = secrets.token_urlsafe(32)
        session = {"sid": sid, "name": who["name"], "role": who["role"], "lab": who.get("lab"), "csrf": secrets.token_urlsafe(24),
                   "expires": time.time() + SESSION_HOURS * 3600,
                   "token": who.get("token")}  # the token's SHA-256 it was opened with: revoking it ends it
        with self._lock:
            self._sessions[_digest(sid)] = session
        return session

    def get(self, sid: str | None) -> dict | None:
        if not sid:
            return None
        with self._lock:
            s = self._sessions.get(_digest(sid))
            if s is not None and s["expires"] < time.time():
                self._sessions.pop(_digest(sid), None)
                s = None
        return s

    def end(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._sessions.pop(_digest(sid), None)


def csrf_ok(session: dict, header: str | None) -> bool:
    return bool(header) and hmac.compare_digest(session["csrf"], header)
