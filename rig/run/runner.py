"""Runs a procedure on an open bench: steps, conditions, waits, records.

The runner owns no pins: the bench does, and the caller's ``with bench:``
releases it however the run ends. The runner turns each way a run can end
into an outcome: ``passed``, ``failed`` (an expectation not met, a wrong
code), ``refused`` (safety), ``interrupted``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from .codeentry import enter_code
from ..unit.display import DisplayError, OperatorTap, normalise
from ..durations import format_duration
from ..errors import RigError, StepFailed
from ..bench.power import next_settle, rail_faults, settle_time
from .procedure import Procedure, durations, has, load_procedure, resolve, _onoff
from ..unit.canunit import why_dark
from ..unit.templates import either, group, spoken, to_regex
from .lockoutwait import powered_wait
from .plan import check_after_wait, enters_code

log = logging.getLogger(__name__)


class EndRun(Exception):
    def __init__(self, outcome: str, message: str):
        super().__init__(message)
        self.outcome, self.message = outcome, message


@dataclass
class RunContext:
    """Everything a run needs besides the procedure."""

    bench: object
    profile: object = None
    ledger: object = None
    serial: str | None = None
    run_id: int | None = None
    code: object = None                 # rig.records.secret.Code
    answers: dict = field(default_factory=dict)
    yes: bool = False                   # answer yes to every yes/no prompt (CI)
    ui: object = None                   # rig.cli.ui.Plain / Live
    allow_lockout: bool = False
    allow_permanent: bool = False
    records: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)   # what a step wants the run's result to say (e.g. what was kept)
    command: str = "rig"                        # how rig was called: suggested commands keep --backend, --ledger


class Runner:
    """Executes procedures step by step, emitting a ``step`` event for each."""

    enters_code = False  # this run enters a code (somewhere among its steps)

    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.bench = ctx.bench
        self.clock = ctx.bench.clock
        self.events = ctx.bench.events
        self.ui = ctx.ui

    # -- running -------------------------------------------------------------
    def run(self, proc: Procedure, params: dict | None = None) -> tuple[str, str]:
        """Run to the end; returns (outcome, message). Ctrl-C/SIGTERM propagate."""
        self.enters_code = enters_code(proc, self.ctx.profile)
        try:
            self._steps(proc, params or {})
            return "passed", f"{proc.name}: all steps passed"
        except EndRun as end:
            return end.outcome, end.message
        except RigError as exc:
            outcome = {3: "refused", 2: "error"}.get(exc.exit_code, "failed")
            message = str(exc)
            if outcome == "failed" and self._dark():
                message = message.rstrip(". ") + why_dark(self.bench)
            self.events.emit("result", outcome, message=message)
            return outcome, message

    def _dark(self) -> bool:
        """The unit has shown nothing at all: the failure may be the car's network, not the unit."""
        tap = self.bench.display
        return tap is not None and not isinstance(tap, OperatorTap) and not (tap.current() or "").strip()

    def _steps(self, proc: Procedure, params: dict) -> None:
        values = dict(proc.params)
        values.update(params)
        for step in proc.steps:
            self.bench.clock.progress()  # a step boundary: the heartbeat's sign that the run moves on
            if step.cond and not self.condition(step.cond):
                self.events.emit("step", step.label, new="skipped", step_kind=step.kind, where=step.where)
                continue
            self.events.emit("step", step.label, new="started", step_kind=step.kind, where=step.where)
            if self.ui:
                self.ui.step(step.label)
            args = resolve(dict(step.args), self._refs(values))
            self._at = step  # a call's file is found beside the calling one
            try:
                getattr(self, "_" + step.kind)(args)
            except (RigError, DisplayError) as exc:
                self.events.emit("step", step.label, new="failed", step_kind=step.kind, where=step.where, message=str(exc))
                raise
            self.events.emit("step", step.label, new="passed", step_kind=step.kind, where=step.where)

    def _refs(self, params: dict) -> dict:
        return {"params": params, "profile": self.ctx.profile, "unit": _UnitView(self)}

    # -- display and conditions ------------------------------------------------
    def pattern(self, spec) -> re.Pattern:
        """A display spec: a profile display name, a list of names, ``/regex/``, or literal text."""
        specs = spec if isinstance(spec, list) else [spec]
        alternatives = []
        p = self.ctx.profile
        for s in specs:
            if p is not None and (s in p.display or s == "ready"):
                alternatives.append(p.pattern(s).pattern)
            elif isinstance(s, str) and len(s) > 1 and s.startswith("/") and s.endswith("/"):
                alternatives.append(s[1:-1])
            else:
                alternatives.append(to_regex([str(s)], p.digits.count if p else 4).pattern)
        return re.compile(either(alternatives))

    def describe(self, spec) -> str:
        p = self.ctx.profile
        specs = spec if isinstance(spec, list) else [spec]
        return " or ".join(f"{s} ({' | '.join(p.templates(s))})" if p is not None and (s in p.display or s == "ready")
                           else str(s) for s in specs)

    def hint(self) -> str:
        """What the operator may see, in the profile's own display texts."""
        p = self.ctx.profile
        if p is None:
            return ""
        texts = [t for name in ("locked", "wrong", "lockout", "unlocked") if name in p.display for t in p.templates(name)]
        return "e.g. " + ", ".join(dict.fromkeys(spoken(t) for t in texts))

    def shows(self, spec) -> bool:
        tap = self.bench.display
        if tap is None:
            raise StepFailed("this step needs to see the display, and the bench has no display tap")
        if isinstance(tap, OperatorTap):  # what the operator last said, asked again only when stale
            current = tap.read(self.hint())
            return bool(self.pattern(spec).search(normalise(current)))
        current = tap.current()
        return current is not None and bool(self.pattern(spec).search(normalise(current)))

    def condition(self, cond) -> bool:
        (k, v), = cond.items()
        if k == "not":
            return not self.condition(v)
        if k == "any":
            return any(self.condition(c) for c in v)
        if k == "all":
            return all(self.condition(c) for c in v)
        if k == "display":
            return self.shows(v)
        if k == "sense":
            return all(self.bench.read(s) == bool(want) for s, want in v.items())
        if k == "has":
            return has(self.ctx.profile, v)
        if k == "tap":
            return (self.bench.display is not None and not isinstance(self.bench.display, OperatorTap)) == bool(v)
        if k == "ledger":
            if self.ctx.ledger is None or not self.ctx.serial:
                return False
            st = self.ctx.ledger.standing(self.ctx.serial, self.ctx.profile)
            return {"locked_out": st.lockout is not None, "unlocked": st.unlocked,
                    "permanent": st.permanent, "attempts_left": st.left > 0}[v]
        raise StepFailed(f"unknown condition {k!r}")

    # -- step kinds ------------------------------------------------------------
    def _power(self, a):
        if "rails" in a:
            rails = a["rails"] if isinstance(a["rails"], list) else [a["rails"]]
            for r in rails:
                self.bench.power(r, _onoff(a["to"]))
        else:
            for r, state in a.items():
                self.bench.power(r, _onoff(state))
        self.check_power()

    def check_power(self) -> None:
        """Every rail's sense agrees with its relay within the settle time, or the step fails."""
        bench = self.bench
        if next_settle(bench) is not None:
            self.clock.wait_for(lambda: next_settle(bench) is None, settle_time(bench), poll=0.01)
        faults = rail_faults(bench)
        if faults:
            raise StepFailed(faults[0].message)

    def _press(self, a):
        keys = a["keys"]
        combo = "+".join(keys) if isinstance(keys, list) else keys
        hold = durations(a["hold"]) if "hold" in a else None
        gap = durations(a["gap"]) if "gap" in a else None
        if a.get("at_power_on"):
            rail = a["at_power_on"]
            self.bench.power(rail, False)
            with self.bench.holding(combo) as start:
                self.bench.power(rail, True)
                self.clock.sleep_until(start + (hold if hold is not None else self.bench.wiring.timing.press))
            return
        self.bench.press(combo, hold=hold, times=int(a.get("times", 1)), gap=gap)

    def _wait(self, a):
        seconds = durations(a["for"])
        if seconds < 10 or not self.ui:
            self.clock.sleep(seconds)
            return
        start = self.clock.now()
        end = start + seconds
        while self.clock.now() < end:  # a second at a time, so the countdown moves
            self.ui.progress("wait", self.clock.now() - start, seconds)
            self.clock.sleep_until(min(end, self.clock.now() + 1.0))
        self.ui.progress("wait", seconds, seconds, done=True)

    def _expect(self, a):
        within = durations(a["within"])
        deadline = self.clock.now() + within
        if "display" in a:
            tap = self.bench.display
            if tap is None:
                raise StepFailed("expect display: the bench has no display tap")
            bad = self.pattern(a["not_matching"]) if a.get("not_matching") else None
            want = self.pattern(a["display"])
            if isinstance(tap, OperatorTap):
                try:
                    tap.wait_for(want, within, not_matching=bad, expected=self.hint())
                except DisplayError as exc:
                    raise StepFailed(f"expected the display to show {self.describe(a['display'])}: {exc}") from None
            else:
                try:
                    tap.wait_for(want, within, not_matching=bad)
                except DisplayError as exc:  # in the profile's display texts, never the compiled regex
                    raise StepFailed(self._display_failed(a, within, exc, tap)) from None
        for sense, want in (a.get("sense") or {}).items():
            left = max(0.0, deadline - self.clock.now())
            if not self.clock.wait_for(lambda: self.bench.read(sense) == bool(want), left):
                raise StepFailed(f"expected {sense} to be {'on' if want else 'off'} within {format_duration(within)}")

    def _display_failed(self, a, within, exc, tap) -> str:
        from ..unit.display import DisplayTimeout, ForbiddenDisplay

        want = self.describe(a["display"])
        if isinstance(exc, ForbiddenDisplay):
            return (f"the display showed {self.describe(a['not_matching'])} ({tap.current()!r}) "
                    f"while waiting for {want}")
        if isinstance(exc, DisplayTimeout):
            hint = str(exc).partition("; ")[2]  # e.g. unreadable lines: wrong baud rate?
            return (f"expected the display to show {want} within {format_duration(within)}; "
                    f"it shows {tap.current()!r}" + (f"; {hint}" if hint else ""))
        return f"expected the display to show {want}: {exc}"

    def _wait_until(self, a):
        ctx = self.ctx
        if a.get("lockout") and self.enters_code and ctx.ledger is not None and ctx.serial:
            # the code entry after this wait: a permission it will need is asked for before the wait
            check_after_wait(ctx.ledger, ctx.serial, ctx.profile, None, ctx.allow_lockout, ctx.allow_permanent,
                             ctx.command)
        powered_wait(self, a)

    def _enter_code(self, a):
        with self.bench.unguarded():  # code entry counts its own attempt, before its own confirm
            enter_code(self, verify=bool(a.get("verify", True)))

    def _prompt(self, a):
        kind = a.get("kind", "yesno")
        name = a.get("record")
        question = str(a["ask"])
        if name and name in self.ctx.answers:
            answer = self.ctx.answers[name]
        elif kind == "yesno" and self.ctx.yes:
            answer = "yes"
        elif self.ui is None or not self.ui.can_ask:
            raise StepFailed(f"this step needs an operator ({question!r}); answer it with "
                             f"{'--answer ' + name + '=VALUE' if name else '--yes'} when running unattended")
        else:
            with self.bench.clock.outside("the operator"):  # a question is not a hang: the beat goes on
                answer = self.ui.ask(question, kind)
        self.events.emit("prompt", question, new=answer if kind == "yesno" else "(answered)", record=name)
        if kind == "yesno":
            yes = str(answer).strip().lower() in ("y", "yes", "true")
            if a.get("expect", "yes") == "yes" and not yes:
                raise StepFailed(f"the operator answered no to: {question}")
            answer = "yes" if yes else "no"
        if name:
            self._store(name, answer)

    def _record(self, a):
        name = a["name"]
        p = self.ctx.profile
        if a.get("from") == "display":
            tap = self.bench.display
            text = tap.current() if tap is not None else None
            if a.get("pattern") and p is not None and len(p.templates(a["pattern"])) > 1 \
                    and not isinstance(tap, OperatorTap) and tap is not None:
                value = self._read_parts(a["pattern"], durations(a.get("within", "10s")))
                self._store(name, value)
                return
            if text is None:
                raise StepFailed(f"record {name}: nothing on the display to record")
            if a.get("pattern") and self.ctx.profile is not None:
                m = self.pattern(a["pattern"]).search(normalise(text))
                if not m:
                    raise StepFailed(f"record {name}: the display shows {text!r}, not {self.describe(a['pattern'])}")
                text = group(m, a["pattern"]) or text
            value = text
        else:
            value = a.get("value")
        self._store(name, value)

    def _read_parts(self, display: str, within: float) -> str:
        """A value the unit shows in parts, one after another (a serial as U#### then L####)."""
        parts = [to_regex([t], self.ctx.profile.digits.count) for t in self.ctx.profile.templates(display)]
        found: list[str] = []

        def seen() -> bool:
            found.clear()
            for line in self.bench.display.history():
                want = parts[len(found)]
                m = want.search(normalise(line.text))
                if m:
                    found.append(group(m, display) or line.text)
                    if len(found) == len(parts):
                        return True
            return False

        if not self.clock.wait_for(seen, within):
            raise StepFailed(f"the display did not show all {len(parts)} parts of the {display} within "
                             f"{format_duration(within)} (saw {len(found)})")
        return "".join(found)

    def _store(self, name, value):
        self.ctx.records[name] = value
        self.events.emit("record", name, new=str(value))
        if self.ctx.ledger is not None:
            self.ctx.ledger.record(self.ctx.serial, self.ctx.run_id, name, value)

    def _call(self, a):
        sub = load_procedure(str(a["procedure"]), beside=self._at.file)
        self._steps(sub, a.get("with") or {})

    def _sheet(self, a):
        p, r = self.ctx.profile, self.ctx.records
        rows = [("unit (bench label)", self.ctx.serial or "-"), ("serial shown / read", r.get("serial", "-")),
                ("model", r.get("model", "-")), ("VIN", r.get("vin", "-"))]
        if p is not None:
            rows += [("family", f"{p.title} ({p.id})"), ("models", p.models)]
            serial = p.sections.get("serial")
            if serial and serial.label:
                rows.append(("where the label is", serial.label))
        title = a.get("title") or "Code request"
        self.events.emit("sheet", title, rows=[list(x) for x in rows])
        if self.ui:
            self.ui.sheet(title, rows)

    def _end(self, a):
        raise EndRun(a.get("outcome", "passed"), str(a.get("message", "")))


class _UnitView:
    """``${unit.*}`` references: what the ledger knows of the unit under test, read when used."""

    def __init__(self, runner: Runner):
        self._r = runner

    @property
    def serial(self):
        return self._r.ctx.serial

    def _standing(self):
        ctx = self._r.ctx
        return ctx.ledger.standing(ctx.serial, ctx.profile)

    @property
    def attempts_left(self):
        return self._standing().left

    @property
    def lockout_left(self):
        left = self._standing().lockout_left
        return left if left is not None else 0.0
