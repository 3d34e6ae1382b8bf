"""The lockout wait: the ledger's open lockout, served with a margin, ended only by proof.

It counts from when the unit is *seen* on (its amp-remote rising, or its
first display line), only while the profile's rails are powered and, where
they have senses, measured at the connector; and it ends only when the unit
proves the wait is over - its ready display where that differs from its
lockout display, or switching itself off after the wait for a unit that does
that - or, where nothing but time can prove it, when the whole wait plus a
margin has been served. The ledger closes the lockout only then: a unit whose
display still says it waits is waited for. A lockout the ledger does not know
and the display cannot prove is refused, never made up.

What the unit says outranks what the rig counted: a unit seen to switch off
(its amp-remote falling) or to show its splash during the wait has lost what
its profile says a power cut loses - the served time starts over (``rail_off:
restart``) or stops until it is back (``pause``), in the count, the ledger and
the countdown, whatever the rail senses said.
"""

from __future__ import annotations

from ..unit.display import OperatorTap, normalise
from ..unit.profilecheck import UNPROVEN_MARGIN
from ..durations import format_duration
from ..errors import SafetyRefusal, StepFailed
from ..bench.power import next_settle, powered, rail_faults, unsensed
from .unitsigns import own_display, shows, splash
from .waits import PoweredWait

SECOND_CTRL_C = 5.0          # seconds in which a second Ctrl-C confirms throwing served time away


def powered_wait(runner, a) -> None:
    """The ``wait_until`` step kind: a lockout wait, or a plain powered wait."""
    (LockoutWait if a.get("lockout") else PoweredWait)(runner, a).run()


