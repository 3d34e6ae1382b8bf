"""The live panel as a technician's terminal shows it: its last frame, prompts, step names, frame rate."""

import io
import re
import time

from rich.console import Console

from rig.run.job import Job, run_job
from rig.records.ledger import Ledger
from rig.run.procedure import builtin_names, load_procedure
from rig.unit.profiles import load_profiles
from rig.sim.backend import reset_unit, sim_backend
from rig.cli.ui import LivePanel
from rig.bench.wiring import load_wiring

CONTROL = re.compile(r"\x1b\[(\??)(\d*)([A-Za-z])|\r|\n|[^\x1b\r\n]+")


def screen(output: str, width: int = 80) -> list[str]:
    """What a terminal shows after ``output``: just enough of one for what rich writes
    (text, CR, LF, cursor up/down, erase line; colours and cursor visibility ignored)."""
    lines, row, col = [""], 0, 0
    for m in CONTROL.finditer(output):
        tok = m.group(0)
        if tok == "\n":
            row, col = row + 1, 0
            lines += [""] * (row + 1 - len(lines))
        elif tok == "\r":
            col = 0
        elif m.group(3):
            n = int(m.group(2) or 1)
            if m.group(3) == "A" and not m.group(1):
                row = max(0, row - n)
            elif m.group(3) == "B" and not m.group(1):
                row += n
                lines += [""] * (row + 1 - len(lines))
            elif m.group(3) == "K":
                lines[row] = "" if m.group(2) == "2" else lines[row][:col]
        else:
            line = lines[row].ljust(col)
            lines[row] = (line[:col] + tok + line[col + len(tok):])[:width]
            col += len(tok)
    while lines and not lines[-1].strip():
        lines.pop()
    return [line.rstrip() for line in lines]


def _run(tmp_path, procedure, profile="vw-safe", state="unlocked", ask=None, **kw):
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80, color_system=None, legacy_windows=False)
    reset_unit(tmp_path / "unit.json", profile, "5173", state=state, attempts=2 if state == "lockout" else 0)
    if state == "lockout":  # the ledger knows the unit arrived locked out, as a technician records it
        led = Ledger(str(tmp_path / "l.sqlite"))
        led.add_unit("U1", profile)
        led.set_attempts_used("U1", 2, load_profiles()[profile], "arrived locked out")
        led.close()
    panels = []

    def make_ui(bench, redact):
        panels.append(LivePanel(bench, redact, ask=ask and (lambda q, kind: ask(console, q, kind)), console=console))
        return panels[0]

    job = Job(procedure, load_wiring(), lambda w: sim_backend(w, tmp_path / "unit.json"), str(tmp_path / "l.sqlite"),
              str(tmp_path / "runs"), profile, "U1", make_ui=make_ui, new_unit=state != "lockout", **kw)
    start = time.perf_counter()
    result = run_job(job)
    return result, screen(out.getvalue()), panels[0], time.perf_counter() - start


def test_the_last_frame_says_the_result_and_what_the_unit_showed(tmp_path):
    result, shown, _, _ = _run(tmp_path, "reproduce-safe")
    assert result.outcome == "passed"
    text = "\n".join(shown)
    assert re.search(r"^result +PASSED +reproduce-safe: all steps passed$", text, re.M), text
    assert re.search(r"^unit +the unit shows SAFE$", text, re.M), text  # not the released bench's blank display
    assert re.search(r"^step +record lock_display$", text, re.M), text
    assert not any(line.startswith("display") for line in shown)


def test_prompts_leave_no_trail_of_old_frames(tmp_path):
    def ask(console, question, kind):
        console.file.write(f"{question} yes\n")  # what input() leaves on the screen
        return "yes" if kind == "yesno" else "M-100"

    result, shown, _, _ = _run(tmp_path, "bench-removal", ask=ask)
    assert result.outcome == "passed", result.message
    asked = [s.args["ask"] for s in load_procedure("bench-removal").steps if s.kind == "prompt"]
    for question in asked:  # each question once, as typed at
        assert sum(1 for line in shown if line.startswith(question[:60])) == 1, "\n".join(shown)
    assert sum(1 for line in shown if line.startswith("rails ")) == 1, "\n".join(shown)  # only the last frame
    assert shown[-1].startswith("senses ")


def test_every_step_of_a_built_in_procedure_has_a_name_that_says_what_it_does():
    for name in builtin_names():
        for step in load_procedure(name).steps:
            assert step.label and step.label != step.kind.replace("_", " "), (name, step.line)


def test_an_hour_of_simulated_wait_draws_a_few_frames_not_one_per_tick(tmp_path):
    result, shown, panel, wall = _run(tmp_path, "lockout-wait", state="lockout")
    assert result.outcome == "passed", result.message
    assert panel.frames <= LivePanel.FPS * wall + 3  # a fixed frame rate, however often the wait wakes
    assert any(re.match(r"^unit +the unit shows ", line) for line in shown)
