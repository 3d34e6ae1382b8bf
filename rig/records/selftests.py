"""The commissioning record: which pin map passed ``rig selftest`` on which bench, kept in the ledger.

A hardware run on a unit is refused until the pin map it runs on - the file's bytes,
so any edit counts as a new map - has passed on this host. The report keeps every
measurement, passed or not, as OpenHTF keeps a test record.

>>> from rig.records.ledger import Ledger
>>> led = Ledger(":memory:")
>>> record(led, "hardware", "bench.yaml", "abc123", True, [{"name": "pin library", "passed": True}])
1
>>> passed_on_this_host(led, "abc123"), passed_on_this_host(led, "other")
(True, False)
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from pathlib import Path


def wiring_hash(wiring) -> str:
    """A short fingerprint of the pin map file (its bytes: a comment edited is a new map)."""
    source = getattr(wiring, "source", None)
    data = Path(source).read_bytes() if source and Path(source).is_file() else repr(wiring).encode()
    return hashlib.sha256(data).hexdigest()[:12]


def record(ledger, backend: str, wiring_path: str, digest: str, passed: bool, report: list[dict]) -> int:
    cur = ledger.db.execute(
        "INSERT INTO selftests(t, host, backend, wiring, wiring_hash, passed, report) VALUES (?,?,?,?,?,?,?)",
        (time.time(), socket.gethostname(), backend, wiring_path, digest, int(passed), json.dumps(report)))
    return cur.lastrowid


def passed_on_this_host(ledger, digest: str, backend: str | None = None) -> bool:
    """Has this pin map passed a selftest on this machine (on ``backend``, if given) since it last failed?"""
    q = "SELECT passed FROM selftests WHERE wiring_hash=? AND host=?"
    args = [digest, socket.gethostname()]
    if backend:
        q += " AND backend=?"
        args.append(backend)
    row = ledger.db.execute(q + " ORDER BY id DESC LIMIT 1", args).fetchone()
    return bool(row and row[0])


def last(ledger, limit: int = 10) -> list[dict]:
    return [dict(r) for r in ledger.db.execute("SELECT * FROM selftests ORDER BY id DESC LIMIT ?", (limit,))]
