"""Entering a known code with the unit's own buttons, from its profile.

In order: check the ledger and refuse an attempt that would lock the unit
(unless overridden, loudly); open entry; put the digits in (reading each back
from the display tap where there is one, and correcting a press the unit
missed); count the attempt in the ledger *before* the confirm press;
confirm; read the verdict; resolve the attempt and open a lockout if the
unit just entered one. A code is never printed: messages speak of digit
positions and press counts, never values.
"""

from __future__ import annotations

import os
import signal

from ..unit.display import OperatorTap, normalise
from .attempts import check_attempts, settle_attempt
from ..durations import format_duration
from ..errors import ConfigError, StepFailed
from ..unit.templates import group, spoken

MARGIN = 0.3  # extra hold beyond what the unit needs, when holding blind


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


def increment_span(p) -> float:
    """The longest an increment entry can take: ten presses a digit, and a read-back after each.

    >>> from rig.unit.profiles import load_profiles
    >>> increment_span(load_profiles()["vw-safe"])
    28.0
    """
    d = p.digits
    return d.count * (10 * (d.press + d.gap) + 1.0)


def check_code(code, profile) -> None:
    """The code's shape against the profile (the message names no digit)."""
    if code is None:
        raise ConfigError("this procedure enters a code: give it by the hidden prompt, --code-file FILE or RIG_CODE")
    if profile is None:
        return
    digits = code.reveal()
    if len(digits) != profile.digits.count or any(c not in profile.digits.allowed for c in digits):
        # in the technician's words, and naming no character of what was given
        if len(digits) != profile.digits.count:
            why = f"the code given has {len(digits)} character(s)"
        elif not digits.isdigit():
            why = "the code given has a character that is not a digit"
        else:
            why = "the code given has a digit this unit's buttons cannot enter"
        raise ConfigError(f"the code given is not a {profile.id} code: it must be {profile.digits.count} digits "
                          f"from {profile.digits.allowed}; {why}")


def enter_code(runner, verify: bool = True) -> None:
    ctx, bench, p = runner.ctx, runner.bench, runner.ctx.profile
    check_code(ctx.code, p)  # the job already did, before any pin moved; a bare Runner has not
    code = ctx.code.reveal()
    _check_attempts(runner)

    tap = bench.display if bench.display is not None and not isinstance(bench.display, OperatorTap) else None
    _open_entry(runner, tap)
    with bench.masked("code entry"):  # one span in the log: which keys, how many presses would be the code
        if p.digits.scheme == "increment":
            started = runner.clock.now()
            _increment(runner, tap, code, verify)
            # How long the presses took would count them (4/1/7/3 presses from 1000 is 5173): the
            # span always lasts as long as the most presses any code could need.
            runner.clock.sleep_until(started + increment_span(p))
        else:
            _direct(runner, tap, code[:-1] if not p.confirm.keys else code, verify)

    # The attempt is counted and committed before the press that submits it.
    led = ctx.ledger
    attempt = led.begin_attempt(ctx.serial, ctx.run_id)
    runner.events.emit("attempt", "counted", new="pending", attempt=attempt)
    if os.environ.get("RIG_STOP_BEFORE_CONFIRM"):  # test hook: freeze here so a test can kill the process
        os.kill(os.getpid(), signal.SIGSTOP)
    released = _confirm(runner, tap, code)
    outcome, shown = _verdict(runner, tap, released)
    led.resolve_attempt(attempt, outcome)
    runner.events.emit("attempt", "resolved", new=outcome, attempt=attempt)
    if outcome == "accepted":
        if ctx.ui:
            ctx.ui.note("code accepted: the unit is unlocked")
        return
    opened = settle_attempt(led, ctx.serial, p, outcome, ctx.run_id)
    if opened:
        runner.events.emit("lockout", "opened", wait=opened["wait"])
    if outcome == "unknown":
        raise StepFailed(f"the unit's answer could not be read (it showed {shown}); the attempt is counted as "
                         f"used. Check the unit, then {ctx.command} units show {ctx.serial}")
    after = led.standing(ctx.serial, p)
    if after.lockout:
        what = f"the unit is now locked out: run `{ctx.command} run lockout-wait --unit {ctx.serial}` " \
               f"({format_duration(after.lockout['wait'])} powered)"
    else:
        what = f"{after.left} attempt(s) left before a lockout"
    raise StepFailed(f"wrong code: the unit shows {shown}; {what}")


