"""Start a job on a bench's server and wait for its end, from a program (the RigDriver, CI).

>>> callable(follow_run)
True
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from ..errors import ConfigError
from ..job import EXIT


def procedure_fields(procedure: str) -> dict:
    """The request's procedure: a built-in by name, or a local YAML file sent whole to the bench."""
    path = Path(procedure)
    if path.is_file():
        return {"procedure": path.name, "procedure_file": {"name": path.name,
                                                           "text": path.read_text(encoding="utf-8")}}
    return {"procedure": procedure}


def follow_run(client, body: dict, timeout: float | None = None) -> dict:
    """POST the job, follow the server's events until its result; the result with its exit code.

    The code in ``body`` (if any) is sent once and dropped from ``body`` at once.
    A timeout stops the job on the bench (keys up, rails safe) before raising.
    """
    events = client.stream(timeout=60.0)
    next(events)  # subscribed before the job starts: none of its events are missed
    try:
        ticket = client.post("/api/runs", body)
    except ConfigError as exc:
        upload = body.get("procedure_file") or {}
        if upload:  # the bench names its copy of the file: say the file the user has
            raise ConfigError(re.sub(r"\S*/procedures/[0-9a-f]{12}-" + re.escape(upload["name"]), upload["name"],
                                     str(exc))) from None
        raise
    finally:
        body.pop("code", None)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        for event, data in events:
            if event == "result" and data.get("id") == ticket["id"]:
                return dict(data, exit_code=EXIT.get(data.get("outcome"), 1))
            if event == "state" and (data.get("last") or {}).get("id") == ticket["id"]:
                last = data["last"]
                return dict(last, exit_code=EXIT.get(last.get("outcome"), 1))
            if deadline is not None and time.monotonic() > deadline:
                client.post("/api/stop")
                raise ConfigError(f"the job on {client.url} did not end within {timeout:.0f} s; it was stopped "
                                  f"(keys up, rails safe)")
        # the stream ended (a proxy's idle timeout, a restart): look at the state, then listen again
        state = client.get("/api/state")
        last = state.get("last") or {}
        if last.get("id") == ticket["id"]:
            return dict(last, exit_code=EXIT.get(last.get("outcome"), 1))
        if state.get("closing"):
            raise ConfigError(f"the rig server at {client.url} stopped before the job ended")
        events = client.stream(timeout=60.0)
        next(events)
