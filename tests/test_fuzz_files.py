"""Bad input by class, each seen in the fault campaign: a clear error with file:line, exit 2, nothing moved."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def rig(rig_main, tmp_path):
    """rig with --events, so a test can see that no pin moved."""
    return lambda *args: rig_main("--events", str(tmp_path / "events.jsonl"), *args)


def _nothing_moved(tmp_path):
    assert not (tmp_path / "events.jsonl").exists()
    assert not (tmp_path / "runs").exists()


# -- non-UTF-8 files ----------------------------------------------------------------------
def test_a_latin1_procedure_names_file_and_line(rig, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_bytes(b"name: x\nsteps:\n  - wait: 1s\n  - prompt: Gr\xfc\xdf dich\n")
    code, _, err = rig("run", str(path))
    assert code == 2 and f"{path}:4: error: not UTF-8 text" in err
    _nothing_moved(tmp_path)


def test_a_latin1_pin_map_names_file_and_line(rig, tmp_path):
    path = tmp_path / "bench.yaml"
    path.write_bytes((REPO / "wiring" / "bench.yaml").read_bytes() + b"# K\xf6ln\n")
    code, _, err = rig("--wiring", str(path), "press", "mode")
    assert code == 2 and f"{path}:" in err and "not UTF-8 text" in err
    _nothing_moved(tmp_path)


def test_a_latin1_firmware_note_in_rig_profiles_names_file_and_line(rig, tmp_path, monkeypatch):
    notes = tmp_path / "notes"
    notes.mkdir()
    text = (REPO / "firmware_notes" / "ford.md").read_bytes().replace(b"id: ford", b"id: ford-x")
    (notes / "ford-x.md").write_bytes(text + b"\nM\xfcnchen\n")
    monkeypatch.setenv("RIG_PROFILES", str(notes))
    code, _, err = rig("profiles", "list")
    assert code == 2 and "ford-x.md:" in err and "not UTF-8 text" in err


def test_a_binary_code_file_is_refused_without_echoing_it(rig, tmp_path):
    code_file = tmp_path / "code"
    code_file.write_bytes(b"\xff\xfe5173")
    code, out, err = rig("run", "enter-code", "--profile", "vw-safe", "--unit", "U1", "--new-unit", "--code-file", str(code_file))
    assert code == 2 and "--code-file" in err and "not UTF-8 text" in err
    assert "5173" not in out + err
    _nothing_moved(tmp_path)


def test_a_code_file_that_never_ends_is_not_read_whole(rig, tmp_path):
    code, _, err = rig("run", "enter-code", "--profile", "vw-safe", "--unit", "U1", "--new-unit",
                       "--code-file", "/dev/zero")  # read whole, it filled the memory
    assert code == 2 and "--code-file /dev/zero: over 1 KiB" in err
    _nothing_moved(tmp_path)


@pytest.mark.parametrize("content", [b"[" * 100_000, b"{}" + b" " * (1024 * 1024)])
def test_a_simulated_units_memory_nested_too_deep_or_too_big_is_named(rig, tmp_path, monkeypatch, content):
    state = tmp_path / "sim.json"
    state.write_bytes(content)
    monkeypatch.setenv("RIG_SIM_STATE", str(state))
    code, _, err = rig("--backend", "sim", "status")  # was a RecursionError traceback
    assert code == 2 and f"{state}: error: not a simulated unit's memory" in err


# -- control characters, deep nesting -------------------------------------------------------
def test_a_control_character_names_its_line(rig, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nsteps:\n  - wait: 1s\n  - press: mo\x07de\n", encoding="utf-8")
    code, _, err = rig("run", str(path))
    assert code == 2 and f"{path}:4: error:" in err and "control character U+0007" in err


@pytest.mark.parametrize("body", ["  - wait: " + "[" * 1000 + "]" * 1000 + "\n",
                                  "  - wait:\n" + "".join("    " + "  " * i + "-\n" for i in range(400))])
def test_yaml_nested_a_thousand_deep_is_an_error_not_a_recursion_error(rig, tmp_path, body):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nsteps:\n" + body, encoding="utf-8")
    code, _, err = rig("run", str(path))
    assert code == 2 and f"{path}:" in err and "nested more than 40 levels deep" in err


# -- wrong types that used to pass the checker and fail after pins moved --------------------
@pytest.mark.parametrize("step, said", [
    ("- if: {sense: unit_on}\n    wait: 1s", "if: sense: a mapping of sense to true or false"),
    ("- press: {keys: mode, times: abc}", "press: times: 'abc' is not a whole number"),
    ("- prompt: {kind: text, record: x}", "prompt: ask: missing"),
    ("- expect: {display: [SAFE, [x]], within: 5s}", "expect: display: ['x'] is not a display name"),
    ("- expect: {sense: [unit_on], within: 5s}", "expect: sense: a mapping of sense to true or false"),
    ("- call: {procedure: [enter-code]}", "call: procedure: ['enter-code'] is not text"),
    ("- end: {outcome: maybe}", "end: outcome: 'maybe' is not passed or failed"),
    ("- wait_until: {max: 1h, until: {dispaly: ready}}", "unknown condition 'dispaly' (did you mean display?"),
    # absurd durations and counts
    ("- wait: inf", "wait: for: 'inf' is not a duration"),
    ("- wait: 1000000h", "wait: for: '1000000h' is too long: at most 48h"),
    ("- expect: {display: locked, within: inf}", "expect: within: 'inf' is not a duration"),
    ("- press: {keys: mode, times: 100000000}", "press: times: 100000000 is out of range (1 to 100)"),
    ("- wait: 99999999999999999999", "is too long: at most 48h"),
    # a value its tag cannot make (issue 25: tracebacks)
    ("- wait: !!float x", "not valid YAML: !!float 'x' is not a value of that type"),
    ("- wait: !!int 1s", "not valid YAML: !!int '1s' is not a value of that type"),
    ("- press: {keys: mode, hold: !!bool maybe}", "not valid YAML: !!bool 'maybe' is not a value of that type"),
    ("- wait: !!timestamp 2024-02-30", "not valid YAML: !!timestamp: the rig reads text, numbers"),
    # a reference that names no value (issue 25: AttributeError in procedure.py)
    ("- wait: 1s\n    if: ${profile}", "if: ${profile}: a reference names one value"),
    ("- wait: 1s\n    if: ${params.margin}", "if: one of display, sense"),
    ("- wait: ${profile.lockout.wait.__class__}", "a reference names one value"),
    ("- wait: ${profile.pattern}", "wait: ${profile.pattern}: 'pattern' is not a value"),
])
def test_a_value_of_the_wrong_type_or_size_is_caught_by_the_check(rig, tmp_path, step, said):
    path = tmp_path / "p.yaml"
    path.write_text(f"name: x\nparams: {{margin: 1s}}\nsteps:\n  - power: {{acc: on}}\n  {step}\n", encoding="utf-8")
    code, _, err = rig("run", str(path), "--profile", "vw-safe")
    assert code == 2, err
    assert f"{path}:5: error: " in err and said in err
    _nothing_moved(tmp_path)


def test_an_absurd_baud_rate_is_a_pin_map_error(rig, tmp_path):
    text = (REPO / "wiring" / "bench.yaml").read_text(encoding="utf-8")
    path = tmp_path / "bench.yaml"
    path.write_text(text.replace("baud: 115200", "baud: 99999999999999999999"), encoding="utf-8")
    assert "99999999999999999999" in path.read_text()
    code, _, err = rig("--wiring", str(path), "press", "mode")
    assert code == 2 and "display.baud:" in err and "is not a baud rate" in err


def test_an_absurd_run_id_is_a_usage_error(rig):
    code, _, err = rig("runs", "show", "99999999999999999999")
    assert code == 2 and "RUN_ID" in err


def test_an_absurd_profile_count_is_refused(rig, tmp_path, monkeypatch):
    notes = tmp_path / "notes"
    notes.mkdir()
    text = (REPO / "firmware_notes" / "ford.md").read_text(encoding="utf-8").replace("id: ford", "id: ford-x")
    (notes / "ford-x.md").write_text(text.replace("count: {value: 4,", "count: {value: 1000000000,", 1), encoding="utf-8")
    monkeypatch.setenv("RIG_PROFILES", str(notes))
    code, _, err = rig("profiles", "list")
    assert code == 2 and "ford-x.md:" in err and "digits.count: 1000000000 is not in range (at most 12)" in err


# -- the ledger ---------------------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"this is not a database, it is a note\n" * 100, b"SQLite format 3\x00" + b"\x01" * 200])
def test_a_corrupt_ledger_is_named_and_left_as_it_is(rig, tmp_path, content):
    ledger = tmp_path / "ledger.sqlite"
    ledger.write_bytes(content)
    for args in (["units", "list"], ["runs", "list"], ["run", "reproduce-safe", "--profile", "vw-safe"]):
        code, _, err = rig("--ledger", str(ledger), *args)
        assert code == 2, (args, err)
        assert f"{ledger}: error:" in err and "move it aside" in err
        assert ledger.read_bytes() == content  # nothing written over it
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ledger")) == ["ledger.sqlite"]


def test_a_ledger_path_that_is_a_directory_is_named(rig, tmp_path):
    (tmp_path / "dir.sqlite").mkdir()
    code, _, err = rig("--ledger", str(tmp_path / "dir.sqlite"), "units", "list")
    assert code == 2 and "dir.sqlite" in err and "is a directory" in err


def test_calling_a_directory_or_a_missing_file_names_the_call_step(rig, tmp_path):
    """Found by the property test: ``call: .`` gave a problem with no line."""
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nsteps:\n  - call: .\n  - call: nosuch.yaml\n", encoding="utf-8")
    code, _, err = rig("run", str(path))
    assert code == 2
    assert f"{path}:3: error: call: .: a directory, not a procedure file" in err
    assert f"{path}:4: error: call: nosuch.yaml: no such procedure file" in err