def _check_attempts(runner) -> None:
    ctx = runner.ctx
    for message in check_attempts(ctx.ledger, ctx.serial, ctx.profile, ctx.allow_lockout, ctx.allow_permanent,
                                  ctx.command):
        _loud(runner, message)


def _loud(runner, message: str) -> None:
    runner.events.emit("override", message)
    if runner.ui:
        runner.ui.warn(message)


def _shows(runner, tap, name) -> bool:
    cur = tap.current() if tap else None
    return cur is not None and bool(runner.ctx.profile.pattern(name).search(normalise(cur)))


def _read_digits(runner, tap) -> str | None:
    cur = tap.current()
    m = runner.ctx.profile.pattern("entry").search(normalise(cur or ""))
    if not m:
        return None
    digits = group(m, "digits")
    if digits is not None:
        return digits.replace(" ", "")
    stars = group(m, "stars")
    return None if stars is None else "*" * len(stars)


def _open_entry(runner, tap) -> None:
    bench, e = runner.bench, runner.ctx.profile.entry
    if not e.keys:
        return
    combo = "+".join(e.keys)
    if e.at_power_on:
        bench.power("acc", False)
        with bench.holding(combo):
            bench.power("acc", True)
            if tap:
                runner.clock.wait_for(lambda: _shows(runner, tap, "entry"), e.max_hold)
            else:  # its hold counts once it has booted, which nobody sees: allow for the boot
                _booted(runner)
                runner.clock.sleep(e.hold + MARGIN)
    elif tap:
        bench.hold_until(combo, lambda: _shows(runner, tap, "entry"), e.max_hold, min_hold=0)
    else:
        _booted(runner)
        bench.press(combo, hold=e.hold + MARGIN)
    if tap and not runner.clock.wait_for(lambda: _shows(runner, tap, "entry"), 1.0):
        raise StepFailed(f"code entry did not open: after holding {combo} the display shows {tap.current()!r}, "
                         f"not {' | '.join(runner.ctx.profile.templates('entry'))}; no attempt was used")


def _booted(runner) -> None:
    """Blind entry: a unit ignores its keys while it boots (and shows its splash), which nobody
    can see without a display, so wait its whole boot allowance after power before pressing."""
    bench, p = runner.bench, runner.ctx.profile
    powered = max(bench.rail(r).switched_at for r in ("battery", "acc") if r in bench.rails)
    runner.clock.sleep_until(powered + p.lockout.boot_within)


def _increment(runner, tap, code: str, verify: bool) -> None:
    p, bench = runner.ctx.profile, runner.bench
    d = p.digits
    shown = (_read_digits(runner, tap) if tap else None) or d.start
    for i, target in enumerate(code):
        key = d.keys[i]
        for attempt in range(3):
            n = presses_needed(shown[i], target)
            if n:
                bench.press(key, hold=d.press, times=n, gap=d.gap)
            if not (tap and verify):
                shown = shown[:i] + target + shown[i + 1:]
                break
            runner.clock.wait_for(lambda: (_read_digits(runner, tap) or "")[i:i + 1] == target, 1.0)
            shown = _read_digits(runner, tap) or shown
            if shown[i] == target:
                break
            runner.events.emit("correction", f"digit {i + 1}", note="the unit missed a press; pressing again")
            if runner.ctx.ui:
                runner.ctx.ui.note(f"digit {i + 1} did not take every press; correcting")
        else:
            raise StepFailed(f"digit {i + 1} would not come right on the display; not confirming, no attempt used")


