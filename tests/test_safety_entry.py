"""Code entry as the unit really answers: the code never shown, and direct-entry surprises.

Two layers keep a code out of everything the rig writes: display lines that
show the entry digits are masked whole, and the code itself is replaced
wherever it appears. Each covers for the other in a full run, so each is
tested alone here, and a run's files and screen are searched for the partial
entry displays (``25--``) that only the first layer catches.

A direct-entry unit (a key per digit value) can miss a press, take one press
twice, or answer with something that is neither its unlocked nor its wrong
display: the rig must correct the first, stop without confirming on the
second, and count the third as a used attempt.
"""

from __future__ import annotations

import re

import pytest

from rig.unit.profiles import load_profiles
from rig.records.secret import Code, Redactor
from rig.unit.templates import render

from .safety_support import SimBench, write_profile

CODES = {"ford": "2580", "honda": "12345", "vw-safe": "5173", "becker-mercedes": "1234"}


def _partial_displays(profile_id, code):
    """What the display shows after each digit but the last, as the unit renders its entry template."""
    p = load_profiles()[profile_id]
    start = p.digits.start if p.digits.scheme == "increment" else "-" * p.digits.count
    shown = []
    for k in range(1, len(code)):
        digits = code[:k] + start[k:]
        shown += [render(t, digits=digits, stars=len(code) - k) for t in p.templates("entry")]
    return [s for s in shown if re.search(r"[0-9]", s)]


@pytest.mark.parametrize("profile_id", sorted(CODES))
def test_the_entry_display_layer_alone_masks_every_partial_entry(profile_id):
    code = CODES[profile_id]
    redact = Redactor(None, load_profiles()[profile_id].pattern("entry"))  # no code given: this layer only
    partial = _partial_displays(profile_id, code)
    assert partial
    for shown in partial:
        masked = redact.text(shown)
        assert not re.search(r"[0-9]", masked), f"{shown!r} was written as {masked!r}"


def test_the_code_layer_alone_replaces_the_code_anywhere():
    redact = Redactor(Code("2580"), None)  # no entry pattern: this layer only
    assert redact.text("sent 2580, unit shows FM1 87.5") == "sent ####, unit shows FM1 87.5"
    assert redact.record({"what": "x", "to": "CODE 2580", "t": 2580}) == {"what": "x", "to": "CODE ####", "t": 2580}
    assert redact.text("12580963") == "1####963"


@pytest.mark.parametrize("profile_id", ["ford", "honda"])
def test_no_partial_entry_reaches_a_file_or_the_screen(tmp_path, profile_id):
    code = CODES[profile_id]
    b = SimBench(tmp_path / "bench", profile_id, code)
    r = b.run("enter-code", code, junit=str(tmp_path / "bench" / "junit.xml"))
    assert r.outcome == "passed", r.message
    partial = _partial_displays(profile_id, code)
    written = {p: p.read_text(errors="replace") for p in (tmp_path / "bench").rglob("*")
               if p.is_file() and p.suffix in (".jsonl", ".svg", ".xml")}
    assert {p.suffix for p in written} == {".jsonl", ".svg", ".xml"}
    for where, text in [("screen", b.screen.text()), *written.items()]:
        for shown in partial:
            assert shown not in text, f"{shown!r} (a partial entry) is readable in {where}"
        assert code not in text


# -- direct entry ---------------------------------------------------------------------
def test_direct_entry_presses_again_when_the_unit_missed_a_press(tmp_path):
    b = SimBench(tmp_path, "honda", "12345")
    b.edit_unit(drop_presses=[2])  # the unit does not register the second digit press
    r = b.run("enter-code", "12345")
    assert r.outcome == "passed", r.message
    assert b.unit.locked is False
    assert b.tape.downs() == ["preset1", "preset2", "preset2", "preset3", "preset4", "preset5"]
    assert b.attempts() == ["accepted"]


def test_direct_entry_stops_without_confirming_when_the_unit_took_a_press_twice(tmp_path):
    b = SimBench(tmp_path, "honda", "12345")
    doubled = []

    def bounce(edge):  # the unit registers the first digit twice (a contact that bounced inside it)
        if edge.kind == "key" and edge.name == "preset1" and not edge.on and not doubled:
            doubled.append(edge)
            b.backend.unit.key_changed("preset1", True)
            b.backend.unit.key_changed("preset1", False)

    r = b.run("enter-code", "12345", on_edge=bounce)
    assert doubled
    assert r.outcome == "failed" and "more digits than were pressed" in r.message, r.message
    assert b.tape.downs() == ["preset1"]  # nothing pressed after the display showed two digits
    assert b.attempts() == []
    assert b.unit.wrong_total == 0  # the unit never checked a code


def test_a_verdict_that_is_neither_unlocked_nor_wrong_counts_the_attempt_as_used(tmp_path):
    # This unit answers a wrong code with "E-01", which its profile does not know.
    other = write_profile(tmp_path / "firmware", "honda.md", None, wrong='"E-01"')
    unit_profiles = {**load_profiles(), **load_profiles([other])}
    b = SimBench(tmp_path, "honda", "12345")
    r = b.run("enter-code", "54321", sim_profiles=unit_profiles)
    assert r.outcome == "failed", r.message
    assert "could not be read" in r.message and "E-01" in r.message and "counted as used" in r.message
    assert b.attempts() == ["unknown"]
    st = b.standing()
    assert (st.used, st.left) == (1, 2)
