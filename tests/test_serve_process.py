"""rig serve as a process: how it ends (exit 130, no traceback), what it finds when it starts
(a run a killed server left RUNNING, a discovery folder of another user), and what it tells the
journal (no token, no login link) and only its own user (rig serve link)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import pytest

from rig.records.ledger import Ledger


def _env(tmp_path, **more):
    return dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path / "run"), XDG_DATA_HOME=str(tmp_path / "data"),
                XDG_CONFIG_HOME=str(tmp_path / "cfg"), RIG_SIM_STATE=str(tmp_path / "sim.json"),
                RIG_LEDGER=str(tmp_path / "ledger.sqlite"), RIG_BACKEND="sim", **more)


def _serve(tmp_path, *args):
    env = _env(tmp_path)
    subprocess.run([sys.executable, "-m", "rig", "sim", "reset", "--profile", "honda", "--code", "12345"],
                   env=env, check=True, capture_output=True)
    p = subprocess.Popen([sys.executable, "-m", "rig", "serve", "--port", "0", *args], env=env,
                         stderr=subprocess.PIPE, text=True)
    disc = tmp_path / "run" / "rig" / "server.json"
    for _ in range(300):
        if disc.exists() or p.poll() is not None:
            break
        time.sleep(0.05)
    return p, json.loads(disc.read_text()), env


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_an_idle_server_exits_130_with_no_traceback(tmp_path, sig):
    p, _info, _env_ = _serve(tmp_path)
    try:
        p.send_signal(sig)
        _, stderr = p.communicate(timeout=30)
    finally:
        p.kill() if p.poll() is None else None
    assert p.returncode == 130, stderr
    assert "Traceback" not in stderr and "CancelledError" not in stderr, stderr
    assert "keys released, rails safe" in stderr


def test_sigterm_during_a_bench_command_longer_than_the_graceful_timeout(tmp_path):
    p, info, _env_ = _serve(tmp_path, "--speed", "1")  # real time: the wait would take an hour
    c = httpx.Client(base_url=info["url"], headers={"authorization": f"Bearer {info['token']}"}, timeout=30)
    out = {}
    t = threading.Thread(target=lambda: out.update(r=c.post("/api/bench/wait", json={"seconds": 3600})), daemon=True)
    try:
        assert c.post("/api/bench/power", json={"rail": "acc", "on": True}).status_code == 200
        t.start()
        for _ in range(200):
            if "bench command" in (c.get("/api/state").json()["busy"] or ""):
                break
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        _, stderr = p.communicate(timeout=30)
        t.join(10)
    finally:
        p.kill() if p.poll() is None else None
    assert p.returncode == 130, stderr
    assert "Traceback" not in stderr and "CancelledError" not in stderr, stderr
    assert out["r"].status_code == 409 and "rails safe" in out["r"].json()["error"]


def test_the_first_token_goes_to_a_private_file_and_the_link_only_to_its_user(tmp_path):
    p, info, env = _serve(tmp_path)
    try:
        first = tmp_path / "cfg" / "rig" / "serve-tokens-first-token.txt"
        assert oct(first.stat().st_mode & 0o777) == "0o600"
        token = first.read_text().strip()
        assert httpx.get(info["url"] + "/api/state", headers={"authorization": f"Bearer {token}"}).status_code == 200
        link = subprocess.run([sys.executable, "-m", "rig", "serve", "link", "--role", "viewer"], env=env,
                              capture_output=True, text=True, timeout=30)
        assert link.returncode == 0, link.stderr
        assert link.stdout.startswith(info["url"] + "/login#once=")
        once = link.stdout.strip().split("#once=")[1]
        r = httpx.post(info["url"] + "/api/login", json={"once": once}, headers={"origin": info["url"]})
        assert r.status_code == 200 and r.json()["role"] == "viewer"
        # a token holder from elsewhere may not mint links
        r = httpx.post(info["url"] + "/api/login-link", json={}, headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 403
        p.send_signal(signal.SIGTERM)
        _, stderr = p.communicate(timeout=30)
    finally:
        p.kill() if p.poll() is None else None
    assert token not in stderr and "once=" not in stderr  # stderr is the journal under systemd


def test_a_run_left_running_by_a_killed_server_is_swept_when_it_starts(tmp_path):
    led = Ledger(tmp_path / "ledger.sqlite")
    run_id = led.start_run("lockout-wait", "H1", "honda", "sim", str(tmp_path / "run-1.jsonl"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    led.db.execute("UPDATE runs SET pid=? WHERE id=?", (dead.pid, run_id))
    led.close()
    p, _info, _env_ = _serve(tmp_path)
    try:
        outcome, message = sqlite3.connect(tmp_path / "ledger.sqlite").execute(
            "SELECT outcome, message FROM runs WHERE id=?", (run_id,)).fetchone()
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
    assert outcome == "interrupted" and "killed" in message


def test_a_discovery_folder_of_another_user_is_refused_before_the_bench_opens(tmp_path, run_rig):
    if os.getuid() != 0:
        pytest.skip("making a folder another user owns needs root")
    folder = tmp_path / "run" / "rig"
    folder.mkdir(parents=True)
    os.chown(folder, 12345, 12345)
    r = run_rig("--backend", "sim", "serve", "--port", "0", env={"XDG_RUNTIME_DIR": str(tmp_path / "run")})
    assert r.returncode == 2, r.stderr
    assert "belongs to another user" in r.stderr and "RuntimeDirectory" in r.stderr
    assert "bench is held" not in r.stderr


def test_systemds_runtime_directory_is_where_the_server_says_where_it_listens(tmp_path, monkeypatch):
    from rig.serve.client import discovery_path

    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path / "rig-rt"))
    assert discovery_path() == tmp_path / "rig-rt" / "server.json"
