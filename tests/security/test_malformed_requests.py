"""Threat: a request shaped to crash a handler (a 500) - each one once found by fuzzing the server.

Every one gets a 4xx that says what is wrong, and nothing is written.
"""

from __future__ import annotations

import sqlite3

import pytest

from tests.browser.served import serving

served = serving(state="locked", attempts=0)


@pytest.mark.parametrize("run", ["99999999999999999999", "9" * 400, "-1", "1e3", "%C2%B2"])
def test_a_run_id_out_of_range_is_no_run(served, run):
    c = served.client(served.viewer)
    for path in (f"/api/runs/{run}", f"/api/runs/{run}/log.jsonl", f"/runs/{run}"):
        r = c.get(path)
        assert r.status_code == 404, (path, r.text)


@pytest.mark.parametrize("field, value", [("unit", 5), ("unit", {"a": 1}), ("profile", ["honda"]), ("profile", 1.5)])
def test_a_run_whose_unit_or_profile_is_not_text_is_a_400(served, field, value):
    body = {"procedure": "read-serial", "profile": "honda", "unit": "H1", field: value}
    r = served.client(served.operator).post("/api/runs", json=body)
    assert r.status_code == 400 and field in r.json()["error"], r.text


@pytest.mark.parametrize("field, value", [("model", {}), ("vin", {"a": 1}), ("model", [1]), ("vin", 7),
                                          ("serial", {"x": 1}), ("profile", 3)])
def test_a_unit_whose_fields_are_not_text_is_a_400_and_not_added(served, field, value):
    body = {"serial": "NEW1", "profile": "honda", field: value}
    r = served.client(served.operator).post("/api/units", json=body)
    assert r.status_code == 400, r.text
    rows = sqlite3.connect(served.ledger).execute("SELECT serial FROM units").fetchall()
    assert rows == [("H1",)]
