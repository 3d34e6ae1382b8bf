"""The server's side of a lab: which place holds the bench, and what that allows (in-process, fast)."""

from __future__ import annotations

from tests.browser.served import serving

served = serving(profile="honda", code="12345", state="locked", attempts=0)

RUN = {"procedure": "enter-code", "unit": "H1", "profile": "honda", "code": "12345"}


def _c(served, place=None, token=None):
    c = served.client(token or served.operator)
    if place:
        c.headers["x-rig-place"] = place
    return c


def test_a_lab_bench_takes_jobs_only_through_the_place_that_holds_it(served):
    served.station.lease.lab = True
    with _c(served) as anyone, _c(served, "bench-01") as holder, _c(served, "bench-02") as other:
        r = anyone.post("/api/runs", json=RUN)
        assert r.status_code == 409 and "no place holds it" in r.json()["error"]
        assert anyone.post("/api/bench/press", json={"combo": "mode"}).status_code == 409

        assert anyone.post("/api/lab/hold", json={"place": "bench-01"}).status_code == 200
        assert anyone.get("/api/lab").json()["place"]["place"] == "bench-01"
        r = other.post("/api/runs", json=RUN)
        assert r.status_code == 409 and "held by place bench-01, not bench-02" in r.json()["error"]
        r = anyone.post("/api/bench/power", json={"rail": "acc", "on": True})
        assert r.status_code == 409 and "rig --place bench-01" in r.json()["error"]
        assert other.post("/api/lab/hold", json={"place": "bench-02"}).status_code == 409  # one holder at a time

        assert holder.post("/api/bench/press", json={"combo": "mode", "hold": 0.1}).status_code == 200
        assert anyone.post("/api/bench/safe").status_code == 200  # making it safe is everyone's right
        r = holder.post("/api/runs", json=RUN)
        assert r.status_code == 202, r.text
        served.wait(lambda s: (s.get("last") or {}).get("outcome") == "passed")

        assert anyone.post("/api/lab/release", json={"place": "bench-01"}).json()["released"] == "bench-01"
        assert holder.post("/api/bench/press", json={"combo": "mode"}).status_code == 409
        assert anyone.get("/api/lab").json()["place"] is None


def test_only_an_operator_tells_the_bench_who_holds_it(served):
    with _c(served, token=served.viewer) as viewer:
        assert viewer.get("/api/lab").status_code == 200
        r = viewer.post("/api/lab/hold", json={"place": "bench-01"})
        assert r.status_code == 403 and "viewer" in r.json()["error"]
        assert viewer.post("/api/lab/release", json={"place": "bench-01"}).status_code == 403
    with _c(served) as op:
        assert op.post("/api/lab/hold", json={}).status_code == 400


paced = serving(profile="honda", code="12345", state="lockout", attempts=3, speed=4000)


def test_letting_go_stops_the_running_job_safely_and_the_queued_one_never_starts(paced):
    with _c(paced) as anyone, _c(paced, "bench-01") as holder:
        anyone.post("/api/lab/hold", json={"place": "bench-01"})
        assert holder.post("/api/runs", json={"procedure": "lockout-wait", "unit": "H1"}).status_code == 202
        paced.wait(lambda s: (s.get("job") or {}).get("progress"))
        assert holder.post("/api/runs", json=dict(RUN, queue=True)).status_code == 202
        r = anyone.post("/api/lab/release", json={"place": "bench-01", "why": "was forced off in labgrid"}).json()
        assert r["released"] == "bench-01" and r["stopped"] == "lockout-wait" and r["dropped"] == 1
        paced.wait(lambda s: s["job"] is None and (s.get("last") or {}).get("outcome"))
        state = anyone.get("/api/state").json()
        assert state["last"]["procedure"] == "lockout-wait" and state["last"]["outcome"] == "interrupted"
        assert set(state["bench"]["keys"].values()) == {"up"} and state["bench"]["rails"]["acc"] == "off"
        assert state["queue"] == [] and state["place"] is None
        runs = anyone.get("/api/runs").json()
        runs = runs.get("runs", runs) if isinstance(runs, dict) else runs
        assert [r["procedure"] for r in runs] == ["lockout-wait"]  # the queued enter-code never ran


def test_the_exporter_keeps_the_bench_in_step_with_labgrid_after_either_restarts(served, monkeypatch):
    import time

    import pytest

    pytest.importorskip("labgrid")
    from rig.lab import exporter

    monkeypatch.setattr(exporter, "CHECK_EVERY", 0.05)
    watch = exporter.BenchWatch(served.url, served.operator)
    try:
        served.wait(lambda s: watch.avail, timeout=5)
        watch.tell("bench-01")  # labgrid acquired the place
        assert served.station.lease.holder["place"] == "bench-01"
        served.station.lease.release("bench-01")  # rig serve restarted and forgot
        served.wait(lambda s: (served.station.lease.holder or {}).get("place") == "bench-01", timeout=5)
        watch.tell(None)  # labgrid released it
        assert served.station.lease.holder is None
        served.station.lease.hold("bench-07", "an exporter before a restart")  # a stale holder
        served.wait(lambda s: served.station.lease.holder is None, timeout=5)
    finally:
        watch.close()

    dead = exporter.BenchWatch("http://127.0.0.1:9", served.operator)  # nothing listens there
    try:
        dead.avail = True
        deadline = time.monotonic() + 5
        while dead.avail and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not dead.avail and dead.misses >= exporter.MISSES
    finally:
        dead.close()
