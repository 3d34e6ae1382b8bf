"""A damaged ledger is found when it opens, and what can still be read is kept.

SQLite answers a damaged file (bytes overwritten by a failing SD card, a table dropped
by hand) with ``database disk image is malformed`` from whichever query meets the
damage first. The ledger holds the attempts counted against customers' units, so the
rig checks it as it opens (:func:`problems`: SQLite's own quick check and the tables
it needs), refuses to use a damaged one, and says what to do: ``rig ledger check``,
then ``rig ledger recover NEW``, which copies every row that can still be read into a
new file (:mod:`rig.records.recovery`).

>>> import sqlite3
>>> db = sqlite3.connect(":memory:")
>>> problems(db)
['the table units is missing', 'the table runs is missing', 'the table attempts is missing', 'the table lockouts is missing', 'the table records is missing', 'the table unit_changes is missing']
"""

from __future__ import annotations

import sqlite3

from ..errors import ConfigError, Problem

NEEDED = ("units", "runs", "attempts", "lockouts", "records", "unit_changes")
PROBE_GAP = 1000  # rows probed past the last readable one before a table is taken as read


def problems(db) -> list[str]:
    """What is wrong with an open ledger, in words (empty: nothing)."""
    found = []
    try:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        found += [f"the table {t} is missing" for t in NEEDED if t not in names]
        lines = [r[0] for r in db.execute("PRAGMA quick_check(20)")]
        if lines != ["ok"]:
            found += [f"SQLite's check: {line}" for line in lines]
    except sqlite3.DatabaseError as exc:
        found.append(f"SQLite cannot read it: {exc}")
    return found


def refusal(path: str, found: list[str]) -> ConfigError:
    """The ledger is damaged: what is wrong, and what to do (nothing is changed in it)."""
    what = "; ".join(found[:4]) + (f"; and {len(found) - 4} more" if len(found) > 4 else "")
    return ConfigError([Problem(path, None, f"the ledger is damaged ({what}). It holds the attempts counted "
                                "against your units, so the rig will not use it, and leaves it as it is. "
                                f"`rig --ledger {path} ledger check` says what is wrong; `rig --ledger {path} "
                                "ledger recover NEW.sqlite` copies every record still readable into a new ledger "
                                "(lost attempts are counted back, never dropped); then use it with --ledger "
                                "NEW.sqlite, or restore the ledger from a backup")])
