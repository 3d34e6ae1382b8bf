"""The simulated unit's key scan: what a press means to the firmware.

A real unit does not see a key edge as the rig drives it: a press shorter than the
debounce time is not a press (``debounce``), a digit steps when its key is let go
(``step_on: release``), a digit key held long enough repeats (``repeat_after``,
``repeat_every``), and a combo only counts when its keys go down together
(``combo_window``). With ``ideal`` knobs every edge counts at once, on the press.

This is a mixin of :class:`rig.sim.unit.SimUnit`; it reads the profile (``self.p``),
the knobs (``self.k``) and the unit's state, and calls the unit's entry, digit and
confirm logic.
"""

from __future__ import annotations

RESULT_DELAY = 0.5   # seconds from the confirm to the unit showing its verdict (the result_delay knob's default)
SERIAL_SHOWN = 10.0  # seconds the serial number stays on the display
SERIAL_STEP = 2.0    # seconds between the parts of a serial shown in parts


class KeyScan:
    """Key edges in (``key_changed``), firmware key events out."""

    def _init_keys(self) -> None:
        self.keys_down: dict[str, float] = {}   # keys the firmware sees down, since when
        self._raw_down: dict[str, float] = {}   # keys the rig holds down, since when
        self._chord: set[str] = set()           # keys pressed while another was down
        self._repeated: set[str] = set()        # digit keys that auto-repeated during this press

    # -- raw edges -------------------------------------------------------------
    def key_changed(self, name: str, down: bool) -> None:
        now = self.clock.now()
        if down:
            self._raw_down[name] = now
            if self.k["debounce"] > 0:
                self.clock.call_later(self.k["debounce"], lambda: self._debounced(name, now))
            else:
                self._press(name, now)
        else:
            self._raw_down.pop(name, None)
            if name in self.keys_down:
                self._release(name, now)
            # else: shorter than the debounce time, never seen

    def _debounced(self, name: str, since: float) -> None:
        if self._raw_down.get(name) == since:  # still held, the same press
            self._press(name, since)  # the firmware dates the press from its first edge

    # -- what the firmware sees ------------------------------------------------
    def _press(self, name: str, now: float) -> None:
        if self.keys_down:
            self._chord.update(self.keys_down)
            self._chord.add(name)
        self.keys_down[name] = now
        self._repeated.discard(name)
        if self.booted:  # while it boots (or is off) a unit's key scan is not running yet
            self._key_down(name, now)

    def _release(self, name: str, now: float) -> None:
        pressed_at = self.keys_down.pop(name)
        chord = name in self._chord
        self._chord.discard(name)
        if self.booted:
            self._key_up(name, now - pressed_at, chord)

    def _combo(self, keys) -> bool:
        """Are all of ``keys`` down, having gone down within ``combo_window`` of each other?"""
        if not keys or not set(keys) <= set(self.keys_down):
            return False
        window = self.k["combo_window"]
        times = [self.keys_down[k] for k in keys]
        return window is None or max(times) - min(times) <= window

    def _is_digit_key(self, name: str) -> bool:
        return name in self.digit_keys and name not in self.p.confirm.keys

    # -- firmware key events ---------------------------------------------------
    def _key_down(self, name: str, now: float) -> None:
        p = self.p
        if self.mode == "serial":
            self._show_state()
        if self.mode == "locked" and p.entry.keys and not p.entry.at_power_on and self._combo(p.entry.keys) \
                and name in p.entry.keys:
            self._after(p.entry.hold, self._entry_check, now)
            return
        if self.mode in ("locked", "entry") and self._combo(p.confirm.keys) \
                and name in p.confirm.keys and (self.mode == "entry" or not p.entry.keys):
            self._after(p.confirm.hold, self._confirm_check, now)
        serial = p.sections.get("serial")
        if serial and serial.keys and not serial.at_power_on and self._combo(serial.keys) and name in serial.keys:
            self._after(serial.hold or 2.0, self._serial_check, now)
        if self._is_digit_key(name):
            if self.k["step_on"] == "press":
                self._digit(name)
            if self.k["repeat_after"] is not None:
                self._after(self.k["repeat_after"], self._repeat, name, now)

    def _repeat(self, name: str, pressed_at: float) -> None:
        """A digit key still held: step again, and again every ``repeat_every``."""
        if self.keys_down.get(name) != pressed_at or name in self._chord or self.mode != "entry":
            return
        self._repeated.add(name)
        self._digit(name)
        every = self.k["repeat_every"] or self.k["repeat_after"]
        self._after(every, self._repeat, name, pressed_at)

    def _key_up(self, name: str, held_for: float, chord: bool = False) -> None:
        p = self.p
        if self.confirm_armed and name in p.confirm.keys:
            self.confirm_armed = False
            self._after(self.k["result_delay"], self._evaluate)
        elif name in self.digit_keys and name in p.confirm.keys and held_for < p.confirm.hold:
            self._digit(name)  # a key that is both a digit and the confirm counts as a digit when tapped
        elif self._is_digit_key(name) and self.k["step_on"] == "release" and not chord \
                and name not in self._repeated:
            self._digit(name)
        self._repeated.discard(name)

    def _entry_check(self, started: float) -> None:
        if self.mode == "locked" and all(self.keys_down.get(k, float("inf")) <= started for k in self.p.entry.keys):
            self._open_entry()

    def _open_by_itself(self) -> None:
        """The ``self_entry`` knob: entry opens with no key. A confirm combo already held counts on
        from when it went down (one long-press timer for both), so the hold can confirm the start."""
        if self.mode != "locked":
            return
        self._open_entry()
        keys = self.p.confirm.keys
        if keys and self._combo(keys):
            started = max(self.keys_down[k] for k in keys)
            self._after(max(0.0, started + self.p.confirm.hold - self.clock.now()), self._confirm_check, started, True)

    def _open_entry(self, show: bool = True) -> None:
        d = self.p.digits
        self.mode = "entry"
        self.digits = list(d.start) if d.scheme == "increment" else []
        self.entry_opened_at = self.clock.now()
        if self.mem.ready:
            self.mem.ready = False
            self._save()
        if show:
            self._show_entry()

    def _digit(self, name: str) -> None:
        if self.mode == "locked" and not self.p.entry.keys:
            self._open_entry(show=False)  # no entry combo: the first digit press opens entry, showing that digit
        if self.mode != "entry":
            return
        self.presses += 1
        if self.presses in self.mem.drop_presses:
            return  # fault injection: a press the unit did not register
        if self.p.digits.scheme == "increment":
            i = self.digit_keys.index(name)
            cur = self.digits[i]
            self.digits[i] = "1" if cur == "-" else str((int(cur) + 1) % 10)
        else:
            if len(self.digits) >= self.p.digits.count:
                return
            self.digits.append(self.digit_keys[name])
            if len(self.digits) == self.p.digits.count and not self.p.confirm.keys:
                self._after(self.k["result_delay"], self._evaluate)  # checks itself after the last digit
        self._show_entry()

    def _confirm_check(self, started: float, held_over: bool = False) -> None:
        if self.mode == "locked" and not self.p.entry.keys:
            self._open_entry(show=False)  # entry is always open: confirming the start digits is a try too
            self.entry_opened_at = started
        if self.mode == "entry" and all(self.keys_down.get(k, float("inf")) <= started for k in self.p.confirm.keys) \
                and (started >= self.entry_opened_at or held_over):
            self.confirm_armed = True
            if self.p.confirm.until:
                self._show(self._text(self.p.confirm.until))

    def _serial_check(self, started: float) -> None:
        from ..unit.templates import render

        serial = self.p.sections["serial"]
        if not (self.on and all(self.keys_down.get(k, float("inf")) <= started for k in serial.keys)):
            return
        self.mode = "serial"
        # A list of serial templates shows the number in parts, one after the other (Honda: U####, L####).
        parts = self.p.templates("serial") if "serial" in self.p.display else ["{serial}"]
        size = -(-len(self.mem.serial) // len(parts))
        for i, tpl in enumerate(parts):
            chunk = self.mem.serial[i * size:(i + 1) * size]
            self._after(i * SERIAL_STEP, lambda tpl=tpl, chunk=chunk: self.mode == "serial" and self._show(
                render(tpl, serial=chunk)))
        self._after((len(parts) - 1) * SERIAL_STEP + SERIAL_SHOWN, lambda: self.mode == "serial" and self._show_state())
