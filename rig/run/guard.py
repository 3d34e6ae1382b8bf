"""The attempt guard: a press that submits a code is an attempt, however it was made.

``rig run``'s code entry counts its attempt before its confirm press. A code can be
entered by hand too: ``rig shell``, ``rig press``, the page's and the API's bench
commands, a procedure's plain ``press`` step. Every one of them presses through the
bench, and the bench lets this guard see each press before its keys go down
(:mod:`rig.bench.guardseat`). From the unit's profile the guard follows what the unit
would do - entry opened by its combo (or always open on a unit without one), digits
typed on a unit that checks itself after the last one, the confirm combo, a unit
switched off forgetting its entry, constant power cut past the arming time locking it
again - and when a press would submit a code it asks the same question as code entry
(:func:`rig.run.attempts.check_attempts`): refused on a locked-out or permanently
locked unit, refused on the attempt that would start a lockout or lock it for good
unless the technician said so, otherwise counted and committed *before* the press.

Where it cannot know, it assumes the press submits: a crash or a guess may only
over-count. The answer is read from the display tap where there is one; without one
the attempt stays counted as ``unknown``.

>>> from rig.bench.wiring import load_wiring
>>> from rig.bench.backends import mock_backend
>>> from rig.bench.bench import Bench
>>> from rig.bench.clock import VirtualClock
>>> from rig.records.ledger import Ledger
>>> from rig.unit.profiles import load_profiles
>>> led, ford = Ledger(":memory:"), load_profiles()["ford"]
>>> led.register("M1", ford, who="doc", why="example")
'registered'
>>> w = load_wiring()
>>> with Bench(w, mock_backend(w, VirtualClock())) as bench:
...     bench.guard = AttemptGuard(bench, "M1", ford, led, via="by hand (example)")
...     bench.power("acc", True)
...     bench.press("preset5")        # ford's confirm: entry is always open on a locked Ford
>>> [(a["outcome"], a["via"]) for a in led.attempts("M1")]
[('unknown', 'by hand (example)')]
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import SimpleNamespace

from ..durations import format_duration
from ..errors import SafetyRefusal
from ..records.ledger import Ledger
from ..records.secret import Redactor
from ..unit.display import OperatorTap
from .attempts import check_attempts, settle_attempt

REPEAT_AFTER = 1.0  # a digit key held this long may repeat on a unit (and so type more than one digit)


class AttemptGuard:
    """Counts, or refuses, the code attempts presses make on one unit (see the module's text).

    ``ledger``: a :class:`rig.records.ledger.Ledger`, or its path (opened for each use, so a
    server's threads can share one guard). ``tell``: where words that must be said out loud
    go (an override used, an attempt counted); the bench's events get them too.
    """

    def __init__(self, bench, serial: str, profile, ledger, *, run_id: int | None = None, via: str = "by hand",
                 allow_lockout: bool = False, allow_permanent: bool = False, command: str = "rig",
                 again: str = "run again with", tell=None):
        self.bench, self.serial, self.profile = bench, serial, profile
        self._ledger, self.run_id, self.via = ledger, run_id, via
        self.allow_lockout, self.allow_permanent = allow_lockout, allow_permanent
        self.command, self.again, self.tell = command, again, tell
        self.redactor = Redactor(None, profile.pattern("entry"))  # its entry's digits, masked wherever shown
        self.entry_open = False     # the unit's code entry may be open
        self.typed = 0              # digits it may hold (a unit that checks itself after the last one)
        self._battery_off_at: float | None = None
        self.resync()

    # -- what the guard knows --------------------------------------------------
    def resync(self) -> None:
        """Forget what entry holds: a unit that is on may have it open, with all but one digit in."""
        on = self._powered()
        self.entry_open = on
        self.typed = self.profile.digits.count - 1 if on else 0

    @contextmanager
    def allowing(self, lockout: bool = False, permanent: bool = False):
        """One command's override words (a server's guard outlives its commands)."""
        saved = self.allow_lockout, self.allow_permanent
        self.allow_lockout, self.allow_permanent = lockout, permanent
        try:
            yield self
        finally:
            self.allow_lockout, self.allow_permanent = saved

    def entering(self) -> bool:
        """A code may be going in by hand now (entry open, or a unit whose entry always is): its
        presses are kept off the page and the log, as a run masks them (on a VW they are the digits)."""
        return self._powered() and (self.entry_open or not self.profile.entry.keys)

    def _powered(self) -> bool:
        rails = self.bench.rails
        return all(rails[r].is_on for r in ("battery", "acc") if r in rails)

    def _ledger_open(self):
        if isinstance(self._ledger, (str, Path)):
            return _closing(Ledger(self._ledger))
        return nullcontext(self._ledger)

    # -- the bench's calls -----------------------------------------------------
    def pressing(self, keys: list[str], hold: float | None):
        """Before the keys go down: None, or the attempt counted for this press (refused: raises)."""
        if not self._powered():
            return None  # a unit that is off takes no key
        why = self._submits(set(keys), hold)
        if why is None:
            return None
        with self._ledger_open() as led:
            if led.standing(self.serial, self.profile).unlocked:
                return None  # an unlocked unit takes no code
            try:
                loud = check_attempts(led, self.serial, self.profile, self.allow_lockout, self.allow_permanent,
                                      self.command, self.again)
            except SafetyRefusal as exc:
                raise SafetyRefusal(f"not pressing {'+'.join(keys)}: {why}, an attempt on {self.serial}. {exc}") from None
            attempt = led.begin_attempt(self.serial, self.run_id, via=self.via)  # committed before the press
        self._say("attempt", f"attempt counted on {self.serial}: {why}", attempt=attempt)
        for message in loud:
            self._say("override", message)
        return attempt, hold

    def pressed(self, token, whole: bool) -> None:
        """The keys are up: read the unit's answer where a tap shows it, and settle the attempt."""
        attempt, hold = token
        c = self.profile.confirm
        outcome = self._verdict() if whole else "unknown"
        if self.profile.entry.keys and (hold is None or hold >= c.hold or not c.keys):
            self.entry_open = False  # the unit took its code: entry opens again only with its combo
        with self._ledger_open() as led:
            led.resolve_attempt(attempt, outcome)
            opened = settle_attempt(led, self.serial, self.profile, outcome, self.run_id)
            standing = led.standing(self.serial, self.profile)
        self.bench.events.emit("attempt", "resolved", new=outcome, attempt=attempt)
        if opened:
            self.bench.events.emit("lockout", "opened", wait=opened["wait"])
        self._say("note", f"{self.serial}: the unit's answer was {_ANSWER[outcome]}; {standing.describe()}")

    def rail_switched(self, rail: str, on: bool) -> None:
        now = self.bench.clock.now()
        if rail == "battery" and not on:
            self._battery_off_at = now
        elif rail == "battery" and self._battery_off_at is not None:
            off, self._battery_off_at = now - self._battery_off_at, None
            if off >= self.profile.arming.battery_off:
                self._relocked(off)
        if rail in ("battery", "acc"):
            # off: the unit forgets its entry; on: it boots with entry closed, unless its entry
            # combo is held while it comes on (units that open entry at power-on)
            e = self.profile.entry
            held = {k for k, key in self.bench.keys.items() if key.is_down}
            self.entry_open = bool(on and self._powered() and e.at_power_on and e.keys and set(e.keys) <= held)
            self.typed = 0

    # -- the profile's knowledge -------------------------------------------------
    def _submits(self, keys: set, hold: float | None) -> str | None:
        """Why this press submits a code (in words for the technician), or None. Updates what
        the unit's entry holds. A digit key is never named: on a unit that checks itself, the
        last digit pressed is part of the code."""
        p = self.profile
        e, c, d = p.entry, p.confirm, p.digits
        digit_keys = set(d.keys) if d.scheme == "increment" else set(d.keys.values())
        confirm = bool(c.keys) and set(c.keys) <= keys
        if confirm and hold is not None and hold < c.hold and (set(c.keys) & digit_keys or keys == set(_serial_keys(p))):
            confirm = False  # a key that is also a digit, or the serial combo: the profile tells them by the hold
        if e.keys and set(e.keys) <= keys and not self.entry_open:
            self.entry_open, self.typed = True, 0  # its entry combo opens entry (even held too briefly)
            return None
        if confirm and (self.entry_open or not e.keys):
            return (f"{'+'.join(c.keys)} confirms the code on {p.id}'s display, and its code entry may be open "
                    f"(the rig cannot see what it holds)")
        if c.keys or not keys & digit_keys or keys == set(_serial_keys(p)):
            return None
        if e.keys and not self.entry_open:
            return None
        self.typed += d.count if hold is None or hold >= REPEAT_AFTER else 1  # a held key may repeat
        if self.typed >= d.count:
            self.typed = 0
            return f"a digit key that may be the last of {d.count} ({p.id} checks the code once they are in)"
        return None

    def _verdict(self) -> str:
        display = self.bench.display
        if display is None:
            return "unknown"
        from .codeentry import _verdict  # the same reading of the unit's answer as code entry's

        reader = SimpleNamespace(ctx=SimpleNamespace(profile=self.profile), clock=self.bench.clock, bench=self.bench)
        tap = None if isinstance(display, OperatorTap) else display
        return _verdict(reader, tap, self.bench.clock.now())[0]

    def _relocked(self, off: float) -> None:
        why = (f"constant power was off {format_duration(off)}, past its "
               f"{format_duration(self.profile.arming.battery_off)} arming time")
        with self._ledger_open() as led:
            if not led.standing(self.serial, self.profile).unlocked:
                return
            led.mark_locked(self.serial, self.run_id, why)
        self._say("note", f"{self.serial} is locked again in the ledger: {why}")

    def _say(self, kind: str, message: str, **data) -> None:
        self.bench.events.emit(kind, message, **data)
        if self.tell is not None:
            self.tell(message)


def on_record(ledger_path, serial: str | None = None) -> tuple | None:
    """The unit hand presses count on, and its profile: ``serial``, else the last unit the ledger
    saw; ``(serial, profile, guessed)``, or None when the ledger knows no unit at all. An unknown
    serial, or a unit with no profile (which press submits a code?), is refused (UsageError).

    >>> on_record("/nonexistent/ledger.sqlite") is None
    True
    """
    from ..errors import UsageError, did_you_mean
    from ..unit.profiles import load_profiles

    if not Path(ledger_path).exists():
        if serial is None:
            return None  # no ledger yet: no unit on record to count attempts against
        raise UsageError(f"the ledger has never seen a unit {serial!r}; register it first: "
                         f"rig units add {serial} --profile ID")
    with _closing(Ledger(ledger_path)) as led:
        guessed = serial is None
        serial = serial or led.last_unit()
        if serial is None:
            return None
        unit = led.unit(serial)
        if unit is None:
            raise UsageError(f"the ledger has never seen a unit {serial!r}"
                             f"{did_you_mean(serial, [u['serial'] for u in led.units()])}; register it first: "
                             f"rig units add {serial} --profile ID")
    profile = load_profiles().get(unit["profile"])
    if profile is None:
        raise UsageError(f"{serial} has no profile on record, so the rig cannot tell which press submits a code: "
                         f"rig units set {serial} --profile ID --reason '...'")
    return serial, profile, guessed


def follow(bench, unit: dict | None, ledger_path: str, named: str | None = None,
           strict: bool = False) -> AttemptGuard | None:
    """A server's guard on the unit its bench holds now (``{"serial", "profile"}``): the one it has
    while the unit stays the same, so what it knows of the unit's entry carries across commands.
    A bench no one has put a unit on yet guards the unit a press names, else the last unit the
    ledger saw, as ``rig press`` does (``strict``: a press, refused if that unit cannot be judged)."""
    from ..errors import UsageError
    from ..unit.profiles import load_profiles

    old = bench.guard
    if not unit:
        try:
            found = on_record(ledger_path, named)
        except UsageError:
            if strict:
                raise
            found = None
        if found is None:
            return None
        unit = {"serial": found[0], "profile": found[1].id}
    if old is not None and (old.serial, old.profile.id) == (unit["serial"], unit["profile"]):
        return old
    profile = load_profiles().get(unit["profile"])
    if profile is None:
        return None
    return AttemptGuard(bench, unit["serial"], profile, ledger_path, via="by hand (rig serve)",
                        again="send it again with")


def sent(session, args, sender: str, unit: str | None = None, allow_lockout: bool = False,
         allow_permanent: bool = False):
    """A press sent to a server (``session.press(*args)``), made by ``sender`` with its override
    words; ``unit``, the unit the sender means: refused if the bench holds another."""
    guard = session.bench.guard
    held = guard.serial if guard is not None else None
    if unit and unit != held:
        raise SafetyRefusal(f"the bench holds {held or 'no unit the rig counts attempts for'}, not {unit}: a "
                            f"press meant for {unit} would land on another unit")
    if guard is None:
        return session.press(*args)
    guard.via = f"by hand ({sender})"
    with guard.allowing(allow_lockout, allow_permanent):
        return session.press(*args)


_ANSWER = {"accepted": "the radio display: code accepted", "rejected": "a refusal: wrong code",
           "unknown": "not read (no display tap): the attempt stays counted"}


def _serial_keys(profile) -> list:
    serial = profile.sections.get("serial")
    return list(serial.keys) if serial and serial.keys else []


@contextmanager
def _closing(led):
    try:
        yield led
    finally:
        led.close()
