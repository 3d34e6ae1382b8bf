"""Start a job on a rig server and follow it to its result: one way for every client.

``rig run`` through a server (``--server``, ``--place``), the labgrid ``RigDriver``
and the pytest plugin's ``--rig-place`` all start a job the same way and wait for
it the same way: subscribed to the server's events before the job is posted (so
none of its events are missed), on through a dropped stream (a proxy's idle
timeout, a restart: the state says whether it ended meanwhile), and a Ctrl-C or a
timeout stops the job on the bench (keys up, rails safe) before anything else.

>>> procedure_fields("enter-code")
{'procedure': 'enter-code'}
"""

from __future__ import annotations

import re
import time
from pathlib import Path, PurePosixPath
from typing import Callable

from ..bench import signals
from ..errors import BenchBusy, ConfigError
from ..run.job import EXIT
from ..run.lockoutwait import SECOND_CTRL_C
from .client import STOPPING, ServerGone
from .countdown import DISCARDS, discards


def procedure_fields(procedure: str) -> dict:
    """The request's procedure: a built-in by name, or a local YAML file sent whole to the bench,
    with every local file it calls (``calls``: each at the path its caller names, from the
    caller's folder, where the bench's copy of the caller will find it)."""
    path = Path(procedure)
    if path.is_file():
        upload = {"name": path.name, "text": path.read_text(encoding="utf-8")}
        calls = _calls_to_send(path)
        if calls:
            upload["calls"] = calls
        return {"procedure": path.name, "procedure_file": upload}
    return {"procedure": procedure}


def _calls_to_send(top: Path) -> list[dict]:
    """Each local file ``top`` calls, and those call, at the path (from the bench's copy of ``top``)
    where its caller's ``call:`` finds it beside the caller."""
    from ..errors import Problem
    from ..run.procedure import builtin_dir, find_procedure, load_procedure
    from ..run.stepcheck import is_ref

    out: dict[str, str] = {}

    def walk(path: Path, stored: PurePosixPath, chain: tuple) -> None:
        try:
            steps = load_procedure(str(path)).steps
        except ConfigError:
            return  # the bench checks the file and says what is wrong with it, naming it as the user has it
        for step in steps:
            target = step.args.get("procedure") if step.kind == "call" else None
            if not isinstance(target, str) or is_ref(target):
                continue
            try:
                found = find_procedure(target, beside=str(path))
            except ConfigError:
                continue  # not there: the bench's check says so at this call's line
            if found.resolve().parent == builtin_dir():
                continue
            where = PurePosixPath(stored.parent, target)
            if where.is_absolute() or ".." in where.parts:
                raise ConfigError([Problem(step.file, step.line, f"call: {target}: a procedure sent to a bench's server "
                                           f"takes along only files in or below {top.name}'s folder; move it "
                                           f"there, or copy it to the bench and call it by its path there")])
            if found.resolve() in chain or str(where) in out:
                continue  # a file calling itself is the bench's check to refuse, with its line
            out[str(where)] = found.read_text(encoding="utf-8")
            walk(found, where, chain + (found.resolve(),))

    walk(top, PurePosixPath(top.name), (top.resolve(),))
    return [{"path": k, "text": v} for k, v in out.items()]


STREAM_TIMEOUT = 60.0  # s of silence after which a stream is taken as broken (the server beats every 15 s)


