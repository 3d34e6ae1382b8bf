"""What the rig prints for a person and for a script: whole ids, JSON, readable numbers, the history."""

from __future__ import annotations

import json
import time

import pytest

from rig.durations import format_duration
from rig.records.ledger import Ledger


@pytest.fixture
def history(tmp_path):
    """A ledger with two units, three runs (one with an event log) and attempts, written directly."""
    led = Ledger(tmp_path / "ledger.sqlite")
    led.add_unit("VW123", "vw-safe")
    led.add_unit("FORD-M1", "ford")
    log = tmp_path / "run-1.jsonl"
    log.write_text("\n".join(json.dumps(e) for e in [
        {"t": 0.0, "kind": "run", "what": "reproduce-safe", "to": "started"},
        {"t": 0.0, "kind": "rail", "what": "battery", "from": "on", "to": "off"},
        {"t": 65.25, "kind": "display", "what": "tap", "to": "SAFE"},
        {"t": 3725.5, "kind": "result", "what": "passed", "message": "all steps passed"},
    ]) + "\n", encoding="utf-8")
    first = led.start_run("reproduce-safe", "VW123", "vw-safe", "sim", str(log))
    led.end_run(first, "passed", "all steps passed")
    led.db.execute("UPDATE runs SET started=started-7200, ended=started-7200+3725.5 WHERE id=?", (first,))
    second = led.start_run("enter-code", "VW123", "vw-safe", "sim", "")
    led.resolve_attempt(led.begin_attempt("VW123", second), "rejected")
    led.end_run(second, "failed", "wrong code")
    third = led.start_run("enter-code", "FORD-M1", "ford", "sim", "")
    led.resolve_attempt(led.begin_attempt("FORD-M1", third), "accepted")
    led.end_run(third, "passed", "unlocked")
    led.close()
    return tmp_path


def test_profile_ids_are_never_cut_at_80_columns(rig_main):
    from rig.unit.profiles import load_profiles

    code, out, _ = rig_main("profiles", "list")
    assert code == 0
    assert "…" not in out and "..." not in out
    for pid in load_profiles():
        assert any(f" {pid} " in line for line in out.splitlines()), pid


@pytest.mark.parametrize("args, key", [(["profiles", "list", "--json"], "id"), (["units", "list", "--json"], "serial"),
                                       (["runs", "list", "--json"], "procedure"),
                                       (["procedures", "list", "--json"], "name")])
def test_json_for_scripts(rig_main, history, args, key):
    code, out, _ = rig_main(*args)
    assert code == 0
    rows = json.loads(out)
    assert rows and all(key in r for r in rows)


def test_units_list_keeps_the_serial_whole_in_a_narrow_pipe(rig_main, history, monkeypatch):
    led = Ledger(history / "ledger.sqlite")
    led.add_unit("WVWZZZ1JZXW000001-BENCH-A", "vw-safe", model="RCD 300 Gamma 5 Becker", vin="WVWZZZ1JZXW000001")
    led.close()
    monkeypatch.setenv("COLUMNS", "60")
    from rig.cli import render

    monkeypatch.setattr(render.out, "_width", 60)
    code, out, _ = rig_main("units", "list")
    assert code == 0
    assert "WVWZZZ1JZXW000001-BENCH-A" in out and "FORD-M1" in out  # whole, on one line
    assert "…" not in out


def test_units_show_lists_the_units_runs_and_numbers_its_attempts(rig_main, history):
    code, out, _ = rig_main("units", "show", "VW123")
    assert code == 0
    assert "reproduce-safe" in out and "enter-code" in out  # its runs
    assert "#1" in out and "#2" not in out  # attempts counted for this unit, not ledger-wide ids
    assert "FORD-M1" not in out
    code, out, _ = rig_main("units", "show", "FORD-M1")
    assert "#1" in out and "accepted" in out


def test_runs_show_has_the_events_in_readable_times(rig_main, history):
    code, out, _ = rig_main("runs", "show", "1")
    assert code == 0
    assert "rail battery" in out and "on -> off" in out
    assert "1:05.25" in out and "1:02:05.5" in out  # a stopwatch, not 65.25 or 3725.5
    assert "took: 1:02:06" in out
    assert "None" not in out


def test_runs_list_limit_and_since(rig_main, history):
    code, out, _ = rig_main("runs", "list", "--limit", "1", "--json")
    assert [r["id"] for r in json.loads(out)] == [3]
    code, out, _ = rig_main("runs", "list", "--since", "1h", "--json")
    assert [r["id"] for r in json.loads(out)] == [3, 2]  # run 1 started two hours ago
    code, out, _ = rig_main("runs", "list", "--since", "2999-01-01", "--json")
    assert json.loads(out) == []
    code, _, err = rig_main("runs", "list", "--since", "yesterday")
    assert code == 2 and "write a date" in err


def test_timestamps_are_local_time(rig_main, history, monkeypatch):
    led = Ledger(history / "ledger.sqlite")
    started = led.run(3)["started"]
    led.close()
    code, out, _ = rig_main("runs", "list")
    assert time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) in out
    assert str(int(started)) not in out  # no raw epoch


@pytest.mark.parametrize("seconds, text", [(7.9511e-05, "0ms"), (0.3, "0.3s"), (3.51655, "3.52s"), (45.04, "45s"),
                                           (3600, "1:00:00"), (None, "-")])
def test_durations_a_person_reads(seconds, text):
    assert format_duration(seconds) == text


def test_profiles_show_says_what_each_source_number_is(rig_main):
    code, out, _ = rig_main("profiles", "show", "vw-safe")
    assert code == 0
    assert "[5] myvehicle.help VW Eos TSB 91 07 13" in out
    code, out, _ = rig_main("profiles", "show", "vw-safe", "--json")
    assert json.loads(out)["sources"]["5"].startswith("myvehicle.help")
