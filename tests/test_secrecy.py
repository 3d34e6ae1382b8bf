"""Nothing a run writes tells which code was entered.

For each entry scheme (increment: vw-safe, ford; direct: honda, becker-mercedes)
the same unit takes two different right codes. Everything the runs wrote - the
event log, its --events copy, the timeline, the JUnit XML, the ledger and the
terminal lines - is read back the way someone after the code would: the code in
clear, the digit keys' presses, the displays. With times set aside the two runs'
records are the same, so no count of anything in them can tell the codes apart.
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from rig.unit.profiles import load_profiles
from rig.records.report import read_events
from rig.records.secret import Redactor
from rig.unit.templates import render

from .test_run import Bench

SCHEMES = ["vw-safe", "ford", "honda", "becker-mercedes"]


def _codes(profile):
    d = sorted(profile.digits.allowed)
    n = profile.digits.count
    a = "".join(d[(i + 1) % len(d)] for i in range(n))
    b = "".join(d[(len(d) - 1 - i) % len(d)] for i in range(n))
    assert a != b
    return a, b


def _run(tmp_path, profile_id, code):
    b = Bench(tmp_path, profile_id, code)
    r = b.run("enter-code", code, junit=str(tmp_path / "junit.xml"), events_path=str(tmp_path / "events.jsonl"))
    assert r.outcome == "passed", r.message
    files = {
        "log": (tmp_path / "runs").glob("*.jsonl").__next__().read_text(),
        "events": (tmp_path / "events.jsonl").read_text(),
        "svg": next((tmp_path / "runs").glob("*.svg")).read_text(),
        "junit": (tmp_path / "junit.xml").read_text(),
        "terminal": "\n".join(b.lines),
        "ledger": "\n".join(str(row) for table in ("runs", "attempts", "units")
                            for row in sqlite3.connect(b.ledger).execute(f"SELECT * FROM {table}")),
    }
    return r, files


def _no_times(text: str) -> str:
    """Numbers that are times or coordinates, and the ids/paths that differ per run, set aside."""
    text = re.sub(r"/[^\s\"'<>]*", "PATH", text)
    return re.sub(r"(?<![A-Za-z_])\d+(\.\d+)?", "N", text)  # not in names: preset3 stays preset3


@pytest.mark.parametrize("profile_id", SCHEMES)
def test_the_records_of_two_codes_cannot_be_told_apart(tmp_path, profile_id):
    p = load_profiles()[profile_id]
    a, b = _codes(p)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ra, fa = _run(tmp_path / "a", profile_id, a)
    rb, fb = _run(tmp_path / "b", profile_id, b)
    for name in fa:
        for code in (a, b):  # the code as itself, not four digits that happen to sit inside a timestamp or path
            clear = re.compile(rf"(?<![\d.]){code}(?![\d.])")
            for text in (fa[name], fb[name]):
                assert not clear.search(re.sub(r"/[^\s\"'<>]*", "PATH", text)), (name, "the code in clear")
        assert _no_times(fa[name]) == _no_times(fb[name]), name


@pytest.mark.parametrize("profile_id", SCHEMES)
def test_the_entry_is_one_masked_span(tmp_path, profile_id):
    p = load_profiles()[profile_id]
    code = _codes(p)[0]
    r, files = _run(tmp_path, profile_id, code)
    events = read_events(r.log)
    spans = [e for e in events if e["kind"] == "masked"]
    assert spans and spans[0]["what"] == "code entry" and spans[0]["duration"] > 0
    assert spans[0]["corrected"] is False and spans[0]["ended"] == "completed"
    digit_keys = set(p.digits.keys if p.digits.scheme == "increment" else p.digits.keys.values())
    # no press of a digit key is told anywhere in the log (the entry-open combo and a confirm key may be)
    open_keys = set(p.entry.keys) | set(p.confirm.keys)
    counted = [e for e in events if e["kind"] == "key" and e["what"] in digit_keys - open_keys]
    assert counted == []
    # the display during entry is not told line by line: at most the entry's last (masked) display
    start = events.index(spans[0])
    shown_in_entry = [e for e in events[start:] if e["kind"] == "display" and re.search(r"[0-9]", e.get("to") or "")
                      and e["t"] <= spans[0]["t"] + spans[0]["duration"]]
    assert all(not re.search(r"[0-9]", e["to"].replace("CODE", "")) for e in shown_in_entry), shown_in_entry


@pytest.mark.parametrize("profile_id", SCHEMES)
def test_a_partial_entry_display_never_shows_a_digit(profile_id):
    p = load_profiles()[profile_id]
    code = _codes(p)[0]
    redact = Redactor(None, p.pattern("entry"))
    for template in p.templates("entry"):
        for typed in range(1, len(code) + 1):
            partial = code[:typed] + "-" * (len(code) - typed)
            try:
                text = render(template, digits=partial, stars=len(code) - typed, n=1)
            except TypeError:
                text = render(template, digits=partial)
            masked = redact.text(text)
            assert not any(c in masked for c in code[:typed] if c.isdigit() and c not in template), (text, masked)
