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

from ..errors import ConfigError
from ..run.job import EXIT


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


def follow_run(client, body: dict, timeout: float | None = None, *, on_ticket: Callable | None = None,
               on_job: Callable | None = None, on_note: Callable | None = None,
               on_stop: Callable | None = None) -> dict:
    """POST the job, follow the server's events until its result; the result with its exit code.

    The code in ``body`` (if any) is sent once and dropped from ``body`` at once.
    ``on_ticket(ticket)`` once the server took the job (``ticket["queued"]``: behind
    another); ``on_job(job)`` on every live state of this job (its step, a question);
    ``on_note(text)`` on each note; ``on_stop()`` when a Ctrl-C is stopping the job. A
    timeout stops the job on the bench before raising; a Ctrl-C stops it and follows
    it on to its result ("interrupted").
    """
    events = client.stream(timeout=60.0)
    next(events)  # subscribed before the job starts: none of its events are missed
    try:
        ticket = client.post("/api/runs", body)
    except ConfigError as exc:
        upload = body.get("procedure_file") or {}
        if upload:  # the bench names its copies of the files: say the files the user has
            raise ConfigError(re.sub(r"\S*/procedures/[0-9a-f]{12}/", "", str(exc))) from None
        raise
    finally:
        body.pop("code", None)
    if on_ticket:
        on_ticket(ticket)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            result = _until_result(events, ticket["id"], deadline, on_job, on_note)
            if result is not None:
                return dict(result, exit_code=EXIT.get(result.get("outcome"), 1))
        except KeyboardInterrupt:
            if on_stop:
                on_stop()
            client.post("/api/stop")  # and follow it on: the result says "interrupted"
        except _TimedOut:
            client.post("/api/stop")
            raise ConfigError(f"the job on {client.url} did not end within {timeout:.0f} s; it was stopped "
                              f"(keys up, rails safe)") from None
        # the stream ended (a proxy's idle timeout, a restart), or a stop was asked for:
        # look at the state, then listen again
        state = client.get("/api/state")
        last = state.get("last") or {}
        if last.get("id") == ticket["id"]:
            return dict(last, exit_code=EXIT.get(last.get("outcome"), 1))
        if state.get("closing"):
            raise ConfigError(f"the rig server at {client.url} stopped before the job ended")
        events = client.stream(timeout=60.0)
        next(events)


class _TimedOut(Exception):
    pass


def _until_result(events, job_id, deadline, on_job, on_note) -> dict | None:
    """This job's result from the stream, or None when the stream ends first."""
    for event, data in events:
        if event == "result" and data.get("id") == job_id:
            return data
        if event == "state":
            if (data.get("last") or {}).get("id") == job_id:
                return data["last"]  # it ended while the stream was being set up again
            job = data.get("job") or {}
            if on_job and job.get("id") == job_id:
                on_job(job)
        elif event == "note" and on_note:
            on_note(data.get("text", ""))
        if deadline is not None and time.monotonic() > deadline:
            raise _TimedOut
    return None
