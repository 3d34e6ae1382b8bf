"""A control character in a step name, a display line, a message or a serial leaves every record
well formed: the JUnit XML and the timeline SVG parse, and the HTML report holds none of them.

XML 1.0 forbids most of C0 outright (not even ``&#7;`` may stand for one): one BEL from a
serial tap, or a ``"\\x07"`` in a procedure, made the JUnit file and the SVG unreadable.
Each is shown as its control picture (BEL -> ␇) instead.
"""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

import pytest

from rig.records.report import write_junit
from rig.records.timeline import render_svg
from rig.serve.report import render_run

C0 = [chr(c) for c in range(0x20)] + ["\x7f", "\x85", "\ud800", "\uffff"]
HTML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _events(c: str) -> list[dict]:
    return [
        {"t": 0.0, "kind": "run", "what": f"proc{c}", "to": "started"},
        {"t": 0.0, "kind": "step", "what": f"press mode{c}scan", "to": "started", "where": f"p{c}.yaml:3"},
        {"t": 0.5, "kind": "display", "what": "tap", "from": None, "to": f"SAFE{c}1"},
        {"t": 1.0, "kind": "operator", "what": f"alice{c}", "new": "started"},
        {"t": 1.5, "kind": "step", "what": f"press mode{c}scan", "to": "failed", "where": f"p{c}.yaml:3",
         "message": f"it shows 'SAFE{c}1'"},
        {"t": 2.0, "kind": "result", "what": "failed", "message": f"wrong{c}code"},
    ]


@pytest.mark.parametrize("c", C0, ids=lambda c: f"U+{ord(c):04X}")
def test_junit_xml_is_well_formed_with_any_control_character(tmp_path, c):
    path = tmp_path / "junit.xml"
    write_junit(_events(c), path, f"proc{c}", {"unit": f"VW{c}1", "outcome": "failed"})
    root = ET.parse(path).getroot()  # raised "not well-formed (invalid token)"
    case = root.find("testcase")
    assert case.get("name").startswith("press mode") and case.get("name").endswith("scan")
    if c not in "\t\n\r":
        assert c not in case.get("name") and len(case.get("name")) == len("press mode_scan")


@pytest.mark.parametrize("c", C0, ids=lambda c: f"U+{ord(c):04X}")
def test_the_timeline_svg_is_well_formed_with_any_control_character(c):
    svg = render_svg(_events(c), f"proc{c}  VW{c}1")
    ET.fromstring(svg)


@pytest.mark.parametrize("c", C0, ids=lambda c: f"U+{ord(c):04X}")
def test_the_html_report_holds_no_character_html_forbids(c):
    run = {"id": 1, "procedure": f"proc{c}", "serial": f"VW{c}1", "profile": "vw-safe", "backend": "sim",
           "started": 0, "ended": 2, "outcome": "failed", "message": f"wrong{c}code"}
    page = render_run(run, _events(c), render_svg(_events(c), "x"))
    assert not HTML_FORBIDDEN.search(page), repr(HTML_FORBIDDEN.search(page).group())


def test_a_bell_is_shown_as_its_control_picture():
    svg = render_svg(_events("\x07"), "x")
    assert "SAFE␇1" in svg


def test_the_wiring_diagram_is_well_formed_with_a_control_character_in_the_pin_maps_name(tmp_path):
    from rig.bench.diagram import render_svg as diagram
    from rig.bench.wiring import load_wiring

    text = open(load_wiring().source, encoding="utf-8").read()
    path = tmp_path / "bench.yaml"
    path.write_text(re.sub(r"(?m)^name: .*$", r'name: "bench\\x07\\x01 one"', text), encoding="utf-8")
    ET.fromstring(diagram(load_wiring(path)))


@pytest.mark.parametrize("c", ["\\x07", "\\x00", "\\e"])
def test_a_run_whose_step_name_holds_a_control_character_leaves_well_formed_records(run_rig, tmp_path, c):
    assert run_rig("sim", "reset", "--profile", "vw-safe", "--code", "5173", "--ideal").returncode == 0
    proc = tmp_path / "p.yaml"
    proc.write_text(f'name: p\nsteps:\n  - name: "press{c}mode"\n    press: mode\n', encoding="utf-8")
    r = run_rig("--backend", "sim", "run", str(proc), "--junit", str(tmp_path / "j.xml"))
    assert r.returncode == 0, r.stderr
    ET.parse(tmp_path / "j.xml")
    (svg,) = (tmp_path / "data" / "rig" / "runs").glob("*.svg")
    ET.parse(svg)
