"""The paper a technician hands on: the code-request sheet, a printable page beside the run's files.

`rig run read-serial` writes run-NNNNN-read-serial.sheet.html next to its log (0640), with
the date, blank shop and customer fields and the unit's serial, model and the car's VIN; the
run's page and `rig report` show its rows as a table (not a JSON blob) and link it; `rig
report --sheet` writes it; the server serves it. A code is never on it.
"""

import html
import re
import stat
from pathlib import Path

from rig.records.ledger import Ledger

SIM = ("--backend", "sim")
VIN = "WVWZZZ1JZXW000001"
READ = ("run", "read-serial", "--unit", "VW123", "--yes", "--answer", "serial=VW123",
        "--answer", "model=RCD 300 Gamma", "--answer", f"vin={VIN}")


def _read_serial(run_rig, *extra):
    run_rig(*SIM, "sim", "reset", "--profile", "vw-safe", "--code", "4711", "--ideal")
    r = run_rig(*SIM, *READ, "--new-unit", "--profile", "vw-safe", *extra)
    assert r.returncode == 0, r.stderr
    return r


def _log(tmp_path, run_id=1) -> Path:
    led = Ledger(tmp_path / "ledger.sqlite")
    try:
        return Path(led.run(run_id)["log"])
    finally:
        led.close()


def _code_and_sheet(run_rig, tmp_path) -> Path:
    """A procedure that enters the code and prints the sheet in one run, and a unit for it."""
    proc = tmp_path / "code-and-sheet.yaml"
    proc.write_text("name: code-and-sheet\nneeds: [profile, unit, code]\nsteps:\n"
                    "  - call: enter-code\n"
                    "  - prompt: {ask: VIN, kind: text, record: vin}\n"
                    "  - sheet: {title: Radio code request}\n")
    run_rig(*SIM, "sim", "reset", "--profile", "vw-safe", "--code", "4711", "--ideal")
    return proc


def test_read_serial_leaves_a_printable_sheet_beside_its_log(run_rig, tmp_path):
    r = _read_serial(run_rig)
    log = _log(tmp_path)
    sheet = log.with_name("run-00001-read-serial.sheet.html")
    assert f"code-request sheet: {sheet}" in r.stderr  # said where it is, with the log and the timeline
    assert stat.S_IMODE(sheet.stat().st_mode) == 0o640  # serials and VINs: the bench user and its group
    page = sheet.read_text()
    assert "<script" not in page and "@media print" in page and "<style>" in page  # opens anywhere, prints
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    for field in ("date", "shop", "technician", "name", "phone", "VIN", VIN, "VW123", "RCD 300 Gamma"):
        assert field in text, field
    import time

    assert time.strftime("%Y-%m-%d") in text
    assert page.count('contenteditable="true"') >= 6  # shop and customer filled in on screen, or by hand


def test_no_code_is_ever_on_the_sheet(run_rig, tmp_path):
    """A procedure that enters the code and prints the sheet in one run: the sheet has the unit, not the code."""
    proc = _code_and_sheet(run_rig, tmp_path)
    r = run_rig(*SIM, "run", str(proc), "--unit", "VW123", "--new-unit", "--profile", "vw-safe", "--yes",
                "--answer", f"vin={VIN}", env={"RIG_CODE": "4711"})
    assert r.returncode == 0, r.stderr
    page = _log(tmp_path).with_suffix(".sheet.html").read_text()
    assert VIN in page and "VW123" in page
    assert "4711" not in page and not re.search(r">\s*code\s*<", page)  # no code, and no field for one


