"""Issue 20's "smaller, seen on the way": each item a technician tripped over, by test.

Elsewhere: the demo's deliberate wrong code (test_run.py::test_demo_from_the_cli), the grey
"end: ... already unlocked (skipped)" (test_timeline_picture.py's _check), the profile list's
eight VW/Audi descriptions in Chromium (browser/test_unit_card_browser.py), each page's icon
(browser/test_story_browser.py).
"""

from __future__ import annotations

import re

from rig.records.ledger import Ledger
from rig.records.timeline import render_svg
from rig.records.timeaxis import CH
from tests.browser.served import serving

VIN = "WVWZZZ1JZXW000001"


def _texts(svg: str) -> list[tuple[float, float, str, str]]:
    """(x, y, anchor, text) of every text element."""
    out = []
    for m in re.finditer(r'<text x="([\d.]+)" y="([\d.]+)"([^>]*)>([^<]*)<', svg):
        anchor = "middle" if 'text-anchor="middle"' in m.group(3) else "start"
        out.append((float(m.group(1)), float(m.group(2)), anchor, m.group(4)))
    return out


def test_runs_list_keeps_words_whole_at_80_columns(rig_main, tmp_path):
    led = Ledger(tmp_path / "ledger.sqlite")
    for proc, outcome in (("reproduce-safe", "interrupted"), ("bench-removal", "refused"), ("lockout-wait", "passed")):
        run = led.start_run(proc, "VWZ1Z7B1234567", "vw-safe", "sim", "")  # a VW serial's length
        led.end_run(run, outcome, "a long message that would need the whole width of the terminal and more " * 2)
    led.close()
    code, out, _ = rig_main("runs", "list")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80
    for word in ("reproduce-safe", "bench-removal", "lockout-wait", "interrupted", "refused", "VWZ1Z7B1234567"):
        assert any(word in line for line in out.splitlines()), word  # whole, on one line


def test_procedures_show_bench_removal_at_80_columns_mentions_no_code(rig_main):
    code, out, _ = rig_main("procedures", "show", "bench-removal")
    assert code == 0
    assert "code" not in out.lower()  # it needs a unit and asks questions; it never enters a code
    assert "needs: unit  (give --unit SERIAL)" in out
    rows = [line for line in out.splitlines() if re.match(r"│ \d+ ", line)]
    assert len(rows) == 9 and all(re.search(r"│ (power|prompt|expect) +│", line) for line in rows)  # kind whole
    code, out, _ = rig_main("procedures", "show", "enter-code")
    assert "the code by prompt, --code-file or RIG_CODE" in out  # where a code is entered, how to give it


def test_a_pin_pulled_low_at_boot_leaves_an_active_high_relay_released(write_yaml):
    from tests.test_wiring import GOOD, problems

    # ACC on GPIO27 (low at boot), active-high, NO contact, declared safe on: the boot leaves it off
    got = problems(write_yaml(GOOD.replace('acc: {pin: 27, active_high: true, contact: "no", safe: off}',
                                           'acc: {pin: 27, active_high: true, contact: "no", safe: on}')))
    boot = [m for _, m in got if "at boot" in m]
    assert boot == ["rails.acc: the Pi pulls GPIO27 low at boot, which leaves this active-high relay released and "
                    "switches acc off; its safe state is on"]


def test_sim_reset_with_a_mistyped_profile_says_so_before_asking_for_the_code(run_rig):
    r = run_rig("sim", "reset", "--profile", "vw-saef", input="1234\n")
    assert r.returncode == 2
    assert "no profile 'vw-saef' (did you mean vw-safe" in r.stderr
    assert "Code" not in r.stdout + r.stderr  # not asked: the typo comes first


