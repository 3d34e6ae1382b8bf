"""Threat: a stranger with no token takes the bench's server down (memory, sockets, time, a 500).

Each attack is replayed on a live server on loopback with raw sockets, as an
attacker would send it. The server's time limits are shortened for the test
(the module's constants), never slept through at their real length.
"""

from __future__ import annotations

import socket
import time

import pytest

from rig.serve import limits
from tests.browser.served import serving

served = serving(state="locked", attempts=0)


def _connect(served) -> socket.socket:
    host, port = served.url.split("//")[1].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    return s


def _reply(s: socket.socket) -> bytes:
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and b'"}' in data:
                break
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def _head(served, path="/api/login", extra="") -> bytes:
    host = served.url.split("//")[1]
    return f"POST {path} HTTP/1.1\r\nHost: {host}\r\ncontent-type: application/json\r\n{extra}\r\n".encode()


def test_a_300_mb_login_is_refused_before_a_byte_of_it_is_read(served):
    s = _connect(served)
    s.sendall(_head(served, extra="Content-Length: 314572800\r\n") + b'{"token": "')
    reply = _reply(s)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"over 16 KiB" in reply


def test_a_body_with_no_length_is_cut_off_at_the_cap(served):
    s = _connect(served)
    s.sendall(_head(served, extra="Transfer-Encoding: chunked\r\n"))
    chunk = b"x" * 8192
    try:
        for _ in range(4):
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert _reply(s).startswith(b"HTTP/1.1 413")


def test_a_slow_request_head_loses_its_socket(served, monkeypatch):
    monkeypatch.setattr(limits, "HEAD_SECONDS", 0.3)
    s = _connect(served)
    s.sendall(b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the rest
    t0 = time.monotonic()
    assert s.recv(100) == b""  # closed by the server
    assert time.monotonic() - t0 < 5


def test_a_silent_connection_loses_its_socket(served, monkeypatch):
    monkeypatch.setattr(limits, "HEAD_SECONDS", 0.3)
    s = _connect(served)
    assert s.recv(100) == b""


def test_a_slow_body_gets_408(served, monkeypatch):
    monkeypatch.setattr(limits, "BODY_SECONDS", 0.3)
    s = _connect(served)
    s.sendall(_head(served, extra="Content-Length: 100\r\n") + b'{"token"')
    assert _reply(s).startswith(b"HTTP/1.1 408")


def test_many_idle_connections_are_bounded_and_then_dropped(served, monkeypatch):
    monkeypatch.setattr(limits, "HEAD_SECONDS", 1.0)
    idle = [_connect(served) for _ in range(limits.CONNECTIONS)]
    c = served.client(served.viewer)
    assert c.get("/api/state").status_code == 503  # no more than limit_concurrency at once
    for s in idle:
        s.settimeout(5)
        assert s.recv(10) == b""  # each idle one is closed within the head timeout
    assert c.get("/api/state").status_code == 200  # and the bench answers again


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 50_000, b'{"token": NaN}', b"\xff\xfe"])
def test_json_that_cannot_be_parsed_is_a_400_not_a_500(served, body):
    r = served.client().post("/api/login", content=body, headers={"origin": served.url})
    assert r.status_code in (400, 413), r.text  # [ x 100,000 is over the login's cap: 413
    r = served.client(served.operator).post("/api/bench/press", content=body)
    assert r.status_code == 400 and "not JSON" in r.json()["error"], r.text


@pytest.mark.parametrize("once", [5, 1, [], {"a": 1}, True])
def test_a_login_link_that_is_not_text_is_a_400(served, once):
    r = served.client().post("/api/login", json={"once": once}, headers={"origin": served.url})
    assert r.status_code == 400 and "once" in r.json()["error"], r.text


def test_a_token_file_anyone_can_read_stops_the_server_at_start_and_logs_nobody_in(served, run_rig, tmp_path):
    served.tokens.path.chmod(0o644)
    r = served.client().post("/api/login", json={"token": served.operator}, headers={"origin": served.url})
    assert r.status_code == 401  # fail closed while it runs: no token counts from a file others can read
    assert served.client(served.operator).get("/api/state").status_code == 401
    r = run_rig("--backend", "sim", "--server", "off", "serve", "--port", "0", "--tokens", str(served.tokens.path))
    assert r.returncode == 2, r.stderr
    assert "can be read by other users" in r.stderr and "chmod 600" in r.stderr
