"""Putting the digits in and reading each back at the unit's own pace.

A unit draws its display a moment after a key - 0.2 s on most, over a second on
some. A read-back that waits a fixed time overshoots on a slower unit: it reads a
digit before the last presses have shown, "corrects" a press that was not missed,
and enters the wrong code (a real attempt spent). So the rig learns the unit's
answer time from the first press of the entry (pressed alone, and the display's
answer timed from the key's release; an answer in the same instant counts), keeps
learning from every answer that comes later than that, and never judges a digit
until the display has been still for longer than the answer time. When it cannot
tell - no answer to the first press within the time the profile gives a verdict,
or a display that never stops changing - it stops before the confirm: no attempt
used.

>>> round(quiet_for(0.0), 3), round(quiet_for(1.05), 3)
(0.25, 1.825)
"""

from __future__ import annotations

from ..durations import format_duration
from ..errors import StepFailed
from ..unit.display import normalise
from ..unit.templates import group

QUIET_FACTOR = 1.5   # still for this many answer times (a unit's lag varies from press to press) ...
QUIET_EXTRA = 0.25   # ... plus this, before a digit is judged
FIRST_ANSWER = 2.0   # the least time the first press's answer is waited for (else the profile's result_within)


def quiet_for(answer: float) -> float:
    """How long the display must be still, for a unit answering in ``answer`` s, before it is read."""
    return QUIET_FACTOR * answer + QUIET_EXTRA


def presses_needed(shown: str, target: str) -> int:
    """Presses to step an increment digit from what it shows to the target (9 wraps to 0;
    a blank '-' becomes 1 on the first press).

    >>> presses_needed("1", "1"), presses_needed("1", "0"), presses_needed("-", "0"), presses_needed("-", "3")
    (0, 9, 10, 3)
    """
    t = int(target)
    if shown in "-* ":
        return t if t else 10
    return (t - int(shown)) % 10


def increment_span(p, answer: float = 0.5) -> float:
    """The longest an increment entry takes with no correction, for a unit answering in ``answer``
    s: ten presses a digit, and its read-back; the entry lasts this long whatever the code.

    >>> from rig.unit.profiles import load_profiles
    >>> increment_span(load_profiles()["vw-safe"])
    30.5
    """
    d = p.digits
    return d.count * (10 * (d.press + d.gap) + answer + quiet_for(answer)) + answer


def read_digits(profile, tap) -> str | None:
    """The entry digits the display shows now (``*`` for each hidden one), or None."""
    return entry_digits(profile, tap.current())


def entry_digits(profile, text: str | None) -> str | None:
    """The entry digits in a display text (``*`` for each hidden one), or None if it is no entry display.

    >>> from rig.unit.profiles import load_profiles
    >>> entry_digits(load_profiles()["ford"], "CODE 2 5 - -"), entry_digits(load_profiles()["ford"], "WAIT")
    ('25--', None)
    """
    m = profile.pattern("entry").search(normalise(text or ""))
    if not m:
        return None
    digits = group(m, "digits")
    if digits is not None:
        return digits.replace(" ", "")
    stars = group(m, "stars")
    return None if stars is None else "*" * len(stars)


class Pace:
    """How long the unit takes to answer a key on its display, learned as the entry goes."""

    def __init__(self, runner, tap):
        self.runner, self.tap, self.clock = runner, tap, runner.clock
        self.limit = max(FIRST_ANSWER, runner.ctx.profile.confirm.result_within)
        self.answer: float | None = None

    @property
    def quiet(self) -> float:
        return quiet_for(self.answer or 0.0)

    def press(self, key: str, hold: float, times: int, gap: float) -> None:
        """Press ``key`` ``times`` times; the entry's first press alone, its answer timed."""
        bench = self.runner.bench
        if self.answer is None and self.tap is not None and times:
            before = self.tap.count  # what answers the press is what comes after, even in its own instant
            bench.press(key, hold=hold)
            released = self.clock.now()
            answered = lambda: next((line for line in self.tap.lines_after(before) if normalise(line.text)), None)  # noqa: E731
            self.clock.wait_for(lambda: answered() is not None, self.limit, poll=0.05)
            line = answered()
            if line is None:  # a second press now could only be read wrongly: its answer may be the first's
                raise StepFailed(f"the display did not answer the first key press within "
                                 f"{format_duration(self.limit)}: the entry cannot be read back; not confirming, "
                                 f"no attempt used")
            self.answer = max(0.0, line.t - released)
            times -= 1
            if times:
                self.clock.sleep(gap)
        if times:
            bench.press(key, hold=hold, times=times, gap=gap)

    def settle(self) -> None:
        """Wait until the display has been still for longer than the unit's answer time since the
        last key came up; an answer later than the one learned teaches the longer one."""
        released, before = self.clock.now(), self.tap.count

        def still() -> bool:
            lines = self.tap.lines_after(before)
            last = lines[-1].t if lines else released
            if last - released > (self.answer or 0.0):
                self.answer = last - released  # a unit slower than its first press showed
            return self.clock.now() >= last + self.quiet

        if not self.clock.wait_for(still, self.limit + 4 * self.quiet, poll=0.05):
            raise StepFailed(f"the display did not stay still for {format_duration(self.quiet)} after a key (it "
                             f"shows {self.tap.current()!r}): the entry cannot be read back; not confirming, "
                             f"no attempt used")


def enter_increment(runner, tap, pace: Pace, code: str, verify: bool) -> None:
    """One key per digit position, each press adds one; each digit read back and corrected."""
    p = runner.ctx.profile
    d = p.digits
    shown = (read_digits(p, tap) if tap else None) or d.start
    for i, target in enumerate(code):
        for attempt in range(3):
            n = presses_needed(shown[i], target)
            if n:
                pace.press(d.keys[i], hold=d.press, times=n, gap=d.gap)
            if not (tap and verify):
                shown = shown[:i] + target + shown[i + 1:]
                break
            pace.settle()  # never judged before the unit has shown every press
            shown = read_digits(p, tap) or shown
            if shown[i] == target:
                break
            _correcting(runner, i)
        else:
            raise StepFailed(f"digit {i + 1} would not come right on the display; not confirming, no attempt used")


def enter_direct(runner, tap, pace: Pace, digits: str, verify: bool) -> None:
    """One key per digit value; each press read back as one more digit typed."""
    p = runner.ctx.profile
    d = p.digits

    def typed() -> int | None:
        shown = read_digits(p, tap)
        return None if shown is None else (d.count - len(shown) if shown.startswith("*")
                                           else len(shown.replace("-", "")))

    for i, digit in enumerate(digits):
        for attempt in range(3):
            pace.press(d.keys[digit], hold=d.press, times=1, gap=d.gap)
            runner.clock.sleep(d.gap)
            if not (tap and verify):
                break
            pace.settle()
            now = typed()
            if now == i + 1:
                break
            if now is not None and now > i + 1:
                raise StepFailed("the display shows more digits than were pressed; not confirming, no attempt used "
                                 "(switch the unit off and on to clear the entry)")
            _correcting(runner, i)
        else:
            raise StepFailed(f"digit {i + 1} did not register; not confirming, no attempt used")


def _correcting(runner, i: int) -> None:
    runner.events.emit("correction", f"digit {i + 1}", note="the unit missed a press; pressing again")
    if runner.ctx.ui:
        runner.ctx.ui.note(f"digit {i + 1} did not take every press; correcting")
