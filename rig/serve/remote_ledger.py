"""A bench's ledger, read from another machine: ``rig --place P units/runs`` act on the bench, not here.

The bench's server sends every row of its ledger (``GET /api/ledger``); they are
loaded into a ledger in memory, so the same commands read it the same way (the
columns both rigs know; a newer bench's extra ones are left out). A run's event
log is fetched when a command shows it, into the local log folder, beside the
copies ``rig --place P run`` makes.

>>> led = ledger_copy({"units": [{"serial": "VW1", "profile": "vw-safe", "created": 1.0, "shiny": 1}],
...                    "runs": [], "attempts": [], "lockouts": [], "records": [], "unit_changes": []})
>>> led.unit("VW1")["profile"]
'vw-safe'
"""

from __future__ import annotations

from ..records.ledger import Ledger


def ledger_copy(tables: dict) -> Ledger:
    """An in-memory ledger holding ``tables`` (``{table: [row, ...]}``) as the bench sent them."""
    led = Ledger(":memory:")
    for table, rows in tables.items():
        known = {r[1] for r in led.db.execute(f"PRAGMA table_info({table})")} if table.isidentifier() else set()
        for row in rows if known else ():
            cols = [c for c in row if c in known]
            led.db.execute(f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                           [row[c] for c in cols])
    return led


def fetch_ledger(client) -> Ledger:
    """The ledger of the bench behind ``client`` (a viewer's token is enough)."""
    led = ledger_copy(client.get("/api/ledger"))
    led.remote = client  # whose it is: a run's log is fetched from there
    return led
