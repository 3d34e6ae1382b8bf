"""The HTTP side of the station: the page, a JSON API and server-sent events.

Security (it switches hardware that can lock a customer's unit for good):
every request but the login page needs a session cookie (HttpOnly,
SameSite=Strict) or a bearer token; every state change is a POST, from a
cookie session only with the page's CSRF header and the server's own Origin;
no CORS; ``Content-Security-Policy: default-src 'self'``. The code is taken
only from a POST body and never sent back.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import BenchBusy, BenchRefused, ConfigError, RigError, SafetyRefusal
from ..records.secret import Code
from ..run.procedure import builtin_names
from . import api_lab, api_ledger
from .countdown import DISCARDS, discards, with_countdown
from .auth import Sessions, Tokens, csrf_ok
from .benchunit import NotOnRecord, identify
from .commands import press_args, wait_seconds
from .limits import LOOPBACK_NAMES, Bounded

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "rig_session"
HEADERS = [(b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
           (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
           (b"x-frame-options", b"DENY"), (b"cache-control", b"no-store")]
FAILED_LOGIN_WAIT = 0.5  # s before a refused login is answered: a guesser gets two tries a second, not thousands


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class SecurityHeaders:
    """Adds the security headers to every response (streams included)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def make_app(station, tokens: Tokens, sessions: Sessions | None = None, cli_token: str | None = None,
             cli_name: str = "cli", hosts=LOOPBACK_NAMES, make_link=None) -> Starlette:
    """The ASGI app for one station. ``cli_token`` is the CLI's operator token on this machine;
    ``hosts``: the names a request's ``Host`` may give (any other is refused: DNS rebinding);
    ``make_link(name, role)``: a one-time login link, for ``rig serve link`` (the CLI's token only)."""
    sessions = sessions or Sessions()

    def who(request: Request) -> dict | None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            secret = auth[7:].strip()
            user = request.headers.get("x-rig-user", "")[:40] or cli_name
            if cli_token and hmac.compare_digest(secret, cli_token):
                return {"name": f"{user} (cli)", "role": "operator", "via": "cli"}
            entry = tokens.check(secret)
            return None if entry is None else {"name": entry["name"], "role": entry["role"], "via": "api",
                                               "lab": entry.get("lab_user")}
        sid = request.cookies.get(COOKIE)
        s = sessions.get(sid)
        if s is not None and s.get("token") and not tokens.known(s["token"]):
            sessions.end(sid)  # opened with a token since revoked: it goes with it
            return None
        return None if s is None else dict(s, via="page")

    def own_origin(request: Request) -> str:
        return f"{request.url.scheme}://{request.headers.get('host', '')}"

    def guard(request: Request, role: str = "viewer", post: bool = False) -> dict:
        if post:
            origin = request.headers.get("origin")
            if origin is not None and origin != own_origin(request):
                raise Refused(403, f"refused: a request from another site ({origin})")
        user = who(request)
        if user is None:
            raise Refused(401, "log in first: open the login link rig serve printed, or send a token")
        if post and user["via"] == "page":
            if request.headers.get("origin") is None:
                raise Refused(403, "refused: a state change from the page must carry its Origin")
            if not csrf_ok(user, request.headers.get("x-csrf-token")):
                raise Refused(403, "refused: missing or wrong CSRF token (reload the page)")
        if role != "viewer" and user["role"] != role:
            if role == "exporter":
                raise Refused(403, f"{user['name']} is not this bench's exporter: only rig-lg-exporter (a token "
                                   f"with the exporter role) says which lab place holds the bench")
            raise Refused(403, f"{user['name']} is a {user['role']}: only an operator may do that")
        return user

    async def lab_check(request: Request, user: dict, action: str) -> None:
        """The one check every operator request passes in a lab, before it writes or moves anything:
        the place it names holds the bench, for the labgrid user its token is bound to."""
        if station.lease.pending():  # acquired a moment ago: the exporter is asking labgrid who by
            await asyncio.to_thread(station.lease.wait_known, 3.0)
        station.lease.check(place_of(request), user, action)

    async def body(request: Request) -> dict:
        try:
            data = json.loads(await request.body() or b"{}", parse_constant=_no_constant)
        except (ValueError, RecursionError):  # RecursionError: [[[[... nested past Python's limit
            raise Refused(400, "the request body is not JSON (plain numbers only: no NaN or Infinity, "
                               "and not nested that deep)") from None
        if not isinstance(data, dict):
            raise Refused(400, "the request body must be a JSON object")
        return data

    def endpoint(role="viewer", post=False, page=False, action="command"):
        """``action``: what an operator request does to the bench, for the lab's check (``job``,
        ``command``, ``answer``, ``stop``; a callable of the request for a bench command)."""
        def wrap(fn):
            async def handler(request: Request):
                try:
                    user = guard(request, role, post)
                    if role == "operator":
                        await lab_check(request, user, action(request) if callable(action) else action)
                    return await fn(request, user)
                except Refused as exc:
                    if page and exc.status == 401:  # a person following a link: log in first
                        return RedirectResponse("/login", status_code=303)
                    return error(exc.status, str(exc))
                except (BenchBusy, SafetyRefusal) as exc:  # refused for the unit's sake: nothing moved
                    return error(409, str(exc))
                except ConfigError as exc:
                    return error(400, "; ".join(str(p) for p in exc.problems) or str(exc))
                except (BenchRefused, RigError) as exc:
                    return error(400, str(exc))
            return handler
        return wrap

    # -- pages -------------------------------------------------------------
    async def index(request: Request):
        if who(request) is None:
            return RedirectResponse("/login", status_code=303)
        return FileResponse(STATIC / "index.html")

    async def login_page(request: Request):
        return FileResponse(STATIC / "login.html")

    async def login(request: Request):
        origin = request.headers.get("origin")
        if origin is not None and origin != own_origin(request):
            return error(403, f"refused: a login from another site ({origin})")
        try:
            data = await body(request)
        except Refused as exc:
            return error(exc.status, str(exc))
        once, token = data.get("once"), data.get("token")
        if not isinstance(once, (str, type(None))) or not isinstance(token, (str, type(None))):
            return error(400, "a login is {\"once\": \"CODE FROM THE LINK\"} or {\"token\": \"TOKEN\"}")
        entry = sessions.redeem(once) if once else tokens.check(token)
        if entry is None:
            await asyncio.sleep(FAILED_LOGIN_WAIT)
            return error(401, "that login link or token is not valid (links work once, for 10 minutes)")
        s = sessions.start({"name": entry["name"], "role": entry["role"], "token": entry.get("sha256"),
                            "lab": entry.get("lab_user")})
        resp = JSONResponse({"name": s["name"], "role": s["role"], "csrf": s["csrf"]})
        resp.set_cookie(COOKIE, s["sid"], httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https", max_age=12 * 3600)
        return resp

    @endpoint(post=True)
    async def logout(request, user):
        sessions.end(request.cookies.get(COOKIE))
        resp = JSONResponse({"ok": True})
        resp.delete_cookie(COOKIE, path="/")
        return resp

    @endpoint("operator", post=True)
    async def login_link(request, user):
        if user["via"] != "cli" or make_link is None:  # the server's own user on this machine, no one else
            raise Refused(403, "login links are made only by `rig serve link` on the server's machine")
        data = await body(request)
        role = data.get("role", "operator")
        if role not in ("viewer", "operator"):
            raise Refused(400, "role is viewer or operator")
        return JSONResponse({"link": make_link(user["name"].removesuffix(" (cli)"), role)})

    @endpoint()
    async def session(request, user):
        return JSONResponse({"name": user["name"], "role": user["role"], "csrf": user.get("csrf")})

    # -- live state ---------------------------------------------------------
    @endpoint()
    async def state(request, user):
        return JSONResponse(station.state())

    @endpoint()
    async def stream(request, user):
        listener = station.hub.listen()

        async def events():
            try:
                yield "retry: 2000\n\n" + _sse("state", station.state())
                last_beat = checked = time.monotonic()
                while not listener.dropped:  # a closing hub's last event, then None, end it
                    if time.monotonic() - checked >= 1.0:  # logged out, or its token revoked: the stream ends
                        checked = time.monotonic()
                        if who(request) is None:
                            break
                    try:
                        item = await asyncio.wait_for(listener.queue.get(), 1.0)
                    except asyncio.TimeoutError:
                        if station.hub.closed:
                            break
                        if time.monotonic() - last_beat > 15:
                            last_beat = time.monotonic()
                            yield ": still here\n\n"
                        continue
                    if item is None:
                        break
                    yield item
            finally:
                station.hub.leave(listener)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"x-accel-buffering": "no"})

    # -- jobs ---------------------------------------------------------------
    @endpoint("operator", post=True, action="job")
    async def start_run(request, user):
        data = await body(request)
        if not isinstance(data.get("procedure"), str) or not data["procedure"]:
            raise Refused(400, "say which procedure to run: {\"procedure\": \"unlock\", ...}")
        code = data.pop("code", None)
        if code is not None and not isinstance(code, str):
            raise Refused(400, "the code must be a string of digits")
        code = Code(code) if code else None
        for k in ("profile", "unit"):
            if not isinstance(data.get(k), (str, type(None))):
                raise Refused(400, f"{k} is a string (\"{'honda' if k == 'profile' else 'H1'}\"), or left out")
        spec = {k: data.get(k) for k in ("procedure", "profile", "unit", "params", "answers", "yes",
                                         "allow_lockout", "allow_permanent", "new_unit")}
        for k in ("params", "answers"):
            if spec[k] is not None and not isinstance(spec[k], dict):
                raise Refused(400, f"{k} must be an object of NAME: VALUE")
        upload = data.get("procedure_file")
        if upload is None and spec["procedure"] not in builtin_names():  # a name, never a path on the bench
            raise Refused(400, f"no built-in procedure {spec['procedure'][:80]!r} (built-ins: "
                               f"{', '.join(builtin_names())}); a procedure of your own is sent whole as "
                               f"procedure_file, as rig run FILE does")
        if upload is not None:  # written only now: the sender is logged in and may use this bench
            station.lease.check(place_of(request))
            spec["procedure"] = station.uploads.keep(upload, station.sources_in_use())
        try:
            out = await asyncio.to_thread(station.submit, spec, code, user["name"], user["via"],
                                          bool(data.get("queue")), place_of(request), user)
        except ConfigError as exc:  # name the sent files as the sender has them, not by the bench's folders
            problems = "; ".join(str(p) for p in exc.problems) or str(exc)
            raise Refused(400, station.uploads.shown(problems) if upload is not None else problems) from None
        return JSONResponse(out, status_code=202)

    @endpoint("operator", post=True, action="stop")
    async def stop(request, user):
        data = await body(request)
        # a stop that throws served time away (a unit whose wait starts over) is said, and asked
        # for in so many words; one that keeps it is not asked about
        lost = discards(with_countdown(station.current, None, station.clock)[0]["progress"]
                        if (station.current or {}).get("progress") else None)
        if lost and data.get("discard_served") is not True:
            raise BenchBusy(f"stopping now {DISCARDS} {lost} of powered time: this unit's lockout wait starts "
                            f"over after a power loss. Stop anyway with `rig stop --discard-served` (the page "
                            f"asks), or let it run")
        return JSONResponse(station.stop(f"a stop from {user['name']} ({user['via']})"))

    @endpoint("operator", post=True, action="answer")
    async def answer(request, user):
        data = await body(request)
        if not isinstance(data.get("id"), int) or not isinstance(data.get("answer"), str):
            raise Refused(400, "an answer is {\"id\": QUESTION_ID, \"answer\": \"yes\"}")
        job = station.current or {}
        if station.code_job and user["name"] != job.get("operator"):  # its answers reach its redactor
            raise Refused(403, f"this job holds a code: only {job.get('operator')}, who started it, answers it")
        answer = data["answer"]
        if (job.get("question") or {}).get("kind") == "yesno":  # all a yes/no is, and all its log shows
            answer = "yes" if answer.strip().lower() in ("y", "yes", "true") else "no"
        station.answer(data["id"], answer, user["name"])
        return JSONResponse({"ok": True})

    @endpoint("operator", post=True, action=lambda request: "safe" if request.path_params["what"] == "safe"
              else "command")
    async def bench_command(request, user):
        what = request.path_params["what"]
        data = await body(request)
        if what == "power":
            if not isinstance(data.get("rail"), str) or not isinstance(data.get("on"), bool):
                raise Refused(400, "power is {\"rail\": \"acc\", \"on\": true}")
            args = (data["rail"], data["on"])
        elif what == "press":
            if not isinstance(data.get("combo"), str):
                raise Refused(400, "press is {\"combo\": \"mode+scan\", \"hold\": 2, \"times\": 1}")
            args = (data["combo"], *press_args(data.get("hold"), data.get("times")))
        elif what == "wait":
            args = (wait_seconds(data.get("seconds", 0)),)
        elif what == "safe":
            args = ()
        else:
            raise Refused(404, f"no bench command {what!r} (power, press, wait, safe)")
        words = {}
        if what == "press":
            unit = data.get("unit")
            if unit is not None and not isinstance(unit, str):
                raise Refused(400, "unit is the serial of the unit the press is meant for")
            words = {"unit": unit, "allow_lockout": data.get("allow_lockout") is True,
                     "allow_permanent": data.get("allow_permanent") is True}
        fut = station.command(what, *args, place=place_of(request), by=user["name"], via=user["via"], **words)
        message = await asyncio.wrap_future(fut)
        return JSONResponse({"message": message, "t": station.clock.now()})

    @endpoint("operator", post=True)
    async def bench_unit(request, user):
        if station.lease.lab:  # the admin's, and the place's tags say so: a job swapping it would outlive the job
            raise Refused(409, "the unit on a lab bench is the admin's: rig serve --lab --unit SERIAL --profile ID "
                               "on the bench, then rig lab sync-tags")
        data = await body(request)
        if not isinstance(data.get("serial"), str) or not data["serial"].strip():
            raise Refused(400, "the unit on the bench is {\"serial\": \"VW123\", \"profile\": \"vw-safe\"}")
        if not isinstance(data.get("profile"), (str, type(None))) or not isinstance(data.get("new_unit"), (bool, type(None))):
            raise Refused(400, "profile is a profile's id, new_unit is true or false")
        serial, by = data["serial"].strip(), f"{user['name']} ({user['via']})"
        try:  # checked against the ledger as rig run checks it: a typo never becomes a fresh record
            profile = await asyncio.to_thread(identify, station.ledger_path, serial, data.get("profile") or "",
                                              data.get("new_unit") is True, by)
        except NotOnRecord as exc:  # the page offers the near matches, and "this is a new unit"
            return JSONResponse({"error": str(exc), "unknown": True, "near": exc.near}, status_code=404)
        station.set_unit(serial, profile)
        return JSONResponse({"ok": True, "serial": serial, "profile": profile})

    async def not_found(request: Request):
        return error(404, f"no such page or API: {request.url.path}")

    routes = [
        Route("/", index), Route("/login", login_page),
        # a browser asks for /favicon.ico on every page that names no icon: answered, not a 404 each time
        Route("/favicon.ico", lambda request: FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")),
        Route("/api/login", login, methods=["POST"]), Route("/api/logout", logout, methods=["POST"]),
        Route("/api/session", session), Route("/api/state", state), Route("/api/stream", stream),
        Route("/api/login-link", login_link, methods=["POST"]),
        Route("/api/runs", start_run, methods=["POST"]), Route("/api/stop", stop, methods=["POST"]),
        Route("/api/answer", answer, methods=["POST"]),
        Route("/api/bench/unit", bench_unit, methods=["POST"]),
        Route("/api/bench/{what}", bench_command, methods=["POST"]),
        *api_ledger.routes(station, endpoint, body, Refused),
        *api_lab.routes(station, endpoint, body),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route("/{rest:path}", not_found, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(Bounded, hosts=hosts)
    app.add_middleware(SecurityHeaders)  # the outer one: Bounded's refusals get the headers too
    return app


def place_of(request: Request) -> str | None:
    """The lab place a request comes through (``rig --place`` sends it), or None."""
    return request.headers.get("x-rig-place", "").strip()[:100] or None


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number a bench can use")


def _sse(event: str, data) -> str:
    from .hub import sse

    return sse(event, data)


__all__ = ["make_app"]
