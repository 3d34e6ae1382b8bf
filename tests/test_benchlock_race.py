"""The bench lock never names a holder before its holder has written its name.

In 3 of 50 simultaneous starts the refusal named a stale, dead holder (the last one to
have held the bench) or "another process": the lock was taken, and seen taken, before the
new holder's name was in the file. Forked processes released at one instant race for a
lock file that still names a dead holder; the winner is slowed down between taking the
lock and writing its name, which is the window.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

from rig.bench.benchlock import BenchLock
from rig.errors import BenchBusy

RACERS = 8


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_every_refused_start_names_the_live_holder_never_a_stale_one(tmp_path):
    path = tmp_path / "bench.lock"
    dead = _dead_pid()
    path.write_text(json.dumps({"pid": dead, "command": "rig power", "since": "2026-01-01 00:00:00", "user": "old"}))
    write = BenchLock._write

    def slow_write(self):  # the winner dawdles between taking the lock and naming itself
        end = time.perf_counter() + 0.05
        while time.perf_counter() < end:
            pass
        write(self)

    BenchLock._write = slow_write
    gate_r, gate_w = os.pipe()
    done_r, done_w = os.pipe()
    children = []
    try:
        for i in range(RACERS):
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    os.close(gate_w)
                    os.close(done_w)
                    os.read(gate_r, 1)
                    lock = BenchLock(path)
                    try:
                        lock.acquire()
                    except BenchBusy as exc:
                        (tmp_path / f"refused-{i}").write_text(str(exc))
                    else:
                        (tmp_path / f"won-{i}").write_text(str(os.getpid()))
                        os.read(done_r, 1)  # hold it until every other one has been refused
                        lock.release()
                except BaseException as exc:  # noqa: BLE001
                    (tmp_path / f"error-{i}").write_text(repr(exc))
                    code = 1
                os._exit(code)
            children.append(pid)
    finally:
        BenchLock._write = write
    os.close(gate_r)
    os.close(done_r)
    os.close(gate_w)  # the gate opens
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("refused-*"))) + len(list(tmp_path.glob("error-*"))) < RACERS - 1:
        assert time.monotonic() < deadline, "the racers did not all finish"
        os.sched_yield()
    os.close(done_w)
    for pid in children:
        os.waitpid(pid, 0)
    assert not list(tmp_path.glob("error-*")), [p.read_text() for p in tmp_path.glob("error-*")]
    (won,) = [int(p.read_text()) for p in tmp_path.glob("won-*")]
    refusals = [p.read_text() for p in tmp_path.glob("refused-*")]
    assert len(refusals) == RACERS - 1
    for said in refusals:
        assert f"in use by pid {won} " in said, (won, dead, said)
