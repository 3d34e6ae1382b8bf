"""One honest countdown through the server, and no served time thrown away silently.

A paced simulated honda in lockout (its wait starts over after a power loss) and a becker
(its wait pauses and resumes): the served/left figure and the time it ends are the same in
the live state, `rig status`, `rig run` at a terminal, the units list and the unit's page;
a stop that would throw served time away says how much and needs the words, one that keeps
it just stops; and a run through the server is timed from its own start.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import sqlite3
import sys
import time

import pytest

from rig.serve.countdown import ends_about
from tests.browser.served import Served

SPEED = 100.0


def _left(text: str) -> float:
    """Seconds from the first 'M:SS left' / 'H:MM:SS left' in ``text``."""
    m = re.search(r"(?:(\d+):)?(\d+):(\d\d) left", text)
    assert m, text
    h, mm, ss = (int(g or 0) for g in m.groups())
    return h * 3600 + mm * 60 + ss


@pytest.fixture
def honda(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    s = Served(tmp_path, profile="honda", code="61524", state="lockout", attempts=3, speed=SPEED)
    yield s
    s.close()


def _waiting(served):
    c = served.client(served.operator)
    assert c.post("/api/runs", json={"procedure": "lockout-wait", "unit": "H1"}).status_code == 202
    served.wait(lambda s: ((s["job"] or {}).get("progress") or {}).get("served", 0) > 30)
    return c


def test_every_view_says_the_same_served_left_and_end_and_rig_status_moves(honda, run_rig):
    c = _waiting(honda)
    before = c.get("/api/state").json()
    r = run_rig("status", env={"RIG_LEDGER": str(honda.ledger)})
    units = {u["serial"]: u for u in c.get("/api/units").json()}
    unit = c.get("/api/units/H1").json()
    after = c.get("/api/state").json()
    assert r.returncode == 0, r.stderr
    lo, hi = after["job"]["progress"]["left"], before["job"]["progress"]["left"]
    assert lo < hi  # the figure moves between reads, not once every 15 simulated minutes
    assert lo - 1 <= _left(r.stdout) <= hi + 1, (lo, hi, r.stdout)  # rig status says the same
    assert "ends about" in r.stdout
    p = before["job"]["progress"]
    assert abs(p["ends_at"] - (before["wall"] + p["left"] / SPEED)) < 1
    assert ends_about(p["ends_at"])[:-1] in r.stdout or ends_about(after["job"]["progress"]["ends_at"]) in r.stdout
    # the unit's lockout, in the live state, the units list and the unit's page: the same countdown
    lock_lo, lock_hi = after["unit"]["lockout_left"], before["unit"]["lockout_left"]
    for shown in (units["H1"]["lockout_left"], unit["lockout_left"]):
        assert lock_lo - 1 <= shown <= lock_hi + 1, (lock_lo, shown, lock_hi)
    assert "counting" in units["H1"]["state"] and "counting" in unit["state"]
    assert p["lockout"] - p["served"] == pytest.approx(before["unit"]["lockout_left"], abs=1)
    c.post("/api/stop", json={"discard_served": True})


def test_rig_stop_says_what_a_stop_would_throw_away_and_needs_the_words(honda, run_rig):
    _waiting(honda)
    env = {"RIG_LEDGER": str(honda.ledger)}
    r = run_rig("stop", env=env)
    assert r.returncode == 3, r.stderr  # refused: not at a terminal, nobody to ask
    assert "throws away" in r.stderr and "of powered time" in r.stderr and "--discard-served" in r.stderr
    assert honda.station.current is not None  # still waiting
    r = run_rig("stop", "--discard-served", env=env)
    assert r.returncode == 0 and "stopping lockout-wait" in r.stdout, r.stderr
    assert honda.wait(lambda s: s["last"] is not None)["last"]["outcome"] == "interrupted"


def test_a_stop_that_keeps_the_served_time_does_not_ask(tmp_path, monkeypatch, run_rig):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    becker = Served(tmp_path, profile="becker-mercedes", code="1234", state="lockout", attempts=3, speed=SPEED)
    try:
        _waiting(becker)
        r = run_rig("stop", env={"RIG_LEDGER": str(becker.ledger)})
        assert r.returncode == 0 and "stopping lockout-wait" in r.stdout, r.stderr
        last = becker.wait(lambda s: s["last"] is not None)["last"]
        assert last["outcome"] == "interrupted" and "is kept" in last["message"], last
    finally:
        becker.close()


def _terminal_run(served, tmp_path):
    """`rig run lockout-wait` through the server, at a terminal of its own; returns (pid, fd)."""
    env = dict(os.environ, RIG_LEDGER=str(served.ledger), RIG_SIM_STATE=str(served.sim_state),
               XDG_DATA_HOME=str(tmp_path / "data"), COLUMNS="160")
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(sys.executable, [sys.executable, "-m", "rig", "run", "lockout-wait", "--unit", "H1"], env)
    return pid, fd


def _read_until(fd, pattern: str, seen: bytes = b"", timeout: float = 30.0, after: int = 0) -> bytes:
    """``seen`` and what the terminal says next, until ``pattern`` shows (in what came after ``after``)."""
    end = time.monotonic() + timeout
    while not re.search(pattern.encode(), seen[after:]):
        assert time.monotonic() < end, seen.decode(errors="replace")[-800:]
        try:
            seen += os.read(fd, 4096)
        except OSError:  # the terminal closed: the command ended without saying it
            raise AssertionError(f"rig ended before {pattern!r}: {seen.decode(errors='replace')[-800:]}") from None
    return seen


def test_rig_run_at_a_terminal_counts_down_and_one_ctrl_c_asks_before_throwing_time_away(honda, tmp_path):
    ASKS = r"PRESS CTRL-C AGAIN|Press Ctrl-C again"
    pid, fd = _terminal_run(honda, tmp_path)
    seen, status = b"", None
    try:
        seen = _read_until(fd, r"left, ends about \d\d:\d\d")  # the live countdown line
        honda.wait(lambda s: ((s["job"] or {}).get("progress") or {}).get("served", 0) > 10)  # time to lose
        os.kill(pid, signal.SIGINT)
        seen = _read_until(fd, ASKS, seen)
        assert b"throws away" in seen
        assert honda.station.current is not None  # asked, not stopped: the wait goes on
        for _ in range(3):  # the second within 5 s stops it; a loaded machine may take longer to send it:
            before = len(seen)  # then the client asks again (rightly), and the test answers again
            os.kill(pid, signal.SIGINT)
            seen = _read_until(fd, "INTERRUPTED|" + ASKS, seen, after=before)
            if b"INTERRUPTED" in seen[before:]:
                break
        seen = _read_until(fd, "INTERRUPTED", seen)
    finally:
        seen += _drain(fd)
        status = _ended(pid)
        os.close(fd)
    said = seen.decode(errors="replace")[-800:]
    assert os.waitstatus_to_exitcode(status) == 130, said
    last = honda.wait(lambda s: s["last"] is not None, fail=f"the client said:\n{said}")["last"]
    assert last["outcome"] == "interrupted"


def _ended(pid, within: float = 15.0) -> int:
    """The command's wait status; one still running then (a test that failed midway) is killed."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def _drain(fd, within: float = 2.0) -> bytes:
    """What the terminal still holds as the command ends (for a failure's message)."""
    out, end = b"", time.monotonic() + within
    try:
        while time.monotonic() < end and select.select([fd], [], [], 0.2)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    return out


