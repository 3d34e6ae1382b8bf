"""What a technician reads: command-line mistakes, exit codes, checks that report everything at once.

In-process through ``rig.cli.main`` (the same code path as the ``rig`` command, without
a child process per case), on the mock backend with a virtual clock.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def rig(rig_main):
    return rig_main


def _plain_cli_error(text: str) -> None:
    assert "<input>" not in text
    assert "fix the file(s) above" not in text


# -- command-line mistakes are command-line errors, with did-you-mean --------------------
@pytest.mark.parametrize("args, said", [
    (["profiles", "show", "vw-safee"], "did you mean vw-safe"),
    (["run", "reproduce-safe", "--profile", "vw-safee"], "did you mean vw-safe"),
    (["run", "reproduce-saf", "--profile", "vw-safe"], "did you mean reproduce-safe?"),
    (["procedures", "show", "unlok"], "did you mean unlock?"),
    (["press", "mdoe"], "did you mean mode?"),
    (["power", "ac", "on", "--for", "1s"], "did you mean acc?"),
])
def test_a_mistyped_name_is_a_command_line_error_with_a_suggestion(rig, args, said):
    code, out, err = rig(*args)
    assert code == 2
    assert err.startswith("rig: error: ") and said in err
    _plain_cli_error(err)


def test_an_unknown_unit_or_run_is_a_command_line_error(rig, tmp_path):
    from rig.records.ledger import Ledger

    led = Ledger(tmp_path / "ledger.sqlite")
    led.add_unit("VW123", "vw-safe")
    led.close()
    code, _, err = rig("units", "show", "VW12")
    assert code == 2 and "did you mean VW123?" in err
    _plain_cli_error(err)
    code, _, err = rig("runs", "show", "999")
    assert code == 2 and err.startswith("rig: error: no run 999")
    _plain_cli_error(err)


# -- one exit-code table ----------------------------------------------------------------
@pytest.mark.parametrize("args", [["press", "mode+foo"], ["press", ""], ["press", "+"], ["power", "nope", "on"]])
def test_command_line_mistakes_exit_2_before_the_bench_opens(rig, args, tmp_path):
    code, out, err = rig("--events", str(tmp_path / "ev.jsonl"), *args)
    assert code == 2, err
    assert not (tmp_path / "ev.jsonl").exists()  # the bench never opened: no pin moved


def test_a_busy_bench_is_refused_for_safety_exit_3(rig, tmp_path, monkeypatch):
    from rig.bench.benchlock import BenchLock

    lock = BenchLock(tmp_path / "bench.lock")
    lock.acquire()
    monkeypatch.setenv("RIG_LOCK", str(tmp_path / "bench.lock"))
    try:
        code, _, err = rig("press", "mode")
    finally:
        lock.release()
    assert code == 3
    assert "rig: refused: the bench is in use" in err


def test_the_exit_code_table_is_the_same_in_help_and_readme(rig):
    from rig.cli.exitcodes import EXIT_CODES

    def lines(text):
        return "\n".join(line.strip() for line in text.splitlines())

    table = lines(EXIT_CODES)
    assert table in lines((REPO / "README.md").read_text(encoding="utf-8"))
    for args in ([], ["press"], ["run"], ["units", "show"], ["procedures", "list"]):
        code, out, _ = rig(*args, "--help")
        assert code == 0
        assert table in lines(out), args


# -- values out of range say the range --------------------------------------------------
@pytest.mark.parametrize("hold, said", [("0", "too short"), ("1h", "too long"), ("nan", "not a duration"),
                                        ("inf", "not a duration")])
def test_a_hold_out_of_range_says_the_range(rig, hold, said):
    code, _, err = rig("press", "mode", "--hold", hold)
    assert code == 2
    assert said in err and "allowed: 20ms to 1min" in err


@pytest.mark.parametrize("value", ["inf", "1000000h", "99999999999999999999"])
def test_power_for_an_absurd_time_is_refused(rig, value):
    code, _, err = rig("power", "acc", "on", "--for", value)
    assert code == 2
    assert "allowed: 1ms to 48h" in err


def test_an_unknown_answer_name_is_refused_with_the_names_there_are(rig):
    code, _, err = rig("run", "read-serial", "--profile", "vw-safe", "--unit", "U1", "--new-unit",
                       "--answer", "modle=X")
    assert code == 2
    assert "--answer modle" in err and "did you mean model?" in err


# -- rich must print user text as text ------------------------------------------------
def test_a_problem_on_line_100_is_not_an_emoji(rig, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nsteps:\n" + "  - wait: 1s\n" * 97 + "  - wait: soon\n", encoding="utf-8")
    code, _, err = rig("run", str(path))
    assert code == 2
    assert f"{path}:100: error: wait: for: 'soon'" in err
    assert "\U0001f4af" not in err


def test_a_name_that_looks_like_markup_is_printed_as_written(rig, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text('name: x\nsteps:\n  - press: "[/bold]"\n  - press: "[red]x"\n', encoding="utf-8")
    code, _, err = rig("run", str(path))
    assert code == 2
    assert "key '[/bold]' is not on this bench" in err
    assert "key '[red]x' is not on this bench" in err


# -- procedure checks report every problem, in the technician's words -----------------
def test_a_procedure_check_reports_every_problem_at_once(rig, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: x\n"
        "steps:\n"
        "  - expect: {display: lockedd, within: 5s}\n"       # 3: a typo of a display name
        "  - press: mode\n"
        "    colour: red\n"                                  # 5: an unknown field, not a step kind
        "  - press: {keys: mode, times: abc}\n"              # 6
        "  - if: {sense: unit_on}\n"                         # 7: a sense needs the level wanted
        "    wait: 1s\n"
        "  - prompt: {kind: yesno}\n"                        # 9: a prompt without a question
        "  - expect: {display: [SAFE, [x]], within: inf}\n",  # 10
        encoding="utf-8")
    code, _, err = rig("run", str(path))
    assert code == 2
    lines = [line for line in err.splitlines() if ": error: " in line]
    said = "\n".join(lines)
    assert "p.yaml:3: error: expect: display: no display 'lockedd' (did you mean locked" in said
    assert "p.yaml:5: error: press: unknown field 'colour'" in said and "unknown step kind" not in said
    assert "p.yaml:6: error: press: times: 'abc' is not a whole number (1 to 100)" in said
    assert re.search(r"p\.yaml:7: error: if: sense: a mapping of sense to true or false", said)
    assert "p.yaml:9: error: prompt: ask: missing" in said
    assert "p.yaml:10: error: expect: within: 'inf' is not a duration" in said
    assert "p.yaml:10: error: expect: display: ['x'] is not a display name" in said
    assert "nothing was switched" in err


def test_entering_a_code_needs_the_unit_in_needs(rig, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nneeds: [profile, code]\nsteps:\n  - enter_code: {}\n", encoding="utf-8")
    code, _, err = rig("run", str(path), "--profile", "vw-safe")
    assert code == 2
    assert "p.yaml:4: error: enter_code: entering a code needs unit in the procedure's needs:" in err


def test_a_set_value_of_the_wrong_kind_speaks_of_the_parameter_not_a_python_list(rig):
    code, _, err = rig("run", "reproduce-safe", "--profile", "vw-safe", "--set", "margin=abc")
    assert code == 2
    assert "rig: error: --set margin=abc: 'abc' is not a duration" in err
    assert "[60.0" not in err and "'abc']" not in err
    # the option typed is the mistake: not the packaged file that uses the value, nor "fix the file(s)"
    assert "reproduce-safe.yaml" not in err and "fix the file" not in err


def test_needs_of_the_wrong_type_is_a_problem_not_a_traceback(rig, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nneeds: [[unit]]\nsteps:\n  - wait: 1s\n", encoding="utf-8")
    code, _, err = rig("run", str(path))
    assert code == 2 and "p.yaml:2: error: needs: a list of code, profile, unit" in err


# -- procedures list / show ----------------------------------------------------------
def test_procedures_list_and_show_describe_each_procedure(rig):
    code, out, _ = rig("procedures", "list")
    assert code == 0
    for name in ("reproduce-safe", "enter-code", "lockout-wait", "read-serial", "bench-removal", "unlock"):
        assert name in out
    assert "anti-theft" in out  # the description, not only the name
    code, out, _ = rig("procedures", "show", "reproduce-safe")
    assert code == 0
    assert "margin = 5s" in out and "extra time off" in out  # the parameter, its default and its help
    assert "cut constant power" in out  # a step's name


# -- the technician's words, not the program's ----------------------------------------
def test_a_code_with_a_letter_is_described_not_counted(rig, tmp_path):
    code_file = tmp_path / "code"
    code_file.write_text("12a4\n", encoding="utf-8")
    code, out, err = rig("run", "enter-code", "--profile", "vw-safe", "--unit", "U1", "--new-unit", "--code-file", str(code_file))
    assert code == 2
    assert "has a character that is not a digit" in err
    assert "4 characters" not in err and "12a4" not in out + err


def test_a_suggested_command_keeps_the_ledger_it_needs(tmp_path, capsys, monkeypatch):
    from rig.cli.exitcodes import remember_context, with_context
    from rig.cli.render import report_error
    from rig.errors import SafetyRefusal

    remember_context("sim", ledger=str(tmp_path / "other ledger.sqlite"))
    try:
        report_error(SafetyRefusal("the next wrong code locks it out. Check the unit, then rig units show VW1"))
        said = capsys.readouterr().err
        assert f"rig --backend sim --ledger '{tmp_path}/other ledger.sqlite' units show VW1" in said
        assert with_context("nothing to suggest") == "nothing to suggest"
    finally:
        remember_context("hardware")


def test_a_shell_line_with_markup_in_it_is_printed_as_typed(rig, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("press [/bold]\n"))
    code, _, err = rig("shell")
    assert code == 2
    assert "line 1: no key '[/bold]'" in err


def test_a_display_mismatch_speaks_in_the_profiles_texts_not_a_regex(tmp_path, monkeypatch, capsys):
    from rig.cli import main

    monkeypatch.setenv("RIG_SIM_STATE", str(tmp_path / "sim.json"))
    monkeypatch.setenv("RIG_LEDGER", str(tmp_path / "ledger.sqlite"))
    monkeypatch.setenv("RIG_LOG_DIR", str(tmp_path / "runs"))
    assert main(["sim", "reset", "--profile", "vw-safe", "--code", "5173", "--ideal"]) == 0
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nneeds: [profile]\nsteps:\n  - power: {battery: on, acc: on}\n"
                    "  - expect: {display: unlocked, within: 20s}\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["--backend", "sim", "run", str(path), "--profile", "vw-safe"]) == 1
    err = capsys.readouterr().err
    assert "expected the display to show unlocked (" in err and "within 20s; it shows 'SAFE'" in err
    assert "(?P<" not in err and "^" not in err
