"""The CLI while rig serve holds the bench: it goes through the server instead of being refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from rig.errors import BenchBusy
from tests.browser.served import serving

CODE = "61524"


served = serving(code=CODE, state="locked", attempts=0, speed=2000)


def test_status_press_and_run_go_through_an_idle_server(served, run_rig):
    r = run_rig("--backend", "sim", "status")
    assert r.returncode == 0, r.stderr
    assert "rail battery: on" in r.stdout and "job: none (the bench is idle)" in r.stdout
    assert f"server: {served.url} (sim bench)" in r.stdout
    r = run_rig("--backend", "sim", "press", "mode", "--hold", "300ms")
    assert r.returncode == 0, r.stderr  # the CLI alone would be refused: the server holds the unit's lock
    assert r.stdout.strip() == "pressed mode for 0.3s"
    r = run_rig("--backend", "sim", "run", "enter-code", "--profile", "honda", "--unit", "H1",
                env={"RIG_CODE": CODE, "RIG_LEDGER": str(served.ledger)})
    assert r.returncode == 0, r.stderr
    assert "via the rig server" in r.stderr and "PASSED" in r.stderr
    assert CODE not in r.stdout + r.stderr
    assert served.station.last["outcome"] == "passed" and served.station.last["procedure"] == "enter-code"
    r = run_rig("--backend", "sim", "--server", "off", "status")
    assert r.returncode == BenchBusy.exit_code and "in use" in r.stderr  # without the server, the bench is busy as before


def test_status_shows_the_running_job_and_run_refuses_naming_it(served, run_rig):
    c = served.client(served.operator)
    assert c.post("/api/runs", json={"procedure": "bench-removal", "profile": "honda", "unit": "H1"}).status_code == 202
    served.wait(lambda s: (s["job"] or {}).get("question"))
    r = run_rig("--backend", "sim", "status")
    assert r.returncode == 0, r.stderr
    assert "job: bench-removal on H1" in r.stdout and "started by alice" in r.stdout
    assert "waiting for an answer in the page" in r.stdout
    r = run_rig("--backend", "sim", "run", "read-serial", "--profile", "honda", "--unit", "H1")
    assert r.returncode == BenchBusy.exit_code
    assert "running bench-removal on H1" in r.stderr and "--queue" in r.stderr
    r = run_rig("--backend", "sim", "press", "mode")
    assert r.returncode == BenchBusy.exit_code and "running bench-removal" in r.stderr
    r = run_rig("--backend", "sim", "stop")
    assert r.returncode == 0 and "stopping bench-removal" in r.stdout
    s = served.wait(lambda s: s["last"] is not None)
    assert s["last"]["outcome"] == "interrupted"


def test_sigterm_to_rig_serve_stops_the_job_safely_then_releases(tmp_path):
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path / "run"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "cfg"), RIG_SIM_STATE=str(tmp_path / "sim.json"),
               RIG_LEDGER=str(tmp_path / "ledger.sqlite"), RIG_BACKEND="sim")
    subprocess.run([sys.executable, "-m", "rig", "sim", "reset", "--profile", "honda", "--code", CODE,
                    "--state", "lockout", "--attempts", "3"], env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "rig", "units", "add", "H1", "--profile", "honda", "--attempts-used", "3"],
                   env=env, check=True, capture_output=True)
    p = subprocess.Popen([sys.executable, "-m", "rig", "serve", "--port", "0", "--speed", "500"], env=env,
                         stderr=subprocess.PIPE, text=True)
    try:
        disc = tmp_path / "run" / "rig" / "server.json"
        for _ in range(200):
            if disc.exists():
                break
            time.sleep(0.05)
        info = json.loads(disc.read_text())
        import httpx

        c = httpx.Client(base_url=info["url"], headers={"authorization": f"Bearer {info['token']}"})
        assert c.post("/api/runs", json={"procedure": "lockout-wait", "profile": "honda", "unit": "H1"}).status_code == 202
        for _ in range(200):
            if (c.get("/api/state").json()["job"] or {}).get("progress"):
                break
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        _, stderr = p.communicate(timeout=30)
    finally:
        p.kill() if p.poll() is None else None
    assert p.returncode == 130, stderr  # interrupted, keys released, rails safe: as every rig command
    assert "stopped (SIGTERM to the server); keys released, rails safe" in stderr
    assert "rig serve link" in stderr and "once=" not in stderr and CODE not in stderr  # no login link in the journal
    assert "Traceback" not in stderr and "CancelledError" not in stderr
    assert not disc.exists()  # a stopped server is not found any more
    import sqlite3

    outcome, message = sqlite3.connect(tmp_path / "ledger.sqlite").execute(
        "SELECT outcome, message FROM runs").fetchone()
    assert outcome == "interrupted" and "SIGTERM to the server" in message
    state = json.loads((tmp_path / "sim.json").read_text())
    assert state.get("lockout_left", 0) > 0  # the wait was cut short, to be resumed