def test_a_refused_runs_subtitle_is_wrapped_not_cut():
    message = ("this is the last attempt before VW1 locks out (1:00:00 powered wait): a wrong code would trigger "
               "it. If you are sure of the code, run again with --allow-lockout")
    events = [{"t": 0, "kind": "run", "what": "unlock", "to": "started", "unit": "VW1", "profile": "vw-safe", "run": 1},
              {"t": 0, "kind": "rail", "what": "acc", "from": "off", "to": "on"},
              {"t": 2.7, "kind": "rail", "what": "acc", "from": "on", "to": "off"},
              {"t": 2.7, "kind": "result", "what": "refused", "message": message}]
    svg = render_svg(events, "unlock VW1", "2026-12-07 10:18 UTC")
    width = float(re.search(r'<svg [^>]*width="([\d.]+)"', svg).group(1))
    texts = _texts(svg)
    assert " ".join(t for *_, t in texts).count("--allow-lockout") == 1  # the whole message is there
    for x, _y, anchor, text in texts:
        assert anchor != "start" or x + len(text) * CH <= width + 1, text  # and inside the picture


def test_a_folded_gaps_label_never_overlaps_a_step_label():
    events = [{"t": 0, "kind": "step", "what": "a step whose label runs on over the gap that follows", "to": "started"},
              {"t": 0.5, "kind": "step", "what": "a step whose label runs on over the gap that follows", "to": "passed"},
              {"t": 0.5, "kind": "step", "what": "another one as long, on the row below the first one", "to": "started"},
              {"t": 0.6, "kind": "step", "what": "another one as long, on the row below the first one", "to": "passed"},
              {"t": 3600.6, "kind": "rail", "what": "acc", "from": "off", "to": "on"}]
    texts = _texts(render_svg(events, "wait"))
    folded = [t for t in texts if t[3] in ("folded", "1:00:00")]
    steps = [t for t in texts if t[3].startswith(("a step", "another"))]
    assert len(folded) == 2 and len(steps) == 2

    def box(x, y, anchor, text):
        w = len(text) * CH
        x0 = x - w / 2 if anchor == "middle" else x
        return x0, y - 11, x0 + w, y

    for f in folded:
        fx0, fy0, fx1, fy1 = box(*f)
        for s in steps:
            sx0, sy0, sx1, sy1 = box(*s)
            assert fx1 <= sx0 or sx1 <= fx0 or fy1 <= sy0 or sy1 <= fy0, (f, s)


def test_report_rows_say_rig_procedures_not_the_installed_package_path():
    from rig.run.finding import builtin_dir
    from rig.serve.report import render_run

    where = f"{builtin_dir()}/enter-code.yaml:17"
    run = {"id": 3, "procedure": "enter-code", "serial": "VW1", "profile": "vw-safe", "backend": "sim",
           "started": 0, "ended": 5, "outcome": "passed", "message": ""}
    page = render_run(run, [{"t": 0, "kind": "step", "what": "enter the code", "to": "started", "where": where}], "")
    assert "rig/procedures/enter-code.yaml:17" in page and str(builtin_dir()) not in page


served = serving(profile="vw-safe", code="4711", state="locked", attempts=0, register=False)


def test_through_the_server(served, run_rig):
    """rig stop with nothing running, the run's story on stdout, the profiles' labels, the favicon."""
    r = run_rig("--backend", "sim", "stop")
    assert r.returncode == 0, r.stderr  # nothing to stop is not a refusal
    assert "nothing to stop" in r.stdout and "refused" not in r.stderr

    r = run_rig("--backend", "sim", "run", "read-serial", "--unit", "VW1", "--new-unit", "--profile", "vw-safe",
                "--yes", "--answer", "serial=VW1", "--answer", "model=Gamma", "--answer", f"vin={VIN}",
                env={"RIG_LEDGER": str(served.ledger)})
    assert r.returncode == 0, r.stderr
    assert "via the rig server" in r.stderr and "PASSED" in r.stderr  # what happened to the command: stderr
    assert f"VIN: {VIN}" in r.stdout and VIN not in r.stderr  # what the run said (the sheet's rows): stdout

    c = served.client(served.viewer)
    labels = [p["label"] for p in c.get("/api/catalogue").json()["profiles"]]
    assert len(set(labels)) == len(labels)
    icon = c.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert 'rel="icon"' in c.get("/login").text
