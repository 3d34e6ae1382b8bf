"""Waits that count only powered time: ``wait_until``, and the base of the lockout wait.

A powered wait accrues time only while every rail it names is switched on and,
where the rail has a sense, measured at the connector; a rail whose sense
disagrees with its relay stops it. :mod:`rig.run.lockoutwait` builds the lockout
wait on it.

The wait sleeps until the next thing that can change it (a display line, a
sense edge, its own end, a checkpoint), so an hour of simulated waiting costs
a handful of wake-ups; on the real clock it also wakes every second for the
countdown.
"""

from __future__ import annotations

from ..unit.display import OperatorTap
from ..durations import format_duration
from ..errors import StepFailed
from ..bench import signals
from ..bench.power import powered, rail_faults
from .procedure import durations

CHECKPOINT_REAL = 30.0       # seconds of wall time between ledger saves on the real clock
CHECKPOINT_VIRTUAL = 900.0   # a few per simulated hour, and never more than CHECKPOINTS_PER_WAIT + 1 a wait
CHECKPOINTS_PER_WAIT = 8     # on the virtual clock: each save is a synchronous commit, and ten hours are not
                             # to cost ten times one (a kill loses at most an eighth of a long simulated wait)
COUNTDOWN = 1.0              # the real clock wakes at least this often, for the countdown


