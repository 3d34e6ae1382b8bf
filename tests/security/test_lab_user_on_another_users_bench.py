"""Threat: one lab user (a second CI job, a curious colleague) acts on a bench another user's job holds.

With the single lab-wide operator token the README once recommended, a second CI job pressed
keys and switched ACC on another job's place, queued onto it, released it (stopping its job)
and answered all six ``bench-removal`` safety questions of another job through ``/api/answer``
(ACC went on at that answer). ``X-Rig-Place`` was declared by the client, checked only against
a holder any operator could set. Now only the exporter's token holds and releases; a place is
acted on only with a token bound to the labgrid user who acquired it; and a refused request
writes nothing into the job's log. Each test replays one attack against a live server on
loopback, with the victim's job running.
"""

from __future__ import annotations

import pytest

from tests.browser.served import serving

served = serving(profile="honda", code="12345", state="locked", attempts=0)
VICTIM, ATTACKER = "runner-07/ci-41", "runner-08/ci-99"


@pytest.fixture
def lab(served):
    """A lab bench held by place bench-01 for the victim's job, which is asking its first safety question."""
    t = served.tokens
    served.exporter = t.new("exporter", "exporters")
    served.victim = t.new("operator", "runner-07", lab_user="runner-07/*")
    served.attacker = t.new("operator", "runner-08", lab_user="runner-08/*")
    served.shared = t.new("operator", "ci")  # the old lab-wide token: bound to no labgrid user
    served.station.lease.lab = True
    with served.client(served.exporter) as exp:
        assert exp.post("/api/lab/hold", json={"place": "bench-01", "user": VICTIM}).status_code == 200
    with as_(served, served.victim) as victim:
        r = victim.post("/api/runs", json={"procedure": "bench-removal", "unit": "H1", "profile": "honda"})
        assert r.status_code == 202, r.text
    served.wait(lambda s: (s.get("job") or {}).get("question"))
    served.log_before = log(served)
    return served


def as_(served, token, place="bench-01"):
    c = served.client(token)
    c.headers["x-rig-place"] = place
    return c


def log(served) -> str:
    path = served.logs / f"run-{served.station.current['run_id']:05d}-bench-removal.jsonl"
    return path.read_text()


def untouched(lab):
    """The victim's job runs on, its bench as it was, and its log has nothing of the attacker's."""
    state = lab.station.state()
    assert state["job"] and state["job"]["procedure"] == "bench-removal" and state["job"]["question"]
    assert state["bench"]["rails"]["acc"] == "off" and set(state["bench"]["keys"].values()) == {"up"}
    assert log(lab) == lab.log_before
    assert lab.station.lease.holder["user"] == VICTIM


@pytest.mark.parametrize("token", ["attacker", "shared"])
def test_another_runner_cannot_press_keys_or_switch_acc_on_a_held_place(lab, token):
    with as_(lab, getattr(lab, token)) as c:
        for path, body in (("/api/bench/power", {"rail": "acc", "on": True}), ("/api/bench/press", {"combo": "mode"}),
                           ("/api/bench/wait", {"seconds": 1}), ("/api/bench/safe", {})):
            r = c.post(path, json=body)
            assert r.status_code == 409 and "bench-01" in r.json()["error"], (path, r.text)
    untouched(lab)


def test_another_runner_cannot_answer_the_jobs_safety_questions(lab):
    qid = lab.station.current["question"]["id"]
    with as_(lab, lab.attacker) as c:
        for _ in range(6):
            r = c.post("/api/answer", json={"id": qid, "answer": "yes"})
            assert r.status_code == 409 and "held by labgrid user runner-07/ci-41" in r.json()["error"], r.text
    untouched(lab)


def test_another_runner_cannot_queue_onto_the_place_nor_upload_a_file_there(lab):
    before = sorted(p.relative_to(lab.logs) for p in lab.logs.rglob("*"))
    upload = {"name": "evil.yaml", "text": "name: evil\nsteps:\n  - power: {acc: on}\n"}
    with as_(lab, lab.attacker) as c:
        r = c.post("/api/runs", json={"procedure": "evil.yaml", "procedure_file": upload, "unit": "H1", "queue": True})
        assert r.status_code == 409, r.text
        r = c.post("/api/runs", json={"procedure": "enter-code", "unit": "H1", "code": "12345", "queue": True})
        assert r.status_code == 409, r.text
    assert lab.station.state()["queue"] == []
    assert sorted(p.relative_to(lab.logs) for p in lab.logs.rglob("*")) == before  # nothing written
    untouched(lab)


def test_another_runner_cannot_release_the_place_nor_stop_its_job(lab):
    with as_(lab, lab.attacker) as c:
        for path in ("/api/lab/release", "/api/lab/lose"):
            r = c.post(path, json={"place": "bench-01", "why": "released"})
            assert r.status_code == 403 and "exporter" in r.json()["error"], r.text
        r = c.post("/api/lab/hold", json={"place": "bench-01", "user": ATTACKER})
        assert r.status_code == 403
        r = c.post("/api/stop", json={"discard_served": True})
        assert r.status_code == 409 and "held by labgrid user runner-07/ci-41" in r.json()["error"], r.text
    untouched(lab)


def test_naming_the_holders_place_is_not_a_credential(lab):
    with as_(lab, lab.attacker, place="bench-01") as c:  # the header is the client's own claim
        r = c.post("/api/bench/power", json={"rail": "acc", "on": True})
        assert r.status_code == 409 and "the token runner-08 acts only for runner-08/*" in r.json()["error"]
    with as_(lab, lab.viewer) as c:
        assert c.post("/api/bench/power", json={"rail": "acc", "on": True}).status_code == 403
    untouched(lab)


def test_the_holders_own_token_answers_and_the_run_names_place_and_labgrid_user(lab):
    qid = lab.station.current["question"]["id"]
    with as_(lab, lab.victim) as c:
        assert c.post("/api/answer", json={"id": qid, "answer": "yes"}).status_code == 200
        assert c.post("/api/stop").status_code == 200
    state = lab.wait(lambda s: s["job"] is None and s["last"])
    run = lab.client(lab.viewer).get(f"/api/runs/{state['last']['run_id']}").json()
    assert (run["place"], run["lab_user"], run["operator"]) == ("bench-01", VICTIM, "runner-07")
    started = next(line for line in lab.client(lab.viewer).get(f"/api/runs/{run['id']}/log.jsonl").text.splitlines()
                   if '"started"' in line and '"operator"' in line)
    assert '"place": "bench-01"' in started and VICTIM in started