def follow_run(client, body: dict, timeout: float | None = None, *, on_ticket: Callable | None = None,
               on_job: Callable | None = None, on_note: Callable | None = None,
               on_stop: Callable | None = None, on_warn: Callable | None = None) -> dict:
    """POST the job, follow the server's events until its result; the result with its exit code.

    The code in ``body`` (if any) is sent once and dropped from ``body`` at once.
    ``on_ticket(ticket)`` once the server took the job (``ticket["queued"]``: behind
    another); ``on_job(job)`` on every live state of this job (its step, a question);
    ``on_note(text)`` on each note; ``on_stop()`` when a Ctrl-C is stopping the job. A
    timeout stops the job on the bench before raising; a Ctrl-C stops it and follows
    it on to its result ("interrupted"); a second Ctrl-C leaves it stopping there. A
    stop that would throw served lockout time away is asked about first, as a local
    run asks: ``on_warn(text)`` says how much, and a second Ctrl-C within 5 s (or a
    SIGTERM) stops it anyway.

    Whatever happens to the server, the result says what the client knows, with the exit
    code a local run would have: the job's own result; or, when the server stops (it
    stops the job as SIGTERM does) or dies mid-job, "interrupted" (130), saying which.
    A result the client could not confirm with the server has ``followed: False``.
    Before anything was sent, a server that does not answer is a :class:`ConfigError` (2).
    """
    try:  # subscribed before the job starts: none of its events are missed
        events = client.stream(timeout=STREAM_TIMEOUT)
        first = next(events, None)
    except ServerGone as exc:  # it went away as the client subscribed: nothing was sent
        raise _not_sent(client.url, exc) from None
    if first is None:
        raise _not_sent(client.url, "it ended the stream at once")
    if first[1].get("closing"):  # subscribed as the server stops: it takes no job now
        return _Followed(client.url, None).closing(_by(first[1]["closing"]))
    ticket, stopping, first_signal = None, False, None
    try:
        with signals.shielded():  # a Ctrl-C while the job is handed over waits for the server's answer
            ticket = client.post("/api/runs", body)
    except KeyboardInterrupt as exc:
        if ticket is None:
            raise  # not taken (refused, or never sent): nothing runs, nothing to stop
        stopping, first_signal = True, exc  # taken: it is stopped on the bench, and followed to its end
    except ServerGone as exc:
        if not getattr(exc, "sent", True):
            raise
        return _Followed(client.url, None).gone(exc, "as it was being given the job")
    except BenchBusy as exc:
        said = re.match(re.escape(STOPPING) + r"(?: \((.*)\))?(?::|$)", str(exc))
        if said:  # SIGTERM reached the server between the subscription and the job: not taken
            return _Followed(client.url, None).closing(_by(said.group(1)))
        raise
    except ConfigError as exc:
        upload = body.get("procedure_file") or {}
        if upload:  # the bench names its copies of the files: say the files the user has
            raise ConfigError(re.sub(r"\S*/procedures/[0-9a-f]{12}/", "", str(exc))) from None
        raise
    finally:
        body.pop("code", None)
    f = _Followed(client.url, ticket["id"], on_job)
    f.signal = first_signal
    deadline = None if timeout is None else time.monotonic() + timeout
    discard, asked_at = False, None  # a stop that throws served time away: asked once, as a local run asks
    say = None  # said at the top of the loop, inside the try: a Ctrl-C while it prints is caught too
    while True:
        try:
            if on_ticket:  # here, inside the try: from the moment the job is taken a Ctrl-C stops it
                told, on_ticket = on_ticket, None
                told(ticket)
            if say:
                say, text = None, say
                _warn(on_warn, text)
            if stopping:
                stopping = False
                refused = _ask_stop(client, discard)
                if refused:  # the server knew better than our last state: served time would be lost
                    f.signal = None  # asked about, not obeyed: left alone, the job ends its own way (its code)
                    asked_at = time.monotonic()
                    say = refused.split(". Stop anyway")[0] + ". " + _AGAIN
                    continue
                else:
                    f.stops += 1
                    if on_stop:
                        on_stop()
            if events is None:
                events = client.stream(timeout=STREAM_TIMEOUT)
            result = _until_result(events, f, deadline, on_note)
            if result is not None:
                return f.done(result)
            events = None  # it ended (a proxy's idle timeout, a restart): listen again
        except KeyboardInterrupt as exc:
            if f.stops:
                return f.left_stopping()  # a Ctrl-C after the stop was sent: stop following
            lost = discards(f.progress)
            if type(exc) is not KeyboardInterrupt or (asked_at is not None
                                                      and time.monotonic() - asked_at <= SECOND_CTRL_C):
                discard = True  # SIGTERM stops at once; a second Ctrl-C soon after the question confirms
            elif lost:  # asked, not obeyed: left alone, the job goes on and ends its own way
                asked_at = time.monotonic()
                say = f"stopping now throws away {lost} of powered time: this unit's lockout wait starts over " \
                      f"after a power loss. {_AGAIN}"
                continue
            f.signal = f.signal or exc
            stopping = True
        except _Closing as exc:
            return f.closing(exc.by)
        except ServerGone as exc:
            if events is None:  # it does not answer a new stream either: gone
                return f.gone(exc)
            events = None  # the stream broke: a new one says whether the job ended meanwhile
        except _TimedOut:
            _ask_stop(client, discard=True)
            raise ConfigError(f"the job on {client.url} did not end within {timeout:.0f} s; it was stopped "
                              f"(keys up, rails safe)") from None


def _not_sent(url: str, cause) -> ServerGone:
    """The server went away before the job was sent: a configuration error (2), nothing switched."""
    if isinstance(cause, ServerGone) and not cause.sent:
        return cause  # it never answered: already said so
    why = cause if isinstance(cause, str) else (str(cause.cause) or type(cause.cause).__name__)
    return ServerGone(url, why, f"the rig server at {url} does not answer ({why}): the job was not sent, nothing "
                                f"was switched; is `rig serve` running? (--server off ignores it)")


def _by(closing) -> str:
    return closing if isinstance(closing, str) and closing else "the server stopping"


_AGAIN = f"Press Ctrl-C again within {SECOND_CTRL_C:g} s to stop anyway; the job goes on otherwise"


