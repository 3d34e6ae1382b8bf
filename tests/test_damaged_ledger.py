"""Errors that name the user's mistake: a damaged ledger, a mistyped --ledger, no tracebacks.

A ledger with bytes overwritten or a table dropped is refused as it opens, saying what is
wrong and what to do; ``rig ledger check`` says so too, and ``rig ledger recover NEW``
keeps every readable attempt, never lowering a unit's count. A mistyped ``--ledger``
makes no empty ledger and no folders.
"""

from __future__ import annotations

import os
import sqlite3

import pytest

from rig.records.ledger import Ledger
from rig.unit.profiles import load_profiles

UNITS = {"VW1": "vw-safe", "F1": "ford", "H1": "honda"}


def _ledger(path) -> dict:
    """A ledger with history enough to fill many pages: runs, attempts, a lockout, records."""
    profiles = load_profiles()
    led = Ledger(path)
    for serial, profile in UNITS.items():
        led.register(serial, profiles[profile], who="test", why="on the bench")
    led.db.execute("BEGIN")  # one transaction: a commit per row would fsync 1,600 times
    for i in range(400):
        serial = list(UNITS)[i % 3]
        run = led.start_run("enter-code", serial, UNITS[serial], "sim", f"/logs/run-{i:05d}.jsonl")
        led.resolve_attempt(led.begin_attempt(serial, run), "rejected" if i % 5 else "accepted")
        led.record(serial, run, "note", "x" * 120)
        led.end_run(run, "failed", "wrong code: " + "y" * 80)
    led.db.execute("COMMIT")
    led.close()
    return {s: _total(path, s) for s in UNITS}


def _total(path, serial) -> int:
    led = Ledger(path)
    try:
        return led.standing(serial, load_profiles()[UNITS[serial]]).total
    finally:
        led.close()


def _overwrite_mid_file(path, n=16) -> None:
    """16 bytes at the start of the page in the middle of the file: what a failing card does to a
    page's header (damage inside a row's text is invisible to any check, and harmless to it)."""
    size, page = os.path.getsize(path), 4096
    with open(path, "r+b") as fh:
        fh.seek((size // 2) // page * page)
        fh.write(bytes((i * 37 + 11) % 256 for i in range(n)))


@pytest.fixture
def damaged(tmp_path):
    path = tmp_path / "ledger.sqlite"
    before = _ledger(path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file, as after a clean close
    db.close()
    _overwrite_mid_file(path)
    return path, before


def test_a_damaged_ledger_is_refused_as_it_opens_with_what_to_do_and_no_traceback(run_rig, damaged):
    path, _ = damaged
    damaged_bytes = path.read_bytes()
    for args in (("units", "list"), ("units", "show", "VW1"), ("runs", "list"),
                 ("--backend", "sim", "run", "lockout-wait", "--unit", "F1")):
        r = run_rig(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert "Traceback" not in r.stderr and "DatabaseError" not in r.stderr, r.stderr
        assert "the ledger is damaged" in r.stderr and "ledger check" in r.stderr and "ledger recover" in r.stderr
    assert path.read_bytes() == damaged_bytes  # left as it is
    r = run_rig("ledger", "check")
    assert r.returncode == 1 and "SQLite" in r.stdout and "ledger recover NEW.sqlite" in r.stderr


def test_recovery_keeps_every_readable_attempt_and_never_lowers_a_count(run_rig, damaged, tmp_path):
    path, before = damaged
    new = tmp_path / "recovered.sqlite"
    r = run_rig("ledger", "recover", str(new))
    assert r.returncode == 0, r.stderr
    assert run_rig("--ledger", str(new), "ledger", "check").returncode == 0
    for serial, total in before.items():
        assert _total(new, serial) >= total, (serial, r.stdout)  # the attempt count never goes down
    assert run_rig("--ledger", str(new), "units", "list").returncode == 0


def test_a_dropped_table_is_named_and_recovered_around(run_rig, tmp_path):
    path = tmp_path / "ledger.sqlite"
    before = _ledger(path)
    db = sqlite3.connect(path)
    db.execute("DROP TABLE lockouts")
    db.close()
    r = run_rig("units", "show", "F1")
    assert r.returncode == 2 and "the table lockouts is missing" in r.stderr and "Traceback" not in r.stderr
    new = tmp_path / "new.sqlite"
    assert run_rig("ledger", "recover", str(new)).returncode == 0
    assert {s: _total(new, s) for s in UNITS} == before  # nothing was lost with the table: nothing added


def test_a_sound_ledger_checks_sound(run_rig, tmp_path):
    _ledger(tmp_path / "ledger.sqlite")
    r = run_rig("ledger", "check")
    assert r.returncode == 0 and "sound" in r.stdout
    r = run_rig("ledger", "recover", str(tmp_path / "ledger.sqlite"))
    assert r.returncode == 2 and "exists already" in r.stderr


def test_a_mistyped_ledger_makes_no_empty_ledger_and_no_folders(run_rig, tmp_path):
    _ledger(tmp_path / "ledger.sqlite")
    typo_folder = tmp_path / "ledgre" / "ledger.sqlite"
    r = run_rig("--ledger", str(typo_folder), "--backend", "sim", "run", "lockout-wait", "--unit", "F1")
    assert r.returncode == 2 and "there is no folder" in r.stderr and "a typo?" in r.stderr
    assert not typo_folder.parent.exists()
    typo_file = tmp_path / "ledgr.sqlite"
    for args in (("units", "show", "F1"), ("runs", "list"), ("--backend", "sim", "run", "lockout-wait", "--unit", "F1")):
        r = run_rig("--ledger", str(typo_file), *args)
        assert r.returncode == 2, (args, r.stderr)
        assert "typo in --ledger or RIG_LEDGER" in r.stderr, r.stderr
        assert not typo_file.exists(), args
    r = run_rig("--ledger", str(typo_file), "units", "list")
    assert r.returncode == 0 and "no ledger at" in r.stdout and not typo_file.exists()


def test_a_first_run_says_it_made_a_new_ledger(run_rig, tmp_path):
    run_rig("--backend", "sim", "sim", "reset", "--profile", "ford", "--code", "2580", "--ideal")
    fresh = tmp_path / "fresh.sqlite"
    r = run_rig("--ledger", str(fresh), "--backend", "sim", "run", "reproduce-safe", "--unit", "F9", "--new-unit",
                "--profile", "ford")
    assert r.returncode == 0, r.stderr
    assert f"new ledger: {fresh}" in r.stderr
    r = run_rig("--ledger", str(fresh), "--backend", "sim", "run", "reproduce-safe", "--unit", "F9")
    assert "new ledger" not in r.stderr


def test_attempts_lost_to_the_damage_are_counted_back_on_every_unit_they_could_be_on(run_rig, tmp_path):
    path = tmp_path / "ledger.sqlite"
    before = _ledger(path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = [r[0] for r in db.execute("SELECT pageno FROM dbstat WHERE name='attempts' AND pagetype='leaf' "
                                      "ORDER BY pageno")]
    db.close()
    with open(path, "r+b") as fh:  # a page of attempts in the middle of the table
        fh.seek((pages[len(pages) // 2] - 1) * 4096)
        fh.write(bytes((i * 37 + 11) % 256 for i in range(16)))
    new = tmp_path / "new.sqlite"
    r = run_rig("ledger", "recover", str(new))
    assert r.returncode == 0, r.stderr
    assert "attempts:" in r.stdout and " lost" in r.stdout and "counted back as unknown" in r.stdout
    for serial, total in before.items():
        assert _total(new, serial) > total  # whose they were cannot be read: every unit carries them
