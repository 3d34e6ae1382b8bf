"""The files a run leaves are the rig's: named by it, kept in their folder, private to the bench.

A procedure's name is a short slug (it appears in the run's file names), checked with file:line
before anything moves; each run's log is made new (never through a planted link, never another
run's file); what the rig writes is readable by the bench user and its group only, whatever the
umask; and a path from the environment with a file in its way is named, not a traceback.
"""

from __future__ import annotations

import os
import stat

import pytest

from rig.records.ledger import Ledger

SIM = ["--backend", "sim"]


@pytest.fixture
def sim_unit(run_rig):
    assert run_rig("sim", "reset", "--profile", "vw-safe", "--code", "5173", "--ideal").returncode == 0
    return run_rig


def _runs(tmp_path) -> list[dict]:
    led = Ledger(tmp_path / "ledger.sqlite")
    try:
        return led.runs(limit=100)
    finally:
        led.close()


# -- a procedure's name ------------------------------------------------------------------------
@pytest.mark.parametrize("name", [
    '"x/../../../../tmp/anywhere/evil"',      # wrote files outside the data folder
    '"x/../run-00001-unlock"',                # appended to another run's log
    '"a\\0b"',                                # issue 25: a traceback, and a run recorded "failed" with no message
    "a" * 300,                                # the same
    '"x\\"; filename*=UTF-8\'\'evil.html"',    # turned a download into an HTML page
    '"two words"',
])
def test_a_procedure_name_that_is_not_a_slug_is_refused_at_its_line(sim_unit, tmp_path, name):
    path = tmp_path / "p.yaml"
    path.write_text(f"description: mine\nname: {name}\nsteps:\n  - wait: 1s\n", encoding="utf-8")
    r = sim_unit(*SIM, "run", str(path))
    assert r.returncode == 2, r.stderr
    assert f"{path}:2: error: name: " in r.stderr and "is not a procedure name" in r.stderr
    assert _runs(tmp_path) == []
    assert not (tmp_path / "data" / "rig" / "runs").exists() or not list((tmp_path / "data" / "rig" / "runs").iterdir())


def test_a_file_named_unlike_a_procedure_needs_a_name_line(sim_unit, tmp_path):
    path = tmp_path / "my unlock.yaml"
    path.write_text("steps:\n  - wait: 1s\n", encoding="utf-8")
    r = sim_unit(*SIM, "run", str(path))
    assert r.returncode == 2 and f"{path}:1: error: the file's name 'my unlock' is not a procedure name" in r.stderr
    assert "add a name: line" in r.stderr


# -- each run's log is made new ------------------------------------------------------------------
def test_a_link_planted_where_the_next_run_log_goes_is_never_written_through(sim_unit, tmp_path):
    logs = tmp_path / "data" / "rig" / "runs"
    logs.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (logs / "run-00001-reproduce-safe.jsonl").symlink_to(victim)
    (logs / "run-00001-reproduce-safe.svg").symlink_to(victim)
    r = sim_unit(*SIM, "run", "reproduce-safe", "--profile", "vw-safe", "--unit", "U1", "--new-unit")
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "keep me\n"
    (run,) = _runs(tmp_path)
    assert os.path.basename(run["log"]) == "run-00001-reproduce-safe.2.jsonl"
    assert '"kind": "result"' in (logs / "run-00001-reproduce-safe.2.jsonl").read_text()


def test_another_ledgers_run_with_the_same_id_keeps_its_log(sim_unit, tmp_path):
    logs = tmp_path / "data" / "rig" / "runs"
    logs.mkdir(parents=True)
    (logs / "run-00001-reproduce-safe.jsonl").write_text('{"theirs": 1}\n')
    r = sim_unit(*SIM, "run", "reproduce-safe", "--profile", "vw-safe", "--unit", "U1", "--new-unit")
    assert r.returncode == 0, r.stderr
    assert (logs / "run-00001-reproduce-safe.jsonl").read_text() == '{"theirs": 1}\n'