def _warn(on_warn, text: str) -> None:
    if on_warn:
        on_warn(text)


def stop_job(client, discard_served: bool = False) -> dict:
    """Stop the server's running job for a caller nobody can ask (``RigDriver.stop``, a teardown):
    what it stopped, or ``{}`` when nothing ran. A stop that would throw served lockout time away
    (a unit whose wait starts over) is refused, saying how much (:class:`BenchBusy`, exit 3),
    unless ``discard_served`` - never swallowed as if nothing had been running.

    >>> class Idle:
    ...     def post(self, path, body): return {}
    >>> stop_job(Idle())
    {}
    """
    try:
        return client.post("/api/stop", {"discard_served": True} if discard_served else {})
    except BenchBusy as exc:
        if DISCARDS in str(exc):
            raise
        return {}  # an older server's "no job is running"


def _ask_stop(client, discard: bool) -> str | None:
    """Ask the server to stop the job; its refusal when the stop would throw served time away
    (and ``discard`` was not said), else None."""
    try:
        client.post("/api/stop", {"discard_served": True} if discard else {})
    except BenchBusy as exc:
        if DISCARDS in str(exc):
            return str(exc)
        # no job is running: it ended meanwhile, and its result is on its way
    return None


class _TimedOut(Exception):
    pass


class _Closing(Exception):
    def __init__(self, by: str):
        super().__init__(by)
        self.by = by


class _Followed:
    """What the client knows of its job: whether it was seen running, its run and step."""

    def __init__(self, url: str, job_id, on_job: Callable | None = None):
        self.url, self.id, self.on_job = url, job_id, on_job
        self.seen = False
        self.run_id = None
        self.step = ""
        self.progress: dict | None = None
        self.stops = 0
        self.signal: KeyboardInterrupt | None = None  # the Ctrl-C (or SIGTERM) that asked for a stop

    def saw(self, job: dict) -> None:
        self.seen = True
        self.run_id = job.get("run_id") or self.run_id
        self.step = job.get("step") or self.step
        self.progress = job.get("progress")
        if self.on_job:
            self.on_job(job)

    def done(self, result: dict) -> dict:
        """The job's own result. One that ended its own way although a stop was asked (it came too
        late) carries the signal: told the result, the client still ends as interrupted (130)."""
        done = dict(result, exit_code=EXIT.get(result.get("outcome"), 1))
        if self.signal is not None and result.get("outcome") != "interrupted":
            done["signal"] = self.signal
        return done

    def _where(self) -> str:
        if not self.seen:
            return "before the job started"
        return "mid-job" + (f" (run {self.run_id}" + (f", at {self.step!r})" if self.step else ")")
                            if self.run_id else (f" (at {self.step!r})" if self.step else ""))

    def _result(self, message: str) -> dict:
        return {"id": self.id, "outcome": "interrupted", "message": message, "run_id": self.run_id,
                "exit_code": EXIT["interrupted"], "followed": False}

    def gone(self, exc: ServerGone, where: str | None = None) -> dict:
        why = str(exc.cause) or type(exc.cause).__name__
        if isinstance(exc.cause, TimeoutError):
            why = "no answer"
        see = f"rig runs show {self.run_id}" if self.run_id else "rig runs list"
        return self._result(f"the rig server at {self.url} went away ({why}) {where or self._where()}: the job "
                            f"did not finish here. A bench whose server dies drops every relay (keys up, rails "
                            f"safe); an attempt it counted stays counted. See {see} once it is back")

    def closing(self, by: str) -> dict:
        if not self.seen:
            return self._result(f"the rig server at {self.url} stopped ({by}) before the job started: "
                                f"it was dropped, nothing was switched for it")
        return self._result(f"the rig server at {self.url} stopped ({by}) {self._where()}: it stopped the "
                            f"job as SIGTERM does (keys up, rails safe) and records it interrupted")

    def left_stopping(self) -> dict:
        return self._result(f"a second Ctrl-C: not waiting for the job on {self.url} to end; the server is "
                            f"stopping it (keys up, rails safe) and records it interrupted. rig status shows it")


def _until_result(events, f: _Followed, deadline, on_note) -> dict | None:
    """This job's result from the stream, or None when the stream ends first."""
    for event, data in events:
        if event == "result" and data.get("id") == f.id:
            return data
        if event == "state":
            if (data.get("last") or {}).get("id") == f.id:
                return data["last"]  # it ended while the stream was being set up again
            job = data.get("job") or {}
            if job.get("id") == f.id:
                f.saw(job)
            if data.get("closing"):
                raise _Closing(_by(data["closing"]))
        elif event == "closing":
            raise _Closing(data.get("by") or "the server stopping")
        elif event == "note" and on_note:
            on_note(data.get("text", ""))
        if deadline is not None and time.monotonic() > deadline:
            raise _TimedOut
    return None
