"""The CAN side of the shipped simulated units: what wakes them, their display and keys on the bus.

Written by hand from the research (``research/can.md``, the notes' sources), not from
the profiles' ``can:`` sections, so a wrong frame in a profile fails against the
simulator as it would against the unit:

- **VW RCD310** (``vw-rcd310``): dark unless it hears ``0x575`` with byte 0 bit 1
  (Kl.15) set; asleep ``can_sleep_after`` seconds after the last one.
- **Ford 6000CD** (``ford-6000cd-can``): writes its text to the dashboard as ISO-TP on
  ``0x4C0`` (``0x34`` then ASCII), waiting up to a second for the dashboard's flow
  control on ``0x4C8``; wakes on the MS-CAN power-mode frame ``0x048`` (byte 4 = 0x07).
  That frame is Ford SYNC2's; that the 6000CD listens to it is this simulator's guess.
- **Opel CD30** (``opel-cd30``): keys from the panel on ``0x201`` (``01 id n`` held,
  ``00 id n`` let go, ids 0x31-0x34 for 1-4, 0x6F for OK), text as ISO-TP on ``0x6C1``
  in UTF-16 fields, flow control on ``0x2C1``; wakes on ``0x4ED`` with byte 1 = 0x03
  (ignition on, JJToB's MS-CAN body frames). The sources do not say which frame wakes
  the radio: the guess is the simulator's, and the profile ships none (record it).

Faults on demand: the ``can_fault`` knob (bus-off, error-passive, no acknowledge).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

KEY_HELD = 0.35   # s without a held key's repeat frame after which the panel's key counts as let go


@dataclass(frozen=True)
class Hardware:
    """One family's CAN side."""

    wake_id: int | None = None
    wakes: Callable[[bytes], bool] = lambda data: True
    display: str | None = None            # "ford" | "opel"
    text_id: int = 0
    fc_id: int = 0
    key_id: int | None = None
    key_ids: dict = field(default_factory=dict)


UNITS = {
    "vw-rcd310": Hardware(0x575, lambda d: len(d) >= 1 and bool(d[0] & 0x02)),
    "ford-6000cd-can": Hardware(0x048, lambda d: len(d) >= 5 and d[4] == 0x07, "ford", 0x4C0, 0x4C8),
    "opel-cd30": Hardware(0x4ED, lambda d: len(d) >= 2 and d[1] == 0x03, "opel", 0x6C1, 0x2C1, 0x201,
                          {0x31: "preset1", 0x32: "preset2", 0x33: "preset3", 0x34: "preset4", 0x6F: "ok"}),
}


def attach_can(unit) -> "CanSide | None":
    """Give a shipped SimUnit its family's CAN side, if it has one and the bench has a bus."""
    hw = UNITS.get(unit.p.id)
    if hw is None or not unit.io.can:
        return None
    return CanSide(unit, hw)


