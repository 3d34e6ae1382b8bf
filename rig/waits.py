"""Long waits that count only powered time: the lockout wait above all.

A lockout wait usually counts only while the unit is powered (constant power
and ACC, on some units ignition too). The wait here accrues time only while
every named rail is on, shows a countdown, writes the powered time to the
ledger as it goes (and on any way out), and resumes from the ledger when the
profile says the unit's timer keeps its progress.
"""

from __future__ import annotations

from .display import OperatorTap
from .durations import format_duration
from .procedure import durations

SAVE_EVERY = 60.0  # seconds of powered time between ledger writes (and at every exit)


def powered_wait(runner, a) -> None:
    from .runner import StepFailed

    ctx, clock, bench = runner.ctx, runner.clock, runner.bench
    rails = a.get("rails") or []
    rails = rails if isinstance(rails, list) else [rails]
    until = a.get("until") or []
    until = until if isinstance(until, list) else [until]
    label = str(a.get("label", "wait"))
    total = durations(a["max"]) if "max" in a else None
    accrued, lockout_id = 0.0, None

    if a.get("lockout"):
        led, p = ctx.ledger, ctx.profile
        lk = led.open_lockout(ctx.serial)
        if lk is None:  # the unit is locked out but the ledger did not know (it arrived that way)
            n = len(led.lockouts(ctx.serial)) + 1
            led.start_lockout(ctx.serial, p.lockout_wait(n), ctx.run_id)
            lk = led.open_lockout(ctx.serial)
            runner.events.emit("lockout", "opened", wait=lk["wait"], note="not in the ledger before this run")
        lockout_id = lk["id"]
        if lk["powered"] > 0 and p.lockout.rail_off == "restart":
            led.add_powered(lockout_id, 0.0, restart=True)
            runner.events.emit("lockout", "restarted", note=f"{p.id}: the wait starts over after power loss")
            if ctx.ui:
                ctx.ui.note(f"{p.id}'s wait starts over after a power loss: {format_duration(lk['wait'])} again")
        else:
            accrued = lk["powered"]
            if accrued and ctx.ui:
                ctx.ui.note(f"resuming: {format_duration(accrued)} of {format_duration(lk['wait'])} already served")
        total = total if total is not None else lk["wait"]

    saved, last = accrued, clock.now()
    runner.events.emit("wait", label, new="started", total=total, served=accrued)
    matched = []

    def save():
        nonlocal saved
        if lockout_id is not None and accrued != saved:
            ctx.ledger.add_powered(lockout_id, accrued - saved)
            saved = accrued

    def tick() -> bool:
        nonlocal accrued, last
        now = clock.now()
        if all(bench.rail(r).is_on for r in rails):
            accrued += now - last
        last = now
        if accrued - saved >= SAVE_EVERY:
            save()
        if ctx.ui:
            ctx.ui.progress(label, min(accrued, total), total)
        for c in until:
            if _quiet_condition(runner, c):
                matched.append(c)
                return True
        return accrued >= total

    try:
        done = tick()
        while not done:  # a wait_for times out only while a rail is off and time is not accruing
            done = clock.wait_for(tick, timeout=max(0.5, total - accrued), poll=1.0 if clock.virtual else 0.5)
    finally:
        save()
        if ctx.ui:
            ctx.ui.progress(label, min(accrued, total), total, done=True)
        runner.events.emit("measurement", f"{label} powered time", new=round(accrued, 3),
                           limit=total, ended="condition" if matched else "time")
    if lockout_id is not None:
        ctx.ledger.end_lockout(lockout_id)
        runner.events.emit("lockout", "ended", served=round(accrued, 3))
    if not matched and str(a.get("on_max", "passed")) == "failed":
        raise StepFailed(f"{label}: nothing happened within {format_duration(total)} of powered time")


def _quiet_condition(runner, cond) -> bool:
    """Conditions checked every second must not ask an operator every second."""
    if isinstance(runner.bench.display, OperatorTap) and "display" in repr(cond):
        return False
    return runner.condition(cond)
