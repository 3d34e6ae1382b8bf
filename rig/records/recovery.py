"""Recovering a damaged ledger: every row still readable copied into a new file.

Recovery never lowers a unit's attempt count: attempts lost to the damage are put back
as ``unknown`` (counted, as a crash counts them), on every unit they could have belonged
to, and the report says so. The damage itself is found by :mod:`rig.records.integrity`.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from ..errors import ConfigError, Problem
from .integrity import NEEDED, PROBE_GAP
from .ledger import Ledger


def _rows(src, table: str) -> tuple[list[dict], int]:
    """Every readable row of ``table``, and how many rows the damage took: -1 when that cannot
    be told (the end of the table is unreadable)."""
    try:
        return [dict(r) for r in src.execute(f"SELECT rowid AS _rowid, * FROM {table} ORDER BY rowid")], 0
    except sqlite3.DatabaseError:
        pass
    try:
        last = src.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
    except sqlite3.DatabaseError:
        last = None
    rows, lost, rowid, found_at, tail_lost = [], 0, 1, 0, False
    while (rowid <= last) if last is not None else (rowid - found_at <= PROBE_GAP):
        try:
            row = src.execute(f"SELECT rowid AS _rowid, * FROM {table} WHERE rowid=?", (rowid,)).fetchone()
            if row is not None:
                rows.append(dict(row))
                lost, tail_lost, found_at = lost + tail_lost, 0, rowid
        except sqlite3.DatabaseError:
            tail_lost += 1  # lost if a readable row follows; past the last one, nobody can tell
        rowid += 1
    if tail_lost and last is None:
        return rows, -1
    return rows, lost + tail_lost


def recover(source: str, target: str) -> dict:
    """Copy every readable row of the ledger ``source`` into a new ledger ``target``.

    Returns a report: rows copied and lost per table, and the attempts put back as
    ``unknown`` per unit (so that no unit's count goes down). ``target`` must not exist.
    """
    if Path(target).exists():
        raise ConfigError([Problem(target, None, "recover writes a new ledger: this file exists already")])
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    src.row_factory = sqlite3.Row
    try:
        names = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError:
        names = set(NEEDED)  # the schema page itself is damaged: try every table anyway
    copied, lost = {}, {}
    data = {}
    for table in NEEDED:
        if table in names:
            try:
                data[table], lost[table] = _rows(src, table)
            except sqlite3.DatabaseError:
                data[table], lost[table] = [], -1  # the table cannot be read at all
        else:
            data[table], lost[table] = [], -1
    src.close()
    led = Ledger(target)
    try:
        led.db.execute("BEGIN IMMEDIATE")
        for table, rows in data.items():
            columns = {r[1] for r in led.db.execute(f"PRAGMA table_info({table})")}
            for row in rows:
                row = {k: v for k, v in row.items() if k in columns}
                keys = list(row)
                led.db.execute(f"INSERT OR IGNORE INTO {table}({', '.join(keys)}) VALUES "
                               f"({', '.join('?' for _ in keys)})", [row[k] for k in keys])
            copied[table] = len(rows)
        serials = sorted({r["serial"] for t in ("units", "attempts", "runs", "lockouts") for r in data[t]
                          if r.get("serial")})
        known = {r["serial"] for r in data["units"]}
        for serial in [s for s in serials if s not in known]:
            profile = next((r["profile"] for r in data["runs"] if r.get("serial") == serial and r.get("profile")), None)
            led.db.execute("INSERT INTO units(serial, profile, created, notes) VALUES (?,?,?,?)",
                           (serial, profile, time.time(), "recovered from a damaged ledger: its unit row was lost"))
        put_back = _count_back(led, data, lost, serials, source)
        led.db.execute("COMMIT")
    except BaseException:
        led.db.execute("ROLLBACK")
        raise
    finally:
        led.close()
    return {"copied": copied, "lost": lost, "units": serials, "put_back": put_back}


def _count_back(led, data, lost, serials, source) -> dict:
    """Attempts the damage took are counted back as ``unknown`` on every unit they could have been
    on (a lost row's unit cannot be read either). Where nobody can tell how many were lost, one
    each. A count may go up by recovery, never down."""
    missing = lost["attempts"]
    if missing < 0:
        missing = 1
    put_back = {}
    for serial in serials if missing else ():
        for _ in range(missing):
            led.db.execute("INSERT INTO attempts(serial, run_id, t, outcome, via) VALUES (?,?,?,?,?)",
                           (serial, None, time.time(), "unknown", f"counted back: lost in damage to {source}"))
        put_back[serial] = missing
    return put_back
