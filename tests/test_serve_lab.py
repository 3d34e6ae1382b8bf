"""The server's side of a lab: which place holds the bench, for which labgrid user, and what that allows
(in-process, fast). The attacks of one lab user on another's bench are in tests/security/."""

from __future__ import annotations

import time

import pytest

from tests.browser.served import serving

served = serving(profile="honda", code="12345", state="locked", attempts=0)

RUN = {"procedure": "enter-code", "unit": "H1", "profile": "honda", "code": "12345"}


def _c(served, place=None, token=None):
    c = served.client(token or served.operator)
    if place:
        c.headers["x-rig-place"] = place
    return c


def lab_tokens(served):
    """The lab's credentials: the exporter's, and one operator token per CI runner."""
    t = served.tokens
    return (t.new("exporter", "exporters"), t.new("operator", "runner-07", lab_user="runner-07/*"),
            t.new("operator", "runner-08", lab_user="runner-08/*"))


def test_a_lab_bench_takes_jobs_only_through_the_place_and_user_that_hold_it(served):
    served.station.lease.lab = True
    exporter, r07, r08 = lab_tokens(served)
    with _c(served, token=exporter) as exp, _c(served, "bench-01", r07) as holder, \
            _c(served, "bench-02", r07) as wrong_place, _c(served, "bench-01", r08) as other_runner, \
            _c(served) as unbound:
        r = holder.post("/api/runs", json=RUN)
        assert r.status_code == 409 and "does not hold this bench" in r.json()["error"]
        assert _c(served, token=r07).post("/api/bench/press", json={"combo": "mode"}).status_code == 409

        assert exp.post("/api/lab/hold", json={"place": "bench-01", "user": "runner-07/ci-41"}).status_code == 200
        assert exp.get("/api/lab").json()["place"]["user"] == "runner-07/ci-41"
        r = wrong_place.post("/api/runs", json=RUN)
        assert r.status_code == 409 and "held by place bench-01, not bench-02" in r.json()["error"]
        r = other_runner.post("/api/bench/power", json={"rail": "acc", "on": True})
        assert r.status_code == 409 and "held by labgrid user runner-07/ci-41" in r.json()["error"]
        r = _c(served, "bench-01").post("/api/runs", json=RUN)  # a token bound to no labgrid user
        assert r.status_code == 409 and "not bound to a labgrid user" in r.json()["error"]
        r = unbound.post("/api/bench/power", json={"rail": "acc", "on": True})
        assert r.status_code == 409 and "rig --place bench-01" in r.json()["error"]
        r = exp.post("/api/lab/hold", json={"place": "bench-02", "user": "runner-08/ci-9"})
        assert r.status_code == 409  # one holder at a time: labgrid releases first

        assert holder.post("/api/bench/press", json={"combo": "mode", "hold": 0.1}).status_code == 200
        assert holder.post("/api/bench/safe").status_code == 200
        r = holder.post("/api/runs", json=RUN)
        assert r.status_code == 202, r.text
        served.wait(lambda s: (s.get("last") or {}).get("outcome") == "passed")
        run = holder.get(f"/api/runs/{served.station.last['run_id']}").json()
        assert (run["place"], run["lab_user"], run["operator"]) == ("bench-01", "runner-07/ci-41", "runner-07")

        assert exp.post("/api/lab/release", json={"place": "bench-01"}).json()["released"] == "bench-01"
        assert holder.post("/api/bench/press", json={"combo": "mode"}).status_code == 409
        assert exp.get("/api/lab").json()["place"] is None


def test_only_the_exporter_tells_the_bench_who_holds_it(served):
    exporter, r07, _r08 = lab_tokens(served)
    for token, role in ((served.viewer, "viewer"), (served.operator, "operator"), (r07, "operator")):
        with _c(served, token=token) as c:
            assert c.get("/api/lab").status_code == 200
            for path in ("/api/lab/hold", "/api/lab/release", "/api/lab/lose"):
                r = c.post(path, json={"place": "bench-01", "user": "runner-07/x"})
                assert r.status_code == 403 and "exporter" in r.json()["error"], (role, path, r.text)
    with _c(served, token=exporter) as exp:
        assert exp.post("/api/lab/hold", json={}).status_code == 400
        assert exp.post("/api/lab/hold", json={"place": "bench-01", "user": "no-slash"}).status_code == 400
        for path in ("/api/lab/lose", "/api/lab/release"):  # a place that is no name is an error, not "not held"
            assert exp.post(path, json={"place": ["bench-01"]}).status_code == 400, path
        r = exp.post("/api/runs", json=RUN)  # the exporter drives nothing itself
        assert r.status_code == 403
    assert served.station.lease.holder is None


