"""One run of a procedure from start to record: check, open, run, release, record.

This is what ``rig run`` does, kept out of the CLI so the pytest plugin and
``rig demo`` run jobs exactly the same way.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..bench import signals
from ..bench.bench import Bench
from .codeentry import check_code
from ..errors import ConfigError, Problem, SafetyRefusal, UsageError, unknown
from ..records.events import EventBus
from ..records.files import folder, new_run_log
from ..records.ledger import Ledger, LedgerRefused, local_user
from .procedure import Procedure, check, load_procedure
from ..unit.canunit import attach, can_problems, needs_can
from ..unit.profiles import load_profiles
from ..records.report import EventLog, read_events, write_junit
from .guard import AttemptGuard
from .plan import check_answers_up_front, check_permissions
from .runner import RunContext, Runner
from ..records.secret import Redactor

EXIT = {"passed": 0, "failed": 1, "error": 2, "refused": 3, "interrupted": 130}


@dataclass
class Job:
    """What to run, on what, with what."""

    procedure: str
    wiring: object
    make_backend: Callable
    ledger_path: str
    log_dir: str
    profile_id: str | None = None
    serial: str | None = None
    params: dict = field(default_factory=dict)
    code: object = None
    answers: dict = field(default_factory=dict)
    yes: bool = False
    allow_lockout: bool = False
    allow_permanent: bool = False
    junit: str | None = None
    make_ui: Callable | None = None  # (bench, redact) -> ui
    events_path: str | None = None   # an extra copy of the event log (rig --events FILE)
    bench: object = None             # a bench a server holds open (rig serve): lent to the run, kept open
    new_unit: bool = False           # the serial is new to the ledger, on purpose (rig run --new-unit)
    command: str = "rig"             # how suggested commands start (the CLI adds the options typed)
    ledger_here: bool = True         # False: the ledger is the remote bench's (rig --place/--server), checked there
    who: str | None = None           # who started it (the ledger keeps it with a unit it registers)
    wake_set: str | None = None      # rig --wake-set: the CAN wake set to send (a file or a shipped name)
    origin: dict | None = None       # on a server: {"operator", "place", "lab_user"}, kept with the run


@dataclass
class JobResult:
    outcome: str
    message: str
    run_id: int
    log: str
    exit_code: int


def needs_code(proc: Procedure, _seen=None) -> bool:
    seen = (_seen or set()) | {proc.source}
    for step in proc.steps:
        if step.kind == "enter_code":
            return True
        if step.kind == "call":
            sub = load_procedure(str(step.args.get("procedure")), beside=step.file)
            if sub.source not in seen and needs_code(sub, seen):
                return True
    return False


def prepare(job: Job):
    """Load and check everything; ConfigError (file:line) before any pin moves.

    The unit is checked against the ledger first: a serial it has never seen
    needs ``new_unit`` and a profile (a typo must not start a fresh unit with a
    full set of attempts), and a profile other than the one recorded is refused.
    """
    proc = load_procedure(job.procedure)
    profiles = load_profiles()
    if job.profile_id and job.profile_id not in profiles:
        raise UsageError(unknown("profile", job.profile_id, profiles, "rig profiles list shows them"))
    if job.serial and job.ledger_here:
        check_unit(job)  # fills in the recorded profile: the ledger knows what the unit is
    profile = profiles.get(job.profile_id) if job.profile_id else None
    if profile is None and job.serial and job.ledger_here and "profile" in proc.needs:
        raise UsageError(f"{job.serial} has no profile on record (a ledger from an older rig): give "
                         f"--profile ID once and it is recorded with the unit; rig profiles list shows them")
    problems = check(proc, job.wiring, profile, job.params)
    problems += can_problems(job.wiring, profile, job.wake_set)  # a unit on the car's network: the bus, its speed, its frames
    if "unit" in proc.needs and not job.serial:
        problems.append(Problem(proc.source, 1, f"{proc.name} needs the unit's serial: --unit SERIAL"))
    if "code" in job.params:
        problems.append(Problem("--set", None, "a code never goes on the command line: use the hidden prompt, "
                                "--code-file FILE or RIG_CODE"))
    if problems:
        raise ConfigError(problems)
    return proc, profile


def check_plan(job: Job, proc: Procedure, profile, answers: bool = True) -> None:
    """What the run will need later, asked for before it starts: every answer an unattended
    run (``rig run --yes``) cannot give, and a permission the code entry will need after a
    lockout wait."""
    if job.yes and answers:
        check_answers_up_front(proc, profile, job.answers, job.yes)
    if job.serial and profile is not None and job.ledger_here and Path(job.ledger_path).exists():
        led = Ledger(job.ledger_path)
        try:
            check_permissions(led, job.serial, profile, proc, job.allow_lockout, job.allow_permanent, job.command)
        finally:
            led.close()


def check_unit(job: Job) -> None:
    """The serial against the ledger: known, or new on purpose with a profile; its recorded
    profile (filled in when none was given), or changed on purpose."""
    there = job.ledger_path == ":memory:" or Path(job.ledger_path).exists()
    led = Ledger(job.ledger_path) if there else None  # a ledger that is not there is not made to say so
    try:
        unit = led.unit(job.serial) if led is not None else None
        if unit is None:
            if not job.new_unit:
                raise LedgerRefused(f"the ledger has never seen a unit {job.serial!r}.{_near(job, led)} If it is a "
                                    f"new unit, run again with --new-unit and its --profile (it starts with a full "
                                    f"set of attempts)")
            if not job.profile_id:
                raise LedgerRefused(f"--new-unit {job.serial}: a new unit is registered with its profile, so its "
                                    f"attempts are counted by its own family's rules: add --profile ID "
                                    f"(rig profiles list shows them)")
            return
        if job.new_unit:
            raise LedgerRefused(f"--new-unit: the ledger already has {job.serial} ({unit['profile']}, since "
                                f"{_day(unit['created'])}); drop --new-unit to carry on with its record")
        recorded = unit["profile"]
        if recorded and job.profile_id is None:
            job.profile_id = recorded
        if recorded and job.profile_id != recorded:
            raise SafetyRefusal(f"{job.serial} is recorded as {recorded}; --profile {job.profile_id} would count "
                                f"its attempts and lockouts by another family's rules. If the unit really is "
                                f"{job.profile_id}, change it on purpose: {job.command} units set {job.serial} "
                                f"--profile {job.profile_id} --reason '...'")
    finally:
        if led is not None:
            led.close()


def _near(job: Job, led) -> str:
    """Did-you-mean for a serial; for a ledger with no units, whether it is the ledger meant."""
    if led is None:
        return f" There is no ledger at {job.ledger_path} yet: a typo in --ledger or RIG_LEDGER?"
    if not led.units():  # a new, empty ledger: a mistyped --ledger looks just like this
        return f" The ledger {job.ledger_path} has no units at all: is it the one you meant?"
    near = led.closest(job.serial)
    return f" Did you mean {' or '.join(near)}?" if near else ""


def _day(t) -> str:
    import time

    return time.strftime("%Y-%m-%d", time.localtime(t))


def run_job(job: Job, proc: Procedure | None = None, profile=None) -> JobResult:
    if proc is None:
        proc, profile = prepare(job)
    check_plan(job, proc, profile, answers=False)  # before anything opens (rig run asked already)
    if needs_code(proc):
        check_code(job.code, profile)
    redactor = Redactor(job.code, profile.pattern("entry") if profile is not None else None)
    # The backend first: a bench that cannot open (no GPIO, busy, no simulated unit) is a
    # configuration error, not a run, and leaves no trace in the ledger.
    backend = job.bench.backend if job.bench is not None else job.make_backend(job.wiring)
    if backend.name == "hardware":
        _hardware_checks(job, backend, proc, profile)
    ledger = run_id = log = log_path = ui = ctx = None
    outcome, message = "failed", ""
    try:
        with signals.shielded():  # a signal waits until the run is on record with its log open
            logs = folder(job.log_dir, "the run log folder (RIG_LOG_DIR)")  # before the run is on record
            extra = EventLog(job.events_path, redact=redactor.record) if job.events_path else None
            if extra is not None:
                backend.closers.append(extra.close)
            ledger = Ledger(job.ledger_path)
            ledger.sweep_stale_runs()
            if job.serial and profile is not None and job.ledger_here:
                # a new unit is put on record with its profile; an old record without one gets it now
                ledger.register(job.serial, profile, who=job.who or local_user(), why=f"{proc.name} (rig run)")
            run_id = ledger.start_run(proc.name, job.serial, profile.id if profile else None, backend.name, "")
            if job.origin:
                ledger.set_run_origin(run_id, job.origin.get("operator"), job.origin.get("place"),
                                      job.origin.get("lab_user"))
            try:  # named by the rig, made new: never another run's file, never through a link
                log_path, fd = new_run_log(logs, run_id, proc.name)
            except OSError as exc:
                outcome, message = "error", f"cannot write the run's log in {logs}: {exc.strerror or exc}"
                raise ConfigError([Problem(str(logs), None, message)]) from None
            ledger.set_log(run_id, str(log_path))
            log = EventLog(log_path, redact=redactor.record, fd=fd)
        events = EventBus(backend.clock)
        events.origin = log.origin = backend.clock.now()  # the run's own time starts here
        events.subscribe(log.write)
        if extra is not None:
            events.subscribe(extra.write)
        events.emit("run", proc.name, new="started", run=run_id, profile=profile.id if profile else None,
                    unit=job.serial, backend=backend.name)
        can_parts = None
        try:
            held = job.bench.lend(events) if job.bench is not None else None
            wants_can = needs_can(profile, job.wiring, job.wake_set)
            with held or Bench(job.wiring, backend, events=events, can=wants_can) as bench:
                can_parts = attach(bench, profile, job.wake_set)  # after the pins are safe, before any step
                if profile is not None and profile.display_pattern and hasattr(bench.display, "pattern"):
                    import re  # the unit's own debug UART instead of a tap board: pick the display out

                    bench.display.pattern = re.compile(profile.display_pattern)
                if job.make_ui:
                    ui = job.make_ui(bench, redactor.text)
                    events.subscribe(ui.event)
                if bench.display is None and ui is not None and ui.can_ask:
                    from ..unit.display import OperatorTap

                    bench.display = OperatorTap(bench.clock, lambda q: ui.ask(q, "text"))
                    events.subscribe(lambda e, tap=bench.display: tap.touched() if e.kind in ("rail", "key") else None)
                ctx = RunContext(bench, profile, ledger, job.serial, run_id, job.code, job.answers, job.yes, ui,
                                 job.allow_lockout, job.allow_permanent, command=job.command)
                with _guarded(bench, job, profile, ledger, run_id, ui):
                    outcome, message = Runner(ctx).run(proc, job.params)
            fault = backend.fault()  # found during the release (a simulated unit's model that raised)
            if fault is not None and outcome in ("passed", "failed"):
                outcome, message = ("error" if fault.exit_code == 2 else "failed"), str(fault)
        except KeyboardInterrupt as exc:
            outcome, message = "interrupted", _interrupted(exc, proc, ctx)
        finally:
            if can_parts is not None:
                can_parts.detach()  # after the release: keys up, frames stopped, rails safe
        message = redactor.text(message)
        events.emit("result", outcome, message=message)
    except KeyboardInterrupt as exc:  # before the bench opened, or while the result was told
        if run_id is None:
            raise  # not on record yet: nothing to finish
        outcome, message = "interrupted", _interrupted(exc, proc, ctx)
    except Exception as exc:  # a fault in the rig itself: its record says what stopped it, never "failed" and no word
        if run_id is not None and not message:
            outcome, message = "error", redactor.text(f"stopped by an error in the rig: {type(exc).__name__}: {exc}")[:300]
        raise
    finally:  # the record is finished before a signal can land
        signals.finish(_record, job, ui, backend, log, ledger, run_id, outcome, message)
    _write_timeline(log_path, proc.name, job.serial)
    _write_sheet(log_path, run_id, job.serial)
    if job.junit:
        write_junit(read_events(log_path), job.junit, proc.name,
                    {"profile": profile.id if profile else "", "unit": job.serial or "", "outcome": outcome,
                     "log": str(log_path), "backend": backend.name if backend else ""})
    return JobResult(outcome, message, run_id, str(log_path), EXIT[outcome])


@contextmanager
def _guarded(bench, job, profile, ledger, run_id, ui):
    """A procedure's own presses are guarded as hand presses are: a plain ``press`` step that
    confirms a code on the unit is an attempt, counted (or refused) by the run's override words."""
    saved = bench.guard
    if job.serial and profile is not None:
        bench.guard = AttemptGuard(bench, job.serial, profile, ledger, run_id=run_id, via=f"a press step of run {run_id}",
                                   allow_lockout=job.allow_lockout, allow_permanent=job.allow_permanent,
                                   command=job.command, tell=getattr(ui, "warn", None))
    try:
        yield
    finally:
        bench.guard = saved
        if saved is not None:
            saved.resync()


