"""The CLI's side: find a running server and talk to it (standard library only).

While ``rig serve`` holds the bench, ``rig status/run/press/power/shell`` go
through it instead of being refused. On the same machine the server is found
through a 0600 file in the user's runtime directory, which also carries a
token only that user can read; ``rig --server URL`` (or ``RIG_SERVER``) names
another machine, with its token in ``RIG_TOKEN``. An ``https://`` server's
certificate is verified against ``RIG_CA`` (the lab's CA; ``rig --ca FILE``), or
the system's trust store; the local server's own certificate is pinned through
its discovery file.

>>> find_server("off") is None
True
"""

from __future__ import annotations

import getpass
import json
import os
from http.client import HTTPException
from pathlib import Path

from ..errors import BenchBusy, BenchRefused, ConfigError, RigError


def runtime_dir() -> Path:
    """systemd's ``RuntimeDirectory=`` (``$RUNTIME_DIRECTORY``), else the login session's, else /tmp/rig-UID."""
    own = os.environ.get("RUNTIME_DIRECTORY")
    if own:
        return Path(own.split(":")[0])
    base = os.environ.get("XDG_RUNTIME_DIR")
    return Path(base) / "rig" if base else Path(f"/tmp/rig-{os.getuid()}")


def discovery_path() -> Path:
    """Where this process's server says where it listens."""
    return runtime_dir() / "server.json"


def _candidates() -> list[Path]:
    # A server started by systemd has no login session's XDG_RUNTIME_DIR: it writes to
    # /tmp/rig-UID, and the same user's shell (which has one) must still find it.
    uid = os.getuid()
    paths = [discovery_path(), Path("/run/rig/server.json"),  # RuntimeDirectory=rig in rig-serve.service
             Path(f"/run/user/{uid}/rig/server.json"), Path(f"/tmp/rig-{uid}/server.json")]
    return list(dict.fromkeys(paths))


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
        return True
    except (OSError, ValueError, TypeError):
        return False


def find_server(url: str | None = None, ca: str | None = None) -> "Client | None":
    """``url`` from --server/RIG_SERVER; else the discovery file; ``off`` means never."""
    if url and url.lower() in ("off", "none", "no"):
        return None
    if url:
        return Client(url.rstrip("/"), os.environ.get("RIG_TOKEN"), ca=ca)
    for path in _candidates():
        try:
            st = path.stat()
            if st.st_mode & 0o077 or st.st_uid != os.getuid():
                continue  # not ours alone: do not trust it
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if _alive(info.get("pid")):  # a server that died (kill -9) leaves its file behind
            return Client(info["url"], info.get("token"), same_machine=True, pin=info.get("cert"))
    return None


# "127.0.0.1:PORT" of an SSH forward to a bench -> the bench's name its certificate must carry
FORWARDED: dict[str, str] = {}


