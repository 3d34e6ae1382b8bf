"""The unit card of the bench page, over HTTP: a unit is put on the bench as `rig run` checks it.

A serial with two digits swapped is refused with the known serials it looks like, never
started as a fresh record with a full set of attempts; a new unit is registered only when the
request says so, with a profile chosen on purpose; a profile other than the unit's record is
refused (exit 3's 409). The page itself is driven in Chromium in
tests/browser/test_unit_card_browser.py.
"""

from __future__ import annotations

from rig.records.ledger import Ledger
from rig.unit.profiles import load_profiles
from tests.browser.served import serving

KNOWN, TYPO = "VW4172638", "VW4172368"  # two digits swapped

served = serving(profile="vw-safe", code="1234", state="locked", register=False)


def _ledger(served):
    led = Ledger(str(served.ledger))
    try:
        return {u["serial"]: u["profile"] for u in led.units()}, {u["serial"]: led.changes(u["serial"])
                                                                 for u in led.units()}
    finally:
        led.close()


def _known_unit(served, serial=KNOWN, profile="vw-safe", used=1):
    led = Ledger(str(served.ledger))
    try:
        led.register(serial, load_profiles()[profile], who="test", why="on record", attempts_used=used)
    finally:
        led.close()


def test_a_typo_is_offered_the_near_matches_and_creates_no_record(served):
    _known_unit(served)
    c, csrf = served.page()
    h = {"x-csrf-token": csrf, "origin": served.url}
    for body in ({"serial": TYPO}, {"serial": TYPO, "profile": "vw-safe"}, {"serial": TYPO, "new_unit": False}):
        r = c.post("/api/bench/unit", headers=h, json=body)
        assert r.status_code == 404, r.text
        assert r.json()["unknown"] is True and r.json()["near"] == [KNOWN]
        assert f"Did you mean {KNOWN}?" in r.json()["error"]
    assert _ledger(served)[0] == {KNOWN: "vw-safe"}  # no record made
    assert served.station.state()["unit"] is None  # and nothing put on the bench
    # a job naming the typo is refused as rig run refuses it (the page never sends new_unit)
    r = c.post("/api/runs", headers=h, json={"procedure": "read-serial", "unit": TYPO, "yes": True})
    assert r.status_code == 400 and "never seen" in r.json()["error"], r.text
    assert _ledger(served)[0] == {KNOWN: "vw-safe"}


def test_a_known_unit_keeps_its_profile_and_another_one_is_refused(served):
    _known_unit(served)
    c, csrf = served.page()
    h = {"x-csrf-token": csrf, "origin": served.url}
    r = c.post("/api/bench/unit", headers=h, json={"serial": KNOWN, "profile": "ford"})
    assert r.status_code == 409 and "recorded as vw-safe" in r.json()["error"], r.text
    assert served.station.state()["unit"] is None
    r = c.post("/api/bench/unit", headers=h, json={"serial": KNOWN})  # no profile: the ledger's
    assert r.status_code == 200 and r.json()["profile"] == "vw-safe", r.text
    unit = served.station.state()["unit"]
    assert (unit["serial"], unit["profile"], unit["known"], unit["used"]) == (KNOWN, "vw-safe", True, 1)
    r = c.post("/api/bench/unit", headers=h, json={"serial": KNOWN, "new_unit": True, "profile": "vw-safe"})
    assert r.status_code == 400 and "already has" in r.json()["error"], r.text  # "new" said of a known serial


def test_a_new_unit_is_registered_only_when_said_so_with_a_profile_chosen(served):
    c, csrf = served.page()
    h = {"x-csrf-token": csrf, "origin": served.url}
    r = c.post("/api/bench/unit", headers=h, json={"serial": "BP77", "new_unit": True})
    assert r.status_code == 400 and "choose it on purpose" in r.json()["error"], r.text
    r = c.post("/api/bench/unit", headers=h, json={"serial": "BP77", "new_unit": True, "profile": "fordd"})
    assert r.status_code == 400 and "did you mean ford" in r.json()["error"], r.text
    assert _ledger(served)[0] == {}
    r = c.post("/api/bench/unit", headers=h, json={"serial": "BP77", "new_unit": True, "profile": "ford"})
    assert r.status_code == 200, r.text
    units, changes = _ledger(served)
    assert units == {"BP77": "ford"}
    assert (changes["BP77"][0]["field"], changes["BP77"][0]["who"]) == ("registered", "alice (page)")
    assert served.station.state()["unit"]["known"] is True
