"""Threat: an operator's bench command (a typo, a script, a hostile CI job) holds the bench for ever.

``/api/bench/wait`` with ``seconds: Infinity`` once left the rails on, queued
every later job behind it for ever, and the health report said healthy. Now a
bench command has the CLI's limits, a stop or a ``safe`` cuts it short (keys
up, rails safe), it counts as busy, and one stuck past its end makes the bench
unhealthy (the exporter marks it gone; systemd's watchdog restarts it).
"""

from __future__ import annotations

import threading

import pytest

from rig.serve import commands
from tests.browser.served import serving

paced = serving(state="locked", attempts=0, speed=2000)  # an hour in 1.8 s: a wait is long enough to stop


@pytest.mark.parametrize("data, said", [
    ({"seconds": 1e300}, "at most 48h"), ({"seconds": -1}, "number of seconds"),
    ({"seconds": "1h"}, "number of seconds"), ({"seconds": True}, "number of seconds")])
def test_a_wait_past_the_clis_limit_is_refused(paced, data, said):
    r = paced.client(paced.operator).post("/api/bench/wait", json=data)
    assert r.status_code == 400 and said in r.json()["error"], r.text


@pytest.mark.parametrize("raw", [b'{"seconds": Infinity}', b'{"seconds": NaN}', b'{"seconds": -Infinity}'])
def test_infinity_and_nan_are_not_numbers_a_bench_takes(paced, raw):
    r = paced.client(paced.operator).post("/api/bench/wait", content=raw)
    assert r.status_code == 400 and "NaN or Infinity" in r.json()["error"], r.text


@pytest.mark.parametrize("raw", [b'{"combo": "mode", "times": 1e400}', b'{"combo": "mode", "times": 2.5}',
                                 b'{"combo": "mode", "times": 101}', b'{"combo": "mode", "hold": 61}',
                                 b'{"combo": "mode", "hold": 1e400}', b'{"combo": "mode", "times": 1' + b"0" * 400 + b"}"])
def test_a_press_past_the_clis_limits_is_refused(paced, raw):
    r = paced.client(paced.operator).post("/api/bench/press", content=raw)
    assert r.status_code == 400, r.text


def _wait_in_background(paced, seconds):
    out = {}

    def run():
        out["r"] = paced.client(paced.operator).post("/api/bench/wait", json={"seconds": seconds})

    t = threading.Thread(target=run, daemon=True)
    t.start()
    paced.wait(lambda s: s["busy"] and "bench command" in s["busy"])
    return t, out


def test_a_running_wait_is_busy_and_a_stop_cuts_it_short_with_the_bench_safe(paced):
    c = paced.client(paced.operator)
    assert c.post("/api/bench/power", json={"rail": "acc", "on": True}).status_code == 200
    t, out = _wait_in_background(paced, 48 * 3600)
    r = c.post("/api/bench/press", json={"combo": "mode"})
    assert r.status_code == 409 and "bench command (wait, from alice)" in r.json()["error"]
    r = c.post("/api/runs", json={"procedure": "read-serial", "profile": "honda", "unit": "H1"})
    assert r.status_code == 409  # a job is refused too, naming the command
    r = c.post("/api/stop")
    assert r.status_code == 200 and r.json()["stopped"] == "bench command wait"
    t.join(10)
    assert out["r"].status_code == 409 and "rails safe" in out["r"].json()["error"]
    s = paced.wait(lambda s: not s["busy"])
    assert s["bench"]["rails"] == {"battery": "on", "acc": "off", "ignition": "off"}
    assert paced.station.clock.now() < 3600  # it never sat out its 48 hours


def test_safe_cuts_a_running_command_short_too(paced):
    c = paced.client(paced.operator)
    t, out = _wait_in_background(paced, 48 * 3600)
    r = c.post("/api/bench/safe")
    assert r.status_code == 200 and r.json()["message"] == "safe", r.text
    t.join(10)
    assert out["r"].status_code == 409


def test_a_command_stuck_past_its_end_makes_the_bench_unhealthy(paced, monkeypatch):
    monkeypatch.setattr(commands, "GRACE", 0.2)
    release = threading.Event()
    stuck = threading.Event()

    def hung_press(*args, **kw):  # a press that never comes back (a wedged driver)
        stuck.set()
        release.wait(20)

    monkeypatch.setattr(paced.station.bench, "press", hung_press)
    out = {}
    t = threading.Thread(target=lambda: out.update(r=paced.client(paced.operator).post(
        "/api/bench/press", json={"combo": "mode", "hold": 0.1})), daemon=True)
    t.start()
    assert stuck.wait(10)
    viewer = paced.client(paced.viewer)
    paced.wait(lambda s: not paced.station.healthy, timeout=10)
    lab = viewer.get("/api/lab").json()
    assert lab["healthy"] is False and "past its end" in lab["problem"]
    release.set()
    t.join(10)
    paced.wait(lambda s: paced.station.healthy, timeout=10)
    assert viewer.get("/api/lab").json()["healthy"] is True
