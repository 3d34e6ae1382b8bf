"""The ledger: units, runs, code attempts and lockouts, in SQLite.

An attempt is written and committed *before* the confirm press and resolved
after it, so a crash can only over-count. No code is ever stored, not even
hashed: a 4-digit code's hash is as good as the code. Every change a
technician makes to a unit's record by hand (its profile, attempts used,
notes) is kept with the reason given.

>>> led = Ledger(":memory:")
>>> led.add_unit("VWZ1Z2A1234567", "vw-safe")
>>> aid = led.begin_attempt("VWZ1Z2A1234567", run_id=None)
>>> led.resolve_attempt(aid, "rejected")
>>> [a["outcome"] for a in led.attempts("VWZ1Z2A1234567")]
['rejected']
"""

from __future__ import annotations

import difflib
import os
import socket
import sqlite3
import time
from pathlib import Path

from ..errors import ConfigError, Problem, SafetyRefusal, UsageError
from . import integrity, schema
from .schema import SCHEMA_VERSION, TABLES  # noqa: F401  (the schema, as the ledger has always named it)
from .files import folder, private
from .standing import Standing

OUTCOMES = ("accepted", "rejected", "unknown")


class LedgerRefused(UsageError):
    """A change the ledger will not make (a unit added twice, a unit it does not know). Exit 2."""


def _unusable(path: str, exc: Exception) -> ConfigError:
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):  # healthy, and busy: no backup needed
        return ConfigError([Problem(path, None, "another rig process has held the ledger for over 10 s "
                                    "(a long write, or a process stopped with Ctrl-Z); run again once it is done")])
    if "malformed" in str(exc):  # damaged: what can still be read is recovered, not lost
        return integrity.refusal(path, [f"SQLite: {exc}"])
    what = ("cannot open it" if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc)
            else f"it is not a usable rig ledger ({exc})")
    return ConfigError([Problem(path, None, f"{what}. It holds the attempts counted against your units, so "
                                "the rig leaves it as it is: restore it from a backup, or move it aside to "
                                "start a new ledger (--ledger FILE to use another)")])


