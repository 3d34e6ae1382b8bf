"""Two commands opening a new ledger at once both get a whole one.

`rig units list & rig units list` on a fresh ledger: the slower process read the schema
version before the faster one had migrated, ran the first step again (setting the version
back), and the second step failed on "duplicate column name: pid". Every later open then
said the file was "not a usable rig ledger ... restore it from a backup" - a wrong
instruction for a healthy file. Forked processes released at one instant play it here.
"""

from __future__ import annotations

import os
import sqlite3

from rig.records.ledger import SCHEMA_VERSION, TABLES, Ledger

OPENERS = 4
LEDGERS = 12


def _open_all_at_once(path, n: int) -> list[str]:
    """``n`` forked processes open ``path`` at the same instant; what each said went wrong."""
    gate_r, gate_w = os.pipe()
    children = []
    for i in range(n):
        pid = os.fork()
        if pid == 0:  # the child: wait at the gate, open, say how it went, and go
            code = 0
            try:
                os.close(gate_w)
                os.read(gate_r, 1)
                Ledger(path).close()
            except BaseException as exc:  # noqa: BLE001  (reported to the parent)
                (path.parent / f"err-{path.name}-{i}").write_text(f"{type(exc).__name__}: {exc}")
                code = 1
            os._exit(code)
        children.append(pid)
    os.close(gate_r)
    os.close(gate_w)  # the gate opens: every child's read returns at once
    for pid in children:
        os.waitpid(pid, 0)
    return [p.read_text() for p in sorted(path.parent.glob(f"err-{path.name}-*"))]


def test_many_processes_opening_fresh_ledgers_at_once_all_get_a_whole_ledger(tmp_path):
    for i in range(LEDGERS):
        path = tmp_path / f"ledger-{i}.sqlite"
        errors = _open_all_at_once(path, OPENERS)
        assert errors == [], (i, errors)
        led = Ledger(path)  # and it opens afterwards, at the current version, with every table
        try:
            assert led.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            assert led.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            led.add_unit("VW1", "vw-safe")
            led.resolve_attempt(led.begin_attempt("VW1", led.start_run("enter-code", "VW1", "vw-safe", "sim", "")),
                                "rejected")
            assert len(led.attempts("VW1")) == 1
        finally:
            led.close()


def test_a_ledger_an_earlier_race_left_half_versioned_opens_with_its_attempts(tmp_path):
    """What the race left behind: version 1 with version 2's columns already there."""
    path = tmp_path / "ledger.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(TABLES)
    db.executescript("ALTER TABLE runs ADD COLUMN pid INTEGER; ALTER TABLE runs ADD COLUMN host TEXT;"
                     "ALTER TABLE lockouts ADD COLUMN end_reason TEXT; PRAGMA user_version=1;")
    db.execute("INSERT INTO attempts(serial, t, outcome) VALUES ('VW1', 1.0, 'rejected')")
    db.close()
    led = Ledger(path)
    try:
        assert led.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [a["outcome"] for a in led.attempts("VW1")] == ["rejected"]
        led.add_unit("VW1", "vw-safe")
        led._changed("VW1", "notes", None, "x", "test")  # version 2's table is there
    finally:
        led.close()
