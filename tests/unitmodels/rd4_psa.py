"""A unit model the project did not ship that needs the car's network: a Peugeot/Citroen radio on the
125 kbit/s comfort CAN (research/headunits.md: "RD4 sits on the 125 kbps comfort CAN" [48]).

It is the Alpine model (alpine_psa.py: code on buttons 1-5, checks itself, WAIT) with what a
CAN-era unit adds, all through the public seam (rig.sim.model), as a user's own model would:

- it is awake only while it hears the car's ignition frame ``0x036`` with byte 4 bit 0 set
  (``io.watch_frame``), and falls asleep ``sleep`` seconds (a setting, 3 s) after the last one;
  asleep, it is dark whatever its rails say (the frame id and bit are this model's guess);
- awake, it says so on the bus once a second, ``0x165`` ``01 00`` (``io.send_frame``), so a
  technician watching the bus (``rig can watch``) sees it is there;
- a setting ``bus_off`` (seconds after it wakes; 0: never) makes the rig's controller report
  bus-off (``io.bus_error``) for ten seconds, in which no frame reaches it.

``rig --backend sim --unit-model rd4_psa:factory run enter-code --profile rd4-psa ...``, with the
profile in notes/rd4-psa.md (which names the wake frame the rig sends).
"""

from __future__ import annotations

try:
    from .alpine_psa import AlpinePSA, new_unit  # noqa: F401  (new_unit: its memory is the Alpine's)
except ImportError:  # a top-level module, as --unit-model rd4_psa:factory finds it on PYTHONPATH
    from alpine_psa import AlpinePSA, new_unit  # noqa: F401

WAKE_ID, STATUS_ID = 0x036, 0x165


class RD4(AlpinePSA):
    settings = dict(AlpinePSA.settings, sleep=3.0, bus_off=0.0)

    def __init__(self, io):
        super().__init__(io)
        self.awake, self.last_wake, self.blocked, self.heard = False, None, False, 0
        self._asleep_timer = self._status_timer = None
        io.watch_frame(self.frame, WAKE_ID)

    def powered(self) -> bool:
        return self.awake and super().powered()

    def frame(self, ident: int, data: bytes) -> None:
        if self.blocked or len(data) < 5 or not data[4] & 0x01:
            return
        self.heard += 1
        self.last_wake = self.io.clock.now()
        if not self.awake:
            self.awake = True
            self.rail("acc", True)  # what its rails say counts again
            self._status_timer = self.io.clock.call_later(1.0, self.status)
            if self.io.settings["bus_off"]:
                self.io.clock.call_later(self.io.settings["bus_off"], self.fault)
        if self._asleep_timer is None:
            self._asleep_timer = self.io.clock.call_at(self.last_wake + self.io.settings["sleep"], self.check)

    def check(self) -> None:
        self._asleep_timer = None
        due = self.last_wake + self.io.settings["sleep"]
        if self.io.clock.now() < due - 1e-9:
            self._asleep_timer = self.io.clock.call_at(due, self.check)
        elif self.awake:
            self.awake = False
            self.rail("acc", False)  # dark, rails or not

    def status(self) -> None:
        if self.awake:
            self.io.send_frame(STATUS_ID, b"\x01\x00")
            self._status_timer = self.io.clock.call_later(1.0, self.status)

    def fault(self) -> None:
        self.blocked = True
        self.io.bus_error("bus-off", 255, 0)
        self.io.clock.call_later(10.0, self.recovered)

    def recovered(self) -> None:
        self.blocked = False
        self.io.bus_error("restarted")

    def close(self) -> None:
        self.mem["heard"] = self.heard  # for the tests: how many wake frames reached it
        super().close()


factory = RD4  # --unit-model rd4_psa:factory