class PoweredWait:
    """Accrue powered time until a condition holds or ``max`` of it has passed."""

    needs_awake = False      # the lockout wait: counts only while a unit on the car's network can be awake

    def __init__(self, runner, a):
        self.runner, self.ctx, self.clock, self.bench = runner, runner.ctx, runner.clock, runner.bench
        rails = a.get("rails") or []
        self.rails = rails if isinstance(rails, list) else [rails]
        until = a.get("until") or []
        self.until = until if isinstance(until, list) else [until]
        self.label = str(a.get("label", "wait"))
        self.on_max = str(a.get("on_max", "passed"))
        self.total = durations(a["max"]) if "max" in a else None
        self.served = 0.0
        self.ended = ""
        self._events = []
        self._unsub = None
        self._asleep_since: float | None = None   # since when the car's network has kept the unit asleep

    # -- what the loop needs to know -------------------------------------------
    def _listen(self) -> None:
        # what the unit shows, and the car's network (its wake frames, its bus going error-passive or off)
        self._unsub = self.bench.events.subscribe(lambda e: self._events.append(e)
                                                  if e.kind in ("sense", "display", "can") else None)

    def accruing(self, now: float) -> bool:
        return powered(self.bench, self.rails)

    def tell_bus(self, now: float) -> None:
        """Say once when the car's network stops the count (the bus error-passive or off, the wake frames
        stopped), and once when it lets it go on, with the time it did not count."""
        can = self.bench.can
        why = can.why_asleep() if self.needs_awake and can is not None else ""
        if why and self._asleep_since is None:
            self._asleep_since = now
            self.note(f"{why}: a unit that needs the car's network is not awake, so this wait does not count "
                      f"until it is")
        elif not why and self._asleep_since is not None:
            self.note(f"the CAN bus is {can.errors.state} and the wake frames go out again: the wait counts again "
                      f"({format_duration(now - self._asleep_since)} not counted)")
            self._asleep_since = None

    def note(self, text: str) -> None:
        self.runner.events.emit("note", self.label, note=text)
        if self.ctx.ui:
            self.ctx.ui.note(text)

    def check_faults(self) -> None:
        faults = rail_faults(self.bench, self.rails)
        if faults:
            self.fault(faults[0].message)

    def fault(self, message: str) -> None:
        raise StepFailed(f"{self.label}: {message}; {format_duration(self.served)} of powered time served")

    def finished(self, now: float) -> bool:
        for cond in self.until:
            if self._condition(cond):
                self.ended = "condition"
                return True
        if self.served >= self.total - 1e-9:
            self.ended = "time"
            return True
        return False

    def _condition(self, cond) -> bool:
        # checked at every wake-up: never ask an operator (the no-tap bench) from here
        if isinstance(self.bench.display, OperatorTap) and "display" in repr(cond):
            return False
        return self.runner.condition(cond)

    def next_wake(self, now: float) -> float:
        return now + (self.total - self.served) if self.accruing(now) else now + 3600.0

    def save(self, final: bool = False) -> None:
        pass

    def start(self) -> None:
        if self.total is None:
            raise StepFailed(f"{self.label}: no max given")
        off = [r for r in self.rails if not self.bench.rail(r).is_on]
        if off:  # nothing would count: the wait would never end
            them = " and ".join(off)
            raise StepFailed(f"{self.label}: {them} {'is' if len(off) == 1 else 'are'} switched off, and a powered "
                             f"wait counts only while its rails are on: switch {them} on in a step before the wait")

    def end(self) -> None:
        if self.ended != "condition" and self.on_max == "failed":
            raise StepFailed(f"{self.label}: nothing happened within {format_duration(self.total)} of powered time")

    def progress(self, done: bool = False) -> None:
        if self.ctx.ui:
            tell = getattr(self.ctx.ui, "progress_facts", None)  # a UI that shows more (the page) takes them
            if tell is not None:
                tell(**self.progress_facts())
            self.ctx.ui.progress(self.label, min(self.served, self.total), self.total, done=done)

    def progress_facts(self) -> dict:
        """What a view needs beyond the figures: whether the time counts right now, and for a
        lockout wait its own length and whether a stop keeps what was served (a unit whose wait
        starts over after a power loss throws it away)."""
        facts = {"running": self.accruing(self.clock.now())}
        if getattr(self, "lk", None) is not None:
            facts.update(lockout=self.wait, keeps=not getattr(self, "restart", False))
        return facts

    # -- the loop ----------------------------------------------------------------
    def run(self) -> None:
        self._listen()
        started = False
        try:
            self.start()
            started = True
            self.runner.events.emit("wait", self.label, new="started", total=self.total, served=self.served)
            self._loop()
        finally:
            if self._unsub:
                self._unsub()
            if started:  # a wait that never began (the unit never came on) has nothing to report or save
                self.save(final=True)
                self.progress(done=True)
                self.runner.events.emit("measurement", f"{self.label} powered time", new=round(self.served, 3),
                                        limit=self.total, ended=self.ended or "stopped")
        self.end()

    def _loop(self) -> None:
        clock = self.clock
        last = clock.now()
        was_on = self.accruing(last)
        next_save = self._next_checkpoint(last)
        done = False
        while True:
            try:
                # The bookkeeping runs whole (a ledger save half done would count served time twice):
                # a signal that arrives meanwhile, or inside a clock callback, is raised here, at the
                # shield's end, or in the sleep.
                with signals.shielded():
                    now = clock.now()
                    on = self.accruing(now)
                    self.tell_bus(now)
                    # The stretch since the last wake-up counts if it began powered. The virtual clock wakes
                    # at every event, so a change happened just now; the real clock wakes every second, and
                    # a stretch that ends unpowered is not counted at all (it errs by under a second, short).
                    if was_on and (on or clock.virtual):
                        self.served += now - last
                    last, was_on = now, on
                    self.check_faults()  # before or after the save alike: a save writes the served total
                    if now >= next_save:
                        self.save()
                        next_save = self._next_checkpoint(now)
                    self.progress()
                    done = self.finished(now)
                    if not done:
                        wake = min(self.next_wake(now), next_save)
                        if clock.virtual:
                            # No need to wake for the clock's other callbacks: one that changes a sense
                            # or the display ends the sleep below. The countdown moves a tenth at a time,
                            # or each wall second on a paced clock somebody watches.
                            speed = getattr(clock, "speed", None)
                            wake = min(wake, now + (COUNTDOWN * speed if speed else max(COUNTDOWN, (self.total or 0) / 10)))
                        else:
                            wake = min(wake, now + COUNTDOWN)
                if done:
                    return
                if clock.virtual:
                    # to the next known moment, or sooner, at the moment a sense or the display changes
                    # (a simulated unit's callback that nobody announced as a wake-up, say)
                    seen = len(self._events)
                    clock.wait_for(lambda: len(self._events) > seen, max(wake - now, 1e-6), poll=wake - now)
                else:
                    clock.sleep_until(max(wake, now + 1e-6))
            except KeyboardInterrupt as exc:
                now = clock.now()  # served up to the interrupt counts, if the unit was powered all along
                if was_on and self.accruing(now):
                    self.served += max(0.0, now - last)
                last = now
                self.interrupted(exc)
                if done:
                    return  # it had ended as the signal came: a Ctrl-C asked about changes nothing
                was_on = self.accruing(last)  # the wait goes on

    def interrupted(self, exc: KeyboardInterrupt) -> None:
        raise exc

    def _next_checkpoint(self, now: float) -> float:
        if not self.clock.virtual:
            return now + CHECKPOINT_REAL
        return now + max(CHECKPOINT_VIRTUAL, (self.total or 0.0) / CHECKPOINTS_PER_WAIT)