class Ledger:
    """One SQLite file; every write is its own committed transaction."""

    def __init__(self, path: str | Path, create: bool = True):
        self.path = str(path)
        memory = self.path == ":memory:"
        if not memory and not create and not Path(path).exists():
            raise ConfigError([Problem(self.path, None, "no ledger here: nothing has been recorded in this file "
                                       "(a typo in --ledger or RIG_LEDGER?)")])
        if not memory:
            folder(Path(path).parent, "the ledger's folder")
            private(self.path)  # 0640 before SQLite makes it (and its -wal, -shm) under the umask
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=MEMORY") if memory else schema.wal(self.db)
            self.db.execute("PRAGMA synchronous=FULL")  # an attempt must survive a power cut right after it
            schema.migrate(self.db, self.path)
            found = [] if memory else integrity.problems(self.db)  # checked as it opens, before any query
        except sqlite3.DatabaseError as exc:  # not SQLite, corrupt, a directory, unreadable: never overwritten
            if getattr(self, "db", None) is not None:
                self.db.close()
            raise _unusable(self.path, exc) from None
        if found:
            self.db.close()
            raise integrity.refusal(self.path, found)

    def close(self) -> None:
        self.db.close()

    # -- units ---------------------------------------------------------------
    def add_unit(self, serial: str, profile: str | None, **fields) -> None:
        """A unit new to the ledger; one it already knows is refused, never merged."""
        if self.unit(serial) is not None:
            raise LedgerRefused(f"the ledger already has {serial} ({self.unit(serial)['profile']}); "
                                f"change it with `rig units set {serial} ...` (the reason is recorded)")
        self.db.execute("INSERT INTO units(serial, profile, model, vin, notes, created) VALUES (?,?,?,?,?,?)",
                        (serial, profile, fields.get("model"), fields.get("vin"), fields.get("notes"), time.time()))

    def register(self, serial: str, profile, *, who: str, why: str, new: bool | None = None,
                 attempts_used: int = 0, **fields) -> str:
        """Put a unit on record with its profile, saying who and why: the one way every path
        (``rig run --new-unit``, ``rig units add``, ``rig serve --unit``, the page) registers a unit.

        ``profile`` is the profile object (a unit is never registered without one). Returns
        ``"registered"`` (new to the ledger, with the attempts it arrived with), ``"profile
        recorded"`` (known, but recorded without a profile by an older rig) or ``"known"``
        (already on record as this profile: nothing changes). A known unit recorded as another
        profile is refused (exit 3): its attempts would be counted by another family's rules.
        ``new=True`` refuses a known serial, ``new=False`` an unknown one.

        >>> from types import SimpleNamespace
        >>> led = Ledger(":memory:")
        >>> vw = SimpleNamespace(id="vw-safe")  # a profile (rig.unit.profiles), as far as this needs
        >>> led.register("VW123", vw, who="alice", why="on the bench for a code")
        'registered'
        >>> led.register("VW123", vw, who="bob", why="CI job")
        'known'
        >>> led.changes("VW123")[0]["who"], led.changes("VW123")[0]["new"]
        ('alice', 'vw-safe')
        """
        if profile is None:
            raise LedgerRefused(f"{serial}: a unit is registered with its profile (rig profiles list shows them)")
        unit = self.unit(serial)
        if unit is None and new is False:
            raise LedgerRefused(f"the ledger has no unit {serial!r}")
        if unit is not None and new:
            raise LedgerRefused(f"the ledger already has {serial} ({unit['profile'] or 'no profile'}); change it "
                                f"with `rig units set {serial} ...` (the reason is recorded)")
        if unit is not None and unit["profile"] not in (None, "", profile.id):
            raise SafetyRefusal(f"{serial} is recorded as {unit['profile']}; {profile.id} would count its attempts "
                                f"and lockouts by another family's rules. If the unit really is {profile.id}, "
                                f"change it on purpose: rig units set {serial} --profile {profile.id} --reason '...'")
        if unit is not None and unit["profile"] == profile.id:
            return "known"
        self.db.execute("BEGIN IMMEDIATE")  # the unit, its profile and what it arrived with, or nothing
        try:
            if unit is None:
                self.db.execute("INSERT INTO units(serial, profile, model, vin, notes, created) VALUES (?,?,?,?,?,?)",
                                (serial, profile.id, fields.get("model"), fields.get("vin"), fields.get("notes"),
                                 time.time()))
                self._changed(serial, "registered", None, profile.id, why, who)
            else:
                self.db.execute("UPDATE units SET profile=? WHERE serial=?", (profile.id, serial))
                self._changed(serial, "profile", None, profile.id, why, who)
            if attempts_used:
                self.set_attempts_used(serial, attempts_used, profile, f"arrived with {attempts_used} used: {why}",
                                       who=who)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return "registered" if unit is None else "profile recorded"

    def unit(self, serial: str) -> dict | None:
        row = self.db.execute("SELECT * FROM units WHERE serial=?", (serial,)).fetchone()
        return dict(row) if row else None

    def units(self) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT * FROM units ORDER BY created")]

    def closest(self, serial: str, n: int = 3) -> list[str]:
        """Known serials that look like ``serial`` (for "did you mean")."""
        known = [u["serial"] for u in self.units()]
        near = difflib.get_close_matches(serial, known, n=n, cutoff=0.6)
        return near or difflib.get_close_matches(serial.upper(), [k.upper() for k in known], n=n, cutoff=0.6)

    def change(self, serial: str, field: str, new, reason: str, who: str | None = None) -> None:
        """Change a unit's profile, model, vin or notes by hand; the old value and the reason are kept."""
        unit = self.unit(serial)
        if unit is None:
            raise LedgerRefused(f"the ledger has no unit {serial}")
        if field not in ("profile", "model", "vin", "notes"):
            raise ValueError(field)
        self.db.execute(f"UPDATE units SET {field}=? WHERE serial=?", (new, serial))
        self._changed(serial, field, unit[field], new, reason, who)

    def _changed(self, serial, field, old, new, reason, who=None) -> None:
        self.db.execute("INSERT INTO unit_changes(serial, t, field, old, new, reason, who) VALUES (?,?,?,?,?,?,?)",
                        (serial, time.time(), field, None if old is None else str(old),
                         None if new is None else str(new), reason, who))

    def changes(self, serial: str) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT * FROM unit_changes WHERE serial=? ORDER BY id", (serial,))]

    def remove_unit(self, serial: str, reason: str) -> None:
        """Forget a unit: its attempts, lockouts and records go; its runs stay, as history."""
        if self.unit(serial) is None:
            raise LedgerRefused(f"the ledger has no unit {serial}")
        self.db.execute("BEGIN IMMEDIATE")
        for table in ("units", "attempts", "lockouts", "records"):
            self.db.execute(f"DELETE FROM {table} WHERE serial=?", (serial,))
        self._changed(serial, "removed", None, None, reason)
        self.db.execute("COMMIT")

    def mark_permanent(self, serial: str) -> None:
        self.db.execute("UPDATE units SET permanent=1 WHERE serial=?", (serial,))

    # -- runs ----------------------------------------------------------------
    def start_run(self, procedure: str, serial: str | None, profile: str | None, backend: str, log: str) -> int:
        cur = self.db.execute(
            "INSERT INTO runs(procedure, serial, profile, backend, started, log, pid, host) VALUES (?,?,?,?,?,?,?,?)",
            (procedure, serial, profile, backend, time.time(), log, os.getpid(), socket.gethostname()))
        return cur.lastrowid

    def set_run_origin(self, run_id: int, operator: str | None, place: str | None, lab_user: str | None) -> None:
        """Who started the run (a server's token name) and the lab place and labgrid user it came through."""
        self.db.execute("UPDATE runs SET operator=?, place=?, lab_user=? WHERE id=?", (operator, place, lab_user, run_id))

    def end_run(self, run_id: int, outcome: str, message: str = "") -> None:
        self.db.execute("UPDATE runs SET ended=?, outcome=?, message=? WHERE id=?",
                        (time.time(), outcome, message, run_id))

    def sweep_stale_runs(self) -> list[int]:
        """Runs left RUNNING by a process that is gone (SIGKILL, power cut) become interrupted."""
        stale = []
        for r in self.db.execute("SELECT id, pid FROM runs WHERE outcome IS NULL AND host=?", (socket.gethostname(),)):
            if r["pid"] and not _alive(r["pid"]):
                stale.append(r["id"])
        for run_id in stale:
            self.db.execute("UPDATE runs SET outcome='interrupted', message=? WHERE id=? AND outcome IS NULL",
                            ("its process ended without recording an outcome (killed, or the power failed); "
                             "any attempt it had counted stays counted", run_id))
        return stale

    def runs(self, serial: str | None = None, limit: int = 50) -> list[dict]:
        q, args = "SELECT * FROM runs", ()
        if serial:
            q, args = q + " WHERE serial=?", (serial,)
        return [dict(r) for r in self.db.execute(q + " ORDER BY id DESC LIMIT ?", args + (limit,))]

    def last_unit(self) -> str | None:
        """The unit on the bench, as far as the ledger knows: the one last registered, run or
        given an attempt."""
        row = self.db.execute("""
            SELECT serial FROM (SELECT serial, started AS t FROM runs WHERE serial IS NOT NULL
                                UNION ALL SELECT serial, created FROM units
                                UNION ALL SELECT serial, t FROM attempts)
            WHERE serial IN (SELECT serial FROM units) ORDER BY t DESC LIMIT 1""").fetchone()
        return row[0] if row else None

    def run(self, run_id: int) -> dict | None:
        row = self.db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return dict(row) if row else None

    def set_log(self, run_id: int, log: str) -> None:
        self.db.execute("UPDATE runs SET log=? WHERE id=?", (log, run_id))

    # -- attempts --------------------------------------------------------------
    def begin_attempt(self, serial: str, run_id: int | None, via: str | None = None) -> int:
        """Count an attempt now, before the confirm press; resolve it afterwards. ``via``: how it
        was made when not by a run's code entry (``by hand (rig shell)``)."""
        cur = self.db.execute("INSERT INTO attempts(serial, run_id, t, via) VALUES (?,?,?,?)",
                              (serial, run_id, time.time(), via))
        return cur.lastrowid

    def resolve_attempt(self, attempt_id: int, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(outcome)
        self.db.execute("UPDATE attempts SET outcome=? WHERE id=?", (outcome, attempt_id))

    def attempts(self, serial: str) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT * FROM attempts WHERE serial=? ORDER BY id", (serial,))]

    def set_attempts_used(self, serial: str, used: int, profile, reason: str, who: str | None = None) -> None:
        """What the unit itself says it has used (Opel shows 7 SAFE): counted attempts are added
        as 'unknown', or the oldest of the window are marked 'cleared'; a unit that has used them
        all is locked out."""
        before = self.standing(serial, profile)
        if used > before.used:
            for _ in range(used - before.used):
                self.resolve_attempt(self.begin_attempt(serial, None), "unknown")
        elif used < before.used:
            window = [a["id"] for a in self._window(serial)][: before.used - used]
            self.db.executemany("UPDATE attempts SET outcome='cleared' WHERE id=?", [(i,) for i in window])
        self._changed(serial, "attempts_used", before.used, used, reason, who)
        self.open_lockout_if_spent(serial, profile, None)

    def open_lockout_if_spent(self, serial: str, profile, run_id: int | None) -> dict | None:
        """A unit with no attempts left and no open lockout is in its lockout now."""
        st = self.standing(serial, profile)
        if st.left == 0 and st.lockout is None and not st.permanent:
            self.start_lockout(serial, profile.lockout_wait(len(self.lockouts(serial)) + 1), run_id)
            return self.open_lockout(serial)
        return None

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

    def end_lockout(self, lockout_id: int, reason: str | None = None) -> None:
        """Close a lockout, saying how the rig knows it is over (display, served, power_off)."""
        self.db.execute("UPDATE lockouts SET ended=?, end_reason=? WHERE id=?", (time.time(), reason, lockout_id))

    def lockouts(self, serial: str) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT * FROM lockouts WHERE serial=? ORDER BY id", (serial,))]

    # -- records ---------------------------------------------------------------
    def record(self, serial: str | None, run_id: int | None, name: str, value) -> None:
        self.db.execute("INSERT INTO records(serial, run_id, t, name, value) VALUES (?,?,?,?,?)",
                        (serial, run_id, time.time(), name, str(value)))
        if serial and name in ("model", "vin") and self.unit(serial) is not None:
            self.db.execute(f"UPDATE units SET {name}=? WHERE serial=?", (str(value), serial))

    def mark_locked(self, serial: str, run_id: int | None, why: str) -> None:
        """The unit has locked itself again (its constant power was cut past its arming time):
        an accepted code before now no longer makes it unlocked."""
        self.record(serial, run_id, "lock", why)

    def records(self, serial: str) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT * FROM records WHERE serial=? ORDER BY id", (serial,))]

    # -- where a unit stands -----------------------------------------------------
    def _window(self, serial: str) -> list[dict]:
        """Attempts that count against the current window: after the last accepted attempt
        and the end of the last lockout; unknown and pending ones count."""
        attempts = self.attempts(serial)
        last_accept = max((a["id"] for a in attempts if a["outcome"] == "accepted"), default=0)
        ended = [lk["ended"] for lk in self.lockouts(serial) if lk["ended"]]
        since = max(ended, default=0.0)
        return [a for a in attempts if a["id"] > last_accept and a["outcome"] not in ("accepted", "cleared")
                and a["t"] >= since]

    def standing(self, serial: str, profile) -> Standing:
        """Attempts used and allowed in the current window, from the ledger and the profile."""
        attempts = self.attempts(serial)
        last_accept = next((a for a in reversed(attempts) if a["outcome"] == "accepted"), None)
        since = last_accept["t"] if last_accept else 0.0
        had_lockout = any(lk["ended"] for lk in self.lockouts(serial) if lk["started"] >= since)
        allowed = profile.attempts.after_lockout if had_lockout else profile.attempts.before_lockout
        unit = self.unit(serial) or {}
        relocked = self.db.execute("SELECT MAX(t) FROM records WHERE serial=? AND name='lock'", (serial,)).fetchone()[0]
        return Standing(
            used=len(self._window(serial)), allowed=allowed,
            total=len([a for a in attempts if a["outcome"] not in ("accepted", "cleared")]),
            permanent_after=profile.attempts.permanent_after,
            lockout=self.open_lockout(serial),
            unlocked=bool(attempts) and attempts[-1]["outcome"] == "accepted" and attempts[-1]["t"] > (relocked or 0),
            permanent=bool(unit.get("permanent")),
        )


def local_user() -> str:
    """Who is at this machine, for the ledger's "who" (the login name)."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (a container's bare uid)
        return f"uid {os.getuid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True
