"""A rig server on loopback with a simulated unit, for the server's HTTP, CLI and browser tests."""

from __future__ import annotations

import json
import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest

from rig.serve.auth import Tokens
from rig.bench.pacedclock import PacedClock
from rig.serve.server import BenchServer
from rig.serve.station import Station
from rig.sim.backend import reset_unit, sim_backend
from rig.bench.wiring import load_wiring


_TLS = ssl.create_default_context()


class Served:
    """``rig serve`` in a thread: its URL, an operator and a viewer token, and the files it writes."""

    def __init__(self, tmp: Path, profile="honda", code="12345", state="lockout", attempts=3, speed=None,
                 register=True, tls=False, allow_hosts=(), wiring=None):
        """``tls``: serve HTTPS with a certificate from a throwaway lab CA (``self.ca``, tests/tlsfiles.py)."""
        self.tmp = tmp
        self.sim_state = tmp / "sim-unit.json"
        reset_unit(self.sim_state, profile, code, state=state, attempts=attempts)
        self.ledger, self.logs = tmp / "ledger.sqlite", tmp / "runs"
        if register:  # the unit on the bench, known to the ledger (the page can also add one)
            self._register("H1", profile, attempts if state == "lockout" else 0)
        clock = (lambda: PacedClock(speed)) if speed else (lambda: None)
        self.station = Station(wiring or load_wiring(), lambda w: sim_backend(w, self.sim_state, clock=clock()),
                               str(self.ledger), str(self.logs))
        self.station.open()
        self.tokens = Tokens(tmp / "tokens.json")
        self.operator = self.tokens.new("operator", "alice")
        self.viewer = self.tokens.new("viewer", "tablet")
        self.ca, files = None, None
        if tls:
            from tests.tlsfiles import lab_ca

            self.ca = lab_ca(tmp / "ca")
            files = tuple(str(p) for p in self.ca.bench("bench", "127.0.0.1", "localhost"))
        self.server = BenchServer(self.station, self.tokens, "127.0.0.1", 0, tls=files, allow_hosts=allow_hosts)
        self.url = self.server.url
        self.thread = self.server.run_in_thread()

    def _register(self, serial, profile, used):
        """The unit on the bench, as the technician told the ledger (rig units add)."""
        from rig.records.ledger import Ledger
        from rig.unit.profiles import load_profiles

        led = Ledger(self.ledger)
        led.add_unit(serial, profile)
        if used:
            led.set_attempts_used(serial, used, load_profiles()[profile], "arrived locked out")
        led.close()

    def client(self, token=None, **kw) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        # plain http on loopback: one context, not one per client (~20 ms each); https: the lab CA's
        kw.setdefault("verify", ssl.create_default_context(cafile=str(self.ca.crt)) if self.ca else _TLS)
        return httpx.Client(base_url=self.url, headers=headers, timeout=20, **kw)

    def page(self) -> tuple[httpx.Client, str]:
        """A browser-like session: logged in through a one-time link; returns (client, csrf)."""
        c = self.client()
        once = self.server.login_link("alice").split("#once=")[1]
        r = c.post("/api/login", json={"once": once}, headers={"origin": self.url})
        assert r.status_code == 200, r.text
        return c, r.json()["csrf"]

    def wait(self, predicate, timeout=20.0, fail: str = ""):
        """Poll the live state until ``predicate(state)``; returns that state (``fail``: said if it never comes)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.station.state()
            if predicate(s):
                return s
            time.sleep(0.02)
        raise AssertionError(f"timed out; state: {json.dumps(self.station.state(), default=str)[:800]}\n{fail}")

    def collect_stream(self, token, until=lambda raw: b"event: result" in raw, timeout=30.0) -> "Stream":
        return Stream(self, token, until, timeout)

    def close(self):
        self.server.stop()
        self.thread.join(20)


class Stream(threading.Thread):
    """Reads /api/stream as raw bytes in the background until ``until(bytes)``."""

    def __init__(self, served, token, until, timeout):
        super().__init__(daemon=True)
        self.served, self.token, self.until, self.timeout = served, token, until, timeout
        self.raw = b""
        self.connected = threading.Event()
        self.start()
        assert self.connected.wait(10), "the stream did not connect"

    def run(self):
        with self.served.client(self.token) as c, c.stream("GET", "/api/stream", timeout=self.timeout) as r:
            assert r.status_code == 200
            for chunk in r.iter_bytes():
                self.raw += chunk
                self.connected.set()
                if self.until(self.raw):
                    return

    def events(self) -> list[tuple[str, dict]]:
        out = []
        for block in self.raw.decode().split("\n\n"):
            lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
            if "event" in lines and "data" in lines:
                out.append((lines["event"], json.loads(lines["data"])))
        return out


def serving(**options):
    """A pytest fixture: a Served bench (``options`` as for Served), stopped after the test."""

    @pytest.fixture
    def fixture(tmp_path, monkeypatch):
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
        s = Served(tmp_path, **options)
        yield s
        s.close()

    return fixture
