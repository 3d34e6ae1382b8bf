"""The lab over HTTP: what the bench's labgrid exporter polls and tells (``rig-lg-exporter``).

``GET /api/lab`` says whether the bench answers and is healthy, which unit is on
it (serial, profile, family: the exporter publishes them, ``rig lab sync-tags``
copies them into place tags) and which place holds it. ``POST /api/lab/hold``
and ``POST /api/lab/release`` are the exporter's acquire and release (only a token
with the ``exporter`` role may send them); a release (or a forced one:
``labgrid-client release --kick``) stops the running job with the safe unwind and
drops the queued ones. ``POST /api/lab/lose`` says labgrid forgot the place without
releasing it (a coordinator restart): the job goes on for the lease's grace period.
"""

from __future__ import annotations

import asyncio
import time

from starlette.responses import JSONResponse
from starlette.routing import Route

from ..records.selftests import wiring_hash
from ..unit.profiles import load_profiles
from .clienttext import release_reason


def routes(station, endpoint, body) -> list[Route]:
    @endpoint()
    async def lab(request, user):
        unit = dict(station.unit) if station.unit else None
        if unit:
            p = load_profiles().get(unit.get("profile") or "")
            unit["family"] = p.family if p else None
        job = station.current
        return JSONResponse({
            "healthy": station.healthy and not station.closing, "lab": station.lease.lab,
            "problem": "the server is stopping" if station.closing else station.problem(),
            "backend": station.bench.backend.name if station.bench else None,
            "wiring_hash": wiring_hash(station.wiring),
            "place": station.lease.holder, "unit": unit, "busy": station.busy_reason(),
            "job": None if job is None else {k: job.get(k) for k in ("procedure", "unit", "run_id", "operator")},
            # seconds since the bench last did anything (None while a job runs): rig lab sweep's measure
            "idle_for": None if job is not None or station.queued else max(0.0, time.time() - station.active_at),
        })

    @endpoint("exporter", post=True)
    async def hold(request, user):
        data = await body(request)
        before = station.lease.holder
        held = station.lease.hold(data.get("place"), user["name"], data.get("user"))
        if before is None or before["place"] != held["place"]:
            station.active_at = time.time()  # a fresh holder gets the whole idle allowance
        if before != held and (before is None or before.get("lost") or not before.get("user")):
            station.bench.events.emit("operator", station.said(user["name"]), new=station.said(_told(held)))
        station.changed()
        return JSONResponse({"place": held})

    @endpoint("exporter", post=True)
    async def release(request, user):
        data = await body(request)
        why = release_reason(data.get("why"))  # a fixed vocabulary: no client text reaches the job's log
        out = await asyncio.to_thread(station.release_place, data.get("place"), why)
        if out["released"]:
            station.bench.events.emit("operator", station.said(user["name"]),
                                      new=station.said(f"place {out['released']} {why}"))
        return JSONResponse(out)

    @endpoint("exporter", post=True)
    async def lose(request, user):
        data = await body(request)
        held = station.lease.lose(data.get("place"), "labgrid lost it")
        if held:
            said = station.said
            station.bench.events.emit("operator", said(user["name"]), new=f"labgrid lost place {said(held['place'])} "
                                      f"(its coordinator restarted?); the job goes on while {said(held['user'] or '')} "
                                      f"acquires it again, for {station.lease.grace:.0f} s at most")
            station.changed()
        return JSONResponse({"place": held})

    return [Route("/api/lab", lab), Route("/api/lab/hold", hold, methods=["POST"]),
            Route("/api/lab/release", release, methods=["POST"]), Route("/api/lab/lose", lose, methods=["POST"])]


def _told(held: dict) -> str:
    if held.get("user"):
        return f"place {held['place']} holds the bench for {held['user']}"
    return f"place {held['place']} holds the bench"
