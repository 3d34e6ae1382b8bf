"""rig serve over HTTP on loopback, with the simulated unit: jobs, live state, stop, security."""

from __future__ import annotations

import json
import sqlite3

from tests.browser.served import serving

CODE = "61524"  # the honda unit's code: it must appear in no response, stream or file of the rig


served = serving(code=CODE)
# simulated time at 4000x: the hour's lockout takes about a second, so a stop can land mid-wait
paced = serving(code=CODE, speed=4000)


def _rig_files(tmp_path):
    """Everything the rig wrote: ledger, logs, timelines, token and discovery files (not the simulated unit's
    own memory, which holds its code as the real unit's EEPROM does)."""
    return [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith("sim-unit.json")]


def test_unlock_through_the_api_streams_its_events_and_no_code_leaks(served, tmp_path):
    stream = served.collect_stream(served.viewer)
    c, csrf = served.page()
    headers = {"x-csrf-token": csrf, "origin": served.url}
    responses = [c.get("/api/state")]
    assert responses[0].json()["bench"]["rails"] == {"battery": "on", "acc": "off", "ignition": "off"}
    r = c.post("/api/runs", headers=headers, json={"procedure": "unlock", "profile": "honda", "unit": "H1",
                                                    "code": CODE, "allow_lockout": True})
    assert r.status_code == 202, r.text
    responses.append(r)
    stream.join(30)
    events = stream.events()
    result = [d for e, d in events if e == "result"][-1]
    assert result["outcome"] == "passed", result
    kinds = {d.get("kind") for e, d in events if e == "log"}
    assert {"step", "rail", "masked", "display", "result", "operator"} <= kinds  # honda's presses are all digits
    steps = [d["what"] for e, d in events if e == "log" and d.get("kind") == "step" and d.get("to") == "started"]
    assert steps.index("sit out the lockout first") < steps.index("enter the code")
    run_id = result["run_id"]
    for path in (f"/api/runs/{run_id}", f"/api/runs/{run_id}/log.jsonl", f"/api/runs/{run_id}/junit.xml",
                 f"/api/runs/{run_id}/timeline.svg", f"/api/runs/{run_id}/report.html", f"/runs/{run_id}",
                 "/api/runs", "/api/units", "/api/units/H1", "/api/state"):
        resp = c.get(path)
        assert resp.status_code == 200, (path, resp.text)
        responses.append(resp)
    log = [json.loads(line) for line in responses[3].text.splitlines()]
    assert {"kind": "operator", "what": "alice", "to": "started"}.items() <= next(
        e for e in log if e["kind"] == "operator").items()  # who started it is in the event log
    assert CODE.encode() not in stream.raw
    for resp in responses:
        assert CODE.encode() not in resp.content, resp.url
    for f in _rig_files(tmp_path):
        assert CODE.encode() not in f.read_bytes(), f


def test_stop_mid_wait_leaves_the_bench_safe_and_the_run_interrupted(paced):
    c = paced.client(paced.operator)
    r = c.post("/api/runs", json={"procedure": "lockout-wait", "profile": "honda", "unit": "H1"})
    assert r.status_code == 202, r.text
    paced.wait(lambda s: (s["job"] or {}).get("progress") and s["job"]["progress"]["served"] > 60)
    assert paced.station.bench.rails["acc"].is_on  # the wait holds ACC on
    r = c.post("/api/stop")  # honda's wait starts over after a power loss: the stop would lose it
    assert r.status_code == 409 and "throws away" in r.json()["error"], r.text
    r = c.post("/api/stop", json={"discard_served": True})
    assert r.json()["stopped"] == "lockout-wait"
    s = paced.wait(lambda s: s["last"] is not None)
    assert s["last"]["outcome"] == "interrupted"
    assert "stop from alice" in s["last"]["message"] and "rails safe" in s["last"]["message"]
    bench = s["bench"]
    assert bench["rails"] == {"battery": "on", "acc": "off", "ignition": "off"}
    assert set(bench["keys"].values()) == {"up"}
    row = sqlite3.connect(paced.ledger).execute("SELECT outcome, log FROM runs WHERE id=?",
                                                (s["last"]["run_id"],)).fetchone()
    assert row[0] == "interrupted"
    released = [json.loads(line) for line in open(row[1]) if '"bench"' in line]
    assert released[-1]["what"] == "released" and released[-1]["reason"] == "interrupted"
    pins = paced.station.bench.backend.pin_factory.pins.values()
    assert max(len(p.states) for p in pins) <= 2  # a server up for weeks keeps no pin history (the log has it)
    # the bench stays held: the next job runs without reopening it
    r = c.post("/api/bench/press", json={"combo": "mode", "hold": 0.2})
    assert r.status_code == 200 and r.json()["message"] == "pressed mode for 0.2s"


def test_no_token_401_no_csrf_or_foreign_origin_403_viewer_refused(served):
    anon = served.client()
    assert anon.get("/api/state").status_code == 401
    assert anon.get("/api/stream").status_code == 401
    assert anon.post("/api/runs", json={"procedure": "unlock"}).status_code == 401
    assert anon.get("/", follow_redirects=False).status_code == 303  # a person is sent to the login page
    c, csrf = served.page()
    body = {"procedure": "read-serial", "profile": "honda", "unit": "H1"}
    r = c.post("/api/runs", json=body, headers={"origin": served.url})
    assert r.status_code == 403 and "CSRF" in r.json()["error"]
    r = c.post("/api/runs", json=body, headers={"origin": "http://evil.example", "x-csrf-token": csrf})
    assert r.status_code == 403 and "another site" in r.json()["error"]
    r = c.post("/api/runs", json=body, headers={"x-csrf-token": csrf})  # no Origin at all from the page
    assert r.status_code == 403
    viewer = served.client(served.viewer)
    assert viewer.get("/api/state").status_code == 200
    for path, data in (("/api/runs", body), ("/api/stop", {}), ("/api/bench/power", {"rail": "acc", "on": True}),
                       ("/api/units", {"serial": "X", "profile": "honda"})):
        r = viewer.post(path, json=data)
        assert r.status_code == 403 and "viewer" in r.json()["error"], path
    runs = sqlite3.connect(served.ledger).execute("SELECT count(*) FROM runs").fetchone()[0]
    assert served.station.jobs_done == 0 and runs == 0  # no run was even recorded
    assert served.client("not-a-token").get("/api/state").status_code == 401


