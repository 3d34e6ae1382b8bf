"""Threat: an operator's request (in a lab, any CI job holds one) names files on the bench.

A procedure's `name:` went into file paths (files outside the data folder, another run's log
rewritten, a download turned into an HTML page); the `procedure` field took absolute paths
(/etc/shadow's lines came back in "unknown field" errors) and told whether a path exists;
`call:` in an upload reached `../` and absolute files; uploads were written before the lab's
lease check, and never cleaned. Files are the rig's: named by it, bounded, and confined.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from rig import yamlcache, yamlfile
from tests.browser.served import serving

served = serving(profile="honda", code="12345", state="locked", attempts=0)

TINY = "name: tiny\nsteps:\n  - wait: 1s\n"


def _post(served, body, token=None, **headers):
    return served.client(token or served.operator).post("/api/runs", json=body, headers=headers)


def _send(served, text, name="mine.yaml", calls=None, more=None, **headers):
    upload = {"name": name, "text": text, **({"calls": calls} if calls else {})}
    return _post(served, {"procedure": name, "procedure_file": upload, **(more or {})}, **headers)


def _finished(served, ticket):
    return served.wait(lambda s: (s["last"] or {}).get("id") == ticket["id"])["last"]


def _uploads(served) -> list:
    root = served.logs / "procedures"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def _everything_under(folder) -> set:
    return {p for p in folder.rglob("*")} if folder.exists() else set()


# -- a procedure's name never reaches a path ------------------------------------------------------
@pytest.mark.parametrize("name", ["x/../../../../tmp/anywhere/evil", "x/../run-00001-unlock",
                                  "x\\\"; filename*=UTF-8''evil.html", "a\\0b", "a" * 300])
def test_a_procedure_name_is_a_slug_checked_before_anything_is_written(served, tmp_path, name):
    before = _everything_under(tmp_path.parent)
    r = _send(served, f'name: "{name}"\nsteps:\n  - wait: 1s\n')
    assert r.status_code == 400 and "mine.yaml:1: error: name: " in r.json()["error"], r.text
    assert "is not a procedure name" in r.json()["error"]
    written = _everything_under(tmp_path.parent) - before
    assert {p for p in written if p != served.logs and "procedures" not in p.parts} == set(), written  # the upload
    assert sqlite3.connect(served.ledger).execute("SELECT count(*) FROM runs").fetchone() == (0,)


# -- a request names a built-in, or sends its file ---------------------------------------------------
def test_a_run_request_never_names_a_file_on_the_bench_and_never_says_whether_one_exists(served, tmp_path):
    secret = tmp_path / "secret.yaml"
    secret.write_text("root: $6$saltsaltsalt$hash-of-the-root-password\n")
    answers = {}
    for path in (str(secret), str(tmp_path / "missing.yaml"), "/etc/passwd", "/nonexistent", "../../etc/passwd",
                 "../procedures/unlock", "unlock.yaml"):
        r = _post(served, {"procedure": path})
        assert r.status_code == 400, (path, r.text)
        assert "hash-of-the-root-password" not in r.text and "root:" not in r.text
        answers[path] = r.json()["error"].replace(repr(path[:80]), "NAME")
    assert len(set(answers.values())) == 1, answers  # the same words whether the file is there or not
    assert "procedure_file" in next(iter(answers.values()))
    assert _uploads(served) == []


def test_a_built_in_by_name_still_runs(served):
    r = _post(served, {"procedure": "read-serial", "profile": "honda", "unit": "H1", "yes": True,
                       "answers": {"model": "x", "vin": "y"}})
    assert r.status_code == 202, r.text


# -- a call in an upload finds only what was sent and the built-ins -----------------------------------
def test_a_call_in_an_upload_reaches_no_file_of_the_bench(served, tmp_path):
    secret = tmp_path / "secret.yaml"
    secret.write_text("root: $6$saltsaltsalt$hash-of-the-root-password\n")
    first = _send(served, "name: first\nsteps:\n  - wait: 1s\n", name="first.yaml")
    assert first.status_code == 202 and _finished(served, first.json())["outcome"] == "passed"
    other = _uploads(served)[0]
    for target, said in [(str(secret), "calls only built-ins and the files sent with it"),
                         ("/etc/passwd.yaml", "calls only built-ins and the files sent with it"),
                         ("../../../secret.yaml", "calls only built-ins and the files sent with it"),
                         (f"../{other}/first.yaml", "calls only built-ins and the files sent with it"),
                         ("lib/nothere.yaml", "not among the files sent with this procedure"),
                         ("../../../../../../../../etc/passwd", "no procedure")]:
        r = _send(served, f"name: mine\nsteps:\n  - call: {target}\n")
        assert r.status_code == 400, (target, r.text)
        error = r.json()["error"]
        assert "hash-of-the-root-password" not in error and str(served.logs) not in error, error
        assert error.startswith("mine.yaml:3: error: call: ") and said in error, (target, error)


def test_a_call_to_a_file_sent_with_it_and_to_a_built_in_is_found(served):
    calls = [{"path": "lib/reset.yaml", "text": "name: reset\nsteps:\n  - call: ../again.yaml\n"},
             {"path": "again.yaml", "text": TINY}]
    r = _send(served, "name: mine\nneeds: [profile]\nsteps:\n  - call: lib/reset.yaml\n  - call: reproduce-safe\n"
              "    if: {display: nothing-like-this}\n", calls=calls, more={"profile": "honda"})
    assert r.status_code == 202, r.text


# -- written only after login and the lease, kept by content, bounded, cleaned ---------------------------
def test_an_upload_is_written_only_after_login_and_the_lease_check(served):
    upload = {"procedure": "mine.yaml", "procedure_file": {"name": "mine.yaml", "text": TINY}}
    assert served.client().post("/api/runs", json=upload).status_code == 401
    assert served.client(served.viewer).post("/api/runs", json=upload).status_code == 403
    served.station.lease.hold("bench-01", "exporter", "runner-07/ci-1")
    holder = served.tokens.new("operator", "runner-07", lab_user="runner-07/*")
    for token, place in ((holder, {}), (holder, {"x-rig-place": "bench-02"}), (None, {"x-rig-place": "bench-01"})):
        r = _post(served, upload, token, **place)
        assert r.status_code == 409, r.text
    assert _uploads(served) == []
    assert _post(served, upload, holder, **{"x-rig-place": "bench-01"}).status_code == 202
    assert len(_uploads(served)) == 1


def test_uploads_are_kept_by_content_under_a_size_cap_and_the_oldest_go(served, monkeypatch):
    from rig.serve import uploads

    monkeypatch.setattr(uploads, "KEEP", 3)
    for _ in range(2):
        assert _finished(served, _send(served, TINY).json())["outcome"] == "passed"
    assert len(_uploads(served)) == 1  # the same files: one folder
    big = TINY + "# " + "x" * (uploads.MAX_BYTES + 1) + "\n"
    assert _send(served, big).status_code == 400 and len(_uploads(served)) == 1
    for n in range(5):
        assert _finished(served, _send(served, TINY + f"# {n}\n").json())["outcome"] == "passed"
    assert len(_uploads(served)) == 3


def test_an_old_upload_goes_but_never_one_a_job_still_reads(tmp_path):
    from rig.serve import uploads

    ups = uploads.Uploads(tmp_path)
    old = Path(ups.keep({"name": "old.yaml", "text": "# old\n"}))
    busy = Path(ups.keep({"name": "busy.yaml", "text": "# busy\n"}))
    long_ago = time.time() - uploads.MAX_AGE - 60
    for path in (old, busy):
        os.utime(path.parent, (long_ago, long_ago))
    new = Path(ups.keep({"name": "new.yaml", "text": "# new\n"}, in_use={str(busy)}))  # a queued job reads busy
    assert not old.exists() and busy.exists() and new.exists()


def test_an_upload_never_lands_in_the_parsed_yaml_cache(served, tmp_path):
    cache = tmp_path / "parsed"
    yamlfile.remember_parses(cache)
    try:
        text = "name: uploaded-and-forgotten\nsteps:\n  - wait: 1s\n"
        assert _finished(served, _send(served, text).json())["outcome"] == "passed"
        kept = [yamlcache.recall(p.name, yamlfile._thaw) for p in cache.iterdir()] if cache.exists() else []
    finally:
        yamlfile.remember_parses(None)
    assert all("uploaded-and-forgotten" not in repr(k) for k in kept)


# -- downloads are the rig's files, under the rig's names -------------------------------------------------
def test_a_download_has_a_fixed_name_and_reads_only_the_runs_own_log(served, tmp_path):
    done = _finished(served, _send(served, TINY).json())
    run = done["run_id"]
    c = served.client(served.viewer)
    for what, name in (("log.jsonl", "jsonl"), ("timeline.svg", "svg"), ("junit.xml", "xml"), ("report.html", "html")):
        r = c.get(f"/api/runs/{run}/{what}")
        assert r.status_code == 200 and r.headers["content-disposition"] == f'attachment; filename="run-{run:05d}.{name}"'
    assert b'"kind": "result"' in c.get(f"/api/runs/{run}/log.jsonl").content
    # a ledger row naming another file (a rig before this one let a procedure's name choose it)
    elsewhere = tmp_path / "elsewhere.jsonl"
    elsewhere.write_text('{"t": 0, "kind": "display", "what": "tap", "to": "NOT THIS RUN"}\n')
    db = sqlite3.connect(served.ledger)
    db.execute("UPDATE runs SET log=? WHERE id=?", (str(elsewhere), run))
    db.commit()
    for what in ("log.jsonl", "timeline.svg", "report.html"):
        assert b"NOT THIS RUN" not in c.get(f"/api/runs/{run}/{what}").content, what