def test_a_request_just_after_the_acquire_waits_for_the_exporter_to_say_who_holds_the_place(served):
    """labgrid tells the exporter that a place was acquired before the exporter has asked who by: the
    CI job's first request, sent the moment its acquire returned, waits that moment out and is
    answered for its own labgrid user, neither refused as "not said yet" nor a server error."""
    import threading

    served.station.lease.lab = True
    exporter, r07, _r08 = lab_tokens(served)
    with _c(served, token=exporter) as exp, _c(served, "bench-01", r07) as holder:
        assert exp.post("/api/lab/hold", json={"place": "bench-01"}).status_code == 200  # who by: not known yet
        told = threading.Timer(0.3, lambda: exp.post("/api/lab/hold", json={"place": "bench-01",
                                                                           "user": "runner-07/ci-41"}))
        told.start()
        try:
            r = holder.post("/api/bench/press", json={"combo": "mode", "hold": 0.1})
        finally:
            told.join()
        assert r.status_code == 200, r.text


def test_a_job_naming_another_unit_than_the_benchs_is_refused_before_anything_moves(served):
    served.station.set_unit("H1", "honda")
    with _c(served) as op:
        before = op.get("/api/runs").json()
        r = op.post("/api/runs", json=dict(RUN, unit="H2"))
        assert r.status_code == 409 and "holds unit H1 (honda), not H2" in r.json()["error"]
        assert op.get("/api/runs").json() == before  # no run, no attempt


paced = serving(profile="honda", code="12345", state="lockout", attempts=3, speed=4000)


def test_letting_go_stops_the_running_job_safely_and_the_queued_one_never_starts(paced):
    exporter, r07, _ = lab_tokens(paced)
    with _c(paced, token=exporter) as exp, _c(paced, "bench-01", r07) as holder:
        exp.post("/api/lab/hold", json={"place": "bench-01", "user": "runner-07/ci-1"})
        assert holder.post("/api/runs", json={"procedure": "lockout-wait", "unit": "H1"}).status_code == 202
        paced.wait(lambda s: (s.get("job") or {}).get("progress"))
        assert holder.post("/api/runs", json=dict(RUN, queue=True)).status_code == 202
        r = exp.post("/api/lab/release", json={"place": "bench-01", "why": "was forced off in labgrid"}).json()
        assert r["released"] == "bench-01" and r["stopped"] == "lockout-wait" and r["dropped"] == 1
        paced.wait(lambda s: s["job"] is None and (s.get("last") or {}).get("outcome"))
        state = holder.get("/api/state").json()
        assert state["last"]["procedure"] == "lockout-wait" and state["last"]["outcome"] == "interrupted"
        assert set(state["bench"]["keys"].values()) == {"up"} and state["bench"]["rails"]["acc"] == "off"
        assert state["queue"] == [] and state["place"] is None
        runs = holder.get("/api/runs").json()
        assert [r["procedure"] for r in runs] == ["lockout-wait"]  # the queued enter-code never ran
        log = holder.get(f"/api/runs/{runs[0]['id']}/log.jsonl").text
        assert "place bench-01 was forced off in labgrid" in log


def test_a_place_labgrid_lost_keeps_its_running_wait_while_its_holder_takes_it_back(paced):
    exporter, r07, r08 = lab_tokens(paced)
    paced.station.lease.grace = 30.0
    with _c(paced, token=exporter) as exp, _c(paced, "bench-01", r07) as holder:
        exp.post("/api/lab/hold", json={"place": "bench-01", "user": "runner-07/ci-1"})
        assert holder.post("/api/runs", json={"procedure": "lockout-wait", "unit": "H1"}).status_code == 202
        paced.wait(lambda s: (s.get("job") or {}).get("progress"))
        # the coordinator restarted: the exporter finds the place forgotten, not released
        assert exp.post("/api/lab/lose", json={"place": "bench-01"}).json()["place"]["lost"]
        r = holder.post("/api/bench/press", json={"combo": "mode"})  # no new work on a lost place ...
        assert r.status_code == 409 and "acquire the place again" in r.json()["error"]
        # ... and another runner gets nothing from the gap
        r = _c(paced, "bench-01", r08).post("/api/stop", json={"discard_served": True})
        assert r.status_code == 409 and "held by labgrid user runner-07/ci-1" in r.json()["error"], r.text
        served_before = paced.station.state()["job"]["progress"]["served"]
        # the job's own client acquired it again, as the same labgrid user: the wait goes on
        exp.post("/api/lab/hold", json={"place": "bench-01"})  # labgrid's replay, user not known yet
        assert paced.station.lease.holder["lost"]
        exp.post("/api/lab/hold", json={"place": "bench-01", "user": "runner-07/ci-1"})
        assert paced.station.lease.holder["lost"] is None
        state = paced.wait(lambda s: s["job"] and s["job"]["progress"]["served"] > served_before + 60)
        assert state["job"]["procedure"] == "lockout-wait" and state["last"] is None
        assert holder.post("/api/stop", json={"discard_served": True}).status_code == 200
        paced.wait(lambda s: s["job"] is None)
        log = holder.get(f"/api/runs/{paced.station.last['run_id']}/log.jsonl").text
        assert "labgrid lost place bench-01" in log and "holds the bench for runner-07/ci-1" in log


