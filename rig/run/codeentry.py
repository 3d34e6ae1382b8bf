"""Entering a known code with the unit's own buttons, from its profile.

In order: check the ledger and refuse an attempt that would lock the unit
(unless overridden, loudly), and a unit whose display says it still waits; open
entry; put the digits in (reading each back from the display tap where there is
one, at the unit's own pace, and correcting a press the unit missed); check the
unit is still as it was when entry opened; count the attempt in the ledger
*before* the confirm press; confirm; read the verdict; resolve the attempt and
open a lockout if the unit just entered one. An attempt the unit made by itself
(it took a held combo for a confirm) is counted too. A code is never printed:
messages speak of digit positions and press counts, never values.
"""

from __future__ import annotations

from ..unit.display import OperatorTap, normalise
from .attempts import check_attempts, settle_attempt
from .entryguard import EntryWatch, refuse_while_waiting
from .readback import Pace, enter_direct, enter_increment, increment_span, presses_needed  # noqa: F401
from ..durations import format_duration
from ..errors import ConfigError, StepFailed
from ..unit.templates import spoken
from .unitsigns import splash

MARGIN = 0.3  # extra hold beyond what the unit needs, when holding blind


def check_code(code, profile) -> None:
    """The code's shape against the profile (the message names no digit)."""
    if code is None:
        raise ConfigError("this procedure enters a code: give it by the hidden prompt, --code-file FILE or RIG_CODE")
    if profile is None:  # not reached from a job: prepare() refuses an enter_code step with no profile
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
    refuse_while_waiting(runner, tap)
    watch = EntryWatch(runner, tap)
    try:
        pace = _enter(runner, tap, watch, code, verify)
    except StepFailed:
        _count_unintended(runner, watch)  # the unit left entry with a verdict of its own: that was an attempt
        raise
    finally:
        watch.close()

    # The attempt is counted and committed before the press that submits it.
    led = ctx.ledger
    attempt = led.begin_attempt(ctx.serial, ctx.run_id)
    runner.events.emit("attempt", "counted", new="pending", attempt=attempt)
    before = tap.count if tap is not None else 0
    released = _confirm(runner, tap, code)
    outcome, shown = _verdict(runner, tap, released, pace, before)
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
    raise StepFailed(f"wrong code: the unit shows {shown}; {_what_now(ctx)}")


def _enter(runner, tap, watch: EntryWatch, code: str, verify: bool) -> Pace:
    """Open entry, put the digits in, and check the unit is still as it was when entry opened;
    returns the unit's pace. Anything wrong stops here, before an attempt is counted."""
    bench, p = runner.bench, runner.ctx.profile
    _open_entry(runner, tap, watch)
    pace = Pace(runner, tap)
    with bench.masked("code entry"):  # one span in the log: which keys, how many presses would be the code
        if p.digits.scheme == "increment":
            started = runner.clock.now()
            enter_increment(runner, tap, pace, code, verify)
            # How long the presses took would count them (4/1/7/3 presses from 1000 is 5173): the
            # span always lasts as long as the most presses any code could need, at this unit's pace.
            runner.clock.sleep_until(started + increment_span(p, pace.answer or 0.0))
        else:
            enter_direct(runner, tap, pace, code[:-1] if not p.confirm.keys else code, verify)
    if pace.answer is not None:
        runner.events.emit("note", "read-back", note=f"the unit answers a key in {pace.answer:.2f} s; each digit "
                                                     f"was read once the display had been still {pace.quiet:.2f} s")
    # Right before the attempt is counted: the unit is still as it was when entry opened.
    if watch.unintended_verdict() is not None:
        raise StepFailed("the unit left code entry by itself")
    watch.before_confirm(code if p.digits.scheme == "increment" and verify else None)
    return pace


def _what_now(ctx) -> str:
    after = ctx.ledger.standing(ctx.serial, ctx.profile)
    if after.lockout:
        return (f"the unit is now locked out: run `{ctx.command} run lockout-wait --unit {ctx.serial}` "
                f"({format_duration(after.lockout['wait'])} powered)")
    return f"{after.left} attempt(s) left before a lockout"


