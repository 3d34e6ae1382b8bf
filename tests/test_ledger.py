"""The ledger cannot be fooled by accident: typos, a changed profile, a second add, a demo in the wrong place."""

import sqlite3

import pytest

from rig.errors import ConfigError
from rig.records.ledger import SCHEMA_VERSION, Ledger

from .test_waits import ledger_dump


@pytest.fixture
def known_unit(tmp_path):
    """VW123 on the bench's ledger (the one run_rig uses), one wrong code in."""
    from rig.sim.backend import reset_unit

    reset_unit(tmp_path / "sim-unit.json", "vw-safe", "5173", ideal=True)
    led = Ledger(tmp_path / "ledger.sqlite")
    led.add_unit("VW123", "vw-safe")
    run_id = led.start_run("enter-code", "VW123", "vw-safe", "sim", "")
    led.resolve_attempt(led.begin_attempt("VW123", run_id), "rejected")
    led.end_run(run_id, "failed", "wrong code")
    led.close()
    return tmp_path / "ledger.sqlite"


def test_a_typo_in_the_serial_is_refused_with_did_you_mean(run_rig, known_unit):
    before = ledger_dump(known_unit)
    r = run_rig("--backend", "sim", "run", "enter-code", "--profile", "vw-safe", "--unit", "VW124",
                env={"RIG_CODE": "5173"})
    assert r.returncode == 2
    assert "never seen a unit 'VW124'. Did you mean VW123?" in r.stderr and "--new-unit" in r.stderr
    assert ledger_dump(known_unit) == before


def test_a_different_profile_on_a_known_unit_is_refused(run_rig, known_unit):
    before = ledger_dump(known_unit)
    r = run_rig("--backend", "sim", "run", "enter-code", "--profile", "ford", "--unit", "VW123",
                env={"RIG_CODE": "5173"})
    assert r.returncode == 3
    assert "VW123 is recorded as vw-safe" in r.stderr
    assert "rig --backend sim units set VW123 --profile ford --reason" in r.stderr  # pastes as it is
    assert ledger_dump(known_unit) == before


def test_the_profile_is_changed_on_purpose_and_the_reason_kept(run_rig, known_unit):
    r = run_rig("units", "set", "VW123", "--profile", "vw-concert-us", "--reason", "label says Concert, US")
    assert r.returncode == 0, r.stderr
    shown = run_rig("units", "show", "VW123").stdout
    assert "profile vw-concert-us" in shown
    assert "changed profile: vw-safe -> vw-concert-us" in shown and "label says Concert, US" in shown


def test_adding_a_unit_twice_is_refused(run_rig, known_unit):
    before = ledger_dump(known_unit)
    r = run_rig("units", "add", "VW123", "--profile", "vw-safe", "--attempts-used", "1")
    assert r.returncode == 2 and "already has VW123" in r.stderr and "rig units set" in r.stderr
    assert ledger_dump(known_unit) == before


def test_a_unit_that_arrives_with_every_attempt_used_is_locked_out(run_rig, tmp_path):
    r = run_rig("units", "add", "F1", "--profile", "ford", "--attempts-used", "3")
    assert r.returncode == 0, r.stderr
    assert "locked out: 30:00 of 30:00 powered wait left" in r.stdout


def test_attempts_set_from_what_the_unit_shows(run_rig, known_unit):
    r = run_rig("units", "set", "VW123", "--attempts-used", "0", "--reason", "it shows SAFE 1: the count is off")
    assert r.returncode == 0 and "2 of 2 attempt(s) left" in r.stdout
    shown = run_rig("units", "show", "VW123").stdout
    assert "changed attempts_used: 1 -> 0" in shown


def test_removing_a_unit_needs_a_reason_and_keeps_its_runs(run_rig, known_unit):
    r = run_rig("units", "remove", "VW123", "--reason", "scrapped", "--yes")
    assert r.returncode == 0, r.stderr
    assert run_rig("units", "show", "VW123").returncode == 2
    assert "VW123" in run_rig("runs", "list").stdout


