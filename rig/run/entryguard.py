"""What the unit says before and during code entry, and what the rig refuses because of it.

- A unit whose display says it is still in its lockout wait gets no code, whatever the
  ledger says (a lockout closed too early, a record typed in by hand).
- Right before the attempt is counted, the unit must still be as it was when entry opened:
  the rails it runs on sensed on, its amp-remote (``unit_on``) steady since then, and its
  display, read again after the idle padding, still showing the code. Otherwise the rig
  stops with "no attempt used".
- A unit that checked a code the rig did not confirm (it opened entry by itself while the
  combo was held, and took the hold for a confirm) has spent an attempt: it is counted.
"""

from __future__ import annotations

from ..durations import format_duration
from ..errors import SafetyRefusal, StepFailed
from ..unit.display import normalise
from ..bench.power import powered, rail_faults
from .readback import entry_digits
from .unitsigns import shows, splash

VERDICTS = ("wrong", "lockout", "permanent")  # what a unit shows once it has checked a code


def refuse_while_waiting(runner, tap) -> None:
    """Refuse (exit 3, before any key) a code for a unit whose display says it still waits."""
    ctx, p = runner.ctx, runner.ctx.profile
    shown = tap.current() if tap is not None else None
    if shown and shows(p, "lockout", shown, against="locked") and not shows(p, "ready", shown):
        raise SafetyRefusal(
            f"the unit shows {shown!r}: it is still in its lockout wait, whatever the ledger says, and a code "
            f"now would be pressed into a unit that ignores it or counts it. Run `{ctx.command} run lockout-wait "
            f"--unit {ctx.serial}` first (it records the lockout from the display)")


class EntryWatch:
    """What the unit did from the moment the rig began to open entry: its amp-remote's edges
    and every display line, for the checks before the confirm."""

    def __init__(self, runner, tap):
        self.runner, self.tap, self.p = runner, tap, runner.ctx.profile
        self.bench = runner.bench
        self.since = runner.clock.now()
        self.opened_at: float | None = None     # when the entry display first showed
        self.falls: list[float] = []            # when the amp-remote fell
        self._unsub = self.bench.events.subscribe(self._event)

    def _event(self, e) -> None:
        if e.kind == "sense" and e.what == "unit_on" and not e.new:
            self.falls.append(e.t)

    def close(self) -> None:
        self._unsub()

    def lines(self):
        return self.tap.lines_since(self.since) if self.tap is not None else []

    def entry_open(self) -> None:
        """Entry is open now (the display shows it, or a blind hold ended)."""
        if self.opened_at is None:
            self.opened_at = self.runner.clock.now()
            for line in self.lines():
                if self.p.pattern("entry").search(normalise(line.text)):
                    self.opened_at = line.t
                    break

    # -- an attempt the rig did not intend --------------------------------------------------
    def unintended_verdict(self) -> str | None:
        """A verdict the unit showed after its entry display appeared, before the rig confirmed
        anything: the unit has checked a code by itself. Not a unit that went dark or restarted
        first (its display blank before, its splash, its amp-remote falling): that one checked
        nothing, it lost its entry (a tap's stray blank comes in the same instant as its line)."""
        entered, dark_at = False, None
        for line in self.lines():
            text = normalise(line.text)
            if self.p.pattern("entry").search(text):
                entered, dark_at = True, None
            elif not entered:
                continue
            elif not text or splash(self.p, line.text):
                dark_at = line.t if dark_at is None else dark_at
            elif any(shows(self.p, name, text) for name in VERDICTS if name in self.p.display):
                opened = self.since if self.opened_at is None else self.opened_at
                restarted = (dark_at is not None and dark_at < line.t) or any(opened <= t <= line.t for t in self.falls)
                return None if restarted else line.text
        return None

    # -- right before the attempt is written ---------------------------------------------------
    def before_confirm(self, expect_digits: str | None) -> None:
        """The unit is still as it was when entry opened, or the rig stops with no attempt used."""
        bench, p = self.bench, self.p
        rails = [r for r in ("battery", "acc") if r in bench.rails]
        faults = rail_faults(bench, rails)
        if faults or not powered(bench, rails):
            what = faults[0].message if faults else f"{' and '.join(rails)} are not both on at the connector"
            self._stop(f"{what} as the code was about to be confirmed")
        opened = self.since if self.opened_at is None else self.opened_at
        fell = next((t for t in self.falls if t >= opened), None)  # (at power-on entry it falls before opening)
        if fell is not None:
            self._stop(f"the unit's amp-remote (unit_on) fell {format_duration(max(0.0, fell - opened))} after code "
                       f"entry opened: the unit switched off or restarted, and its entry is gone")
        if self.tap is None:
            return
        seen_splash = next((line.text for line in self.lines() if splash(p, line.text)
                            and (self.opened_at is None or line.t >= self.opened_at)), None)
        if seen_splash is not None:
            self._stop(f"the unit showed {seen_splash!r} during code entry: it restarted, and its entry is gone")
        if expect_digits is not None:
            shown = self.tap.current()
            digits = entry_digits(p, shown)
            if digits is None and not p.entry.keys and expect_digits == p.digits.start and shows(p, "locked", shown):
                return  # entry opens at the first digit press, and this code needed none
            if digits is None:
                self._stop(f"read again after the entry's idle time, the display shows {shown!r}, not its entry "
                           f"display")
            if not digits.startswith("*") and digits != expect_digits:  # (its text would be code digits: not said)
                self._stop("read again after the entry's idle time, the display no longer shows the code")

    def _stop(self, why: str) -> None:
        raise StepFailed(f"{why}; not confirming, no attempt used")

