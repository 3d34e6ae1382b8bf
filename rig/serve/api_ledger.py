"""The ledger over HTTP: runs (with their records to download) and units (with notes to edit)."""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path

from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..errors import ConfigError
from ..records.ledger import Ledger
from .countdown import with_countdown
from ..run.procedure import builtin_names
from ..unit.profiles import load_profiles
from ..records.files import is_run_log, read_private
from ..records.report import write_junit
from ..records.sheet import CSS as SHEET_CSS, last_sheet, render_sheet
from .report import load_run, render_run


def _ledger(station) -> Ledger:
    return Ledger(station.ledger_path)


def routes(station, endpoint, body, Refused) -> list[Route]:
    def run_id(request) -> int:
        text = request.path_params["run"]
        if not (text.isascii() and text.isdigit()) or len(text) > 18:  # SQLite's integers end at 2**63: more is no run, not a 500
            raise Refused(404, f"no run {text[:40]!r}")
        return int(text)

    def loaded(request):
        try:
            return load_run(station.ledger_path, run_id(request), station.log_dir)
        except ConfigError as exc:
            raise Refused(404, str(exc)) from None

    @endpoint()
    async def runs(request, user):
        led = _ledger(station)
        try:
            limit = min(500, int(request.query_params.get("limit", "100")))
            rows = led.runs(request.query_params.get("unit") or None, limit)
        except ValueError:
            raise Refused(400, "limit must be a number") from None
        finally:
            led.close()
        for r in rows:
            r["duration"] = (r["ended"] - r["started"]) if r["ended"] else None
        return JSONResponse([_public(r, user) for r in rows])

    @endpoint()
    async def run(request, user):
        run_, events, _svg = await asyncio.to_thread(loaded, request)
        return JSONResponse(_public(dict(run_, events=len(events)), user))

    @endpoint()
    async def run_log(request, user):
        run_, _e, _s = loaded(request)
        path = Path(run_["log"] or "")
        try:  # the run's own log in this server's log folder, and nothing the ledger's row might name
            data = read_private(path) if is_run_log(path, station.log_dir, run_["id"]) else b""
        except OSError:
            data = b""
        return Response(data, media_type="application/x-ndjson", headers=_attach(f"run-{run_['id']:05d}.jsonl"))

    @endpoint()
    async def run_svg(request, user):
        run_, _e, svg = loaded(request)
        return Response(svg, media_type="image/svg+xml",
                        headers=_attach(f"run-{run_['id']:05d}.svg", inline=request.query_params.get("inline")))

    @endpoint()
    async def run_junit(request, user):
        run_, events, _s = loaded(request)
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "junit.xml"
            write_junit(events, out, run_["procedure"], {"profile": run_["profile"] or "", "unit": run_["serial"] or "",
                                                         "outcome": run_["outcome"] or "", "backend": run_["backend"]})
            data = out.read_bytes()
        return Response(data, media_type="application/xml", headers=_attach(f"run-{run_['id']:05d}.xml"))

    @endpoint()
    async def run_report(request, user):
        run_, events, svg = loaded(request)
        return HTMLResponse(render_run(run_, events, svg, standalone=True),
                            headers=_attach(f"run-{run_['id']:05d}.html"))

    @endpoint()
    async def run_sheet(request, user):
        """The code-request sheet, to print (shown in the browser; ``?download=1`` saves it)."""
        run_, events, _s = loaded(request)
        sheet = last_sheet(events)
        if sheet is None:
            raise Refused(404, f"run {run_['id']} has no code-request sheet (a read-serial run has one)")
        download = bool(request.query_params.get("download"))  # a file of its own: its style inline
        return HTMLResponse(render_sheet(sheet, run_, when=run_["ended"] or run_["started"],
                                         css_href=None if download else "/api/sheet.css"),
                            headers=_attach(f"run-{run_['id']:05d}.sheet.html", inline=not download))

    @endpoint()
    async def sheet_css(request, user):
        return Response(SHEET_CSS, media_type="text/css")

    @endpoint(page=True)
    async def run_page(request, user):
        run_, events, svg = loaded(request)
        return HTMLResponse(render_run(run_, events, svg, standalone=False))

    @endpoint()
    async def units(request, user):
        return JSONResponse(await asyncio.to_thread(_units, station))

    @endpoint()
    async def unit(request, user):
        u = await asyncio.to_thread(_unit, station, request.path_params["serial"], Refused)
        u["runs"] = [_public(r, user) for r in u["runs"]]
        return JSONResponse(u)

    @endpoint("operator", post=True)
    async def add_unit(request, user):
        data = await body(request)
        if not all(isinstance(data.get(k), (str, type(None))) for k in ("serial", "profile")):
            raise Refused(400, "a unit is {\"serial\": \"VW123\", \"profile\": \"vw-safe\", ...}")
        serial, profile = (data.get("serial") or "").strip(), data.get("profile") or ""
        used = data.get("attempts_used", 0)
        if not serial:
            raise Refused(400, "a unit needs its serial")
        for k in ("model", "vin"):
            if not isinstance(data.get(k), (str, type(None))) or len(data.get(k) or "") > 200:
                raise Refused(400, f"{k} is text (at most 200 characters), or left out")
        if profile not in load_profiles():
            raise Refused(400, f"no profile {profile!r}; pick one of the profiles list")
        if not isinstance(used, int) or isinstance(used, bool) or not 0 <= used <= 100:
            raise Refused(400, "attempts_used is the number of wrong codes it had before the bench (0-100)")
        led = _ledger(station)
        try:
            if led.unit(serial) is not None:
                raise Refused(409, f"{serial} is in the ledger already; edit its notes instead")
            led.register(serial, load_profiles()[profile], who=f"{user['name']} ({user['via']})",
                         why="added from the page", new=True, attempts_used=used,
                         model=_text(data.get("model")), vin=_text(data.get("vin")))
        finally:
            led.close()
        return JSONResponse({"serial": serial}, status_code=201)

    @endpoint("operator", post=True)
    async def unit_notes(request, user):
        data = await body(request)
        serial = request.path_params["serial"]
        if not isinstance(data.get("notes"), str):
            raise Refused(400, "notes are {\"notes\": \"text\"}")
        led = _ledger(station)
        try:
            if led.unit(serial) is None:
                raise Refused(404, f"the ledger has no unit {serial!r}")
            led.db.execute("UPDATE units SET notes=? WHERE serial=?", (data["notes"], serial))
            led.record(serial, None, "notes", f"edited by {user['name']}: {data['notes'][:200]}")
        finally:
            led.close()
        return JSONResponse({"ok": True})

    @endpoint()
    async def catalogue(request, user):
        profiles = load_profiles()
        titles = [p.title for p in profiles.values()]
        # eight VW/Audi profiles share one family title: a list of choices says what tells each apart
        return JSONResponse({"procedures": builtin_names(),
                             "profiles": [{"id": p.id, "title": p.title, "digits": p.digits.count,
                                           "label": p.title if titles.count(p.title) == 1 else (p.models or p.title)}
                                          for p in profiles.values()]})

    @endpoint()
    async def whole(request, user):
        return JSONResponse(await asyncio.to_thread(_whole, station))

    async def runs_page(request):
        return RedirectResponse("/#runs", status_code=303)

    return [
        Route("/api/runs", runs), Route("/api/runs/{run}", run), Route("/api/runs/{run}/log.jsonl", run_log),
        Route("/api/runs/{run}/timeline.svg", run_svg), Route("/api/runs/{run}/junit.xml", run_junit),
        Route("/api/runs/{run}/report.html", run_report), Route("/api/runs/{run}/sheet.html", run_sheet),
        Route("/api/sheet.css", sheet_css), Route("/runs/{run}", run_page), Route("/runs", runs_page),
        Route("/api/units", units), Route("/api/units", add_unit, methods=["POST"]),
        Route("/api/units/{serial}", unit), Route("/api/units/{serial}/notes", unit_notes, methods=["POST"]),
        Route("/api/catalogue", catalogue), Route("/api/ledger", whole),
    ]


