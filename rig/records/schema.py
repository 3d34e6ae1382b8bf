"""The ledger's schema and how a file is brought up to it: versioned, append-only migrations.

Each step takes the schema from version N-1 to N; a fresh file gets them all. Two processes
opening one new file at once both get a whole ledger: the version is read again under the
write lock, and every step goes in the one transaction that sets the version.

>>> import sqlite3
>>> db = sqlite3.connect(":memory:", isolation_level=None)
>>> migrate(db, ":memory:"); db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
True
"""

from __future__ import annotations

import re
import sqlite3

from ..errors import ConfigError, Problem

SCHEMA_VERSION = 6
TABLES = """
CREATE TABLE IF NOT EXISTS units (
    serial TEXT PRIMARY KEY, profile TEXT, model TEXT, vin TEXT, notes TEXT,
    permanent INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, procedure TEXT NOT NULL, serial TEXT, profile TEXT, backend TEXT,
    started REAL NOT NULL, ended REAL, outcome TEXT, message TEXT, log TEXT);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY, serial TEXT NOT NULL, run_id INTEGER, t REAL NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'pending');   -- pending | accepted | rejected | unknown | cleared
CREATE TABLE IF NOT EXISTS lockouts (
    id INTEGER PRIMARY KEY, serial TEXT NOT NULL, run_id INTEGER, started REAL NOT NULL,
    wait REAL NOT NULL, powered REAL NOT NULL DEFAULT 0, ended REAL);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY, serial TEXT, run_id INTEGER, t REAL NOT NULL, name TEXT NOT NULL, value TEXT);
"""
# Each step takes the schema from version N-1 to N; a fresh file gets them all.
MIGRATIONS = {
    1: TABLES,
    2: """
ALTER TABLE runs ADD COLUMN pid INTEGER;
ALTER TABLE runs ADD COLUMN host TEXT;
ALTER TABLE lockouts ADD COLUMN end_reason TEXT;
CREATE TABLE IF NOT EXISTS unit_changes (
    id INTEGER PRIMARY KEY, serial TEXT NOT NULL, t REAL NOT NULL, field TEXT NOT NULL,
    old TEXT, new TEXT, reason TEXT);
""",
    3: """
ALTER TABLE unit_changes ADD COLUMN who TEXT;
""",
    4: """
ALTER TABLE attempts ADD COLUMN via TEXT;
""",
    5: """
CREATE TABLE IF NOT EXISTS selftests (
    id INTEGER PRIMARY KEY, t REAL NOT NULL, host TEXT, backend TEXT NOT NULL, wiring TEXT,
    wiring_hash TEXT NOT NULL, passed INTEGER NOT NULL, report TEXT NOT NULL);
""",
    # who started a run on a bench's server, and through which lab place for which labgrid user
    6: """
ALTER TABLE runs ADD COLUMN operator TEXT;
ALTER TABLE runs ADD COLUMN place TEXT;
ALTER TABLE runs ADD COLUMN lab_user TEXT;
""",
}
_ADD_COLUMN = re.compile(r"\s*ALTER\s+TABLE\s+(?P<table>\w+)\s+ADD\s+COLUMN\s+(?P<column>\w+)", re.I)


def wal(db) -> None:
    """Write-ahead logging. Switching a new file to it needs the file alone, and SQLite
    answers "locked" at once, without its busy wait, when two openers try together: the
    one refused waits for the other's lock, then tries again."""
    for _ in range(20):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            db.execute("BEGIN IMMEDIATE")  # holding nothing, this one waits (the busy timeout)
            db.execute("ROLLBACK")
    db.execute("PRAGMA journal_mode=WAL")


def migrate(db, path: str) -> None:
    """Bring the schema up to date. Two commands opening a new ledger at once must both
    get a whole one: the version is read again under the write lock, and every step is
    applied in the one transaction that sets it."""
    version = _version(db, path)
    if version == SCHEMA_VERSION:
        return  # the usual case: no lock taken
    db.execute("BEGIN EXCLUSIVE")  # waits (the busy timeout) for another opener's migration
    try:
        version = _version(db, path)  # again: it may have migrated the file while we waited
        if version == 0 and db.execute("SELECT 1 FROM sqlite_master WHERE name='runs'").fetchone():
            version = 1  # a ledger from before versioning: the first schema, unversioned
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for statement in filter(str.strip, MIGRATIONS[step].split(";")):
                _apply(db, statement)
            db.execute(f"PRAGMA user_version={step}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _version(db, path: str) -> int:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise ConfigError([Problem(path, None, f"the ledger was written by a newer rig (schema {version}, "
                                   f"this rig knows {SCHEMA_VERSION}); upgrade rig to use it")])
    return version


def _apply(db, statement: str) -> None:
    # A column already there is not added again: an older rig racing another opener left
    # some ledgers at version 1 with version 2's columns in place, refused ever since.
    m = _ADD_COLUMN.match(statement)
    if m and m["column"] in {r[1] for r in db.execute(f"PRAGMA table_info({m['table']})")}:
        return
    db.execute(statement)