class CanSide:
    """Frames in (wake, flow control, keys), frames out (text), faults on demand."""

    def __init__(self, unit, hw: Hardware):
        self.unit, self.hw, self.io, self.clock = unit, hw, unit.io, unit.clock
        self.sleep_after = unit.k["can_sleep_after"]
        self.last_wake: float | None = None
        self._watchdog = None
        self.blocked = False        # a fault keeps the rig's frames from arriving
        self._fault_done = False
        self._held: dict[str, float] = {}
        self.io.watch_frame(self._frame)
        if hw.wake_id is not None:
            unit.set_bus_awake(False)
        if hw.display is not None:
            self.text = IsoTpSender(self.io, self.clock, hw.text_id, hw.fc_id)
            unit.out = self._show

    # -- frames from the rig ----------------------------------------------------------
    def _frame(self, ident: int, data: bytes) -> None:
        if self.blocked:
            return
        hw = self.hw
        if ident == hw.wake_id and hw.wakes(data):
            self._woken()
        elif hw.display and ident == hw.fc_id:
            self.text.flow_control(data)
        elif ident == hw.key_id and len(data) >= 2:
            self._key(data)

    def _woken(self) -> None:
        self.last_wake = self.clock.now()
        if not self.unit.bus_awake:
            self.unit.set_bus_awake(True)
            self._fault_later()
        if self._watchdog is None:
            self._watchdog = self.clock.call_at(self.last_wake + self.sleep_after, self._check_asleep)

    def _check_asleep(self) -> None:
        self._watchdog = None
        if self.last_wake is None or not self.unit.bus_awake:
            return
        due = self.last_wake + self.sleep_after
        if self.clock.now() >= due - 1e-9:
            self.unit.set_bus_awake(False)  # no wake frame for sleep_after: it goes dark
        else:
            self._watchdog = self.clock.call_at(due, self._check_asleep)

    def _key(self, data: bytes) -> None:
        name = self.hw.key_ids.get(data[1])
        if name is None:
            return
        if data[0] == 0x01:  # held: the panel repeats this every 100 ms
            first = name not in self._held
            self._held[name] = self.clock.now()
            if first:
                self.unit.key_changed(name, True)
                self.clock.call_later(KEY_HELD, lambda: self._still_held(name))
        elif data[0] == 0x00 and name in self._held:
            del self._held[name]
            self.unit.key_changed(name, False)

    def _still_held(self, name: str) -> None:
        last = self._held.get(name)
        if last is None:
            return
        if self.clock.now() - last >= KEY_HELD - 1e-9:
            del self._held[name]  # the repeats stopped without a release frame: the key is up
            self.unit.key_changed(name, False)
        else:
            self.clock.call_at(last + KEY_HELD, lambda: self._still_held(name))

    # -- text to the dashboard ------------------------------------------------------------
    def _show(self, text: str) -> None:
        if self.hw.display == "ford":
            self.text.send(b"\x34" + text.encode("ascii", "replace") if text else b"\x34\x00")
        else:
            chars = text.encode("utf-16-be")
            body = bytes([0x03, 0x01, len(text)]) + chars  # type 03 (main screen), field 01
            self.text.send(bytes([0xC0, 0x00, len(body)]) + body)

    # -- faults on demand ---------------------------------------------------------------
    def _fault_later(self) -> None:
        fault = self.unit.k.get("can_fault")
        if not fault or self._fault_done:
            return
        self._fault_done = True
        self.clock.call_later(fault["after"], lambda: self._fault(fault))

    def _fault(self, fault: dict) -> None:
        kind = fault["kind"]
        if kind == "bus_off":
            self.io.bus_error("error-passive", 128, 0)
            self.io.bus_error("bus-off", 255, 0)
            self.blocked = True
        elif kind == "no_ack":
            self.io.bus_error("no-ack", 128, 0)
            self.io.bus_error("error-passive", 128, 0)
            self.blocked = True
        else:
            self.io.bus_error("error-passive", 130, 0)
        self.clock.call_later(fault["for"], self._recovered)

    def _recovered(self) -> None:
        self.blocked = False
        self.io.bus_error("restarted", 0, 0)


class IsoTpSender:
    """A unit's ISO-TP sender, written apart from the rig's receiver (can-isotp) on purpose:
    a single frame, or a first frame, the receiver's flow control, then consecutive frames."""

    FC_TIMEOUT = 1.0

    def __init__(self, io, clock, txid: int, fcid: int):
        self.io, self.clock, self.txid, self.fcid = io, clock, txid, fcid
        self._rest: bytes | None = None
        self._timeout = None
        self.dropped = 0   # texts given up on: nobody answered the first frame

    def send(self, payload: bytes) -> None:
        if self._timeout is not None:
            self._timeout.cancel()
            self._timeout = None
        if len(payload) <= 7:
            self._rest = None
            self.io.send_frame(self.txid, bytes([len(payload)]) + payload.ljust(7, b"\x00"))
            return
        size = len(payload)
        self.io.send_frame(self.txid, bytes([0x10 | (size >> 8), size & 0xFF]) + payload[:6])
        self._rest = payload[6:]
        self._timeout = self.clock.call_later(self.FC_TIMEOUT, self._give_up)

    def _give_up(self) -> None:
        self._timeout = None
        if self._rest is not None:
            self._rest = None
            self.dropped += 1

    def flow_control(self, data: bytes) -> None:
        if self._rest is None or not data or data[0] & 0xF0 != 0x30 or data[0] & 0x0F != 0:
            return  # not waiting, not a flow control, or "wait"/"overflow": keep waiting
        if self._timeout is not None:
            self._timeout.cancel()
            self._timeout = None
        rest, self._rest = self._rest, None
        for seq, i in enumerate(range(0, len(rest), 7), start=1):
            self.io.send_frame(self.txid, bytes([0x20 | (seq & 0x0F)]) + rest[i:i + 7].ljust(7, b"\x00"))