def test_the_svg_is_replaced_whole_never_written_through_a_link(tmp_path):
    from rig.records.timeline import write_timeline

    log = tmp_path / "run-00001-x.jsonl"
    log.write_text('{"t": 0, "kind": "rail", "what": "acc", "from": "off", "to": "on"}\n')
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (tmp_path / "run-00001-x.svg").symlink_to(victim)
    write_timeline(log, tmp_path / "run-00001-x.svg", "x")
    assert victim.read_text() == "keep me\n"
    assert (tmp_path / "run-00001-x.svg").read_text().startswith("<svg")


# -- private to the bench -------------------------------------------------------------------------
@pytest.fixture
def umask_022():
    old = os.umask(0o022)  # the usual login umask: files come out world-readable unless the rig says
    yield
    os.umask(old)


def _others_may_read(path) -> bool:
    return bool(os.stat(path).st_mode & 0o007)


def test_the_ledger_and_every_run_file_are_readable_by_the_bench_user_and_group_only(sim_unit, tmp_path, umask_022):
    """Serials and VINs are enough to obtain some codes: under umask 022 they were world-readable."""
    junit = tmp_path / "ci" / "report.xml"
    r = sim_unit(*SIM, "run", "reproduce-safe", "--profile", "vw-safe", "--unit", "U1", "--new-unit",
                 "--junit", str(junit))
    assert r.returncode == 0, r.stderr
    html = tmp_path / "ticket" / "run1.html"
    assert sim_unit("report", "1", "-o", str(html)).returncode == 0
    logs = tmp_path / "data" / "rig" / "runs"
    written = [tmp_path / "ledger.sqlite", junit, html, *logs.iterdir()]
    assert {p.suffix for p in written} >= {".sqlite", ".jsonl", ".svg", ".xml", ".html"}
    assert [p.name for p in written if _others_may_read(p)] == []
    assert oct(stat.S_IMODE(os.stat(logs).st_mode)) == "0o750"


def test_a_world_readable_ledger_from_before_is_made_private_when_opened(tmp_path, umask_022):
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()
    os.chmod(path, 0o644)
    Ledger(path).close()
    assert oct(stat.S_IMODE(os.stat(path).st_mode)) == "0o640"


# -- a path from the environment with a file in its way ----------------------------------------------
COMMANDS = [["sim", "reset", "--profile", "vw-safe", "--code", "5173"],
            [*SIM, "run", "reproduce-safe", "--profile", "vw-safe", "--unit", "U9", "--new-unit"],
            ["units", "list"], [*SIM, "status"]]


@pytest.mark.parametrize("var", ["XDG_DATA_HOME", "HOME", "RIG_LOG_DIR", "RIG_LEDGER", "RIG_SIM_STATE", "RIG_EVENTS",
                                 "XDG_CONFIG_HOME"])
@pytest.mark.parametrize("below", ["", "/sub"])
def test_a_path_from_the_environment_with_a_file_in_its_way_is_named_not_a_traceback(sim_unit, tmp_path, var, below):
    """Issue 25: XDG_DATA_HOME pointing at a file gave NotADirectoryError; its siblings too."""
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a folder\n")
    env = {var: f"{in_the_way}{below}"}
    if var == "HOME":
        env["XDG_DATA_HOME"] = ""
    commands = COMMANDS + ([["serve", "token", "new", "--role", "viewer"]] if var == "XDG_CONFIG_HOME" else [])
    for args in commands:
        if var == "RIG_SIM_STATE" and below == "" and args[0] == "sim":
            continue  # the memory file itself: `sim reset` writes it, as asked
        r = sim_unit(*args, env=env)  # in this process: a traceback would raise here
        assert r.returncode in (0, 2), (args, r.stderr)
        if r.returncode == 2:
            assert str(in_the_way) in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    if (var, below) != ("RIG_EVENTS", ""):  # that one is a file to append to, as asked
        assert in_the_way.read_text() == "not a folder\n"
    led_path = f"{in_the_way}{below}" if var == "RIG_LEDGER" else tmp_path / "ledger.sqlite"
    if os.path.isfile(led_path) and var != "RIG_LEDGER":
        assert [r for r in _runs(tmp_path) if r["outcome"] != "passed" and not r["message"]] == []