def test_a_run_through_the_server_is_timed_from_its_own_start(tmp_path, monkeypatch, run_rig):
    """The server's bench clock has run for two hours before this job: its log, `rig runs show`,
    the page's live events and the timeline count from the job's start, not the server's."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    served = Served(tmp_path, profile="honda", code="61524", state="locked", attempts=0)
    try:
        c = served.client(served.operator)
        assert c.post("/api/bench/wait", json={"seconds": 7200}).status_code == 200
        stream = served.collect_stream(served.operator)
        assert c.post("/api/runs", json={"procedure": "read-serial", "unit": "H1", "yes": True,
                                         "answers": {"model": "CD-R 2006", "vin": "WVWZZZ1JZXW000001"}}
                      ).status_code == 202
        last = served.wait(lambda s: s["last"] is not None)["last"]
        stream.join(30)
    finally:
        served.close()
    assert last["run_id"], last
    log = sqlite3.connect(served.ledger).execute("SELECT log FROM runs WHERE id=?", (last["run_id"],)).fetchone()[0]
    times = [json.loads(line)["t"] for line in open(log)]
    assert times[0] == 0.0 and max(times) < 600, times[:3]
    live = [e["t"] for kind, e in stream.events() if kind == "log"]
    assert live and max(live) < 600, live[:3]
    r = run_rig("runs", "show", str(last["run_id"]), env={"RIG_LEDGER": str(served.ledger)})
    assert r.returncode == 0, r.stderr
    at = re.findall(r"^\W*(\d+:\d\d[:.][\d.]+)", r.stdout.split("events", 1)[1], re.M)
    assert at and at[0] == "0:00.00" and all(not a.startswith("2:0") for a in at), at[:5]
    svg = open(log[:-len(".jsonl")] + ".svg").read()
    assert "folded" not in svg  # no two-hour stretch from before the run
