"""The ledger: units, runs, code attempts and lockouts, in SQLite.

An attempt is written and committed *before* the confirm press and resolved
after it, so a crash can only over-count. No code is ever stored, not even
hashed: a 4-digit code's hash is as good as the code.

>>> led = Ledger(":memory:")
>>> led.upsert_unit("VWZ1Z2A1234567", "vw-safe")
>>> aid = led.begin_attempt("VWZ1Z2A1234567", run_id=None)
>>> led.resolve_attempt(aid, "rejected")
>>> [a["outcome"] for a in led.attempts("VWZ1Z2A1234567")]
['rejected']
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    serial TEXT PRIMARY KEY, profile TEXT, model TEXT, vin TEXT, notes TEXT,
    permanent INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, procedure TEXT NOT NULL, serial TEXT, profile TEXT, backend TEXT,
    started REAL NOT NULL, ended REAL, outcome TEXT, message TEXT, log TEXT);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY, serial TEXT NOT NULL, run_id INTEGER, t REAL NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'pending');   -- pending | accepted | rejected | unknown
CREATE TABLE IF NOT EXISTS lockouts (
    id INTEGER PRIMARY KEY, serial TEXT NOT NULL, run_id INTEGER, started REAL NOT NULL,
    wait REAL NOT NULL, powered REAL NOT NULL DEFAULT 0, ended REAL);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY, serial TEXT, run_id INTEGER, t REAL NOT NULL, name TEXT NOT NULL, value TEXT);
"""


@dataclass
class Standing:
    """Where a unit stands against its profile's limits, from the ledger."""

    used: int                 # attempts counted in the current window (pending/unknown count as used)
    allowed: int              # attempts the window allows before a lockout
    total: int                # every attempt not known to be accepted
    permanent_after: int | None
    lockout: dict | None      # the open lockout, if any
    unlocked: bool
    permanent: bool

    @property
    def left(self) -> int:
        return max(0, self.allowed - self.used)

    @property
    def permanent_left(self) -> int | None:
        return None if self.permanent_after is None else max(0, self.permanent_after - self.total)

    def describe(self) -> str:
        """Where the unit stands, in a technician's words."""
        from .durations import format_duration

        if self.permanent:
            return "PERMANENTLY LOCKED"
        if self.lockout:
            return (f"locked out: {format_duration(self.lockout_left)} of {format_duration(self.lockout['wait'])} "
                    f"powered wait left")
        if self.unlocked:
            return "unlocked"
        return f"locked: {self.left} of {self.allowed} attempt(s) left before a lockout"

    @property
    def lockout_left(self) -> float | None:
        if not self.lockout:
            return None
        return max(0.0, self.lockout["wait"] - self.lockout["powered"])


def _unusable(path: str, exc: Exception):
    from .errors import ConfigError, Problem

    what = ("cannot open it" if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc)
            else f"it is not a usable rig ledger ({exc})")
    return ConfigError([Problem(path, None, f"{what}. It holds the attempts counted against your units, so "
                                "the rig leaves it as it is: restore it from a backup, or move it aside to "
                                "start a new ledger (--ledger FILE to use another)")])


