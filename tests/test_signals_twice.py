"""Two SIGTERMs as a command ends: the bench is released before anything it needs is closed.

The fault campaign saw one hang in 401: two SIGTERMs 8 ms after the bench opened during
`rig press ... --acc`; the pins were released, then the process held the bench for 30 s
with ACC-off and "released" missing from the event log. The window, read from the code:
the command's bench is a ``with Bench(...)`` inside a generator (``App.bench``) whose
``finally`` closes the backend and the event log. A second signal that lands as the first
one unwinds that ``with`` - before ``Bench.__exit__`` has begun - skips the release there;
the ``finally`` then closes the log and the simulated unit's display, and the release comes
only afterwards, from ``main``: every edge told to a closed log, and every line the unit
showed meanwhile written to a closed pty, each waiting 2 s for a reader that had stopped
(or, with the descriptor number reused, written into another file).

The second signal is raised at the very line (stricter than a real signal, which CPython
handles at its next check: inside ``Bench.__exit__``, which holds it back).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from rig.sim.backend import reset_unit

_TWICE = r"""
import linecache, os, signal, sys
import rig.cli, rig.cli.app
APP, fired = rig.cli.app.__file__, []

def first(frame, event, arg):  # a profile function: an exception raised by a trace function ends tracing
    if event == "call" and frame.f_code.co_name == "end_hold" and not fired and frame.f_locals["deadline"] > 4:
        sys.setprofile(None)
        fired.append(1)
        signal.raise_signal(signal.SIGTERM)  # the first: the press is cut short


def tracer(frame, event, arg):
    code = frame.f_code
    if event == "call":
        return tracer if code.co_filename == APP else None
    if event == "line" and len(fired) == 1 and code.co_name == "bench" \
            and linecache.getline(APP, frame.f_lineno).strip().startswith("with Bench("):
        fired.append(2)
        signal.raise_signal(signal.SIGTERM)  # the second, as the first unwinds the bench's `with`
    return tracer

sys.settrace(tracer)
sys.setprofile(first)
sys.exit(rig.cli.main())
"""


def test_a_second_sigterm_while_the_first_unwinds_the_bench_still_releases_it_first(tmp_path):
    reset_unit(tmp_path / "unit.json", "vw-safe", "5173", state="locked")
    events = tmp_path / "events.jsonl"
    env = dict(os.environ, RIG_SIM_STATE=str(tmp_path / "unit.json"), RIG_LEDGER=str(tmp_path / "ledger.sqlite"),
               RIG_LOG_DIR=str(tmp_path / "runs"), XDG_DATA_HOME=str(tmp_path / "data"))
    p = subprocess.run([sys.executable, "-c", _TWICE, "--backend", "sim", "--events", str(events), "press", "mode",
                        "--acc", "--hold", "2s", "--times", "3"], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 130, p.stderr
    assert p.stderr.count("interrupted (SIGTERM)") == 1 and "Traceback" not in p.stderr, p.stderr
    told = [json.loads(line) for line in events.read_text().splitlines()]
    edges = [(e["what"], e["to"]) for e in told if e["kind"] in ("rail", "key")]
    assert edges[-2:] == [("mode", "up"), ("acc", "off")] or edges[-1] == ("acc", "off"), edges
    assert told[-1]["kind"] == "bench" and told[-1]["what"] == "released", told[-3:]
    # the unit's lines after the release were not written anywhere: no stall on a stopped reader
    assert "display" not in {e["kind"] for e in told[told.index(told[-1]):]}


def test_a_simulated_unit_driven_after_its_backend_closed_writes_nowhere(tmp_path, caplog):
    """The same late release, seen from the simulated unit: its display side of the pty is closed,
    and a line it shows then goes nowhere - not into whatever file took the descriptor's number
    since, and not into a wait for a reader that has stopped."""
    from rig.bench.bench import Bench
    from rig.bench.wiring import load_wiring
    from rig.sim.backend import sim_backend

    reset_unit(tmp_path / "unit.json", "vw-safe", "5173", state="locked", ideal=True)
    wiring = load_wiring()
    backend = sim_backend(wiring, tmp_path / "unit.json")
    bench = Bench(wiring, backend).open()
    try:
        bench.power("acc", True)
        bench.clock.sleep(2)
        assert backend.display.current()  # the unit is on, showing its lock
        backend.close()
        other = os.open(tmp_path / "other-file", os.O_WRONLY | os.O_CREAT, 0o600)  # may take the pty's number
    finally:
        bench.release("late")  # ACC off: the unit goes dark, and shows that
    os.close(other)
    assert (tmp_path / "other-file").read_bytes() == b""
    assert "while releasing the bench" not in caplog.text