def test_the_report_shows_the_sheet_as_a_table_and_links_it(run_rig, tmp_path):
    _read_serial(run_rig)
    r = run_rig("report", "1", "-o", str(tmp_path / "out" / "run-1.html"))
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "out" / "run-1.html").read_text()
    sheet = _log(tmp_path).with_suffix(".sheet.html")
    assert f'href="{sheet.resolve().as_uri()}"' in page  # the printable page, beside the run's log
    assert f"<th>VIN</th><td>{VIN}</td>" in page
    assert "[[&quot;unit" not in page and '[["unit' not in page  # not a JSON blob in the event table

    assert f"code-request sheet: {sheet}" in run_rig("runs", "show", "1").stdout

    r = run_rig("report", "1", "--sheet", "-o", str(tmp_path / "out" / "sheet.html"))
    assert r.returncode == 0 and "print it" in r.stderr
    assert VIN in (tmp_path / "out" / "sheet.html").read_text()


def test_a_run_without_a_sheet_step_has_no_sheet(run_rig, tmp_path):
    run_rig(*SIM, "sim", "reset", "--profile", "vw-safe", "--code", "4711", "--state", "unlocked", "--ideal")
    r = run_rig(*SIM, "run", "reproduce-safe", "--unit", "VW123", "--new-unit", "--profile", "vw-safe")
    assert r.returncode == 0, r.stderr
    assert "code-request sheet" not in r.stderr
    assert not list(_log(tmp_path).parent.glob("*.sheet.html"))
    r = run_rig("report", "1", "--sheet", "-o", str(tmp_path / "sheet.html"))
    assert r.returncode == 2 and "has no code-request sheet" in r.stderr and "read-serial" in r.stderr
    assert not (tmp_path / "sheet.html").exists()


def test_the_server_serves_the_sheet_and_the_run_page_links_it(tmp_path, monkeypatch):
    from tests.browser.served import Served

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    served = Served(tmp_path, profile="vw-safe", code="4711", state="locked", attempts=0, register=False)
    try:
        c = served.client(served.operator)
        r = c.post("/api/runs", json={"procedure": "read-serial", "unit": "VW123", "profile": "vw-safe",
                                       "new_unit": True, "yes": True,
                                       "answers": {"serial": "VW123", "model": "Gamma", "vin": VIN}})
        assert r.status_code == 202, r.text
        served.wait(lambda s: (s.get("last") or {}).get("outcome") == "passed")
        run_id = served.station.last["run_id"]
        viewer = served.client(served.viewer)
        sheet = viewer.get(f"/api/runs/{run_id}/sheet.html")
        assert sheet.status_code == 200 and VIN in sheet.text and "content-disposition" not in sheet.headers
        assert 'href="/api/sheet.css"' in sheet.text and "<style>" not in sheet.text  # the server's CSP: no inline style
        css = viewer.get("/api/sheet.css")
        assert css.status_code == 200 and "@media print" in css.text
        saved = viewer.get(f"/api/runs/{run_id}/sheet.html?download=1")
        assert saved.headers["content-disposition"] == f'attachment; filename="run-{run_id:05d}.sheet.html"'
        assert "<style>" in saved.text  # a file of its own: its style inline
        page = c.get(f"/runs/{run_id}").text
        assert f'href="/api/runs/{run_id}/sheet.html"' in page
        assert (served.logs / f"run-{run_id:05d}-read-serial.sheet.html").exists()  # beside the run's files there too
        assert viewer.get("/api/runs/999/sheet.html").status_code == 404
    finally:
        served.close()


def test_a_code_typed_into_a_sheets_answer_is_masked_in_its_log_and_on_the_sheet(run_rig, tmp_path):
    """The sheet's rows are lists inside the event: the run's redactor reaches them as it reaches
    every top-level string (a VIN typed with the code's digits in it, by mistake or not)."""
    proc = _code_and_sheet(run_rig, tmp_path)
    r = run_rig(*SIM, "run", str(proc), "--unit", "VW123", "--new-unit", "--profile", "vw-safe", "--yes",
                "--answer", "vin=WVWZZZ4711", env={"RIG_CODE": "4711"})
    assert r.returncode == 0, r.stderr
    log = _log(tmp_path)
    assert "4711" not in log.read_text() and "WVWZZZ####" in log.read_text()
    assert "4711" not in log.with_suffix(".sheet.html").read_text()
