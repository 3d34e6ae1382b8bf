"""The station: one process that holds the bench and runs jobs on it, one at a time.

Opened once, the bench stays open between jobs with its rails in their safe
state. Every pin move - a job, or a bench command from the CLI or the page -
happens on the station's one worker thread, so nothing ever switches under a
running job. Jobs go through :func:`rig.run.job.run_job`, the same as ``rig run``:
same checks, ledger, logs and refusals.

>>> from rig.bench.wiring import load_wiring
>>> from rig.bench.backends import mock_backend
>>> from rig.bench.clock import VirtualClock
>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> st = Station(load_wiring(), lambda w: mock_backend(w, VirtualClock()), d + "/ledger.sqlite", d + "/runs")
>>> st.open()
>>> st.command("press", "mode+scan", 2.0, 1).result(5)
'pressed mode+scan for 2s'
>>> st.close()
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import queue
import threading
import time

from ..bench.clock import RealClock
from ..errors import BenchBusy, ConfigError, RigError
from ..records.events import EventBus
from ..run.job import Job, check_plan, needs_code, prepare, run_job
from ..run.codeentry import check_code
from ..records.secret import Redactor
from ..run.guard import follow, sent
from ..run.session import BenchSession
from .client import stopping
from .clienttext import masked
from .commands import CommandSlot, expected_wall, run_command, takes
from .countdown import with_countdown
from .held import HeldBench, StoppableClock, Stopped
from .hub import Hub, WebUI
from .benchunit import BenchUnit
from .lease import GRACE, Lease
from .uploads import Uploads
from .ledgerview import forget_pin_history, open_run_id, sweep_runs

log = logging.getLogger(__name__)


class Station:
    """Holds the bench; runs queued jobs and bench commands on its worker thread."""

    notify_after = 60.0  # a wait at least this long gets a notification and a sound when it ends

    def __init__(self, wiring, make_backend, ledger_path: str, log_dir: str, lab: bool = False,
                 grace: float = GRACE):
        self._pace = RealClock()
        self.lease = Lease(lab, grace, on_expire=self.release_place)  # the lab place holding it, for whom
        self.wiring, self.make_backend = wiring, make_backend
        self.ledger_path, self.log_dir = ledger_path, log_dir
        self.uploads = Uploads(log_dir)       # procedures sent with a job (rig run FILE through the server)
        self._running_source: str | None = None
        self.hub = Hub()
        self.bench: HeldBench | None = None
        self.current: dict | None = None      # the running job, as the page sees it
        self.queued: list[dict] = []
        self.last: dict | None = None         # the last finished job
        self.on_bench = BenchUnit(ledger_path)  # the unit on the bench, and whether someone declared it
        self.closing, self.closing_by = False, None  # stopping, and why (said to a job it then refuses)
        self.commands = CommandSlot()         # the bench command running on the worker, if any
        self._q: queue.Queue = queue.Queue()
        self._ids = itertools.count(1)
        self.question_ids = itertools.count(1)
        self._answers: dict[int, tuple[str, str]] = {}
        self._answered = threading.Condition()
        self._dirty = threading.Event()
        self._idle_redact = lambda s: s
        self._redact = None                   # the running job's redactor (it holds the code): dropped after
        self.code_job = False                 # a job holding a code runs: client text loses its digits
        self._worker: threading.Thread | None = None
        self._opened = threading.Event()
        self._open_error: BaseException | None = None
        self.jobs_done = 0
        self.active_at = time.time()          # the last job's end, bench command or hold (rig lab sweep reads it)

    # -- life cycle ---------------------------------------------------------
    def open(self) -> None:
        """Open the bench on the worker thread (it moves every pin from then on)."""
        sweep_runs(self.ledger_path)  # a run a killed server left RUNNING is marked interrupted, honestly
        self._worker = threading.Thread(target=self._work, name="rig-bench", daemon=True)
        self._worker.start()
        self._opened.wait()
        threading.Thread(target=self._publish, name="rig-state", daemon=True).start()
        if self._open_error is not None:
            raise self._open_error

    def close(self, by: str = "the server stopping") -> None:
        """Stop the running job (keys up, rails safe, recorded as interrupted), then release the bench."""
        self.closing, self.closing_by = True, self.closing_by or by
        self.queued.clear()
        self.stop(by)
        self._q.put(None)
        if self._worker is not None:
            self._worker.join(30)
        self.hub.close()

    @property
    def clock(self) -> StoppableClock:
        return self.bench.clock

    @property
    def healthy(self) -> bool:
        """The worker is alive, its clock ticked lately (a waiting job ticks too), and no bench
        command is stuck past its end."""
        return self.problem() is None

    def problem(self) -> str | None:
        """Why the bench is not healthy, or None (what the watchdog and ``GET /api/lab`` go by)."""
        if self._worker is None or not self._worker.is_alive() or self.bench is None or not self.bench.is_open:
            return "the bench worker is not running"
        if time.monotonic() - self.clock.alive >= 15:
            return "the bench worker has not ticked for 15 s"
        return self.commands.stuck()

    def _work(self) -> None:
        try:
            backend = self.make_backend(self.wiring)
            backend.clock = StoppableClock(backend.clock)
            self.bench = HeldBench(self.wiring, backend, events=EventBus(backend.clock))
            self.bench.events.subscribe(self._idle_event)
            self.bench.open()
        except BaseException as exc:
            self._open_error = exc
            self._opened.set()
            return
        self._opened.set()
        try:
            while not self.closing:
                try:
                    with self.bench.clock.outside("the next job"):  # idle is not hung: the beat goes on
                        item = self._q.get(timeout=0.2)
                except queue.Empty:
                    self._idle()
                    continue
                if item is None:
                    continue
                if isinstance(item, dict):
                    self._run(item)
                else:
                    self._command(*item)
        finally:
            self.bench.release("server stopped")
            backend.close()
            self.changed()

    def _command(self, fut, fn, what: str, by: str, expected: float) -> None:
        run_command(self, fut, fn, what, by, expected)

    def _publish(self) -> None:
        """The whole state to every listener, at most a few times a second, when something changed."""
        while not self.hub.closed:
            if self._dirty.wait(0.5):
                self._dirty.clear()
                try:
                    self.hub.publish("state", self.state())
                except Exception:  # noqa: BLE001  (a state read racing the release must not stop the page)
                    log.debug("state not published", exc_info=True)
                self._pace.sleep(0.15)  # a few states a second is all a page can show

    def _idle(self) -> None:
        self.clock.alive = time.monotonic()
        speed = getattr(self.clock.inner, "speed", None)
        if speed:  # a paced simulated unit keeps running between jobs, as a real one does
            self.clock.inner.sleep(0.2 * speed)

    def _idle_event(self, event) -> None:
        if event.kind in ("rail", "key", "sense", "display"):
            self.changed()

    # -- bench commands (no job running) --------------------------------------
    def busy_reason(self) -> str | None:
        if self.commands.running is not None:
            return self.commands.busy_reason()
        if self.current is not None:
            j = self.current
            return (f"the bench is running {j['procedure']}" + (f" on {j['unit']}" if j.get("unit") else "")
                    + (f" (run {j['run_id']})" if j.get("run_id") else "") + f", started by {j['operator']}")
        if self.queued:
            return f"{len(self.queued)} job(s) are queued on the bench"
        return None

    def command(self, what: str, *args, place: str | None = None, by: str = "operator",
                via: str = "api", **words) -> concurrent.futures.Future:
        """power/press/wait/safe on the worker thread; refused while a job or another command runs
        or waits, and, in a lab, from anyone but the place holding the bench. ``safe`` is always
        allowed but during a job: it cuts a running command short first (``by`` names who asked)."""
        if what == "safe":
            self.commands.interrupt(self.clock, Stopped(f"a safe from {by}"))
        else:
            self.lease.check(place)
        reason = None if what == "safe" and self.current is None and not self.queued else self.busy_reason()
        if reason:
            raise BenchBusy(reason + "; stop it first, or wait for it")
        if self.closing:
            raise BenchBusy(stopping(self.closing_by))
        self.active_at = time.time()
        session, self.bench.guard = BenchSession(self.bench), follow(self.bench, self.unit, self.ledger_path,
                                                                    words.get("unit"), strict=what == "press")
        fns = {"power": lambda: session.power(*args), "press": lambda: sent(session, args, f"{by} via {via}", **words),
               "wait": lambda: session.wait(*args), "safe": lambda: self.bench.make_safe("by request") or "safe"}
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self.bench.events.emit("operator", by, new=what, via=via)  # only once accepted: a refusal writes nothing
        self._q.put((fut, fns[what], what, by, expected_wall(self.clock, takes(what, args, self.wiring))))
        return fut

    # -- jobs -------------------------------------------------------------------
    def submit(self, spec: dict, code, operator: str, via: str = "page", queue_it: bool = False,
               place: str | None = None, who: dict | None = None) -> dict:
        """Check a job exactly as ``rig run`` would (nothing moves on a bad one), then queue it.

        ``place``, ``who``: the lab place the request came through and its credential (see
        :meth:`Lease.check`); a unit declared on the bench is the only one a job may name.
        """
        if self.closing:
            raise BenchBusy(stopping(self.closing_by))
        self.lease.check(place, who, "job")
        self.on_bench.check(spec.get("unit"))
        reason = self.busy_reason()
        if reason and not queue_it:
            raise BenchBusy(reason + "; queue this one (rig run --queue) or wait for it")
        job = Job(spec["procedure"], self.wiring, None, self.ledger_path, self.log_dir, spec.get("profile"),
                  spec.get("unit"), dict(spec.get("params") or {}), None, dict(spec.get("answers") or {}),
                  bool(spec.get("yes")), bool(spec.get("allow_lockout")), bool(spec.get("allow_permanent")),
                  new_unit=bool(spec.get("new_unit")))
        proc, profile = prepare(job)
        if needs_code(proc):
            check_code(code, profile)
            job.code = code
        check_plan(job, proc, profile, answers=False)  # the page answers its questions
        item = {"id": next(self._ids), "procedure": proc.name, "unit": job.serial, "profile": job.profile_id,
                "operator": operator, "via": via, "job": job, "proc": proc, "profile_obj": profile,
                "queued_at": time.time(), "place": place, "lab_user": self.lease.user_of(place)}
        job.origin = {"operator": operator, "place": place, "lab_user": item["lab_user"]}
        self.queued.append(item)
        self._q.put(item)
        self.changed()
        return {"id": item["id"], "procedure": proc.name, "queued": bool(reason)}

    def _run(self, item: dict) -> None:
        if item not in self.queued:
            return  # stopped while it waited in the queue
        self.queued.remove(item)
        job, profile = item.pop("job"), item.pop("profile_obj")
        self._running_source = job.procedure
        self.current = {k: item[k] for k in ("id", "procedure", "unit", "profile", "operator", "via")}
        self.current.update(step="", progress=None, question=None, notes=[], run_id=None, started=time.time())
        self.on_bench.ran(job.serial, job.profile_id)
        job.bench = self.bench
        job.make_ui = self._make_ui(item)
        self.code_job = job.code is not None
        self.changed()
        done = {"id": item["id"], "run_id": None, "procedure": item["procedure"], "unit": item["unit"]}
        try:
            self.lease.check(item["place"])  # the place may have let go while this job waited its turn
            result = run_job(job, item.pop("proc"), profile)
            done.update(run_id=result.run_id, outcome=result.outcome, message=result.message)
        except BenchBusy as exc:
            done.update(outcome="refused", message=str(exc))
        except (RigError, ConfigError) as exc:
            done.update(outcome="error", message=str(exc))
        except Stopped:
            done.update(outcome="interrupted", message="stopped")
        finally:
            self._running_source = None
            job.code = None  # the station keeps no code past its run
            self._redact, self.code_job = None, False
            self.clock.clear()
            if profile is not None:
                self._idle_redact = Redactor(None, profile.pattern("entry")).text
            self.current = None
            self.jobs_done += 1
            self.active_at = time.time()
            forget_pin_history(self.bench.backend.pin_factory)
            self.last = done  # only once the bench is free: whoever sees it may start the next job
        self.hub.publish("notice", {"kind": "result", "text": f"{self.last['procedure']}: {self.last['outcome']}"})
        self.hub.publish("result", self.last)
        self.changed()

    def sources_in_use(self) -> set[str]:
        """The procedure files queued and running jobs read (their uploads are not cleaned away)."""
        return {q["job"].procedure for q in list(self.queued) if "job" in q} | {self._running_source} - {None}

    def _make_ui(self, item):
        def make(bench, redact):
            self._redact = redact
            self.current["run_id"] = open_run_id(self.ledger_path, item["procedure"])
            lab = {k: self.said(item[k] or "") for k in ("place", "lab_user")} if item.get("place") else {}
            started = bench.events.emit("operator", self.said(item["operator"]), new="started", via=item["via"], **lab)
            ui = WebUI(self, redact)
            ui.event(started)  # told before the run subscribed the page to its events
            return ui
        return make

    def stop(self, by: str) -> dict:
        """Stop the running job with the SIGTERM unwind, or a running bench command, or take the
        next queued job off the queue; ``{}`` when nothing runs or waits."""
        if self.current is not None:
            by = self.said(by)
            self.bench.events.emit("operator", by, new="stop")
            self.clock.interrupt(Stopped(by))
            with self._answered:
                self._answered.notify_all()
            return {"stopped": self.current["procedure"], "run_id": self.current.get("run_id")}
        running = self.commands.interrupt(self.clock, Stopped(by))
        if running is not None:
            return {"stopped": f"bench command {running['what']}"}
        if self.queued:
            item = self.queued.pop(0)
            self._dropped(item, f"stopped by {by} before it started: nothing was switched for it")
            return {"stopped": item["procedure"], "queued": True}
        return {}  # nothing to stop is not a refusal: the bench is as asked

    def _dropped(self, item: dict, message: str) -> None:  # a job off the queue ends too, for whoever follows it
        self.last = dict(id=item["id"], procedure=item["procedure"], unit=item["unit"], run_id=None,
                         outcome="interrupted", message=message)
        self.hub.publish("result", self.last)
        self.changed()

    def said(self, text: str) -> str:
        """Client text (a name, a place) as it may enter the running job's events (rig.serve.clienttext)."""
        return masked(text, self.code_job)

    def release_place(self, place: str, why: str) -> dict:
        """The place let go of the bench (released, or forced off in labgrid): its jobs end safely.

        A running job stops with the SIGTERM unwind (keys up, rails safe, recorded as
        interrupted) and queued ones are dropped: nobody may drive a unit whose place
        someone else may acquire next.
        """
        held = self.lease.release(place)
        if held is None:
            return {"released": None}
        dropped, self.queued[:] = list(self.queued), []
        for item in dropped:
            self._dropped(item, f"dropped before it started: place {place} {why}")
        stopped = self.stop(f"place {place} {why}") if self.current is not None else {}
        self.changed()
        return {"released": place, "stopped": stopped.get("stopped"), "run_id": stopped.get("run_id"),
                "dropped": len(dropped)}

    def answer(self, qid: int, answer: str, by: str) -> None:
        q = (self.current or {}).get("question")
        if not q or q["id"] != qid:
            raise ConfigError("that question is no longer asked (answered already, or the job moved on)")
        with self._answered:
            self._answers[qid] = (answer, self.said(by))
            self._answered.notify_all()

    def wait_answer(self, qid: int) -> tuple[str, str]:
        """Block the job until the question is answered; a stop still gets through."""
        with self._answered:
            while qid not in self._answers:
                self.clock.check()
                with self.bench.clock.outside("the operator"):  # the page's question: not a hang
                    self._answered.wait(0.1)
            return self._answers.pop(qid)

    # -- what the page sees -----------------------------------------------------
    def changed(self, soon: bool = False) -> None:
        self._dirty.set()

    def state(self) -> dict:
        redact = self._redact if self.current is not None and self._redact else self._idle_redact
        bench = None
        if self.bench is not None and self.bench.is_open:
            snap = self.bench.snapshot()
            snap["display"] = redact(snap["display"]) if snap["display"] is not None else None
            inner = self.clock.inner
            bench = dict(snap, backend=self.bench.backend.name, virtual=inner.virtual, tap=self.bench.display is not None,
                         speed=getattr(inner, "speed", None if inner.virtual else 1.0))
        # the countdown carried to this moment, and the unit's lockout with it: one figure for every view
        job = dict(self.current) if self.current is not None else None
        job, unit = with_countdown(job, self.on_bench.standing(self.jobs_done), self.clock)
        return {"bench": bench, "job": job, "busy": self.busy_reason(),
                "queue": [{k: q[k] for k in ("id", "procedure", "unit", "operator")} for q in self.queued],
                "last": self.last, "unit": unit, "closing": self.closing and (self.closing_by or True), "wall": time.time(),
                "place": self.lease.holder, "lab": self.lease.lab}

    unit = property(lambda self: self.on_bench.unit, doc='The unit on the bench: {"serial", "profile"}, or None.')

    def standing(self) -> dict | None:  # the unit as the ledger sees it (attempts used and left, lockout)
        return self.on_bench.standing()

    def set_unit(self, serial: str, profile: str) -> None:
        """The unit now on the bench (``rig serve --unit``, the unit card): a job naming another is refused."""
        self.on_bench.declare(serial, profile)
        self.changed()