def _hardware_checks(job, backend, proc, profile) -> None:
    """On a real bench, two more refusals before any pin moves: a combo whose keys' lines the profile
    does not give (they may share a ladder), and a pin map that has not passed rig selftest here."""
    import dataclasses

    problems = check(proc, dataclasses.replace(job.wiring, strict_combos=True), profile, job.params)
    if problems:
        if job.bench is None:
            backend.close()
        raise ConfigError(problems)
    if job.serial:
        _commissioned_or_refuse(job, backend)


def _commissioned_or_refuse(job, backend) -> None:
    """A unit goes on a bench only once its pin map has passed rig selftest on it (wiring/README.md s. 10)."""
    from ..records import selftests

    led = Ledger(job.ledger_path)
    try:
        ok = selftests.passed_on_this_host(led, selftests.wiring_hash(job.wiring), "hardware")
    finally:
        led.close()
    if not ok:
        if job.bench is None:
            backend.close()
        raise SafetyRefusal(f"this pin map ({job.wiring.source}) has not passed rig selftest on this bench: run "
                            f"{job.command} selftest with no unit connected first (after any change to the map too)")


def _interrupted(exc, proc, ctx) -> str:
    kind = getattr(exc, "by", None) or signals.describe(exc)  # a served job says who stopped it
    kept = ctx.notes.get("interrupted") if ctx is not None else None  # what a lockout wait kept, or lost
    return f"interrupted by {kind}; keys released, rails safe. " + (
        f"The lockout wait: {kept}" if kept else "Run the same command to carry on")


