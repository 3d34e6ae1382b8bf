"""Running the station on uvicorn: socket, discovery file, systemd notify, SIGTERM.

SIGTERM (``systemctl stop``, a CI runner cancelling) first stops the running
job with the same unwind as SIGTERM to ``rig run`` - keys up, rails safe,
recorded as interrupted - then releases the bench, then closes the HTTP side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import threading
from contextlib import asynccontextmanager

import uvicorn

from ..bench import signals
from ..errors import ConfigError
from .app import make_app
from .auth import Sessions, Tokens, write_private
from .client import discovery_path
from .limits import LOOPBACK_NAMES, uvicorn_limits
from .notify import Notifier

LOOPBACK = ("127.0.0.1", "::1", "localhost")
WILDCARDS = ("0.0.0.0", "::", "")


class BenchServer:
    """One station served over HTTP; :meth:`run` blocks until stopped (SIGTERM, Ctrl-C, :meth:`stop`)."""

    def __init__(self, station, tokens: Tokens, host: str = "127.0.0.1", port: int = 8470,
                 discovery: bool = True, log_level: str = "warning", tls: tuple[str, str] | None = None,
                 allow_hosts=()):
        """``tls``: ``(cert, key)`` PEM files (see :mod:`rig.serve.tls`); ``allow_hosts``: more names
        the bench answers to besides loopback, the address it listens on and this machine's name."""
        self.station, self.tokens, self.host = station, tokens, host
        self.tls = tls
        self.sessions = Sessions()
        self.cli_token = secrets.token_urlsafe(32)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        # listening from here on: READY=1 and the discovery file are written in the lifespan,
        # before uvicorn's own listen(); a client that came then was refused, now it is queued
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://{shown}:{self.port}"
        # the CLI on this machine reaches a server listening everywhere through loopback
        local = ("[::1]" if ":" in host else "127.0.0.1") if host in WILDCARDS else shown
        self.local_url = f"{scheme}://{local}:{self.port}"
        self.hosts = {*LOOPBACK_NAMES, socket.gethostname(), *allow_hosts}
        if host not in WILDCARDS:
            self.hosts.add(host)
        self.discovery = discovery
        self.notifier = Notifier()
        self.stopped_by: str | None = None
        self.signalled = False  # stopped by SIGINT/SIGTERM: rig serve exits 130
        app = make_app(station, tokens, self.sessions, self.cli_token, hosts=self.hosts, make_link=self.login_link)
        app.router.lifespan_context = self._lifespan
        config = uvicorn.Config(app, log_level=log_level, lifespan="on", timeout_graceful_shutdown=3,
                                access_log=log_level in ("info", "debug"), **uvicorn_limits(),
                                **({"ssl_certfile": tls[0], "ssl_keyfile": tls[1]} if tls else {}))
        self.uvicorn = _Server(config, self)
        self.started = threading.Event()

    def login_link(self, name: str, role: str = "operator") -> str:
        return f"{self.url}/login#once={self.sessions.login_link({'name': name, 'role': role})}"

    @asynccontextmanager
    async def _lifespan(self, app):
        if self.discovery:
            write_private(discovery_path(), json.dumps({"url": self.local_url, "pid": os.getpid(),
                                                        "token": self.cli_token,
                                                        "cert": self.tls[0] if self.tls else None}))
        watchdog = asyncio.create_task(self._watchdog())
        self.notifier.send("READY=1", f"STATUS=serving {self.url}")
        self.started.set()
        try:
            yield
        finally:
            watchdog.cancel()
            self.notifier.send("STOPPING=1")
            await asyncio.to_thread(self.station.close, self.stopped_by or "the server stopping")
            if self.discovery:
                try:
                    if json.loads(discovery_path().read_text()).get("pid") == os.getpid():
                        discovery_path().unlink()
                except (OSError, ValueError):
                    pass

    async def _watchdog(self) -> None:
        """WATCHDOG=1 while the bench is healthy; systemd restarts a server that stops saying it."""
        every = self.notifier.watchdog_every()
        if every is None:
            return
        while True:
            if self.station.healthy:
                self.notifier.send("WATCHDOG=1")
            await asyncio.sleep(every)

    def stop(self, by: str = "the server stopping") -> None:
        """Stop from any thread: the running job unwinds safely first, then the server ends."""
        self.stopped_by = self.stopped_by or by
        self.station.closing_by = self.station.closing_by or self.stopped_by
        self.station.closing = True
        self.station.stop(by)
        self.station.hub.close(self.stopped_by)
        self.uvicorn.should_exit = True

    def run(self) -> None:
        try:
            self.uvicorn.run(sockets=[self.sock])
        finally:
            self.sock.close()
            if not self.station.closing:  # uvicorn failed before its shutdown ran
                self.station.close(self.stopped_by or "the server failing")

    def run_in_thread(self) -> threading.Thread:
        """For tests: serve from a background thread; returns once it answers."""
        t = threading.Thread(target=self.run, name="rig-serve", daemon=True)
        t.start()
        if not self.started.wait(15):
            raise RuntimeError("the rig server did not start")
        return t


class _Server(uvicorn.Server):
    def __init__(self, config, owner: BenchServer):
        super().__init__(config)
        self.owner = owner

    @contextlib.contextmanager
    def capture_signals(self):
        """uvicorn's, and SIGHUP too: a dropped SSH session stops the server as SIGTERM does (by
        default it killed it, the job with it, unrecorded)."""
        hup = signal.signal(signal.SIGHUP, self.handle_exit) if threading.current_thread() is \
            threading.main_thread() else None
        try:
            with super().capture_signals():
                yield
        finally:
            if hup is not None:
                signal.signal(signal.SIGHUP, hup)

    def handle_exit(self, sig, frame) -> None:
        if sig == signal.SIGHUP:
            signals.hung_up()  # its terminal is gone: what it says on the way out goes nowhere, not to EIO
        by = {signal.SIGTERM: "SIGTERM to the server", signal.SIGINT: "Ctrl-C to the server",
              signal.SIGHUP: "SIGHUP to the server (its session ended)"}.get(sig, "a signal")
        self.owner.signalled = True
        # uvicorn's first: a Ctrl-C finding should_exit already set (owner.stop sets it) is taken for
        # a second one and forces the exit, skipping the lifespan's shutdown (a CancelledError traceback)
        super().handle_exit(sig, frame)
        self.owner.stop(by)
        self._captured_signals.clear()  # handled here: the server ends normally, with the bench safe


def check_discovery_dir() -> None:
    """Refuse a discovery folder another user made (say /tmp/rig-UID), before the bench opens."""
    folder = discovery_path().parent
    try:
        st = folder.stat()
    except FileNotFoundError:
        return
    if st.st_uid != os.getuid():
        raise ConfigError(f"{folder} belongs to another user (uid {st.st_uid}), who could read or fake this "
                          f"server's discovery file: remove it, or run rig serve from systemd/rig-serve.service "
                          f"(RuntimeDirectory=rig gives it its own folder), or set XDG_RUNTIME_DIR")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")
