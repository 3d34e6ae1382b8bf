"""What the station reads from and tidies in the ledger: the run in progress, the unit's standing,
runs a killed server left RUNNING; and the pin history a long-lived server must not keep."""

from __future__ import annotations

import sqlite3

from ..errors import RigError
from ..records.ledger import Ledger
from ..unit.profiles import load_profiles


def open_run_id(ledger_path, procedure: str) -> int | None:
    """The id of the run of ``procedure`` in progress (no outcome yet), or None."""
    led = Ledger(ledger_path)
    try:
        row = led.db.execute("SELECT id FROM runs WHERE procedure=? AND outcome IS NULL ORDER BY id DESC LIMIT 1",
                             (procedure,)).fetchone()
        return row[0] if row else None
    finally:
        led.close()


def sweep_runs(ledger_path) -> list[int]:
    """Runs a server (or any rig) killed before it recorded their end become interrupted, saying so."""
    led = Ledger(ledger_path)
    try:
        return led.sweep_stale_runs()
    finally:
        led.close()


def unit_standing(ledger_path, unit: dict | None) -> dict | None:
    """The unit's standing for the live state. A ledger that cannot be read says so, in its place:
    the state (and every stream that starts with it) goes on."""
    try:
        return _standing(ledger_path, unit)
    except (RigError, sqlite3.Error) as exc:
        return dict(unit, known=False, state=f"the ledger cannot be read: {exc}")


def _standing(ledger_path, unit: dict | None) -> dict | None:
    if not unit:
        return None
    p = load_profiles().get(unit["profile"])
    led = Ledger(ledger_path)
    try:
        if p is None or led.unit(unit["serial"]) is None:
            return dict(unit, state="not in the ledger yet", known=False)
        st = led.standing(unit["serial"], p)
    finally:
        led.close()
    return dict(unit, known=True, family=p.family, state=st.describe(), used=st.used, allowed=st.allowed, left=st.left,
                lockout_left=st.lockout_left, unlocked=st.unlocked, permanent=st.permanent)


def forget_pin_history(factory) -> None:
    """Mock pins (sim, mock) keep every level they ever had; a server running for weeks must not.
    The run's event log has the edges already."""
    for pin in list(getattr(factory, "pins", {}).values()):
        clear = getattr(pin, "clear_states", None)
        if clear is not None:
            clear()
