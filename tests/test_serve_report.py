"""rig report RUN -o FILE.html: one self-contained page, readable with no script and no network."""

from __future__ import annotations

import json
import re
import socket

CODE = "61524"


def unlock_run(run_rig, tmp_path):
    r = run_rig("sim", "reset", "--profile", "honda", "--code", CODE, "--state", "lockout", "--attempts", "3")
    assert r.returncode == 0, r.stderr
    r = run_rig("--backend", "sim", "run", "unlock", "--profile", "honda", "--unit", "H1", "--new-unit", "--allow-lockout",
                env={"RIG_CODE": CODE})
    assert r.returncode == 0, r.stderr
    out = tmp_path / "report" / "run-1.html"
    r = run_rig("report", "1", "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


def lanes(log) -> set[str]:
    events = [json.loads(line) for line in log.read_text().splitlines()]
    return {e["what"] for e in events if e["kind"] in ("rail", "key", "sense")} | {"steps", "display"}


def test_report_of_an_unlock_is_one_self_contained_file(run_rig, tmp_path):
    out = unlock_run(run_rig, tmp_path)
    html = out.read_text()
    assert "<script" not in html and "<link" not in html  # nothing to fetch, nothing to run
    assert not re.search(r"""(src|href)=["'](https?:|/)""", html)
    assert "<style>" in html and "<svg" in html
    assert "Run 1: unlock" in html and "passed" in html and "honda" in html
    log = next((tmp_path / "data" / "rig" / "runs").glob("run-00001-*.jsonl"))
    svg_labels = set(re.findall(r"<text x=\"4\" y=\"\d+\">([^<]+)</text>", html))
    assert lanes(log) <= svg_labels  # every lane of the timeline is drawn
    assert "lockout wait" in html and html.count('<tr data-kind="step"') > 10
    assert CODE not in html


def test_report_of_an_unknown_run_says_so(run_rig, tmp_path):
    r = run_rig("report", "7", "-o", str(tmp_path / "x.html"))
    assert r.returncode == 2 and "no run 7" in r.stderr
    assert not (tmp_path / "x.html").exists()


def test_systemd_notify_ready_and_watchdog(tmp_path, monkeypatch):
    from tests.browser.served import Served

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # a ping every half second
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    s = Served(tmp_path, code=CODE)
    got = []
    try:
        got = [sock.recv(200).decode() for _ in range(3)]
    finally:
        s.close()
        print(got)
    assert got[0].startswith("READY=1") and got[1:] == ["WATCHDOG=1", "WATCHDOG=1"]
    sock.setblocking(False)  # close() has joined the server's thread: all it ever sent is here
    after = []
    try:
        while True:
            after.append(sock.recv(200).decode())
    except BlockingIOError:
        pass
    assert after and after[-1] == "STOPPING=1"  # and no watchdog ping after it


def test_a_client_that_comes_the_moment_the_server_is_ready_is_answered(tmp_path, monkeypatch):
    """READY=1 and the discovery file are written before uvicorn listens: the socket must already
    queue connections then, or a `rig` command (or systemd's next unit) started on READY is refused."""
    from rig.serve.auth import Tokens
    from rig.serve.server import BenchServer

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    server = BenchServer(station=None, tokens=Tokens(tmp_path / "tokens.json"), port=0, discovery=False)
    try:
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()  # not yet run(): queued
    finally:
        server.sock.close()
