"""The lab over HTTP: what the bench's labgrid exporter polls and tells (``rig-lg-exporter``).

``GET /api/lab`` says whether the bench answers and is healthy, which unit is on
it (serial, profile, family: the exporter publishes them, ``rig lab sync-tags``
copies them into place tags) and which place holds it. ``POST /api/lab/hold``
and ``POST /api/lab/release`` are the exporter's acquire and release; a release
(or a forced one: ``labgrid-client release --kick``) stops the running job with
the safe unwind and drops the queued ones.
"""

from __future__ import annotations

import asyncio
import time

from starlette.responses import JSONResponse
from starlette.routing import Route

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
            "place": station.lease.holder, "unit": unit, "busy": station.busy_reason(),
            "job": None if job is None else {k: job.get(k) for k in ("procedure", "unit", "run_id", "operator")},
            # seconds since the bench last did anything (None while a job runs): rig lab sweep's measure
            "idle_for": None if job is not None or station.queued else max(0.0, time.time() - station.active_at),
        })

    @endpoint("operator", post=True)
    async def hold(request, user):
        data = await body(request)
        held = station.lease.hold(data.get("place"), user["name"])
        station.active_at = time.time()  # a fresh holder gets the whole idle allowance
        station.bench.events.emit("operator", station.said(user["name"]),
                                  new=station.said(f"place {held['place']} holds the bench"))
        station.changed()
        return JSONResponse({"place": held})

    @endpoint("operator", post=True)
    async def release(request, user):
        data = await body(request)
        why = release_reason(data.get("why"))  # a fixed vocabulary: no client text reaches the job's log
        out = await asyncio.to_thread(station.release_place, data.get("place"), why)
        if out["released"]:
            station.bench.events.emit("operator", station.said(user["name"]),
                                      new=station.said(f"place {out['released']} {why}"))
        return JSONResponse(out)

    return [Route("/api/lab", lab), Route("/api/lab/hold", hold, methods=["POST"]),
            Route("/api/lab/release", release, methods=["POST"])]