def test_a_lost_place_stops_its_job_when_the_grace_runs_out_or_another_user_takes_it(paced):
    exporter, r07, _ = lab_tokens(paced)
    paced.station.lease.grace = 0.3
    with _c(paced, token=exporter) as exp, _c(paced, "bench-01", r07) as holder:
        exp.post("/api/lab/hold", json={"place": "bench-01", "user": "runner-07/ci-1"})
        holder.post("/api/runs", json={"procedure": "lockout-wait", "unit": "H1"})
        paced.wait(lambda s: (s.get("job") or {}).get("progress"))
        exp.post("/api/lab/lose", json={"place": "bench-01"})
        state = paced.wait(lambda s: s["job"] is None and s["last"], timeout=10)
        assert state["last"]["outcome"] == "interrupted" and state["place"] is None
        assert set(state["bench"]["keys"].values()) == {"up"} and state["bench"]["rails"]["acc"] == "off"
        log = holder.get(f"/api/runs/{state['last']['run_id']}/log.jsonl").text
        assert "was not acquired again within 0 s after labgrid lost it" in log

        # another labgrid user acquiring a lost place: the exporter releases the old holder first
        paced.station.lease.grace = 30.0
        exp.post("/api/lab/hold", json={"place": "bench-01", "user": "runner-07/ci-2"})
        exp.post("/api/lab/lose", json={"place": "bench-01"})
        r = exp.post("/api/lab/hold", json={"place": "bench-01", "user": "runner-08/ci-3"})
        assert r.status_code == 409 and "must be released before runner-08/ci-3" in r.json()["error"]


def test_the_exporter_keeps_the_bench_in_step_with_labgrid_after_either_restarts(served, monkeypatch):
    pytest.importorskip("labgrid")
    from rig.lab import exporter

    monkeypatch.setattr(exporter, "CHECK_EVERY", 0.05)
    token, *_ = lab_tokens(served)
    coordinator = {"bench-01": "runner-07/ci-1"}   # who holds which place, as the coordinator says
    ask = lambda place: (place in coordinator, coordinator.get(place))  # noqa: E731
    lease = served.station.lease

    def wait_for(pred):
        served.wait(lambda s: pred(lease.holder), timeout=5)

    watch = exporter.BenchWatch(served.url, token, ask=ask)
    try:
        served.wait(lambda s: watch.avail, timeout=5)
        watch.tell("bench-01")  # labgrid acquired the place; the watch asks the coordinator who by
        wait_for(lambda h: h and h["user"] == "runner-07/ci-1")
        lease.release("bench-01")  # rig serve restarted and forgot
        wait_for(lambda h: h and h["place"] == "bench-01" and h["user"] == "runner-07/ci-1")
        watch.tell(None)  # labgrid released it
        assert lease.holder is None
        lease.hold("bench-07", "an exporter before a restart", "runner-09/x")  # a stale holder
        wait_for(lambda h: h is None)
    finally:
        watch.close()

    # an exporter restart: the fresh watch knows nothing, and asks before it touches the bench
    lease.hold("bench-01", "exporters", "runner-07/ci-1")
    watch = exporter.BenchWatch(served.url, token, ask=ask)
    try:
        wait_for(lambda h: watch.want == ("held", "bench-01", "runner-07/ci-1"))
        assert lease.holder["user"] == "runner-07/ci-1" and not lease.holder["lost"]
    finally:
        watch.close()
    # a coordinator restart: the place is forgotten, not released; the bench keeps it for its grace
    coordinator.clear()
    watch = exporter.BenchWatch(served.url, token, ask=ask)
    try:
        wait_for(lambda h: h and h["lost"])
        coordinator["bench-01"] = "runner-07/ci-1"
        watch.tell("bench-01")  # the holder acquired it again
        wait_for(lambda h: h and not h["lost"] and h["user"] == "runner-07/ci-1")
    finally:
        watch.close()
    # a coordinator that does not answer: nothing changes on the bench
    def unreachable(place):
        raise OSError("no coordinator")

    lease.lose("bench-01", "test")
    lease.hold("bench-01", "exporters", "runner-07/ci-1")
    watch = exporter.BenchWatch(served.url, token, ask=unreachable)
    try:
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            assert lease.holder and not lease.holder["lost"]
            time.sleep(0.05)
        assert watch.want == exporter.UNKNOWN
    finally:
        watch.close()

    dead = exporter.BenchWatch("http://127.0.0.1:9", token)  # nothing listens there
    try:
        dead.avail = True
        deadline = time.monotonic() + 5
        while dead.avail and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not dead.avail and dead.misses >= exporter.MISSES
    finally:
        dead.close()


