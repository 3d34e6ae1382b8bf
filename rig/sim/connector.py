"""Between the relays and the head-unit connector: fuses, a current-limited supply, contacts.

The rig commands a rail; what reaches the connector is that, unless a fault says
otherwise (``rail_fault`` in :mod:`rig.sim.knobs`). The unit model sees only what
reaches the connector, and so do the rail senses (``battery_v``, ``acc_v``), which
this class drives - except in a sag: the supply dips below what the unit's regulator
needs (it browns out and resets) but not below a rail sense's opto threshold (~2 V),
so the senses read on throughout. A blown fuse and a welded contact are kept in the
unit's memory (a fuse stays blown until ``rig sim reset``).
"""

from __future__ import annotations

from typing import Callable


class Connector:
    """Commanded rail states in, connector rail states out (to ``deliver(rail, on)``)."""

    def __init__(self, clock, commanded: dict[str, bool], deliver: Callable[[str, bool, bool], None]):
        """``deliver(rail, at_connector, at_unit)``: what a rail sense measures, and what the unit gets."""
        self.clock = clock
        self.commanded = dict(commanded)
        self._deliver = deliver
        self._sag_timer = None
        self._sagging = False
        self.fault: dict | None = None
        self.memory: dict = {}
        self._save: Callable[[], None] = lambda: None
        self._fuse_timer = None
        self._foldback_until: float | None = None
        self._foldback_timer = None

    def set_fault(self, fault: dict | None, memory: dict, save: Callable[[], None]) -> None:
        self.fault, self.memory, self._save = fault, memory, save
        self.memory.setdefault("blown", [])
        self.memory.setdefault("welded", [])
        self._weld_check()
        f = fault or {}
        if f.get("kind") == "sag" and self.commanded.get(f["rail"]):
            self._sag(True)  # a rail on from the start (constant power) sags that long after the bench opens
        self._update()

    # -- what reaches the connector ----------------------------------------------
    def at_connector(self, rail: str) -> bool:
        if self._foldback_until is not None:
            return False  # the supply is in current limit: nothing reaches any rail
        if rail in self.memory.get("blown", ()):
            return False
        return self.commanded.get(rail, False) or rail in self.memory.get("welded", ())

    def _update(self) -> None:
        for rail in self.commanded:
            level = self.at_connector(rail)
            self._deliver(rail, level, level and not self._sagging)

    # -- the rig switched a relay ------------------------------------------------
    def command(self, rail: str, on: bool) -> None:
        if self.commanded.get(rail) == on:
            return
        self.commanded[rail] = on
        f = self.fault
        if f and f["rail"] == rail:
            if f["kind"] == "fuse":
                self._fuse(on)
            elif f["kind"] == "foldback" and on:
                self._foldback(f["for"])
            elif f["kind"] == "sag":
                self._sag(on)
        self._weld_check()
        self._update()

    def _fuse(self, on: bool) -> None:
        rail = self.fault["rail"]
        if self._fuse_timer is not None:
            self._fuse_timer.cancel()
            self._fuse_timer = None
        if on and rail not in self.memory["blown"]:
            self._fuse_timer = self.clock.call_later(self.fault["after"], self._blow)

    def _blow(self) -> None:
        self._fuse_timer = None
        self.memory["blown"].append(self.fault["rail"])
        self._save()
        self._update()

    def _foldback(self, seconds: float) -> None:
        self._foldback_until = self.clock.now() + seconds
        if self._foldback_timer is not None:
            self._foldback_timer.cancel()
        self._foldback_timer = self.clock.call_later(seconds, self._recover)

    def _recover(self) -> None:
        self._foldback_until = self._foldback_timer = None
        self._update()

    def _sag(self, on: bool) -> None:
        if self._sag_timer is not None:
            self._sag_timer.cancel()
            self._sag_timer = None
        if on:
            self._sag_timer = self.clock.call_later(self.fault["after"], lambda: self._sag_now(True))

    def _sag_now(self, sagging: bool) -> None:
        self._sagging = sagging
        self._sag_timer = self.clock.call_later(self.fault["for"], lambda: self._sag_now(False)) if sagging else None
        self._update()

    def _weld_check(self) -> None:
        f = self.fault
        if f and f["kind"] == "welded" and self.commanded.get(f["rail"]) and f["rail"] not in self.memory["welded"]:
            self.memory["welded"].append(f["rail"])  # the contact closed once and stayed closed
            self._save()

    def close(self) -> None:
        for t in (self._fuse_timer, self._foldback_timer, self._sag_timer):
            if t is not None:
                t.cancel()