def _text(value) -> str | None:
    return None if value is None else str(value)[:200]


def _public(run: dict, user: dict) -> dict:
    """A run as a client sees it: no absolute path, pid or host name of the bench, except for the
    CLI of the server's own user on its own machine (rig run there names the log it wrote)."""
    if user.get("via") == "cli":
        return run
    run = {k: v for k, v in run.items() if k not in ("pid", "host")}
    if run.get("log"):
        run["log"] = Path(run["log"]).name
    return run


def _attach(name: str, inline=None) -> dict:
    """A download's name is the rig's (run-00012.jsonl): plain ASCII, so RFC 6266's quoted
    ``filename`` says it whole and no request's text reaches the header."""
    if not re.fullmatch(r"run-\d{5,}\.(jsonl|svg|xml|html|sheet\.html)", name):
        raise ValueError(f"not a download name the rig gives: {name!r}")
    return {} if inline else {"content-disposition": f'attachment; filename="{name}"'}


LEDGER_TABLES = ("units", "runs", "attempts", "lockouts", "records", "unit_changes")


def _whole(station) -> dict:
    """Every row of the bench's ledger (no code is ever in it), for ``rig --place/--server units/runs``."""
    led = _ledger(station)
    try:
        return {t: [dict(r) for r in led.db.execute(f"SELECT * FROM {t} ORDER BY rowid")] for t in LEDGER_TABLES}
    finally:
        led.close()


def _units(station) -> list[dict]:
    profiles = load_profiles()
    led = _ledger(station)
    try:
        out = []
        for u in led.units():
            p = profiles.get(u["profile"])
            row = dict(u, lockouts=len(led.lockouts(u["serial"])), runs=len(led.runs(u["serial"], 1000)))
            if p is not None:
                st = led.standing(u["serial"], p)
                row.update(state=st.describe(), used=st.used, left=st.left, allowed=st.allowed,
                           lockout_left=st.lockout_left)
            out.append(_live(station, row))
        return out
    finally:
        led.close()


def _live(station, unit: dict) -> dict:
    """The unit as the running job's countdown has it now, when that job waits out its lockout
    (the ledger keeps the served time a few times an hour)."""
    return with_countdown(station.current, unit, station.clock)[1] if station.current else unit


def _unit(station, serial: str, Refused) -> dict:
    led = _ledger(station)
    try:
        u = led.unit(serial)
        if u is None:
            raise Refused(404, f"the ledger has no unit {serial!r}")
        p = load_profiles().get(u["profile"])
        if p is not None:
            st = led.standing(serial, p)
            u.update(state=st.describe(), used=st.used, left=st.left, allowed=st.allowed,
                     lockout_left=st.lockout_left)
        u.update(runs=led.runs(serial, 200), attempts=led.attempts(serial), lockouts=led.lockouts(serial),
                 records=led.records(serial), changes=led.changes(serial))
        return _live(station, u)
    finally:
        led.close()