def test_a_run_stopped_by_a_fault_in_the_rig_says_so_in_its_record(sim_unit, tmp_path, monkeypatch):
    """Issue 25: such a run was recorded "failed" with an empty message."""
    from rig.run.runner import Runner

    def fault(self, proc, params):
        raise RuntimeError("a fault nobody foresaw")

    from rig.bench import signals

    monkeypatch.setattr(Runner, "run", fault)
    try:
        with pytest.raises(RuntimeError):  # a traceback, in a child; here it leaves main() as itself
            sim_unit(*SIM, "run", "reproduce-safe", "--profile", "vw-safe", "--unit", "U1", "--new-unit")
    finally:  # main() hands the signal handlers back only on its way out, which this skipped
        signals.exiting(None)
        signals.uninstall()
    (run,) = _runs(tmp_path)
    assert run["outcome"] == "error" and "RuntimeError: a fault nobody foresaw" in run["message"]


def test_a_run_log_that_cannot_be_made_is_a_clear_error_on_record_not_a_traceback(sim_unit, tmp_path):
    logs = tmp_path / "data" / "rig" / "runs"
    logs.mkdir(parents=True)
    for n in range(1, 100):  # every name the rig would try is taken
        (logs / ("run-00001-reproduce-safe.jsonl" if n == 1 else f"run-00001-reproduce-safe.{n}.jsonl")).write_text("")
    r = sim_unit(*SIM, "run", "reproduce-safe", "--profile", "vw-safe", "--unit", "U1", "--new-unit")
    assert r.returncode == 2, r.stderr
    assert f"cannot write the run's log in {logs}" in r.stderr and "Traceback" not in r.stderr
    (run,) = _runs(tmp_path)
    assert run["outcome"] == "error"


def test_the_events_file_gets_a_runs_every_event_from_its_first(sim_unit, tmp_path):
    """`rig --events FILE run ...` (a CI job's own copy of the run's events) holds what the run's log
    holds, from the event that names the run, its unit and its run id."""
    import json

    events = tmp_path / "events.jsonl"
    r = sim_unit(*SIM, "--events", str(events), "run", "reproduce-safe", "--profile", "vw-safe", "--unit", "U1",
                 "--new-unit")
    assert r.returncode == 0, r.stderr
    (run,) = _runs(tmp_path)
    mine = [json.loads(line) for line in events.read_text().splitlines()]
    theirs = [json.loads(line) for line in open(run["log"]).read().splitlines()]
    first = next(e for e in mine if e["kind"] == "run")
    assert (first["what"], first["unit"], first["run"]) == ("reproduce-safe", "U1", run["id"])
    assert [e for e in mine if e["kind"] in ("run", "step", "result")] == \
        [e for e in theirs if e["kind"] in ("run", "step", "result")]


def test_a_ctrl_c_before_the_run_is_on_record_is_the_ctrl_c_and_records_nothing(sim_unit, tmp_path, monkeypatch):
    """A Ctrl-C that lands while the run's files are being set up, where that set-up then fails (its
    folder cannot be made): exit 130 with its one line, the bench closed, and no run in the ledger
    (there is none to finish), not a run result for a run that never was."""
    import signal

    from rig.errors import ConfigError, Problem
    from rig.run import job

    def ctrl_c_then_fails(path, what):
        os.kill(os.getpid(), signal.SIGINT)  # held back by the set-up's shield
        raise ConfigError([Problem(str(path), None, "cannot make the run log folder")])

    monkeypatch.setattr(job, "folder", ctrl_c_then_fails)
    r = sim_unit(*SIM, "run", "reproduce-safe", "--profile", "vw-safe", "--unit", "U1", "--new-unit")
    assert r.returncode == 130, r.stderr
    assert r.stderr.count("interrupted (Ctrl-C)") == 1 and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "ledger.sqlite").exists() or _runs(tmp_path) == []
