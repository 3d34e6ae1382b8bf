"""The timeline picture of real runs says what a technician needs without the log: what ran on
which unit and how it ended, real times on the axis, every step, the folded wait's length and
the display texts. RIG_TIMELINE_PNG=DIR also writes PNGs there (with rsvg-convert) to look at."""

import os
import re

from rig.records.ledger import Ledger
from rig.unit.profiles import load_profiles
from rig.records.report import read_events
from rig.records.timeline import clock, render_svg

from .simbench import Bench


def _svg(r, tmp_path):
    return (tmp_path / "runs" / (os.path.basename(r.log)[:-6] + ".svg")).read_text()


def _texts(svg):
    return [re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg)]


def _check(r, svg, procedure):
    events = read_events(r.log)
    texts = _texts(svg)
    joined = "\n".join(texts)
    assert f"{procedure} · unit U1 · {r.outcome.upper()}" in texts  # the title: what, which unit, how it ended
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", joined)  # and when
    not_taken = {e["what"] for e in events if e["kind"] == "step" and e["to"] == "skipped" and e["step_kind"] == "end"}
    for step in {e["what"] for e in events if e["kind"] == "step"} - not_taken:
        assert any(t.startswith(step) for t in texts), f"step {step!r} is not labelled"
    for step in not_taken:  # a way out the run did not take ("already unlocked"): grey, it read as an alarm
        assert not any(t.startswith(step) for t in texts), f"{step!r} is drawn"
    assert "0:00" in texts and re.search(r"^0:0[1-9]$", joined, re.M)  # the axis carries real times
    return texts


def test_the_lockout_wait_picture(tmp_path):
    b = Bench(tmp_path, "ford", "2580", state="lockout")
    led = Ledger(b.ledger)
    led.add_unit("U1", "ford")
    p = load_profiles()["ford"]
    led.set_attempts_used("U1", p.attempts.before_lockout, p, "arrived locked out")
    led.close()
    r = b.run("lockout-wait")
    assert r.outcome == "passed", r.message
    texts = _check(r, _svg(r, tmp_path), "lockout-wait")
    end = max(e["t"] for e in read_events(r.log))
    assert clock(end) in texts  # the time after the folded half hour is the real one, not the folded x
    assert any(re.fullmatch(r"3\d:\d\d", t) for t in texts)  # the gap says how long it was
    assert "folded" in texts
    assert any("lockout wait · 3" in t for t in texts)  # the wait step says how long it lasted
    displays = {e["to"] for e in read_events(r.log) if e["kind"] == "display" and e["to"]}
    assert displays and displays <= set(texts)


def test_the_unlock_picture(tmp_path):
    b = Bench(tmp_path, "ford", "2580")
    r = b.run("unlock", "2580")
    assert r.outcome == "passed", r.message
    svg = _svg(r, tmp_path)
    texts = _check(r, svg, "unlock")
    events = read_events(r.log)
    displays = [e["to"] for e in events if e["kind"] == "display" and e["to"]]
    assert displays[-1] in texts  # the radio text after the unlock is written out, not clipped
    assert any(t in texts for t in ("SAFE", "LOCKED", "CODE")) or set(displays) & set(texts)
    assert any(t.startswith("code entry (masked)") for t in texts)
    assert "2580" not in svg  # the code never shows, not even as a display text
