"""A unit model the project did not ship: the 1986 Alpine head unit of Peugeot cars.

It lives only in tests/ and attaches through the public seam (rig.sim.model) the way a
user's own model would: ``rig --backend sim --unit-model alpine_psa:factory ...``. It is
written from the Peugeot/Citroen row of research/headunits.md (Peugeot bulletin 206,
1986 [45]; a PSA helpline [47]), not from any shipped profile, and has its own quirks:

- switched on (constant power and ACC at the connector) it boots for 0.8 s, shows
  ``CODE`` and raises the amp-remote 0.4 s later;
- the code is 5 digits on buttons 1-5 [45]; each press of preset N types the digit N,
  shown as typed, e.g. ``12---``; the unit checks by itself 1 s after the fifth digit;
- a wrong code "beeps" and restarts: ``CODE`` again [45]; after 3 failures it must stay
  on continuously [45] for 1 h 10 min [47] (``WAIT``); losing power restarts the wait;
- a right code gives the radio, ``FM 98.2``.

Its memory (code hash, locked, failures, wait left) is a small JSON file at
``io.state_path``, written by :func:`new_unit` (``rig sim reset --unit-model
alpine_psa:factory``). Its settings, given after the factory
(``--unit-model alpine_psa:factory,wait=10min,radio=FM 101.1``): ``wait`` (the lockout,
default 1 h 10 min), ``check`` (how long after the fifth digit it checks, 1 s) and
``radio`` (what it shows once unlocked).
"""

from __future__ import annotations

import hashlib
import json

from rig.sim.model import UnitIO, UnitModel

BOOT, AMP, CHECK = 0.8, 0.4, 1.0
WAIT = 70 * 60  # 1 h 10 min, PSA helpline [47]
DIGIT_KEYS = {f"preset{n}": str(n) for n in range(1, 6)}


def new_unit(path, code: str, state: str = "locked", attempts: int = 0, wait: float = WAIT) -> None:
    """Write a fresh unit with ``code`` (digits 1-5) to ``path``: locked, unlocked, or in its wait."""
    lockout = state == "lockout"
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"code_hash": _hash(code), "locked": state != "unlocked", "failures": 3 if lockout else attempts,
                   "wait_left": wait if lockout else None}, fh)


def _hash(code: str) -> str:
    return hashlib.sha256(("alpine-" + code).encode()).hexdigest()


class AlpinePSA(UnitModel):
    settings = {"wait": float(WAIT), "check": CHECK, "radio": "FM 98.2"}

    @classmethod
    def reset(cls, path, *, profile, code, state="locked", attempts=0, serial="", settings=None):
        new_unit(path, code, state, attempts, (settings or cls.settings)["wait"])

    @classmethod
    def describe(cls, path) -> dict:
        with open(path, encoding="utf-8") as fh:
            return {k: v for k, v in json.load(fh).items() if k != "code_hash"}

    def __init__(self, io: UnitIO):
        super().__init__(io)
        with open(io.state_path, encoding="utf-8") as fh:
            self.mem = json.load(fh)
        self.on = False
        self.typed = ""
        self.timers = []
        self.wait_since = None
        io.watch_rail(self.rail)
        for key in DIGIT_KEYS:
            io.watch_key(self.key, key)

    def close(self) -> None:
        self._bank_wait()
        with open(self.io.state_path, "w", encoding="utf-8") as fh:
            json.dump(self.mem, fh)

    # -- power ---------------------------------------------------------------------
    def powered(self) -> bool:
        """Constant power and ACC at the connector (a model built on this one may want more)."""
        return bool(self.io.rails.get("battery") and self.io.rails.get("acc"))

    def rail(self, name: str, on: bool) -> None:
        powered = self.powered()
        if powered and not self.on:
            self.on = True
            self._later(BOOT, self._booted)
        elif not powered and self.on:
            self.on = False
            for t in self.timers:
                t.cancel()
            self.timers.clear()
            if self.wait_since is not None:  # it had to stay on continuously: start over
                self.wait_since = None
                self.mem["wait_left"] = self.io.settings["wait"]
            self.typed = ""
            self.io.drive("unit_on", False)
            self.io.show("")

    def _booted(self) -> None:
        self._later(AMP, lambda: self.io.drive("unit_on", True))
        if self.mem["wait_left"]:
            self._start_wait()
        else:
            self.io.show("CODE" if self.mem["locked"] else self.io.settings["radio"])

    # -- the code --------------------------------------------------------------------
    def key(self, name: str, down: bool) -> None:
        if not (down and self.on and self.mem["locked"] and not self.mem["wait_left"]) or len(self.typed) >= 5:
            return
        self.typed += DIGIT_KEYS[name]
        self.io.show(self.typed.ljust(5, "-"))
        if len(self.typed) == 5:
            self._later(self.io.settings["check"], self._check)

    def _check(self) -> None:
        typed, self.typed = self.typed, ""
        if _hash(typed) == self.mem["code_hash"]:
            self.mem.update(locked=False, failures=0)
            self.io.show(self.io.settings["radio"])
            return
        self.mem["failures"] += 1
        if self.mem["failures"] >= 3:
            self.mem["wait_left"] = self.io.settings["wait"]
            self._start_wait()
        else:
            self.io.show("CODE")

    # -- the wait ----------------------------------------------------------------------
    def _start_wait(self) -> None:
        self.wait_since = self.io.clock.now()
        self.io.show("WAIT")
        self._later(self.mem["wait_left"], self._wait_over)

    def _bank_wait(self) -> None:
        if self.wait_since is not None:
            now = self.io.clock.now()
            self.mem["wait_left"] = max(0.0, self.mem["wait_left"] - (now - self.wait_since))
            self.wait_since = now

    def _wait_over(self) -> None:
        self.wait_since = None
        self.mem.update(wait_left=None, failures=0)
        self.io.show("CODE")

    def _later(self, delay, fn) -> None:
        self.timers.append(self.io.clock.call_later(delay, fn))


factory = AlpinePSA  # the factory named on the command line: ``--unit-model alpine_psa:factory``