def test_bad_requests_get_a_clear_4xx_and_nothing_moves(paced):
    c = paced.client(paced.operator)
    before = paced.station.bench.snapshot()
    cases = [
        (c.post("/api/runs", content=b"{not json", headers={"content-type": "application/json"}), 400, "not JSON"),
        (c.post("/api/runs", json={"procedure": "unlock", "profile": "honda", "unit": "H1", "code": "615"}), 400,
         "not a honda code"),
        (c.post("/api/runs", json={"procedure": "unlock", "profile": "nope", "unit": "H1", "code": CODE}), 400,
         "no profile 'nope'"),
        (c.post("/api/runs", json={"procedure": "no-such-procedure"}), 400, "no-such-procedure"),
        (c.post("/api/bench/power", json={"rail": "acc"}), 400, "power is"),
        (c.get("/api/units/NOPE"), 404, "no unit 'NOPE'"),
        (c.get("/api/runs/999"), 404, "no run 999"),
    ]
    for r, status, words in cases:
        assert r.status_code == status and words in r.json()["error"], (r.status_code, r.text)
    assert paced.station.bench.snapshot()["rails"] == before["rails"] and paced.station.jobs_done == 0
    r = c.post("/api/runs", json={"procedure": "lockout-wait", "profile": "honda", "unit": "H1"})
    assert r.status_code == 202
    paced.wait(lambda s: s["job"] is not None)
    second = c.post("/api/runs", json={"procedure": "read-serial", "profile": "honda", "unit": "H1"})
    assert second.status_code == 409 and "running lockout-wait on H1" in second.json()["error"]
    press = c.post("/api/bench/press", json={"combo": "mode"})
    assert press.status_code == 409 and "lockout-wait" in press.json()["error"]
    c.post("/api/stop")
    paced.wait(lambda s: s["job"] is None)


def test_headers_cookie_and_token_file(served, tmp_path, monkeypatch):
    import rig.serve.app

    monkeypatch.setattr(rig.serve.app, "FAILED_LOGIN_WAIT", 0.05)  # the refusals below, without the half-second each
    c, _ = served.page()
    r = c.get("/api/state", headers={"origin": "http://evil.example"})
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert "access-control-allow-origin" not in r.headers  # no CORS
    login = served.client().post("/api/login", json={"token": served.operator}, headers={"origin": served.url})
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert served.client().post("/api/login", json={"once": "guessed"}).status_code == 401
    tokens = (tmp_path / "tokens.json")
    assert tokens.stat().st_mode & 0o777 == 0o600
    assert served.operator.encode() not in tokens.read_bytes()  # only hashes are kept
    link = served.server.login_link("bob")
    once = link.split("#once=")[1]
    first = served.client().post("/api/login", json={"once": once}, headers={"origin": served.url})
    again = served.client().post("/api/login", json={"once": once}, headers={"origin": served.url})
    assert first.status_code == 200 and again.status_code == 401  # a login link works once
    disc = tmp_path / "run" / "rig" / "server.json"
    assert disc.stat().st_mode & 0o777 == 0o600 and json.loads(disc.read_text())["url"] == served.url


def test_units_added_and_notes_edited_from_the_page_are_recorded(served):
    c, csrf = served.page()
    h = {"x-csrf-token": csrf, "origin": served.url}
    r = c.post("/api/units", headers=h, json={"serial": "OP1", "profile": "vauxhall-opel", "attempts_used": 2})
    assert r.status_code == 201, r.text
    assert c.post("/api/units", headers=h, json={"serial": "OP1", "profile": "vauxhall-opel"}).status_code == 409
    assert c.post("/api/units/OP1/notes", headers=h, json={"notes": "knob cracked"}).status_code == 200
    u = c.get("/api/units/OP1").json()
    assert u["notes"] == "knob cracked" and u["used"] == 2
    assert [r["value"] for r in u["records"]] == ["edited by alice: knob cracked"]
    registered = u["changes"][0]  # who put it on record, and why, kept with the unit
    assert (registered["field"], registered["new"], registered["who"]) == ("registered", "vauxhall-opel", "alice (page)")
    assert u["changes"][1]["field"] == "attempts_used" and u["changes"][1]["new"] == "2"


def test_a_code_job_sent_without_a_code_is_refused_with_where_to_give_it_and_nothing_moves(served):
    """A client that forgot the code (a lab script, a page saved before the field existed) is told
    what is missing, as `rig run` tells it, not answered with a server error; nothing is queued."""
    c = served.client(served.operator)
    before = c.get("/api/state").json()["bench"]
    for body in ({"procedure": "enter-code", "profile": "honda", "unit": "H1"},
                 {"procedure": "unlock", "profile": "honda", "unit": "H1", "code": ""}):
        r = c.post("/api/runs", json=body)
        assert r.status_code == 400, r.text
        assert "this procedure enters a code" in r.json()["error"], r.text
    state = c.get("/api/state").json()
    assert state["job"] is None and state["bench"] == before
    assert c.get("/api/runs").json() == []