def _count_unintended(runner, watch: EntryWatch) -> None:
    """The display shows a verdict the rig did not ask for: the unit checked a code by itself (it
    opened entry on its own while the entry combo was held, and took the hold for a confirm of its
    start digits). That is an attempt; the ledger counts it as the unit did."""
    shown = watch.unintended_verdict()
    if shown is None:
        return
    ctx, p, led = runner.ctx, runner.ctx.profile, runner.ctx.ledger
    attempt = led.begin_attempt(ctx.serial, ctx.run_id)
    led.resolve_attempt(attempt, "rejected")
    runner.events.emit("attempt", "resolved", new="rejected", attempt=attempt,
                       note=f"checked by the unit itself: it showed {shown!r} during code entry")
    opened = settle_attempt(led, ctx.serial, p, "rejected", ctx.run_id)
    if opened:
        runner.events.emit("lockout", "opened", wait=opened["wait"])
    raise StepFailed(f"the unit checked a code the rig did not confirm: it showed {shown!r} during code entry (a "
                     f"unit that opens entry by itself while the entry combo is held can take the hold for a "
                     f"confirm of its start digits). The ledger counts that attempt as the unit did: {_what_now(ctx)}")


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


def _open_entry(runner, tap, watch: EntryWatch) -> None:
    bench, e = runner.bench, runner.ctx.profile.entry
    if not e.keys:
        watch.entry_open()
        return
    combo = "+".join(e.keys)
    start = runner.clock.now()

    def let_go() -> bool:
        # The hold is bounded by what the display shows: let go the moment entry opens, or the
        # unit shows anything but its lock text (its own verdict: held on, a combo that is also
        # the confirm would confirm what it shows)
        return _shows(runner, tap, "entry") or any(_changed(runner, line.text) for line in tap.lines_since(start))

    if e.at_power_on:
        bench.power("acc", False)
        with bench.holding(combo):
            bench.power("acc", True)
            if tap:
                runner.clock.wait_for(lambda: _shows(runner, tap, "entry"), e.max_hold, poll=0.05)
            else:  # its hold counts once it has booted, which nobody sees: allow for the boot
                _booted(runner)
                runner.clock.sleep(e.hold + MARGIN)
    elif tap:
        bench.hold_until(combo, let_go, e.max_hold, min_hold=0)
    else:
        _booted(runner)
        bench.press(combo, hold=e.hold + MARGIN)
    if tap and not runner.clock.wait_for(lambda: _shows(runner, tap, "entry"), 1.0):
        raise StepFailed(f"code entry did not open: after holding {combo} the display shows {tap.current()!r}, "
                         f"not {' | '.join(runner.ctx.profile.templates('entry'))}; no attempt was used")
    watch.entry_open()


def _changed(runner, text: str) -> bool:
    """A line that is neither the unit's lock text, its entry display nor a blank: a verdict of its own."""
    p = runner.ctx.profile
    t = normalise(text)
    return bool(t) and not splash(p, text) and not any(p.pattern(n).search(t) for n in ("locked", "entry", "ready"))


def _booted(runner) -> None:
    """Blind entry: a unit ignores its keys while it boots (and shows its splash), which nobody
    can see without a display, so wait its whole boot allowance after power before pressing."""
    bench, p = runner.bench, runner.ctx.profile
    powered = max(bench.rail(r).switched_at for r in ("battery", "acc") if r in bench.rails)
    runner.clock.sleep_until(powered + p.lockout.boot_within)


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


def _verdict(runner, tap, released: float, pace: Pace | None = None, after: int | None = None) -> tuple[str, str]:
    """Accepted, rejected or unknown, from every display line in the window after the confirm.

    A unit's answer is not one sample: SAFE blinks, a wrong code flashes before the
    lock text returns, the radio text follows a moment after. Any wrong or lock text
    in the window is a rejection; the radio text with none is an acceptance. The window
    opens as the confirm ends - an answer drawn in the key's own instant counts, the
    ``until`` display that ended the hold does not - and lasts the profile's
    ``result_within`` plus the time the unit takes to draw. ``after``: the tap's line
    count before the confirm began.
    """
    p, clock = runner.ctx.profile, runner.clock
    within = p.confirm.result_within + (pace.answer or 0.0 if pace is not None else 0.0)
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
        # what came once the confirm ended (even in its own instant), less the entry display (the
        # last digit of a unit that checks by itself, drawn as it is let go: a code's digits)
        until = p.confirm.until
        lines = [x for x in (tap.lines_after(after) if after is not None else tap.history())
                 if x.t > released or (x.t == released and not (until and _matches(p, until, x.text)))]
        seen[:] = [line.text for line in lines if line.text.strip()
                   and (not _matches(p, "entry", line.text)
                        or any(_matches(p, n, line.text) for n in refusals + ["unlocked"]))]
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
