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