def test_demo_never_writes_into_a_real_data_directory(run_rig, known_unit, tmp_path):
    logs = tmp_path / "runs"
    logs.mkdir(exist_ok=True)
    (logs / "run-00001-enter-code.jsonl").write_text("{}\n")
    before = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    r = run_rig("demo", "--dir", str(tmp_path))
    assert r.returncode == 2
    assert "holds files the demo did not create" in r.stderr
    assert {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    assert (logs / "run-00001-enter-code.jsonl").read_text() == "{}\n"


def test_the_demo_rewrites_only_a_directory_it_made(tmp_path):
    from rig.cli.demo_cmd import MARK, _fresh

    target = tmp_path / "demo-here"
    _fresh(target)                                   # new: made and marked
    (target / "ledger.sqlite").write_text("the demo's own")
    _fresh(target)                                   # its own: wiped
    assert (target / MARK).exists() and not (target / "ledger.sqlite").exists()
    (target / MARK).unlink()
    (target / "ledger.sqlite").write_text("someone's")
    with pytest.raises(Exception, match="did not create"):
        _fresh(target)
    assert (target / "ledger.sqlite").read_text() == "someone's"


def test_a_ledger_from_before_versioning_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE units (serial TEXT PRIMARY KEY, profile TEXT, model TEXT, vin TEXT, notes TEXT,
            permanent INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
        CREATE TABLE runs (id INTEGER PRIMARY KEY, procedure TEXT NOT NULL, serial TEXT, profile TEXT, backend TEXT,
            started REAL NOT NULL, ended REAL, outcome TEXT, message TEXT, log TEXT);
        CREATE TABLE attempts (id INTEGER PRIMARY KEY, serial TEXT NOT NULL, run_id INTEGER, t REAL NOT NULL,
            outcome TEXT NOT NULL DEFAULT 'pending');
        CREATE TABLE lockouts (id INTEGER PRIMARY KEY, serial TEXT NOT NULL, run_id INTEGER, started REAL NOT NULL,
            wait REAL NOT NULL, powered REAL NOT NULL DEFAULT 0, ended REAL);
        CREATE TABLE records (id INTEGER PRIMARY KEY, serial TEXT, run_id INTEGER, t REAL NOT NULL,
            name TEXT NOT NULL, value TEXT);
        INSERT INTO units VALUES ('OLD1', 'ford', NULL, NULL, NULL, 0, 1.0);
        INSERT INTO attempts(serial, t, outcome) VALUES ('OLD1', 2.0, 'rejected');
    """)
    db.close()
    led = Ledger(path)
    assert led.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert [a["outcome"] for a in led.attempts("OLD1")] == ["rejected"]  # nothing recorded is lost
    led.change("OLD1", "notes", "migrated", "test")
    assert led.changes("OLD1")[0]["new"] == "migrated"


def test_a_ledger_from_a_newer_rig_or_not_a_ledger_is_refused_untouched(tmp_path):
    newer = tmp_path / "newer.sqlite"
    db = sqlite3.connect(newer)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(ConfigError, match="newer rig"):
        Ledger(newer)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database\n" * 100)
    before = junk.read_bytes()
    with pytest.raises(ConfigError, match="not a usable rig ledger"):
        Ledger(junk)
    assert junk.read_bytes() == before


def test_a_run_left_running_by_a_dead_process_is_resolved_as_interrupted(tmp_path):
    import subprocess
    import sys

    led = Ledger(tmp_path / "l.sqlite")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    run_id = led.start_run("lockout-wait", "U1", "vw-safe", "sim", "")
    led.db.execute("UPDATE runs SET pid=? WHERE id=?", (int(dead.stdout), run_id))
    mine = led.start_run("enter-code", "U1", "vw-safe", "sim", "")   # this process: alive, left alone
    assert led.sweep_stale_runs() == [run_id]
    assert led.run(run_id)["outcome"] == "interrupted" and led.run(mine)["outcome"] is None


def test_the_units_and_runs_commands_close_the_ledger(run_rig, tmp_path):
    """In-process (rig.cli.main from Python, or a long-lived caller) no command leaves SQLite open:
    before, every `rig units ...`/`rig runs ...` left its connection to the garbage collector."""
    from tests.safety_support import open_on

    assert run_rig("units", "add", "F1", "--profile", "ford").returncode == 0
    for args in (["units", "list"], ["units", "show", "F1"], ["runs", "list"], ["units", "show", "NOPE"]):
        run_rig(*args)
        assert open_on(tmp_path / "ledger.sqlite") == [], args


def test_one_registration_for_every_path_keeps_who_and_why_and_refuses_another_family(tmp_path):
    from rig.errors import SafetyRefusal
    from rig.records.ledger import LedgerRefused
    from rig.unit.profiles import load_profiles

    profiles = load_profiles()
    led = Ledger(tmp_path / "ledger.sqlite")
    with pytest.raises(LedgerRefused, match="registered with its profile"):
        led.register("F1", None, who="alice", why="typo")
    assert led.register("F1", profiles["ford"], who="alice", why="arrived from a shop", attempts_used=2) \
        == "registered"
    assert led.standing("F1", profiles["ford"]).used == 2
    assert led.register("F1", profiles["ford"], who="ci-42", why="rig serve --unit F1") == "known"
    with pytest.raises(SafetyRefusal, match="F1 is recorded as ford") as refused:
        led.register("F1", profiles["vw-safe"], who="bob", why="wrong bench")
    assert refused.value.exit_code == 3
    with pytest.raises(LedgerRefused, match="already has F1"):
        led.register("F1", profiles["ford"], who="bob", why="rig units add", new=True)
    changes = [(c["field"], c["new"], c["who"]) for c in led.changes("F1")]
    assert changes == [("registered", "ford", "alice"), ("attempts_used", "2", "alice")]
    led.close()


def test_resolving_an_attempt_can_never_clear_it(tmp_path):
    """Only `rig units set --attempts-used` with a reason takes an attempt out of the count
    ('cleared'); an attempt resolved with any word but accepted/rejected/unknown is refused
    and still counts against the window."""
    from rig.unit.profiles import load_profiles

    vw = load_profiles()["vw-safe"]
    led = Ledger(tmp_path / "ledger.sqlite")
    led.add_unit("VW123", "vw-safe")
    aid = led.begin_attempt("VW123", None)
    for word in ("cleared", "accepted "):
        with pytest.raises(ValueError):
            led.resolve_attempt(aid, word)
    assert [a["outcome"] for a in led.attempts("VW123")] == ["pending"]
    assert led.standing("VW123", vw).used == 1


def test_a_hand_change_reaches_only_profile_model_vin_and_notes(tmp_path):
    """A unit locked for good stays so, and its serial stays its serial: `change` refuses any other
    field (it names a column in the SQL) and writes nothing, not even a change record."""
    led = Ledger(tmp_path / "ledger.sqlite")
    led.add_unit("VW123", "vw-safe")
    led.mark_permanent("VW123")
    for field in ("permanent", "serial"):
        with pytest.raises(ValueError):
            led.change("VW123", field, 0, "a slip")
    assert led.unit("VW123")["permanent"] == 1 and led.changes("VW123") == []
