"""`rig run` through a server says what the server did: every way the server goes away, a Ctrl-C
before, during and after it takes the job, and the client's own tracebacks.

Real processes: `rig serve` on a paced simulated unit and `rig run` as the technician types it,
found through the discovery file as on the bench's own machine. What the client printed (one
line, an exit code from the table) is held against what the bench did: the run in the ledger
and the simulated unit's own count of the codes it was given (the ledger counts an attempt
before the confirm, so it may be one ahead of the unit, never behind).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import pytest

from rig.sim.memory import UnitMemory
from rig.unit.profiles import load_profiles
from tests.rigcli import rig_in_process

CODE, WRONG = "61524", "12345"
ENDS = re.compile(r"^(PASSED|FAILED|ERROR|REFUSED|INTERRUPTED): |^(rig: )?error|^interrupted \(", re.M)


def _env(tmp_path, **more):
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path / "run"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "cfg"), RIG_SIM_STATE=str(tmp_path / "sim.json"),
               RIG_LEDGER=str(tmp_path / "ledger.sqlite"), RIG_BACKEND="sim", COLUMNS="200")
    env.update(more)
    return env


class Bench:
    """A `rig serve` child on a paced honda (its unit registered), and a way to watch it."""

    def __init__(self, tmp_path, speed=40):
        self.tmp, self.env = tmp_path, _env(tmp_path)
        # the unit and its record are set-up, not under test: in this process (two children fewer)
        for args in (["sim", "reset", "--profile", "honda", "--code", CODE, "--state", "locked"],
                     ["units", "add", "H1", "--profile", "honda"]):
            done = rig_in_process(args, self.env, tmp_path)
            assert done.returncode == 0, done.stderr
        self.server = subprocess.Popen([sys.executable, "-m", "rig", "serve", "--port", "0", "--speed", str(speed)],
                                       env=self.env, stderr=subprocess.PIPE, text=True)
        disc = tmp_path / "run" / "rig" / "server.json"
        end = time.monotonic() + 30
        while not disc.exists():
            assert time.monotonic() < end and self.server.poll() is None, "rig serve did not start"
            time.sleep(0.02)
        info = json.loads(disc.read_text())
        self.http = httpx.Client(base_url=info["url"], headers={"authorization": f"Bearer {info['token']}"},
                                 timeout=5)

    def run(self, *args):
        return subprocess.Popen([sys.executable, "-m", "rig", "run", *args], env=dict(self.env, RIG_CODE=WRONG),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def until(self, predicate, timeout=30.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if predicate(self.http.get("/api/state").json()):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.005)
        raise AssertionError("the bench never got there")

    def attempts_counted(self) -> int:
        db = sqlite3.connect(self.tmp / "ledger.sqlite")
        try:
            return db.execute("SELECT COUNT(*) FROM attempts WHERE outcome != 'cleared'").fetchone()[0]
        finally:
            db.close()

    def unit_was_given(self) -> int:
        return UnitMemory.load(self.tmp / "sim.json").wrong_total

    def close(self):
        self.http.close()
        if self.server.poll() is None:
            self.server.kill()
        self.server.wait()


@pytest.fixture
def bench(tmp_path):
    b = Bench(tmp_path)
    yield b
    b.close()


def _one_ending(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    ends = [m.group(0) for m in ENDS.finditer(stderr)]
    assert len(ends) == 1, stderr  # one line says how it ended
    return ends[0]


WHEN = {
    "at-start": lambda s: (s.get("job") or {}).get("procedure") == "enter-code",
    "mid-job": None,  # an attempt committed: code entry under way
    "at-the-end": lambda s: s.get("last") is not None,
}


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "SIGTERM"])
@pytest.mark.parametrize("when", list(WHEN))
def test_every_way_the_server_goes_away_ends_the_client_in_one_line_and_a_documented_code(bench, when, how):
    client = bench.run("enter-code", "--unit", "H1")
    if when == "mid-job":
        end = time.monotonic() + 30
        while bench.attempts_counted() == 0:
            assert time.monotonic() < end and client.poll() is None, client.stderr.read()
            time.sleep(0.002)
    else:
        bench.until(WHEN[when])
    bench.server.send_signal(how)
    bench.server.wait(timeout=30)
    out, err = client.communicate(timeout=60)
    said = _one_ending(err)
    code = client.returncode
    given, counted = bench.unit_was_given(), bench.attempts_counted()
    assert counted - 1 <= given <= counted, (given, counted)  # the ledger is never behind the unit
    if said.startswith("FAILED"):  # it heard the job's own end: the wrong code, counted
        assert code == 1 and given == counted == 1, (code, given, counted, err)
    else:
        assert said.startswith("INTERRUPTED") and code == 130, (code, err)
        if how == signal.SIGTERM:
            assert "stopped (SIGTERM to the server)" in said or "stopped (SIGTERM to the server)" in err, err
        else:
            assert "went away" in err and "drops every relay" in err, err
    allowed = load_profiles()["honda"].attempts.before_lockout
    assert f"H1: locked: {allowed - counted} of {allowed} attempt(s) left" in err, err  # the ledger's count, told


def test_ctrl_c_while_the_server_takes_the_job_stops_it_there(tmp_path, monkeypatch):
    """The POST sat outside the client's interrupt handling: it printed 'interrupted' and exited 130
    while the server ran the whole job, entering the (wrong) code and spending an attempt."""
    from tests.browser.served import Served

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    served = Served(tmp_path, profile="honda", code=CODE, state="locked", attempts=0, speed=40)
    try:
        taking, go_on = threading.Event(), threading.Event()
        submit = served.station.submit

        def slow_submit(*args, **kwargs):  # the server takes its time answering the POST
            taking.set()
            go_on.wait(30)
            return submit(*args, **kwargs)

        served.station.submit = slow_submit
        env = _env(tmp_path, RIG_SIM_STATE=str(served.sim_state), RIG_LEDGER=str(served.ledger), RIG_CODE=WRONG)
        client = subprocess.Popen([sys.executable, "-m", "rig", "run", "enter-code", "--unit", "H1"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert taking.wait(30), "the client never posted the job"
        client.send_signal(signal.SIGINT)  # Ctrl-C while the server is taking the job
        time.sleep(0.2)  # let the signal land in the client's wait for the answer
        go_on.set()
        try:
            _, err = client.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            client.kill()
            raise AssertionError(client.communicate()[1] + json.dumps(served.station.state(), default=str)[:600])
        said = _one_ending(err)
        last = served.wait(lambda s: s["last"] is not None)["last"]
        assert last["outcome"] == "interrupted", last  # stopped on the bench, not run to its end
        assert said.startswith("INTERRUPTED") and client.returncode == 130, err
        assert UnitMemory.load(served.sim_state).wrong_total == 0  # no code reached the unit
    finally:
        served.close()


@pytest.mark.parametrize("when", ["before-it-is-sent", "after-it-was-taken"])
def test_ctrl_c_before_and_after_the_server_takes_the_job(tmp_path, monkeypatch, when):
    """With the test above (during), a Ctrl-C at each moment of the hand-over: before the job is
    sent nothing runs on the bench; once the server has taken it, the job is stopped there and
    followed to its end. What the client says is held against the ledger and the unit's own count."""
    import rig.serve.station
    from tests.browser.served import Served

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    signalled, stop_asked = threading.Event(), threading.Event()
    run_job = rig.serve.station.run_job

    def taken_then_held(*args, **kwargs):  # the job is the bench's now; it starts once the stop has come
        signalled.wait(30)
        stop_asked.wait(10)
        return run_job(*args, **kwargs)

    if when == "after-it-was-taken":
        monkeypatch.setattr(rig.serve.station, "run_job", taken_then_held)
    served = Served(tmp_path, profile="honda", code=CODE, state="locked", attempts=0, speed=40)
    client = None
    try:
        stop = served.station.stop
        served.station.stop = lambda *a, **k: (stop(*a, **k), stop_asked.set())[0]
        listen = served.station.hub.listen

        def ctrl_c_first():  # the client's Ctrl-C while it subscribes, before anything is sent
            client.send_signal(signal.SIGINT)
            signalled.set()
            time.sleep(0.3)  # (on the server's loop: the client's answer waits, as on a slow link)
            return listen()

        if when == "before-it-is-sent":
            served.station.hub.listen = ctrl_c_first
        env = _env(tmp_path, RIG_SIM_STATE=str(served.sim_state), RIG_LEDGER=str(served.ledger), RIG_CODE=WRONG)
        client = subprocess.Popen([sys.executable, "-m", "rig", "run", "enter-code", "--unit", "H1"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if when == "after-it-was-taken":
            served.wait(lambda s: (s["job"] or {}).get("procedure") == "enter-code", timeout=30)
            client.send_signal(signal.SIGINT)
            signalled.set()
        _, err = client.communicate(timeout=30)
        last = served.wait(lambda s: s["last"] is not None)["last"] if when == "after-it-was-taken" else None
    finally:
        signalled.set()
        stop_asked.set()
        if client is not None and client.poll() is None:
            client.kill()
        served.close()
    said = _one_ending(err)
    assert client.returncode == 130, err
    db = sqlite3.connect(served.ledger)
    runs = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    counted = db.execute("SELECT COUNT(*) FROM attempts WHERE outcome != 'cleared'").fetchone()[0]
    given = UnitMemory.load(served.sim_state).wrong_total
    assert given == counted == 0, (given, counted)  # stopped before any code reached the unit
    if when == "before-it-is-sent":
        assert said == "interrupted (" and "interrupted (Ctrl-C)" in err and runs == 0, err  # nothing sent, nothing ran
    else:
        assert said.startswith("INTERRUPTED") and "stopping the job on the server" in err, err
        assert last["outcome"] == "interrupted", last


@pytest.mark.parametrize("when", ["as-it-subscribes", "as-it-posts"])
def test_sigterm_to_the_server_as_the_client_hands_it_the_job_is_one_line_and_130(tmp_path, monkeypatch, when):
    """The fault campaign's 'exit 3, no line': SIGTERM reached rig serve between the client's
    subscription and its POST. The stopping server refused the job ('the server is stopping', 409),
    and the client printed 'rig: refused' and exited 3, a refusal for the unit's safety."""
    from tests.browser.served import Served

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    served = Served(tmp_path, profile="honda", code=CODE, state="locked", attempts=0, speed=40)
    try:
        def sigterm_first(fn):  # rig serve's own SIGTERM handling, landing just before fn runs
            def wrapped(*args, **kwargs):
                served.server.uvicorn.handle_exit(signal.SIGTERM, None)
                return fn(*args, **kwargs)
            return wrapped

        if when == "as-it-posts":
            served.station.submit = sigterm_first(served.station.submit)
        else:
            served.station.hub.listen = sigterm_first(served.station.hub.listen)
        env = _env(tmp_path, RIG_SIM_STATE=str(served.sim_state), RIG_LEDGER=str(served.ledger), RIG_CODE=WRONG)
        p = subprocess.run([sys.executable, "-m", "rig", "run", "enter-code", "--unit", "H1"], env=env,
                           capture_output=True, text=True, timeout=60)
    finally:
        served.close()
    said = _one_ending(p.stderr)
    assert said.startswith("INTERRUPTED") and p.returncode == 130, p.stderr
    assert "stopped (SIGTERM to the server) before the job started" in p.stderr and "nothing was switched" in p.stderr
    assert sqlite3.connect(served.ledger).execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
    assert UnitMemory.load(served.sim_state).wrong_total == 0


def test_a_server_that_is_not_there_is_one_line_not_a_traceback(tmp_path):
    p = subprocess.run([sys.executable, "-m", "rig", "--server", "http://127.0.0.1:9", "run", "enter-code",
                        "--unit", "H1", "--profile", "honda"], env=_env(tmp_path, RIG_CODE=WRONG),
                       capture_output=True, text=True, timeout=60)
    said = _one_ending(p.stderr)
    assert p.returncode == 2 and "does not answer" in p.stderr, p.stderr
    assert said


@pytest.fixture
def served_broken(tmp_path, monkeypatch):
    """An in-process server whose ledger is then damaged (16 bytes overwritten in its header)."""
    from tests.browser.served import Served

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    served = Served(tmp_path, profile="honda", code=CODE, state="locked", attempts=0)
    with open(served.ledger, "r+b") as fh:
        fh.write(b"not a database!!")
    yield served
    served.close()


def test_a_broken_ledger_does_not_break_the_live_stream(served_broken):
    served_broken.station.set_unit("H1", "honda")  # the unit's standing is read from the ledger
    stream = served_broken.collect_stream(served_broken.operator, until=lambda raw: b"\n\n" in raw)
    (kind, state), *_ = stream.events()
    assert kind == "state" and "the ledger cannot be read" in state["unit"]["state"]


def test_a_job_that_errs_before_it_has_a_run_is_one_line_and_exit_2(tmp_path, monkeypatch):
    """An "error" with no run id made the client call Path('').with_suffix (a traceback)."""
    import rig.serve.station
    from rig.errors import ConfigError
    from tests.browser.served import Served

    def fails(*args, **kwargs):
        raise ConfigError("the bench's ledger went missing as the job began")

    monkeypatch.setattr(rig.serve.station, "run_job", fails)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    served = Served(tmp_path, profile="honda", code=CODE, state="locked", attempts=0)
    try:
        env = _env(tmp_path, RIG_CODE=WRONG, RIG_TOKEN=served.operator, RIG_LEDGER=str(tmp_path / "mine.sqlite"))
        p = subprocess.run([sys.executable, "-m", "rig", "--server", served.url, "run", "enter-code", "--unit",
                            "H1", "--profile", "honda"], env=env, capture_output=True, text=True, timeout=60)
    finally:
        served.close()
    said = _one_ending(p.stderr)
    assert said.startswith("ERROR") and p.returncode == 2, p.stderr
    assert "went missing" in p.stderr and "log:" not in p.stderr


@pytest.mark.parametrize("how", ["closes-at-once", "answers-half", "stalls"])
def test_a_server_that_breaks_mid_answer_is_server_gone_not_a_socket_traceback(how):
    """call() let ConnectionResetError / RemoteDisconnected through as tracebacks, and a stalled
    connection as TimeoutError; each is ServerGone now (a ConfigError: one line, exit 2 before
    anything was sent; follow_run says what it means for a job)."""
    import socket

    from rig.serve.client import Client, ServerGone

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        conn.recv(65536)
        if how == "answers-half":
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"a\"")
        if how == "stalls":
            time.sleep(0.5)
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        with pytest.raises(ServerGone) as caught:
            Client(f"http://127.0.0.1:{listener.getsockname()[1]}", None).call("GET", "/api/state", timeout=0.2)
        assert "went away" in str(caught.value) and caught.value.sent
    finally:
        t.join(5)
        listener.close()