class Client:
    """A few JSON calls to the server; errors come back as the rig's own errors (same exit codes)."""

    def __init__(self, url: str, token: str | None, place: str | None = None, same_machine: bool = False,
                 ca: str | None = None, pin: str | None = None):
        self.url, self.token = url, token
        self.ca = ca or os.environ.get("RIG_CA") or None  # the lab's CA, for an https:// bench
        self.pin = pin  # the local server's own certificate (from its discovery file)
        self.place = place  # the lab place this client holds (rig --place): the server checks it
        # found through this machine's discovery file: the server shares this CLI's ledger and logs;
        # one named by --server/--place may be another machine, with its own
        self.remote = not same_machine

    def _headers(self) -> dict:
        h = {"content-type": "application/json", "x-rig-user": _user()}
        if self.place:
            h["x-rig-place"] = self.place
        if self.token:
            h["authorization"] = f"Bearer {self.token}"
        return h

    def _context(self):
        """The TLS context for an https:// server (None for http)."""
        if not self.url.startswith("https:"):
            return None
        from urllib.parse import urlparse

        from .tls import client_context, named_context, pinned_context

        name = FORWARDED.get(urlparse(self.url).netloc)
        if name and not self.pin:
            return named_context(self.ca, name)
        return pinned_context(self.pin) if self.pin else client_context(self.ca)

    def call(self, method: str, path: str, data: dict | None = None, timeout: float = 30.0):
        import urllib.error  # here, not at the top: most commands find no server and never send (~20 ms)
        import urllib.request

        body = None if data is None else json.dumps(data).encode()
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=self._headers())
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self._context()) as resp:
                raw = resp.read()
                kind = resp.headers.get("content-type", "")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", exc.reason)
            except ValueError:
                message = str(exc.reason)
            raise _error(exc.code, message) from None
        except urllib.error.URLError as exc:
            raise _unreachable(self, exc) from None
        except (OSError, HTTPException) as exc:  # reset, closed mid-answer, timed out: it went away
            raise ServerGone(self.url, exc) from None
        return json.loads(raw) if kind.split(";")[0].strip() == "application/json" else raw

    def get(self, path: str):
        return self.call("GET", path)

    def post(self, path: str, data: dict | None = None, timeout: float = 30.0):
        return self.call("POST", path, data or {}, timeout)

    def stream(self, timeout: float = 60.0):
        """Server-sent events as (event, data) pairs, until the server ends the stream."""
        import urllib.error
        import urllib.request

        req = urllib.request.Request(self.url + "/api/stream", headers=self._headers())
        try:
            resp = urllib.request.urlopen(req, timeout=timeout, context=self._context())
        except urllib.error.HTTPError as exc:
            raise _error(exc.code, exc.reason) from None
        except urllib.error.URLError as exc:
            raise _unreachable(self, exc) from None
        except (OSError, HTTPException) as exc:
            raise ServerGone(self.url, exc) from None
        return self._events(resp)

    def _events(self, resp):
        """The stream's events; it ends when the server ends it. A stream that breaks (the server
        died, a stalled connection timed out, a proxy cut it) raises :class:`ServerGone` instead,
        so whoever follows a job can tell the two apart."""
        with resp:
            event, data = "message", []
            while True:
                try:
                    raw = resp.readline()
                except (OSError, HTTPException, ValueError) as exc:  # ValueError: read on a closed file
                    raise ServerGone(self.url, exc) from None
                if not raw:
                    return
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not line:
                    if data:
                        try:
                            yield event, json.loads("\n".join(data))
                        except ValueError:
                            pass  # a torn event: the state that follows says it again
                    event, data = "message", []
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())


STOPPING = "the server is stopping"  # how a job that came as the server stops is refused (409)


def stopping(by: str | None) -> str:
    """The refusal of a job (or bench command) that came as the server stops, saying why."""
    return STOPPING + (f" ({by})" if by else "") + ": nothing was switched for it"


class ServerGone(ConfigError):
    """The server stopped answering mid-conversation: reset, closed mid-answer, a stalled connection
    timed out. Before anything was sent this is a configuration error (exit 2, nothing switched);
    following a job, :func:`rig.serve.follow.follow_run` says what it means for the job."""

    def __init__(self, url: str, cause, message: str | None = None):
        why = str(cause) or type(cause).__name__
        if isinstance(cause, TimeoutError):
            why = "no answer within the timeout"
        super().__init__(message or f"the rig server at {url} went away ({why}); is `rig serve` running? "
                                    f"(--server off ignores it)")
        self.url, self.cause = url, cause
        self.sent = message is None  # a request that reached it (its answer broke) or one refused at the door


def _unreachable(client: Client, exc) -> ConfigError:
    import ssl

    if isinstance(exc.reason, ssl.SSLCertVerificationError):
        return ConfigError(f"the rig server at {client.url} is not the bench it claims to be: its certificate "
                           f"does not verify ({exc.reason.verify_message}) against "
                           f"{client.ca or 'the system trust store'}; give the lab's CA with --ca FILE or RIG_CA")
    return ServerGone(client.url, exc.reason, f"the rig server at {client.url} does not answer ({exc.reason}); "
                                              f"is `rig serve` running? (--server off ignores it)")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return "cli"


def _error(status: int, message: str) -> RigError:
    if status == 409:
        return BenchBusy(message)
    if status in (401, 403):
        return BenchRefused(f"the rig server refused: {message}")
    if status in (400, 404):
        return ConfigError(message)
    return RigError(f"the rig server failed ({status}): {message}")