def _record(job, ui, backend, log, ledger, run_id, outcome, message) -> None:
    if ui is not None:
        _quietly(ui.close)
    if job.bench is None:
        backend.close()
    if log is not None:
        log.close()
    if ledger is not None:
        if run_id is not None:
            ledger.end_run(run_id, outcome, message)
        ledger.close()


def _quietly(fn) -> None:
    try:
        fn()
    except Exception:  # a panel that fails to close must not keep the run off the record
        pass


def timeline_path(log_path) -> Path:
    return Path(log_path).with_suffix(".svg")


def _write_sheet(log_path, run_id, serial) -> None:
    """A run with a sheet step leaves the printable code-request sheet beside its log."""
    from ..records.sheet import write_sheet

    try:
        write_sheet(log_path, {"id": run_id, "serial": serial})
    except OSError:
        pass  # the sheet's rows are in the log and the run's page: not worth failing a run for


def _write_timeline(log_path, name, serial) -> None:
    """The picture a technician looks at first, next to the log it is drawn from."""
    from ..records.timeline import draw_later, write_timeline

    try:
        # a very long run's picture is drawn by a detached process: the exit never waits on it
        if not draw_later(log_path, timeline_path(log_path), f"{name}  {serial or ''}"):
            write_timeline(log_path, timeline_path(log_path), f"{name}  {serial or ''}")
    except OSError:
        pass  # a picture is not worth failing a run for
