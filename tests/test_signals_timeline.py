"""The timeline after a run: the masked entry as one block, and a bounded picture however long the run."""

import json
import time

from rig.records import timeline
from rig.records.timeline import MAX_WIDTH, render_svg


def _busy(n):
    out, t = [], 0.0
    for i in range(n // 3):
        out += [{"t": t, "kind": "key", "what": "mode", "from": "up", "to": "down"},
                {"t": t + 0.1, "kind": "key", "what": "mode", "from": "down", "to": "up"},
                {"t": t + 0.15, "kind": "display", "to": f"{i % 10000:04d}"}]
        t += 0.3
    return out


def test_a_very_busy_run_draws_a_bounded_picture():
    svg = render_svg(_busy(60_000), "soak")
    width = float(svg.split('width="', 1)[1].split('"', 1)[0])
    assert width <= MAX_WIDTH
    assert svg.count("<rect") < 3 * MAX_WIDTH  # marks closer than a pixel are merged, not drawn one by one
    assert svg.count("\n") < 4 * MAX_WIDTH


def test_the_code_entry_is_one_labelled_block():
    events = [{"t": 0, "kind": "rail", "what": "acc", "from": "off", "to": "on"},
              {"t": 1.0, "kind": "masked", "what": "code entry", "duration": 6.5, "corrected": True},
              {"t": 7.5, "kind": "display", "to": "####"}]
    svg = render_svg(events, "entry")
    assert "code entry (masked) 6.5s, corrected" in svg and 'fill="url(#hatch)"' in svg
    assert ">masked<" in svg and "preset" not in svg


def test_a_huge_log_is_drawn_after_the_run_has_gone(tmp_path, monkeypatch):
    log = tmp_path / "run.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in _busy(3000)))
    svg = tmp_path / "run.svg"
    monkeypatch.setattr(timeline, "BACKGROUND_BYTES", 1000)
    assert timeline.draw_later(log, svg, "soak") is True  # returns at once
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (svg.exists() and svg.read_text().endswith("</svg>")):
        time.sleep(0.05)
    assert svg.read_text().startswith("<svg")
    monkeypatch.setattr(timeline, "BACKGROUND_BYTES", 10**9)
    assert timeline.draw_later(log, svg, "soak") is False  # small enough: the caller draws it now