def test_a_closed_exporter_watch_never_touches_the_bench_again(served, monkeypatch):
    """The in-step test failed under load: a watch closed mid-check (its GET in flight) still told
    the bench what it last wanted, releasing the place the next exporter had just found held."""
    pytest.importorskip("labgrid")
    import threading

    from rig.lab import exporter

    monkeypatch.setattr(exporter, "CHECK_EVERY", 0.05)
    token, *_ = lab_tokens(served)
    watch = exporter.BenchWatch(served.url, token)
    in_get, go_on = threading.Event(), threading.Event()
    call = watch.client.call

    def slow_get(method, path, *args, **kwargs):  # the watch's health check, held mid-flight
        if method == "GET":
            in_get.set()
            go_on.wait(10)
        return call(method, path, *args, **kwargs)

    try:
        watch.tell(None)  # labgrid released the place: what this watch wants from now on
        watch.client.call = slow_get
        assert in_get.wait(5)
    finally:
        closing = threading.Thread(target=watch.close)
        closing.start()
    served.station.lease.hold("bench-01", "exporters", "runner-07/ci-1")  # held since, by the next exporter
    go_on.set()
    closing.join(10)  # close() returns once the watch's thread has ended
    assert not closing.is_alive() and not watch._thread.is_alive()
    assert served.station.lease.holder and served.station.lease.holder["place"] == "bench-01"


def test_a_request_through_a_place_labgrid_never_gave_the_bench_is_refused(served):
    """No place holds this bench (labgrid never told it so, or the place was let go): a request
    through `rig --place` is refused as such, even on a bench not kept for a lab - it means to run
    under a reservation the bench knows nothing of - and nothing moves."""
    before = served.client(served.operator).get("/api/state").json()["bench"]
    with _c(served, "bench-01") as stranger:
        for path, body in (("/api/runs", RUN), ("/api/bench/press", {"combo": "mode"}),
                           ("/api/bench/power", {"rail": "acc", "on": True})):
            r = stranger.post(path, json=body)
            assert r.status_code == 409 and "place bench-01 does not hold this bench" in r.json()["error"], r.text
    state = served.client(served.operator).get("/api/state").json()
    assert state["job"] is None and state["bench"] == before


https = serving(profile="honda", code="12345", state="locked", attempts=0, tls=True)


def test_a_bench_reached_through_an_ssh_forward_must_still_prove_it_is_the_bench_labgrid_named(https, monkeypatch):
    from rig.errors import ConfigError
    from rig.serve import client

    here = https.url.split("//")[1]  # 127.0.0.1:PORT, where an SSH forward would answer
    c = client.Client(https.url, https.viewer, ca=str(https.ca.crt))
    monkeypatch.setitem(client.FORWARDED, here, "localhost")  # a name its certificate carries
    assert c.get("/api/lab")["healthy"]
    monkeypatch.setitem(client.FORWARDED, here, "pi-07.lab")  # the forward reached some other bench
    with pytest.raises(ConfigError, match="is not the bench it claims to be"):
        c.get("/api/lab")


def test_a_lab_benchs_unit_is_the_admins_and_no_job_puts_another_there(served):
    # rig serve --lab --unit H1: the job holding the place may not swap the unit (a fresh serial would
    # take wrong codes meant for H1 uncounted, and the next job would find the bench holding FAKE1)
    served.station.lease.lab = True
    served.station.set_unit("H1", "honda")
    exporter, r07, _r08 = lab_tokens(served)
    with _c(served, token=exporter) as exp, _c(served, "bench-01", r07) as holder:
        assert exp.post("/api/lab/hold", json={"place": "bench-01", "user": "runner-07/ci-41"}).status_code == 200
        r = holder.post("/api/bench/unit", json={"serial": "FAKE1", "profile": "honda", "new_unit": True})
        assert r.status_code == 409 and "rig serve --lab --unit" in r.json()["error"]
        assert holder.get("/api/units/FAKE1").status_code == 404  # nothing registered
        r = holder.post("/api/runs", json=dict(RUN, unit="FAKE1"))
        assert r.status_code == 409 and "holds unit H1 (honda), not FAKE1" in r.json()["error"]