def _direct(runner, tap, digits: str, verify: bool) -> None:
    p, bench = runner.ctx.profile, runner.bench
    d = p.digits
    for i, digit in enumerate(digits):
        for attempt in range(3):
            bench.press(d.keys[digit], hold=d.press)
            bench.clock.sleep(d.gap)
            if not (tap and verify):
                break
            def typed() -> int | None:
                shown = _read_digits(runner, tap)
                return None if shown is None else (d.count - len(shown) if shown.startswith("*")
                                                   else len(shown.replace("-", "")))

            # a unit draws its display a moment after the key: give it that moment, then read
            runner.clock.wait_for(lambda: (typed() or 0) >= i + 1, 1.0)
            typed = typed()
            if typed == i + 1:
                break
            if typed is not None and typed > i + 1:
                raise StepFailed("the display shows more digits than were pressed; not confirming, no attempt used "
                                 "(switch the unit off and on to clear the entry)")
            runner.events.emit("correction", f"digit {i + 1}", note="the unit missed a press; pressing again")
        else:
            raise StepFailed(f"digit {i + 1} did not register; not confirming, no attempt used")


def _confirm(runner, tap, code: str) -> None:
    p, bench = runner.ctx.profile, runner.bench
    c = p.confirm
    if not c.keys:  # the unit checks by itself once the last digit is in: that press is the confirm
        with bench.masked("code entry: last digit"):  # and it is a digit
            bench.press(p.digits.keys[code[-1]], hold=p.digits.press)
        return runner.clock.now()
    combo = "+".join(c.keys)
    if tap and c.until:
        held = bench.hold_until(combo, lambda: _shows(runner, tap, c.until), c.max_hold, min_hold=c.hold)
        if held is None:
            runner.events.emit("note", "confirm", note=f"{c.until} did not show within {format_duration(c.max_hold)}")
    else:
        bench.press(combo, hold=c.hold + MARGIN)
    return runner.clock.now()


def _verdict(runner, tap, released: float) -> tuple[str, str]:
    """Accepted, rejected or unknown, from every display line in the window after the confirm.

    A unit's answer is not one sample: SAFE blinks, a wrong code flashes before the
    lock text returns, the radio text follows a moment after. Any wrong or lock text
    in the window is a rejection; the radio text with none is an acceptance.
    """
    p, clock = runner.ctx.profile, runner.clock
    within = p.confirm.result_within
    display = runner.bench.display
    if isinstance(display, OperatorTap) or tap is None:
        clock.sleep(within)  # give the unit its time to answer before anyone looks
    if isinstance(display, OperatorTap):
        ok = display.confirm(f"the normal radio display ({' or '.join(spoken(t) for t in p.templates('unlocked'))})")
        return ("accepted" if ok else "rejected"), "(what the operator saw)"
    if tap is None:
        return "unknown", "nothing the rig could read (no display tap)"
    refusals = [name for name in ("wrong", "lockout", "permanent", "locked") if name in p.display]
    if p.confirm.ready_means_wrong:
        refusals.append("ready")
    seen: list[str] = []

    def answer() -> str | None:
        seen[:] = [line.text for line in tap.history() if line.t > released and line.text.strip()]
        if any(_matches(p, name, text) for text in seen for name in refusals):
            return "rejected"
        return None

    deadline = released + within
    clock.wait_for(lambda: answer() is not None, max(0.0, deadline - clock.now()))
    verdict = answer()
    if verdict is None:
        if any(_matches(p, "unlocked", text) for text in seen):
            verdict = "accepted"
        elif not seen and tap.current() and any(_matches(p, n, tap.current()) for n in refusals):
            verdict = "rejected"  # it kept showing its lock text: nothing new is an answer too
    shown = " then ".join(repr(t) for t in dict.fromkeys(seen)) or repr(tap.current())
    return verdict or "unknown", shown


def _matches(p, name: str, text: str) -> bool:
    return bool(p.pattern(name).search(normalise(text)))
