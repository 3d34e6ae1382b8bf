"""Signals a bench sees from its terminal: an SSH session dropping, and Ctrl-Z.

SIGHUP killed rig outright, with no release: ACC stayed on until the relay's process was
gone. It now unwinds as SIGTERM does. Ctrl-Z stopped rig with ACC on or a key held, and
`fg` went on mid-press; while the bench is open it is refused, and rig says so. Real
processes on a real pseudo-terminal; the event log and the exit status are the judges.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time


def _env(tmp_path):
    return dict(os.environ, RIG_LEDGER=str(tmp_path / "ledger.sqlite"), RIG_LOCK=str(tmp_path / "bench.lock"),
                RIG_LOG_DIR=str(tmp_path / "runs"))


def _told(events):
    return [json.loads(line) for line in events.read_text().splitlines()]


def _state(pid: int) -> str:
    """The process's state letter (T: stopped)."""
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0]


def _wait_exit(pid: int, timeout: float = 30.0) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got, status = os.waitpid(pid, os.WNOHANG)
        if got:
            return os.waitstatus_to_exitcode(status)
        os.sched_yield()
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("rig did not end after its terminal hung up")


def test_the_ssh_session_dropping_releases_the_bench_and_exits_130(tmp_path):
    events = tmp_path / "events.jsonl"
    pid, terminal = pty.fork()  # rig on a terminal of its own, as in an SSH session
    if pid == 0:
        os.execve(sys.executable, [sys.executable, "-m", "rig", "--backend", "mock", "--events", str(events),
                                   "power", "acc", "on"], _env(tmp_path))
    try:
        seen = b""
        while b"holding" not in seen:  # the live line: ACC is on and held
            seen += os.read(terminal, 1024)
    finally:
        os.close(terminal)  # the session drops: the kernel sends SIGHUP
    assert _wait_exit(pid) == 130
    told = _told(events)
    assert [(e["what"], e["to"]) for e in told if e["kind"] == "rail"] == [("acc", "on"), ("acc", "off")]
    assert told[-1]["what"] == "released" and told[-1]["reason"] == "interrupted"


def test_ctrl_z_never_stops_rig_while_the_bench_is_open_and_it_says_so(tmp_path):
    events = tmp_path / "events.jsonl"
    p = subprocess.Popen([sys.executable, "-m", "rig", "--backend", "mock", "--events", str(events), "power", "acc",
                          "on"], env=_env(tmp_path), stderr=subprocess.PIPE, text=True)
    try:
        assert p.stderr.readline().startswith("holding acc on")
        p.send_signal(signal.SIGTSTP)
        ready, _, _ = select.select([p.stderr], [], [], 20)
        assert ready, f"no word from rig after Ctrl-Z; its state: {_state(p.pid)}"
        said = p.stderr.readline()
        assert "Ctrl-Z ignored while the bench is open" in said, said
        p.send_signal(signal.SIGINT)  # a stopped process would not take this until `fg`
        _, rest = p.communicate(timeout=30)
    finally:
        p.kill() if p.poll() is None else None
    assert p.returncode == 130, rest
    assert "interrupted (Ctrl-C); keys released, rails safe" in rest
    told = _told(events)
    assert [(e["what"], e["to"]) for e in told if e["kind"] == "rail"] == [("acc", "on"), ("acc", "off")]


def _serving(tmp_path, terminal: bool):
    """`rig serve` on a paced honda in lockout, running its lockout wait; (pid, fd or Popen, client)."""
    import httpx

    env = dict(_env(tmp_path), XDG_RUNTIME_DIR=str(tmp_path / "run"), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               XDG_DATA_HOME=str(tmp_path / "data"), RIG_SIM_STATE=str(tmp_path / "sim.json"), RIG_BACKEND="sim")
    for args in (["sim", "reset", "--profile", "honda", "--code", "61524", "--state", "lockout"],
                 ["units", "add", "H1", "--profile", "honda", "--attempts-used", "3"]):
        subprocess.run([sys.executable, "-m", "rig", *args], env=env, check=True, capture_output=True)
    argv = [sys.executable, "-m", "rig", "serve", "--port", "0", "--speed", "50"]
    if terminal:
        pid, proc = pty.fork()
        if pid == 0:
            os.execve(sys.executable, argv, env)
    else:
        proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
        pid = proc.pid
    disc = tmp_path / "run" / "rig" / "server.json"
    end = time.monotonic() + 30
    while not disc.exists():
        assert time.monotonic() < end, "rig serve did not start"
        if terminal:  # keep its terminal drained (select's answer is a tuple, truthy even when empty)
            if select.select([proc], [], [], 0.05)[0]:
                os.read(proc, 4096)
        else:
            time.sleep(0.02)
    info = json.loads(disc.read_text())
    c = httpx.Client(base_url=info["url"], headers={"authorization": f"Bearer {info['token']}"}, timeout=10)
    assert c.post("/api/runs", json={"procedure": "lockout-wait", "unit": "H1"}).status_code == 202
    while not ((c.get("/api/state").json()["job"] or {}).get("progress")):
        assert time.monotonic() < end + 30
    return pid, proc, c


def test_the_servers_ssh_session_dropping_stops_its_job_safely_and_records_it(tmp_path):
    import sqlite3

    pid, terminal, c = _serving(tmp_path, terminal=True)
    c.close()
    os.close(terminal)  # the session drops: SIGHUP
    assert _wait_exit(pid) == 130
    outcome, message = sqlite3.connect(tmp_path / "ledger.sqlite").execute(
        "SELECT outcome, message FROM runs").fetchone()
    assert outcome == "interrupted" and "SIGHUP to the server" in message, message


def test_ctrl_z_never_stops_rig_serve_holding_the_bench(tmp_path):
    pid, proc, c = _serving(tmp_path, terminal=False)
    try:
        proc.send_signal(signal.SIGTSTP)
        assert c.get("/api/state").status_code == 200  # a stopped server would not answer
        assert _state(pid) != "T"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        c.close()
        proc.kill() if proc.poll() is None else None
    assert "Ctrl-Z ignored while the bench is open" in err, err
