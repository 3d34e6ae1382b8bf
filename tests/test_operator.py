"""A bench with no display tap: the technician is asked only where a step must decide."""

import pytest

from rig.errors import ConfigError
from rig.records.ledger import Ledger
from rig.unit.profiles import load_profiles
from rig.cli.ui import Plain
from rig.bench.wiring import load_wiring

from .simbench import Bench, _Lines


@pytest.fixture
def blind(write_yaml):
    text = open(load_wiring().source).read()
    return load_wiring(write_yaml(text.split("display:")[0] + "timing:" + text.split("timing:")[1]))


def test_unlock_on_a_bench_without_a_tap_asks_a_handful_of_questions(tmp_path, blind):
    b = Bench(tmp_path, "vw-safe", "5173", wiring=blind, state="lockout", attempts=2)
    led = Ledger(b.ledger)
    led.add_unit("U1", "vw-safe")
    led.set_attempts_used("U1", 2, load_profiles()["vw-safe"], "arrived locked out")
    led.close()
    questions = []

    def operator(question, kind):
        questions.append(question)
        if question.startswith("What does the display show"):
            return "SAFE"
        return "y"  # the radio plays after the code

    r = b.run("unlock", "5173", allow_lockout=True,
              ui=lambda bench, redact: Plain(redact, stream=_Lines(b.lines), ask=operator))
    assert r.outcome == "passed", r.message
    assert b.unit.locked is False
    # what it shows at the start; after the hour's wait; the verdict - never once per second of the wait
    assert len(questions) <= 4, questions
    assert sum(q.startswith("What does the display show") for q in questions) <= 3


def test_a_code_typed_at_the_prompt_is_asked_twice(monkeypatch):
    from rig.cli import run_cmds

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    typed = iter(["5173", "5137"])
    monkeypatch.setattr(run_cmds.getpass, "getpass", lambda prompt: next(typed))
    with pytest.raises(ConfigError, match="differ"):
        run_cmds.read_code(None)
    typed = iter(["5173", "5173"])
    assert run_cmds.read_code(None).reveal() == "5173"


def test_ctrl_c_at_a_question_stops_at_once_with_the_bench_safe(tmp_path, blind):
    b = Bench(tmp_path, "vw-safe", "5173", wiring=blind)

    def operator(question, kind):
        raise KeyboardInterrupt  # the technician pressed Ctrl-C instead of answering

    r = b.run("enter-code", "5173", ui=lambda bench, redact: Plain(redact, stream=_Lines(b.lines), ask=operator))
    assert (r.outcome, r.exit_code) == ("interrupted", 130)
    spec = {name: b.wiring.rails[name] for name in ("battery", "acc")}
    pins = b.backend.pin_factory
    acc = pins.pin(spec["acc"].pin).state == spec["acc"].active_high          # energised = ACC on (NO contact)
    battery_cut = pins.pin(spec["battery"].pin).state == spec["battery"].active_high  # energised = cut (NC)
    assert not acc and not battery_cut
    assert b.unit.wrong_total == 0 and b.standing().used == 0  # nothing was entered, no attempt counted


def test_after_a_key_or_a_rail_moves_the_technician_is_asked_again(tmp_path, blind, write_yaml):
    """An answer is good only until the rig changes something the unit answers: after a key press
    the rig asks what the display shows now, rather than reuse what it showed before the press."""
    b = Bench(tmp_path, "vw-safe", "5173", wiring=blind, state="unlocked", ideal=True)
    path = tmp_path / "look-twice.yaml"
    path.write_text("name: look-twice\nneeds: [profile]\nsteps:\n  - power: {battery: on, acc: on}\n"
                    "  - expect: {display: unlocked, within: 10s}\n  - press: {keys: mode}\n"
                    "  - expect: {display: unlocked, within: 10s, not_matching: locked}\n")
    answers, questions = iter(["FM1 87.5", "SAFE"]), []

    def operator(question, kind):
        questions.append(question)
        return next(answers)

    r = b.run(str(path), ui=lambda bench, redact: Plain(redact, stream=_Lines(b.lines), ask=operator))
    assert r.outcome == "failed" and "SAFE" in r.message, r.message  # what it showed after the press counted
    assert len(questions) == 2, questions
