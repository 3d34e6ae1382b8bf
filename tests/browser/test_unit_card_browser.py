"""The page guards a unit as the CLI does, in headless Chromium: a typo never creates a record.

A serial with two digits swapped is offered the known serial it looks like; "it is a new unit"
must be said, and the profile chosen (the list starts on no profile), before anything is
registered. SCREENSHOTS_DIR=DIR keeps the screenshots.
"""

from __future__ import annotations

from rig.records.ledger import Ledger
from rig.unit.profiles import load_profiles
from tests.browser.served import serving
from tests.browser.test_serve_browser import browser, page, shot, sync_api  # noqa: F401 (fixtures)

KNOWN, TYPO = "VW4172638", "VW4172368"

served = serving(profile="vw-safe", code="1234", state="locked", register=False)


def _units(served) -> dict:
    led = Ledger(str(served.ledger))
    try:
        return {u["serial"]: u["profile"] for u in led.units()}
    finally:
        led.close()


def _known_unit_and_live_page(served, page):
    """KNOWN on record as vw-safe with one attempt used; the page logged in and live."""
    led = Ledger(str(served.ledger))
    led.register(KNOWN, load_profiles()["vw-safe"], who="test", why="on record", attempts_used=1)
    led.close()
    page.goto(served.server.login_link("alice"))
    sync_api.expect(page.locator("#conn")).to_have_text("live")


def test_a_typo_on_the_unit_card_never_creates_a_record(served, page, tmp_path):
    expect = sync_api.expect
    _known_unit_and_live_page(served, page)

    page.fill("#unit-serial", TYPO)
    page.click("#unit-set")
    expect(page.locator("#unit-new")).to_be_visible()
    expect(page.locator("#unit-unknown")).to_contain_text(f'never seen a unit "{TYPO}"')
    expect(page.locator("#unit-near button")).to_have_text([KNOWN])
    assert page.input_value("#unit-profile") == ""  # no profile taken silently from the list
    assert page.is_disabled("#unit-profile") and page.is_disabled("#unit-register") and page.is_disabled("#unit-set")
    shot(page, tmp_path, "unit-typo")
    page.check("#unit-is-new")
    assert page.is_disabled("#unit-register")  # "new" said, the profile not yet chosen
    assert _units(served) == {KNOWN: "vw-safe"} and served.station.state()["unit"] is None

    page.click(f"#unit-near button:has-text('{KNOWN}')")  # the near match: the unit on record
    expect(page.locator("#unit")).to_contain_text("1 used")
    expect(page.locator("#unit-new")).to_be_hidden()
    assert _units(served) == {KNOWN: "vw-safe"}
    shot(page, tmp_path, "unit-near-match")

    # a new unit on purpose: said, and its profile chosen
    page.fill("#unit-serial", "FD9001")
    page.click("#unit-set")
    expect(page.locator("#unit-new")).to_be_visible()
    expect(page.locator("#unit-near button")).to_have_count(0)
    page.check("#unit-is-new")
    page.select_option("#unit-profile", "ford")
    shot(page, tmp_path, "unit-new")
    page.click("#unit-register")
    expect(page.locator("#unit")).to_contain_text("FD9001")
    expect(page.locator("#unit")).to_contain_text("ford")
    assert _units(served) == {KNOWN: "vw-safe", "FD9001": "ford"}


def test_the_units_page_asks_for_a_profile_too(served, page, tmp_path):
    expect = sync_api.expect
    page.goto(served.server.login_link("alice"))
    expect(page.locator("#conn")).to_have_text("live")
    page.click("#nav-units")
    expect(page.locator("#add-profile option").first).to_have_text("choose its profile")
    page.fill("#add-serial", "OP5")
    page.click("#add-unit button")  # the browser's own check: a required choice left empty
    assert page.evaluate("document.getElementById('add-profile').validity.valueMissing")
    assert _units(served) == {}


def test_a_profile_other_than_the_units_record_is_refused_on_the_page(served, page, tmp_path):
    """Issue 19: every way the page can name a profile for a unit on record is refused when it differs
    from the record (the CLI's exit 3), and nothing changes: not the record, not the bench's unit."""
    expect = sync_api.expect
    _known_unit_and_live_page(served, page)
    # (eight VW/Audi profiles shared one family title: the list said the same thing eight times)
    expect(page.locator("#unit-profile option")).to_have_count(len(load_profiles()) + 1)
    texts = [t.split(" - ", 1)[1] for t in page.locator("#unit-profile option").all_inner_texts() if " - " in t]
    assert len(texts) == len(load_profiles()) and len(set(texts)) == len(texts), texts
    assert "Chorus made by Grundig" in texts

    # the page's own API call naming another profile for the known serial (what a stale tab would send)
    said = page.evaluate("s => api('/api/bench/unit', {serial: s, profile: 'ford'}).then(() => 'taken', e => e.message)",
                         KNOWN)
    assert "recorded as vw-safe" in said and "ford" in said
    assert _units(served) == {KNOWN: "vw-safe"} and served.station.state()["unit"] is None

    # "it is a new unit", ford chosen; meanwhile another technician put the same serial on record as vw-safe
    page.fill("#unit-serial", "FD9001")
    page.click("#unit-set")
    expect(page.locator("#unit-new")).to_be_visible()
    page.check("#unit-is-new")
    page.select_option("#unit-profile", "ford")
    led = Ledger(str(served.ledger))
    led.register("FD9001", load_profiles()["vw-safe"], who="bob", why="the other bench")
    led.close()
    page.click("#unit-register")
    expect(page.locator("#unit-error")).to_contain_text("already has FD9001 (vw-safe)")
    shot(page, tmp_path, "unit-other-profile")
    assert _units(served) == {KNOWN: "vw-safe", "FD9001": "vw-safe"} and served.station.state()["unit"] is None

    # the units page: the known serial added again under another profile
    page.click("#nav-units")
    page.fill("#add-serial", KNOWN)
    page.select_option("#add-profile", "ford")
    page.click("#add-unit button")
    expect(page.locator("#add-error")).to_contain_text(f"{KNOWN} is in the ledger already")
    assert _units(served) == {KNOWN: "vw-safe", "FD9001": "vw-safe"}