class LockoutWait(PoweredWait):
    """The lockout wait: the ledger's open lockout, served with a margin, ended only by proof."""

    needs_awake = True

    def __init__(self, runner, a):
        super().__init__(runner, a)
        self.p = self.ctx.profile
        self.lk = None
        self.wait = 0.0
        self.saved = 0.0
        self.seen_on: float | None = None      # when the unit was seen on (amp-remote or display)
        self.amp_seen = False                  # unit_on rose during this wait: its falling means "off"
        self.off_since: float | None = None
        self.lines_from = 0.0
        self._ctrl_c: float | None = None
        self.lost = False                      # power was lost on a unit whose wait then starts over
        self.restart = self.p.lockout.rail_off == "restart"
        self.sense = self.bench.senses.get("unit_on")
        self.own_seen = False                  # it showed one of its own displays since it (re)booted
        self.alive_at: float | None = None     # the last moment it was seen on: an own display, its amp-remote
        self.dark_at: float | None = None      # its display went blank since then (it may have lost power there)
        self.booting: float | None = None      # since when it boots again, not yet showing its own display
        self.restarted: tuple | None = None    # (when, why, time counted while it was off) not yet applied
        self.proof = "time"

    # -- before the wait: the unit on, the lockout real --------------------------
    def start(self) -> None:
        bench, p = self.bench, self.p
        if not self.rails:
            self.rails = list(p.lockout.rails)
        self.check_faults()
        powered_at = max(bench.rail(r).switched_at for r in self.rails)
        self.lines_from = powered_at
        self._see_unit_on(powered_at)
        assumed = unsensed(bench, self.rails)
        if assumed:
            self.note(f"no sense on {', '.join(assumed)}: powered time is assumed from the relay"
                      f"{'s' if len(assumed) > 1 else ''}, not measured at the connector")
        self._find_lockout()
        self.wait = self.lk["wait"]
        self.proof = self._proof()
        margin = self.p.lockout_margin(self.wait, self.proof)
        self.total = self.wait + margin
        self.label = f"{self.label} (+{format_duration(margin)} margin)"
        if self.proof == "time" and not self.p.margin_sourced:
            self.note(f"only time can end this wait (nothing the rig sees proves it over), and {p.id}'s notes give "
                      f"no measured margin: {format_duration(margin)} more is served, for a timer up to "
                      f"{UNPROVEN_MARGIN[0]:.0%} slow (README: a margin for timers that drift)")
        if self.lk["powered"] > 0 and self.restart:
            self.ctx.ledger.add_powered(self.lk["id"], 0.0, restart=True)
            self.runner.events.emit("lockout", "restarted", note=f"{p.id}: the wait starts over after power loss")
            self.note(f"{p.id}'s wait starts over after a power loss: {format_duration(self.wait)} again")
        else:
            self.served = self.saved = self.lk["powered"]
            if self.served:
                self.note(f"resuming: {format_duration(self.served)} of {format_duration(self.wait)} already served")
        self.runner.events.emit("lockout", "counting", since=round(self.seen_on, 6), wait=self.wait,
                                margin=margin, served=round(self.served, 3))

    def _see_unit_on(self, powered_at: float) -> None:
        """Wait for the unit to be seen on; time before that never counts."""
        within = self.p.lockout.boot_within
        tap = self.bench.display
        sees = self.sense is not None or (tap is not None and not isinstance(tap, OperatorTap))
        if not sees:
            # nothing shows the unit waking: count as if it took its whole boot allowance
            self.clock.sleep_until(powered_at + within)
            self.seen_on = self.clock.now()
            self.note(f"nothing shows the unit come on (no unit_on sense, no display tap): counting from "
                      f"{format_duration(within)} after power")
            return
        if tap is not None and not isinstance(tap, OperatorTap):
            self.own_seen = own_display(self.p, tap.current())
        if self.sense is not None and self.sense.value:
            self.seen_on, self.amp_seen = self.clock.now(), True
            # read only at a splash with no amp-remote fall seen: a unit whose amp-remote falls with
            # its power (every profile's, the simulator's) never gets there
            self.alive_at = self.seen_on
            return
        if tap is not None and not isinstance(tap, OperatorTap):  # it may have answered the relay at once
            first = next((line for line in tap.history() if line.t >= powered_at and line.text), None)
            if first is not None:
                self.seen_on = first.t
                return
        deadline = powered_at + within
        while self.seen_on is None:
            for e in self._take_events():
                self._saw(e)
            if self.seen_on is not None:
                break
            if self.clock.now() >= deadline:
                raise StepFailed(f"the unit never came on: no amp-remote (unit_on) and no display within "
                                 f"{format_duration(within)} of power. Check the amp-remote wire and the fuse; "
                                 f"no lockout time was counted")
            self.check_faults()
            self.clock.wait_for(lambda: bool(self._events), max(0.0, deadline - self.clock.now()))

    def _take_events(self):
        events, self._events[:] = list(self._events), []
        return events

    def _saw(self, e) -> None:
        if e.t < self.lines_from:
            return
        if e.kind == "sense" and e.what == "unit_on":
            if e.new:
                if self.off_since is not None and self.seen_on is not None and self.lk is not None:
                    self._restarted_at(self.off_since, f"its amp-remote (unit_on) fell at "
                                                       f"{format_duration(self.off_since - self.lines_from)} and "
                                                       f"rose again")
                self.amp_seen, self.off_since = True, None
                self.alive_at = e.t
                if self.seen_on is None:
                    self.seen_on = e.t
            elif self.amp_seen and self.off_since is None:
                self.off_since = e.t
        elif e.kind == "display" and not e.new and self.own_seen and self.dark_at is None:
            self.dark_at = e.t
        elif e.kind == "display" and e.new:
            if self.seen_on is None:
                self.seen_on = e.t
            if own_display(self.p, e.new):
                self.own_seen, self.booting, self.alive_at, self.dark_at = True, None, e.t, None
            elif splash(self.p, e.new) and self.own_seen and self.lk is not None:
                # past its boot, it shows a line that is none of its own: it has just booted again
                self.own_seen, self.booting = False, e.t
                # time counted while it was off: none once its amp-remote fell (the count stopped there),
                # else all since its display went dark, or since it was last seen alive (a WAIT that stays
                # put tells nothing new)
                alive = max(t for t in (self.alive_at, self.dark_at, self.lines_from) if t is not None)
                off = 0.0 if self.off_since is not None else max(0.0, e.t - alive)
                self.dark_at = None
                self._restarted_at(e.t, f"it showed {e.new!r}, none of its own displays: its splash", off)
                self.off_since = None  # it is back on: its amp-remote rising now is the same restart

    def _restarted_at(self, t: float, why: str, counted_off: float = 0.0) -> None:
        if self.restarted is None:
            self.restarted = (t, why, counted_off)

    def _apply_restart(self) -> None:
        """The unit restarted: what its profile says a power cut loses is lost, here as in the unit."""
        t, why, counted_off = self.restarted
        self.restarted = None
        when = format_duration(max(0.0, t - self.lines_from))
        if self.restart:
            lost, self.served = self.served, 0.0
            self.save()  # the ledger knows at once: a kill now cannot resurrect the lost time
            self.runner.events.emit("lockout", "restarted", note=f"{why}; {self.p.id}'s wait starts over", lost=round(lost, 3))
            self.note(f"the unit restarted ({why}): {self.p.id}'s wait starts over after a power loss, so the "
                      f"{format_duration(lost)} served are lost; counting again from when it is back")
        else:
            taken = min(self.served, counted_off)  # time counted before the rig saw that it was off
            self.served -= taken
            self.save()
            self.runner.events.emit("lockout", "paused", note=why, lost=round(taken, 3))
            self.note(f"the unit restarted at {when} ({why}): {self.p.id}'s wait pauses while it is off; "
                      f"{format_duration(self.served)} served stands")

    def _proof(self) -> str:
        """What can prove this wait over on this bench: the profile's proof, if the bench can see it."""
        proof, tap = self.p.wait_proof, self.bench.display
        if proof == "display" and tap is None:
            return "time"
        if proof == "power_off" and self.sense is None:
            return "time"
        return proof

    def _find_lockout(self) -> None:
        led, serial, p = self.ctx.ledger, self.ctx.serial, self.p
        self.lk = led.open_lockout(serial)
        if self.lk is not None:
            return
        shown = self._display_now()
        if shown is not None and self._proves("lockout", shown, against="locked"):
            led.start_lockout(serial, p.lockout_wait(len(led.lockouts(serial)) + 1), self.ctx.run_id)
            self.lk = led.open_lockout(serial)
            self.runner.events.emit("lockout", "opened", wait=self.lk["wait"],
                                    note="the display shows the lockout; it was not in the ledger before this run")
            return
        if shown is None:
            what = "there is no display to show one"
        elif self.p.pattern("lockout").search(normalise(shown)):
            what = f"the display shows {shown!r}, which a {p.id} shows when it is locked, too: that proves no lockout"
        else:
            what = f"the display shows {shown!r}, not its lockout text ({' | '.join(p.templates('lockout'))})"
        raise SafetyRefusal(
            f"the ledger shows no lockout for {serial} and {what}. There is nothing to wait out, and a made-up lockout "
            f"would make the next real one longer on a unit whose waits grow. If the unit is locked out, "
            f"record it: rig units set {serial} --attempts-used {p.attempts.before_lockout} --reason '...'")

    def _display_now(self) -> str | None:
        tap = self.bench.display
        if tap is None:
            return None
        if isinstance(tap, OperatorTap):
            return tap.read(f"what the unit shows ({' | '.join(self.p.templates('lockout'))} while it is "
                            f"locked out)")
        # past its boot splash to one of its own texts (the display may lag its amp-remote)
        names = [n for n in ("lockout", "locked", "ready", "wrong", "unlocked", "permanent") if n in self.p.display]
        known = lambda: any(self.p.pattern(n).search(normalise(tap.current() or "")) for n in names)
        self.clock.wait_for(known, self.p.lockout.boot_within)
        return tap.current()

    def _proves(self, name: str, text: str, against: str) -> bool:
        return shows(self.p, name, text, against)

    # -- the loop's questions ------------------------------------------------------
    def accruing(self, now: float) -> bool:
        for e in self._take_events():  # what the unit said since the last look decides from now on
            self._saw(e)
            if e.kind == "display" and e.new and self._proves_end(e.new):
                self.ended = "display"
        if not powered(self.bench, self.rails):
            return False
        if self.amp_seen and self.sense is not None and not self.sense.value:
            return False  # its amp-remote rose and fell: the unit is off, and so is its timer
        if self.bench.can is not None and not self.bench.can.unit_awake():
            return False  # no wake frames, or the bus error-passive or off: a unit that needs them is asleep
        if self.booting is not None and now - self.booting < self.p.lockout.boot_within:
            return False  # back from a restart: its timer runs again once it shows its own display
        return True

    def check_faults(self) -> None:
        faults = rail_faults(self.bench)
        if faults:
            self.fault(faults[0].message)
        for r in self.rails:
            if not self.bench.rail(r).is_on:
                self.fault(f"{r} is switched off, and the lockout wait counts only while its rails are on")

    def fault(self, message: str) -> None:
        kept = self._keep_or_lose()
        raise StepFailed(f"{message}. {kept}")

    def _keep_or_lose(self) -> str:
        if self.lk is None:
            return "No lockout time was counted"
        if self.restart:
            self.lost = True
            self.save(final=True)  # (every caller raises, and run() saves once more: this one stands alone)
            return f"{self.p.id}'s wait starts over after a power loss: the served time is lost"
        self.save(final=True)
        return f"{format_duration(self.served)} of {format_duration(self.wait)} served is kept in the ledger"

    def finished(self, now: float) -> bool:
        self.accruing(now)  # take in what the unit said
        if self.restarted is not None:
            self._apply_restart()
        if self.ended == "display":
            return True
        if self.p.lockout.ends == "power_off" and self.off_since is not None \
                and now - self.off_since >= self.p.lockout.off_settle:
            needed = self.wait * (1 - self.p.lockout.tolerance)
            if self.served >= needed:
                self.ended = "power_off"
                return True
            raise StepFailed(f"the unit switched itself off after only {format_duration(self.served)} of powered "
                             f"time (its wait is {format_duration(self.wait)}): that is not the end of the wait. "
                             f"Check the supply and the amp-remote wire. "
                             f"{self._keep_or_lose()}")
        if self.served >= self.total - 1e-9:
            return self._time_is_up()
        return False

    def _time_is_up(self) -> bool:
        """The wait and its margin are served. Where the unit can prove the end, the lockout closes
        only on that proof: a unit still showing its lockout has not served its wait, whatever the
        rig counted (a restart it could not see, a timer slower than the margin)."""
        tap = self.bench.display
        if self.proof == "display":
            if isinstance(tap, OperatorTap):
                if tap.confirm(f"its ready display ({' or '.join(self.p.templates('ready'))}), not "
                               f"{' or '.join(self.p.templates('lockout'))}"):
                    self.ended = "display"
                    return True
                self._unproven("the operator does not see the ready display")
            if self._proves_end(tap.current() or ""):
                self.ended = "display"
                return True
            if self.served < self.total + self.wait - 1e-9:
                return False  # it says it still waits: so does the rig, for up to another whole wait
            self._unproven(f"the display still shows {tap.current()!r}")
        if self.proof == "power_off" and self.served < self.total + self.wait - 1e-9:
            return False  # it proves the end by switching itself off: give it up to another whole wait
        if self.proof == "power_off":
            self._unproven("the unit has not switched itself off")
        self.ended = "served"
        return True

    def _unproven(self, what: str) -> None:
        raise StepFailed(f"{what} after {format_duration(self.served)} of powered time (its wait is "
                         f"{format_duration(self.wait)}): the unit does not say its wait is over, so the lockout "
                         f"stays open in the ledger. {self._keep_or_lose()}. Check the supply (a unit that restarts "
                         f"starts its wait over) and run lockout-wait again")

    def _proves_end(self, text: str) -> bool:
        return "ready" in self.p.display and shows(self.p, "ready", text, against="lockout")

    def next_wake(self, now: float) -> float:
        wake = now + 3600.0
        if self.accruing(now):
            left = self.total - self.served
            wake = now + max(0.0, left if left > 1e-9 else self.total + self.wait - self.served)
        if self.off_since is not None and self.p.lockout.ends == "power_off" \
                and self.off_since + self.p.lockout.off_settle > now:  # (once past, it is no moment to wake for)
            wake = min(wake, self.off_since + self.p.lockout.off_settle)
        if self.booting is not None and self.booting + self.p.lockout.boot_within > now:
            wake = min(wake, self.booting + self.p.lockout.boot_within)
        settles = next_settle(self.bench)
        return wake if settles is None else min(wake, settles)

    def save(self, final: bool = False) -> None:
        if self.lk is None:
            return
        kept = 0.0 if self.lost else self.served  # a restarting unit lost it all with its power
        if kept < self.saved:
            self.ctx.ledger.add_powered(self.lk["id"], kept, restart=True)
        elif kept != self.saved:
            self.ctx.ledger.add_powered(self.lk["id"], kept - self.saved)
        self.saved = kept

    def end(self) -> None:
        how = {"display": f"the unit shows its ready display ({self.bench.display.current() if self.bench.display else ''})",
               "served": f"the whole wait and its margin were served ({format_duration(self.served)})",
               "power_off": f"the unit switched itself off after {format_duration(self.served)} of powered time, "
                            f"as {self.p.id} does at the end of its wait"}[self.ended]
        self.ctx.ledger.end_lockout(self.lk["id"], self.ended)
        self.runner.events.emit("lockout", "ended", how=self.ended, served=round(self.served, 3), wait=self.wait)
        self.note(f"lockout over: {how}")
        self.ctx.notes["lockout"] = how

    def interrupted(self, exc: KeyboardInterrupt) -> None:
        # Only a technician's Ctrl-C is asked about; SIGTERM, a stop from the server page, anything
        # that is a KeyboardInterrupt of another kind, acts at once.
        if type(exc) is not KeyboardInterrupt or not self.restart or self.served <= 0:
            self._say_what_is_kept()
            raise exc
        now = self.clock.now()
        if self._ctrl_c is not None and now - self._ctrl_c <= SECOND_CTRL_C:
            self._say_what_is_kept()
            raise exc
        self._ctrl_c = now
        if self.ctx.ui:
            self.ctx.ui.warn(f"stopping now throws away {format_duration(self.served)} of powered time: "
                             f"{self.p.id}'s wait starts over after a power loss. Press Ctrl-C again within "
                             f"{SECOND_CTRL_C:g} s to stop anyway; the wait goes on otherwise")
        self.runner.events.emit("note", "ctrl-c", note="first Ctrl-C during a wait that restarts: asked again")

    def _say_what_is_kept(self) -> None:
        if self.restart:
            self.ctx.notes["interrupted"] = (f"the served time ({format_duration(self.served)}) is lost: "
                                             f"{self.p.id}'s wait starts over after a power loss")
            self.lost = True
        else:
            self.ctx.notes["interrupted"] = (f"{format_duration(self.served)} of {format_duration(self.wait)} "
                                             f"served is kept; the same command resumes the wait")
