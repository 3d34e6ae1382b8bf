"""A unit model whose own timers never announce themselves: every callback has ``wakes=False``.

A locked-out unit (it shows ``WAIT``, then ``CODE ****`` once it has been on for ``wait``
seconds, as the Becker notes describe it) whose amp-remote drops out between ``off_at``
and ``on_at`` seconds after it came on - a loose amp-remote contact, say - with its wait
paused meanwhile. Nothing it schedules asks to wake the rig: the seam's contract says the
rig sees its changes at their own time anyway.
"""

from __future__ import annotations

from rig.sim.model import UnitIO, UnitModel


class Quiet(UnitModel):
    settings = {"wait": 3600.0, "off_at": 100.0, "on_at": 900.0}

    @classmethod
    def reset(cls, path, *, profile, code, state="locked", attempts=0, serial="", settings=None):
        open(path, "w").close()

    def __init__(self, io: UnitIO):
        super().__init__(io)
        self.on = False
        self.timers = []
        io.watch_rail(self.rail)

    def rail(self, name: str, on: bool) -> None:
        powered = bool(self.io.rails.get("battery") and self.io.rails.get("acc"))
        if powered and not self.on:
            self.on = True
            s, clock = self.io.settings, self.io.clock
            self.io.drive("unit_on", True)
            self.io.show("WAIT")
            self.timers = [clock.call_later(s["off_at"], lambda: self.io.drive("unit_on", False), wakes=False),
                           clock.call_later(s["on_at"], lambda: self.io.drive("unit_on", True), wakes=False),
                           clock.call_later(s["wait"] + s["on_at"] - s["off_at"], lambda: self.io.show("CODE ****"),
                                            wakes=False)]
        elif not powered and self.on:
            self.on = False
            for t in self.timers:
                t.cancel()
            self.io.drive("unit_on", False)
            self.io.show("")


factory = Quiet