class Ledger:
    """One SQLite file; every write is its own committed transaction."""

    def __init__(self, path: str | Path):
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA journal_mode=MEMORY")
            self.db.execute("PRAGMA synchronous=FULL")  # an attempt must survive a power cut right after it
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:  # not SQLite, corrupt, a directory, unreadable: never overwritten
            raise _unusable(self.path, exc) from None

    def close(self) -> None:
        self.db.close()

    # -- units ---------------------------------------------------------------
    def upsert_unit(self, serial: str, profile: str | None = None, **fields) -> None:
        self.db.execute("INSERT OR IGNORE INTO units(serial, profile, created) VALUES (?, ?, ?)",
                        (serial, profile, time.time()))
        if profile:
            self.db.execute("UPDATE units SET profile=? WHERE serial=?", (profile, serial))
        for k in ("model", "vin", "notes"):
            if fields.get(k):
                self.db.execute(f"UPDATE units SET {k}=? WHERE serial=?", (fields[k], serial))

    def unit(self, serial: str) -> dict | None:
        row = self.db.execute("SELECT * FROM units WHERE serial=?", (serial,)).fetchone()
        return dict(row) if row else None

    def units(self) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT * FROM units ORDER BY created")]

    def mark_permanent(self, serial: str) -> None:
        self.db.execute("UPDATE units SET permanent=1 WHERE serial=?", (serial,))

    # -- runs ----------------------------------------------------------------
    def start_run(self, procedure: str, serial: str | None, profile: str | None, backend: str, log: str) -> int:
        cur = self.db.execute("INSERT INTO runs(procedure, serial, profile, backend, started, log) VALUES (?,?,?,?,?,?)",
                              (procedure, serial, profile, backend, time.time(), log))
        return cur.lastrowid

    def end_run(self, run_id: int, outcome: str, message: str = "") -> None:
        self.db.execute("UPDATE runs SET ended=?, outcome=?, message=? WHERE id=?",
                        (time.time(), outcome, message, run_id))

    def runs(self, serial: str | None = None, limit: int = 50) -> list[dict]:
        q, args = "SELECT * FROM runs", ()
        if serial:
            q, args = q + " WHERE serial=?", (serial,)
        return [dict(r) for r in self.db.execute(q + " ORDER BY id DESC LIMIT ?", args + (limit,))]

    def run(self, run_id: int) -> dict | None:
        row = self.db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return dict(row) if row else None

    # -- attempts --------------------------------------------------------------
    def begin_attempt(self, serial: str, run_id: int | None) -> int:
        """Count an attempt now, before the confirm press; resolve it afterwards."""
        cur = self.db.execute("INSERT INTO attempts(serial, run_id, t) VALUES (?,?,?)", (serial, run_id, time.time()))
        return cur.lastrowid

    def resolve_attempt(self, attempt_id: int, outcome: str) -> None:
        assert outcome in ("accepted", "rejected", "unknown")
        self.db.execute("UPDATE attempts SET outcome=? WHERE id=?", (outcome, attempt_id))

    def attempts(self, serial: str) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT * FROM attempts WHERE serial=? ORDER BY id", (serial,))]

    # -- lockouts --------------------------------------------------------------
    def start_lockout(self, serial: str, wait: float, run_id: int | None) -> int:
        cur = self.db.execute("INSERT INTO lockouts(serial, run_id, started, wait) VALUES (?,?,?,?)",
                              (serial, run_id, time.time(), wait))
        return cur.lastrowid

    def open_lockout(self, serial: str) -> dict | None:
        row = self.db.execute("SELECT * FROM lockouts WHERE serial=? AND ended IS NULL ORDER BY id DESC LIMIT 1",
                              (serial,)).fetchone()
        return dict(row) if row else None

    def add_powered(self, lockout_id: int, seconds: float, restart: bool = False) -> None:
        if restart:
            self.db.execute("UPDATE lockouts SET powered=? WHERE id=?", (seconds, lockout_id))
        else:
            self.db.execute("UPDATE lockouts SET powered=powered+? WHERE id=?", (seconds, lockout_id))

    def end_lockout(self, lockout_id: int) -> None:
        self.db.execute("UPDATE lockouts SET ended=? WHERE id=?", (time.time(), lockout_id))

    def lockouts(self, serial: str) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT * FROM lockouts WHERE serial=? ORDER BY id", (serial,))]

    # -- records ---------------------------------------------------------------
    def record(self, serial: str | None, run_id: int | None, name: str, value) -> None:
        self.db.execute("INSERT INTO records(serial, run_id, t, name, value) VALUES (?,?,?,?,?)",
                        (serial, run_id, time.time(), name, str(value)))
        if serial and name in ("model", "vin"):
            self.upsert_unit(serial, **{name: str(value)})

    def records(self, serial: str) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT * FROM records WHERE serial=? ORDER BY id", (serial,))]

    # -- where a unit stands -----------------------------------------------------
    def standing(self, serial: str, profile) -> Standing:
        """Attempts used and allowed in the current window, from the ledger and the profile.

        The window opens at the last accepted attempt or the end of the last
        lockout; attempts whose outcome is unknown (a crash, no display) count.
        """
        attempts = self.attempts(serial)
        locks = self.lockouts(serial)
        last_accept = max((a["id"] for a in attempts if a["outcome"] == "accepted"), default=0)
        window_start_t = max([lk["ended"] for lk in locks if lk["ended"]] or [0.0])
        after_accept = [a for a in attempts if a["id"] > last_accept]
        used = [a for a in after_accept if a["outcome"] != "accepted" and a["t"] >= window_start_t]
        had_lockout = any(lk["ended"] for lk in locks if lk["started"] >= (self._attempt_t(attempts, last_accept)))
        allowed = profile.attempts.after_lockout if had_lockout else profile.attempts.before_lockout
        unit = self.unit(serial) or {}
        return Standing(
            used=len(used), allowed=allowed,
            total=len([a for a in attempts if a["outcome"] != "accepted"]),
            permanent_after=profile.attempts.permanent_after,
            lockout=self.open_lockout(serial),
            unlocked=bool(attempts) and attempts[-1]["outcome"] == "accepted",
            permanent=bool(unit.get("permanent")),
        )

    @staticmethod
    def _attempt_t(attempts, attempt_id) -> float:
        return next((a["t"] for a in attempts if a["id"] == attempt_id), 0.0)
