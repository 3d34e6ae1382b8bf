"""What any request may cost the bench before anyone has logged in: time, memory, a socket.

uvicorn already bounds a request's head (``h11_max_incomplete_event_size``), the
idle time between requests (``timeout_keep_alive``) and the connections it
serves at once (``limit_concurrency``: more get a 503). It does not bound the
time a client takes to send its head, nor its body, nor the body's size: a
client sending one byte a minute kept its socket for ever. So:

- :class:`HeadTimeoutH11` (uvicorn's h11 protocol) closes a connection whose
  request head is not complete within ``HEAD_SECONDS`` of its first byte (or
  of the connection);
- :class:`Bounded` (ASGI middleware) answers a ``Host`` this bench does not
  go by with 421 (a DNS-rebinding page reaches the server under its own name),
  refuses a declared body over the cap with 413 before reading a byte of it,
  and reads every body itself, up to the cap and within ``BODY_SECONDS``
  (413, 408), before the app sees it.

>>> allowed_host("127.0.0.1:8470", {"127.0.0.1"}), allowed_host("evil.example:8470", {"127.0.0.1"})
(True, False)
>>> allowed_host("[::1]:8470", {"::1"}), allowed_host("PI-07.lab", {"pi-07.lab"})
(True, True)
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_SECONDS = 10.0        # a request head (line and headers) must arrive within this
BODY_SECONDS = 20.0        # and its body within this
BODY_LIMIT = 1024 * 1024   # bytes: a procedure upload (256 KiB of YAML) and its JSON fit with room
SMALL_BODY_LIMIT = 16 * 1024  # bytes, for the requests a stranger may send (login)
SMALL_BODY_PATHS = ("/api/login",)
CONNECTIONS = 64           # uvicorn's limit_concurrency: the 65th connection or task gets a 503
HEAD_LIMIT = 16 * 1024     # uvicorn's h11_max_incomplete_event_size: a longer head is a 400
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def allowed_host(header: str, names) -> bool:
    """Whether a ``Host`` header (``name[:port]``, ``[v6]:port``) names one of ``names``."""
    host = header.strip().lower()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".") in names


class Bounded:
    """ASGI middleware: the Host check, the body cap and the body deadline (see the module)."""

    def __init__(self, app, hosts):
        self.app = app
        self.hosts = {h.lower().strip("[]") for h in hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if not allowed_host(headers.get(b"host", b"").decode("latin-1"), self.hosts):
            return await _answer(send, 421, "this bench does not answer to that host name (a page on another "
                                            "site cannot reach it; its admin adds names with rig serve --allow-host)")
        limit = SMALL_BODY_LIMIT if scope["path"] in SMALL_BODY_PATHS else BODY_LIMIT
        try:
            declared = int(headers.get(b"content-length", b"0"))
        except ValueError:
            return await _answer(send, 400, "Content-Length is not a number")
        if declared > limit:
            return await _answer(send, 413, f"the request body is over {limit // 1024} KiB")
        if scope["method"] in ("GET", "HEAD") and not declared and b"transfer-encoding" not in headers:
            return await self.app(scope, receive, send)
        try:
            body = await asyncio.wait_for(_read(receive, limit), BODY_SECONDS)
        except asyncio.TimeoutError:
            return await _answer(send, 408, f"the request body did not arrive within {BODY_SECONDS:.0f} s")
        except _TooBig:
            return await _answer(send, 413, f"the request body is over {limit // 1024} KiB")
        except _Gone:
            return None
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # from here on only http.disconnect (an event stream listens for it)

        return await self.app(scope, replay, send)


class _TooBig(Exception):
    pass


class _Gone(Exception):
    pass


async def _read(receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooBig()
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class HeadTimeoutH11(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head takes over ``HEAD_SECONDS``."""

    _head_timer = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # the first bytes of a next request on a kept-alive connection
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before:  # a whole head arrived: the request is the app's now
            self._disarm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(HEAD_SECONDS, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()


def uvicorn_limits() -> dict:
    """The uvicorn Config options that bound a connection (with :class:`HeadTimeoutH11`)."""
    return {"http": HeadTimeoutH11, "limit_concurrency": CONNECTIONS, "timeout_keep_alive": 5,
            "h11_max_incomplete_event_size": HEAD_LIMIT}


__all__ = ["Bounded", "HeadTimeoutH11", "allowed_host", "uvicorn_limits"]
