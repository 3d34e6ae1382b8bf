"""A unit model with a bug, attached through the public seam: it raises ZeroDivisionError.

Switched on (constant power and ACC at the connector) it shows ``CODE`` and raises its
amp-remote. Its bug fires where the setting ``fail_on`` says:

- ``acc_off``: in its rail watcher, when ACC goes off (the bench's release does that);
- ``key_up``: in its key watcher, when ``mode`` is let go (the middle of a combo's release);
- ``timer``: in a callback it scheduled ``after`` s after ACC came on.

``rig --backend sim --unit-model faulty:factory,fail_on=key_up ...``. It keeps no memory.
"""

from __future__ import annotations

from rig.sim.model import UnitIO, UnitModel


class Faulty(UnitModel):
    settings = {"fail_on": "acc_off", "after": 0.3}

    @classmethod
    def reset(cls, path, *, profile, code, state="locked", attempts=0, serial="", settings=None):
        open(path, "w").close()  # nothing to remember; the file says a unit is on the bench

    def __init__(self, io: UnitIO):
        super().__init__(io)
        self.fail_on = io.settings["fail_on"]
        io.watch_rail(self.rail)
        io.watch_key(self.key, "mode")

    def rail(self, name: str, on: bool) -> None:
        powered = bool(self.io.rails.get("battery") and self.io.rails.get("acc"))
        self.io.drive("unit_on", powered)
        self.io.show("CODE" if powered else "")
        if name == "acc" and on and self.fail_on == "timer":
            self.io.clock.call_later(self.io.settings["after"], self.bug)
        if name == "acc" and not on and self.fail_on == "acc_off":
            self.bug()

    def key(self, name: str, down: bool) -> None:
        if not down and self.fail_on == "key_up":
            self.bug()

    def bug(self) -> None:
        1 / 0


factory = Faulty
