"""The simulated head unit's behaviour: a profile run as a state machine.

Inputs are rail and key edges (``rail_changed``, ``key_changed``) at the
clock's current time; outputs are display texts and the ``unit_on`` level,
through the callbacks given. Timed behaviour (a combo held long enough, the
result of a confirm, the lockout wait) is scheduled on the VirtualClock, so
the same inputs always give the same outputs at the same virtual times.
"""

from __future__ import annotations

import random
from typing import Callable

from ..unit.profiles import Profile
from . import knobs as knobs_mod
from .keys import SERIAL_SHOWN, SERIAL_STEP, KeyScan
from .memory import UnitMemory
from .model import UnitIO, UnitModel

TICK = 60.0          # a {time} countdown is redrawn once a minute
UNLOCK_STEP = 1.0    # seconds between the texts of a multi-part "unlocked" sequence (GM: SEC, then the radio)


class SimUnit(KeyScan, UnitModel):
    """One head unit of one profile, with its memory, attached through the model seam.

    ``knobs`` (see :mod:`rig.sim.knobs`) make it as untidy as a real unit: a boot
    delay and splash, a late (or missing) amp-remote, display lag, a key scan with
    debounce and auto-repeat (:mod:`rig.sim.keys`), a drifting lockout timer.
    """

    def __init__(self, profile: Profile, memory: UnitMemory, io: UnitIO, *,
                 save: Callable[[], None] = lambda: None, knobs: dict | None = None):
        super().__init__(io)
        self.p, self.mem, self.clock = profile, memory, io.clock
        self.k = knobs_mod.effective(memory.knobs if knobs is None else knobs)
        self._save = save
        self.rails = {"battery": True, "acc": False, "ignition": False}
        self.rails.update(io.rails)
        self._init_keys()
        self.on = False          # powered (battery and ACC at the connector)
        self.awake = False       # past boot_delay: the first line (splash) is up, the amp-remote may rise
        self.booted = False      # past the splash too: shows its state, takes keys, counts its lockout
        self.amp = False         # the amp-remote (unit_on) level it drives
        self.bus_awake = True    # a unit that needs the car's CAN is awake only while it hears it
        self.out = io.show       # where display text goes: the tap, or the bus (a display over CAN)
        self.powered_at = -1.0
        self.mode = "off"
        self.shown = ""
        self.digits: list[str] = []
        self.entry_opened_at = -1.0
        self.presses = 0
        self.confirm_armed = False
        self.battery_off_at: float | None = None
        self._timers: list = []
        self._lockout_since: float | None = None
        self._lockout_timer = None
        self._ticker = None
        self._rng = random.Random(f"unit-{self.k['seed']}")  # display_lag draws; seeded, so runs repeat
        self._display_at = 0.0   # when the last (lagged) display write happens
        self._lag = True
        d = profile.digits
        self.digit_keys = (list(d.keys) if d.scheme == "increment" else {v: k for k, v in d.keys.items()})
        io.watch_rail(self.rail_changed)
        io.watch_key(self.key_changed)

    def close(self) -> None:
        self._save()

    # -- inputs ------------------------------------------------------------
    def rail_changed(self, name: str, on: bool) -> None:
        if self.rails.get(name) == on:
            return
        self._account_lockout()
        self.rails[name] = on
        if name == "battery":
            if not on:
                self.battery_off_at = self.clock.now()
            elif self.battery_off_at is not None:
                self._battery_back(self.clock.now() - self.battery_off_at)
                self.battery_off_at = None
        if name in ("battery", "acc") and not on and self.mem.off_after_wait:
            self.mem.off_after_wait = False  # cycling its power wakes a unit that switched itself off
            self._save()
        self._power_update()
        self._lockout_update()

    # -- power -------------------------------------------------------------
    def set_bus_awake(self, awake: bool) -> None:
        """The car's network woke the unit, or it fell asleep (rig.sim.canunit): like a rail."""
        if awake == self.bus_awake:
            return
        self._account_lockout()
        self.bus_awake = awake
        self._power_update()
        self._lockout_update()

    def _power_update(self) -> None:
        powered = self.rails["battery"] and self.rails["acc"] and self.bus_awake and not self.mem.off_after_wait
        if powered and not self.on:
            self._turn_on()
        elif not powered and self.on:
            self._turn_off()

    def _battery_back(self, off_for: float) -> None:
        if off_for > self.p.arming.battery_off and not self.mem.permanent:
            self.mem.locked = True
            self.mem.ready = False
            if not self.p.attempts.persistent:  # the counters lived in RAM
                self.mem.wrong_in_window = self.mem.wrong_total = self.mem.lockouts = 0
                self.mem.lockout_left = None
            self._save()

    def _turn_on(self) -> None:
        self.on = True
        self.powered_at = self.clock.now()
        self._soon(self.k["boot_delay"], self._boot)

    def _boot(self) -> None:
        """Boot done: the first display line (the splash, if any) and the amp-remote."""
        if not self.on:
            return
        self.awake = True
        self._amp_update()  # ideal: unit_on rises in the same instant, before the first line
        if self.k["splash"] and self.k["splash_for"] > 0:
            self._show(self.k["splash"], lag=False)
            self._after(self.k["splash_for"], self._ready)
        else:
            self._ready()

    def _ready(self) -> None:
        """Splash over: the unit shows its state, takes keys, checks the power-on combos."""
        self.booted = True
        self._unlagged(self._show_state)  # the first state line comes with the boot, not after a key
        self._amp_update()  # low_while_locked: only now is it known whether it came up unlocked
        if self.mode == "locked":
            if self.k["self_entry"] is not None:
                self._after(self.k["self_entry"], self._open_by_itself)
            if not self.p.entry.keys and self.p.entry.opens_after is not None:
                self._after(self.p.entry.opens_after, lambda: self.mode == "locked" and self._open_entry())
            # Keys held since power-on count from power-on, not from the end of the boot.
            held = {k for k, t in self._raw_down.items() if t <= self.powered_at}  # sampled at boot
            started, now = self.powered_at, self.clock.now()
            if self.p.entry.at_power_on and self.p.entry.keys and set(self.p.entry.keys) <= held:
                self._after(max(0.0, started + self.p.entry.hold - now), self._entry_check, started)
            serial = self.p.sections.get("serial")
            if serial and serial.at_power_on and serial.keys and set(serial.keys) <= held:
                self._after(max(0.0, started + (serial.hold or 2.0) - now), self._serial_check, started)
        self._lockout_update()

    def _amp_update(self) -> None:
        """Drive the amp-remote (``unit_on``) as the knobs say, after its anti-thump delay."""
        mode = self.k["amp_remote"]
        want = self.awake and mode != "stuck_low" and (mode == "normal" or (self.booted and self.mode == "unlocked"))
        if want and not self.amp and not getattr(self, "_amp_pending", False):
            self._amp_pending = True
            self._soon(self.k["amp_remote_delay"], self._amp_rise)
        elif not want and self.amp:
            self.amp = False
            self.io.drive("unit_on", False)

    def _amp_rise(self) -> None:
        self._amp_pending = False
        if self.awake and not self.amp:
            self.amp = True
            self.io.drive("unit_on", True)

    def _turn_off(self) -> None:
        self.on = self.awake = self.booted = False
        self._amp_pending = False
        for t in self._timers:
            t.cancel()
        self._timers.clear()
        self.mode, self.digits, self.confirm_armed = "off", [], False
        if self.amp:
            self.amp = False
            self.io.drive("unit_on", False)
        self._display_at = 0.0
        self._show("", lag=False)  # the display goes dark with the power, at once

    # -- what it shows -----------------------------------------------------
    def _show(self, text: str, lag: bool = True) -> None:
        """Change the display; it is written ``display_lag`` later (LCD refresh), in order."""
        if text == self.shown:
            return
        self.shown = text
        lo, hi = self.k["display_lag"]
        delay = self._rng.uniform(lo, hi) if (lag and self._lag and hi > 0) else 0.0
        now = self.clock.now()
        if delay <= 0 and self._display_at <= now:
            self.out(text)
            return
        self._display_at = max(now + delay, self._display_at)
        self._timers.append(self.clock.call_at(self._display_at, lambda: self.out(text)))

    def _text(self, name: str, which: int = 0) -> str:
        """A display's text with every placeholder filled from the unit's state."""
        from ..unit.templates import render

        m, p = self.mem, self.p
        if p.attempts.counter_shown == "left":
            allowed = p.attempts.before_lockout if m.lockouts == 0 else p.attempts.after_lockout
            n = (p.attempts.permanent_after - m.wrong_total) if p.attempts.permanent_after else allowed - m.wrong_in_window
        else:
            n = m.wrong_total
        typed = len([d for d in self.digits if d != "-"])
        return render(p.templates(name)[which], digits=self._digits_text(), n=max(0, n),
                      time=self._lockout_left_now(), serial=m.serial, stars=p.digits.count - typed)

    def _show_state(self) -> None:
        m = self.mem
        if m.permanent:
            self.mode = "permanent"
            self._show(self._text("permanent" if "permanent" in self.p.display else "lockout"))
        elif m.locked_out:
            self.mode = "lockout"
            self._show(self._text("lockout"))
        elif m.locked:
            self.mode = "locked"
            self._show(self._text("ready" if m.ready else "locked"))
        else:
            self.mode = "unlocked"
            self._show(self._text("unlocked", -1))  # a unit already unlocked comes up playing

    def _show_unlocked(self) -> None:
        # A right code: the unit steps through its unlocked texts (GM: SEC, then the radio).
        self.mode = "unlocked"
        texts = self.p.templates("unlocked")
        for i in range(len(texts)):
            self._after(i * UNLOCK_STEP, lambda i=i: self.on and self.mode == "unlocked" and self._show(
                self._text("unlocked", i)))
        self._amp_update()

    def _show_entry(self) -> None:
        self._show(self._text("entry"))

    def _digits_text(self) -> str:
        return "".join(self.digits).ljust(self.p.digits.count, "-")

    # -- verdict -----------------------------------------------------------
    def _evaluate(self) -> None:
        if self.mode != "entry":
            return
        m, entered = self.mem, "".join(self.digits)
        self.digits = []
        if m.is_code(entered):
            m.locked, m.wrong_in_window, m.lockouts, m.ready = False, 0, 0, False
            self._save()
            self._show_unlocked()
            return
        m.wrong_in_window += 1
        m.wrong_total += 1
        allowed = self.p.attempts.before_lockout if m.lockouts == 0 else self.p.attempts.after_lockout
        limit = self.p.attempts.permanent_after
        if limit and m.wrong_total >= limit:
            m.permanent = True
        elif m.wrong_in_window >= allowed:
            m.lockouts += 1
            m.lockout_left = self.p.lockout_wait(m.lockouts)
            self._lockout_update()
        self._save()
        if m.permanent or m.locked_out:
            self._show_state()
        else:
            self.mode = "locked"
            self._show(self._text("wrong"))

    # -- the lockout wait ----------------------------------------------------
    # The unit's own timer: it runs while the rails it needs reach the connector and,
    # for a wait with ACC, only once the unit has booted; it runs slow by timer_drift.
    def _rails_ok(self) -> bool:
        return all(self.rails.get(r, False) for r in self.p.lockout.rails)

    def _counting(self) -> bool:
        needs_on = any(r != "battery" for r in self.p.lockout.rails)
        return self._rails_ok() and (self.booted or not needs_on)

    def _rate(self) -> float:
        return 1.0 / (1.0 + self.k["timer_drift"])

    def _lockout_left_now(self) -> float:
        left = self.mem.lockout_left or 0.0
        if self._lockout_since is not None:
            left -= (self.clock.now() - self._lockout_since) * self._rate()
        return max(0.0, left)

    def _account_lockout(self) -> None:
        if self._lockout_since is not None and self.mem.lockout_left is not None:
            self.mem.lockout_left = self._lockout_left_now()
            self._lockout_since = self.clock.now()
            self._save()

    def _lockout_update(self) -> None:
        if not self.mem.locked_out:
            return
        self._account_lockout()
        for t in (self._lockout_timer, self._ticker):
            if t:
                t.cancel()
        self._lockout_timer = self._ticker = None
        if self._counting():
            if self._lockout_since is None:
                self._lockout_since = self.clock.now()
            self._lockout_timer = self.clock.call_later(self.mem.lockout_left / self._rate(), self._lockout_over)
            if "{time}" in self.p.templates("lockout")[0]:  # the text it shows counts down: redraw it
                self._ticker = self.clock.call_later(TICK, self._tick)
        else:
            self._lockout_since = None
            if not self._rails_ok() and self.p.lockout.rail_off == "restart":
                self.mem.lockout_left = self.p.lockout_wait(self.mem.lockouts)
            self._save()

    def _unlagged(self, fn) -> None:
        """Run ``fn`` with display lag off: the lag is the answer to a key, not to the unit's own timers."""
        self._lag = False
        try:
            fn()
        finally:
            self._lag = True

    def _tick(self) -> None:
        if self.on and self.mode == "lockout":
            self._unlagged(lambda: self._show(self._text("lockout")))
        if self.mem.locked_out and self._lockout_since is not None:
            self._ticker = self.clock.call_later(TICK, self._tick)

    def _lockout_over(self) -> None:
        self._lockout_since, self._lockout_timer = None, None
        if self._ticker:
            self._ticker.cancel()
        m = self.mem
        m.lockout_left, m.wrong_in_window, m.ready = None, 0, True
        if self.p.lockout.ends == "power_off":
            m.off_after_wait = True
            self._save()
            self._power_update()
        else:
            self._save()
            if self.on:
                self._unlagged(self._show_state)

    def _after(self, delay: float, fn, *args) -> None:
        self._timers.append(self.clock.call_later(delay, lambda: fn(*args)))

    def _soon(self, delay: float, fn) -> None:
        """``fn`` after ``delay``; at once, inside the same edge, when the delay is 0 (ideal)."""
        if delay <= 0:
            fn()
        else:
            self._after(delay, fn)

    # -- between commands ----------------------------------------------------
    def age(self, seconds: float) -> None:
        """Let ``seconds`` of real time pass with the rails in their safe state
        (constant power on, ACC off): the time the unit spent between commands."""
        m = self.mem
        if m.locked_out and seconds > 0:
            if self._counting():
                m.lockout_left -= seconds * self._rate()
                if m.lockout_left <= 0:
                    m.lockout_left, m.wrong_in_window, m.ready = None, 0, True
            elif self.p.lockout.rail_off == "restart":
                m.lockout_left = self.p.lockout_wait(m.lockouts)
        if m.off_after_wait:
            m.off_after_wait = False  # ACC was off between commands: the next power-on wakes it
        self._save()
