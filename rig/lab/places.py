"""The lab as the CLI sees it: places on the coordinator, and the benches behind them.

One :class:`Lab` is one connection to labgrid's coordinator (``LG_COORDINATOR``,
else ``127.0.0.1:20408``), opened for one command. It answers "which bench
does this place give me?" (:meth:`Lab.bench_of`, which insists the place is
acquired by this user on this host, as labgrid's own client does), lists places
for ``rig lab status`` and copies each bench's unit into its place's tags for
``rig lab sync-tags``.

>>> Lab.address_from_env({"LG_COORDINATOR": "coord.lab:20408"})
'coord.lab:20408'
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field

from ..errors import BenchBusy, ConfigError
from . import need_labgrid

DEFAULT_COORDINATOR = "127.0.0.1:20408"
CONNECT_TIMEOUT = 10.0


@dataclass
class PlaceBench:
    """A place and the bench it matches (None when no RigBench is matched)."""

    place: str
    tags: dict = field(default_factory=dict)
    acquired: str | None = None        # host/user, as labgrid has it
    reservation: str | None = None
    bench: dict | None = None          # the RigBench's params: host, port, serial, profile, family
    avail: bool = False
    url: str | None = None             # how this client reaches the bench's rig serve
    comment: str = ""


class Lab:
    """A connection to the coordinator for one command; close it (or use ``with``)."""

    def __init__(self, address: str | None = None):
        need_labgrid()
        from labgrid.remote.client import ServerError, start_session

        self.address = address or self.address_from_env(os.environ)
        loop = asyncio.new_event_loop()
        quiet = _Quiet()  # labgrid logs a failed connect on the root logger; the error below says it once
        logging.getLogger().addFilter(quiet)
        try:
            self.session = loop.run_until_complete(asyncio.wait_for(self._start(start_session, loop),
                                                                    CONNECT_TIMEOUT))
        except (asyncio.TimeoutError, ServerError, ConnectionError, OSError) as exc:
            loop.close()
            raise ConfigError(f"no labgrid coordinator answers at {self.address} "
                              f"({_said(exc) if str(exc) else 'timed out'}); set LG_COORDINATOR=HOST:PORT") from None
        finally:
            logging.getLogger().removeFilter(quiet)
        self.loop = loop

    async def _start(self, start_session, loop):
        # start_session runs its own loop until connected; inside ours, start the session by hand
        from labgrid.remote.client import ClientSession
        from labgrid.util.proxy import proxymanager

        session = ClientSession(proxymanager.get_grpc_address(self.address, default_port=20408), loop)
        await session.start()
        return session

    @staticmethod
    def address_from_env(env) -> str:
        return env.get("LG_COORDINATOR") or DEFAULT_COORDINATOR

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if getattr(self, "loop", None) is None:
            return
        try:
            self.loop.run_until_complete(self.session.stop())
            self.loop.run_until_complete(self.session.close())
        finally:
            self.loop.close()
            self.loop = None

    @property
    def me(self) -> str:
        return f"{self.session.gethostname()}/{self.session.getuser()}"

    # -- reading ----------------------------------------------------------------
    def places(self) -> list[PlaceBench]:
        """Every place, with the RigBench it matches."""
        out = []
        for name in sorted(self.session.places):
            p = self.session.places[name]
            pb = PlaceBench(name, dict(p.tags), p.acquired, p.reservation, comment=p.comment or "")
            entry = self._bench_entry(p)
            if entry is not None:
                pb.bench, pb.avail = dict(entry.args), bool(entry.avail)
            out.append(pb)
        return out

    def _bench_entry(self, place):
        for exporter, groups in self.session.resources.items():
            for group, resources in groups.items():
                for rname, entry in resources.items():
                    if entry.cls == "RigBench" and place.hasmatch((exporter, group, entry.cls, rname)):
                        return entry
        return None

    def bench_of(self, pattern: str) -> PlaceBench:
        """The bench of a place this user holds: ``+`` is the place of the reservation in LG_TOKEN.

        Refused (exit 3) when the place is not acquired, or acquired by someone else.
        """
        from labgrid.remote.client import UserError

        if pattern.startswith("+") and not (pattern[1:] or os.environ.get("LG_TOKEN")):
            raise ConfigError("--place +: no reservation token; reserve first: "
                              "eval \"$(labgrid-client reserve --wait --shell family=...)\"")
        try:
            place = self.session.get_place(pattern)
        except UserError as exc:
            raise ConfigError(f"--place {pattern}: {_said(exc)}") from None
        try:
            self.session._check_allowed(place)  # labgrid's own rule for "is it mine?"
        except UserError as exc:
            raise BenchBusy(f"--place {place.name}: {_said(exc)}; acquire it first: labgrid-client -p {place.name} acquire") \
                from None
        entry = self._bench_entry(place)
        if entry is None:
            raise ConfigError(f"place {place.name} matches no RigBench: add one with "
                              f"labgrid-client -p {place.name} add-match EXPORTER/GROUP/RigBench")
        if not entry.avail:
            raise BenchBusy(f"the bench of place {place.name} is not available: its rig serve does not answer "
                            f"(check rig-lg-exporter and rig serve on {entry.args.get('host')})")
        pb = PlaceBench(place.name, dict(place.tags), place.acquired, place.reservation, dict(entry.args), True)
        pb.url = _url(entry)
        return pb

    # -- writing ----------------------------------------------------------------
    def release(self, pattern: str) -> list[str]:
        """Let go of a place and cancel this job's reservation, in the order that hands the bench on at once.

        labgrid's scheduler finds a place free only when neither an acquirer nor a
        reservation is on it *at the start of a pass*; release-then-cancel leaves the old
        reservation on the place for that pass, so the next job waits for the 15 s poll.
        Cancel-then-release frees it in the release's own pass. Returns what was done.
        """
        from labgrid.remote.client import UserError
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        run, done = self.loop.run_until_complete, []
        try:
            place = self.session.get_place(pattern)
        except UserError as exc:
            if pattern.startswith("+"):  # the reservation is gone already: a trap running a second time
                return []
            raise ConfigError(f"--place {pattern}: {_said(exc)}") from None
        token = os.environ.get("LG_TOKEN") if pattern.startswith("+") or place.reservation else None
        token = pattern[1:] if pattern.startswith("+") and pattern[1:] else token
        if token and place.reservation == token:
            run(self.session.stub.CancelReservation(pb2.CancelReservationRequest(token=token)))
            done.append(f"cancelled reservation {token}")
        if place.acquired:
            try:
                self.session._check_allowed(place)
            except UserError as exc:
                raise BenchBusy(f"place {place.name}: {_said(exc)}; only its holder releases it "
                                f"(an admin: labgrid-client -p {place.name} release --kick)") from None
            run(self.session.stub.ReleasePlace(pb2.ReleasePlaceRequest(placename=place.name)))
            done.append(f"released {place.name}")
        run(self.session.sync_with_coordinator())
        return done

    def sweep(self, idle: float, token: str | None, dry_run: bool = False) -> list[tuple[str, str]]:
        """Release places whose bench has done nothing for ``idle`` seconds (labgrid's locks never expire).

        A place is released only if its bench answers, runs no job and has been idle
        that long, and only from the user who held it when we looked (labgrid's
        ``release-from``), so a job that acquired it a moment ago keeps it.
        Returns ``(place, what happened)`` for every acquired place.
        """
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        from ..durations import format_duration
        from ..serve.client import Client

        report = []
        for pb in self.places():
            if not pb.acquired:
                continue
            if pb.bench is None:
                report.append((pb.place, f"kept: held by {pb.acquired}; no RigBench to ask"))
                continue
            try:
                entry = self._bench_entry(self.session.places[pb.place])
                info = Client(_url(entry), token).call("GET", "/api/lab", timeout=5)
            except Exception as exc:  # noqa: BLE001  (one line per place, never a traceback)
                report.append((pb.place, f"kept: held by {pb.acquired}; its bench does not answer ({exc})"))
                continue
            idle_for = info.get("idle_for")
            if idle_for is None:
                job = info.get("job") or {}
                report.append((pb.place, f"kept: held by {pb.acquired}; running {job.get('procedure', 'a job')}"))
            elif idle_for < idle:
                report.append((pb.place, f"kept: held by {pb.acquired}; idle {format_duration(idle_for)}"))
            elif dry_run:
                report.append((pb.place, f"would release: held by {pb.acquired}, idle {format_duration(idle_for)}"))
            else:
                self.loop.run_until_complete(self.session.stub.ReleasePlace(pb2.ReleasePlaceRequest(
                    placename=pb.place, fromuser=pb.acquired)))
                report.append((pb.place, f"released: held by {pb.acquired}, idle {format_duration(idle_for)}"))
        self.loop.run_until_complete(self.session.sync_with_coordinator())
        return report

    def add_place(self, name: str, match: list[str], tags: dict | None = None, comment: str = "") -> list[str]:
        """Create a place (or bring an existing one up to date); returns what was done."""
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        done, run = [], self.loop.run_until_complete
        place = self.session.places.get(name)
        if place is None:
            run(self.session.stub.AddPlace(pb2.AddPlaceRequest(name=name)))
            run(self.session.sync_with_coordinator())
            place = self.session.places[name]
            done.append("created")
        for pattern in match:
            if not place.hasmatch(pattern.split("/")):
                run(self.session.stub.AddPlaceMatch(pb2.AddPlaceMatchRequest(placename=name, pattern=pattern)))
                done.append(f"match {pattern}")
        want = {k: v for k, v in (tags or {}).items() if place.tags.get(k) != v}
        if want:
            run(self.session.stub.SetPlaceTags(pb2.SetPlaceTagsRequest(placename=name, tags=want)))
            done.append("tags " + " ".join(f"{k}={v}" for k, v in sorted(want.items())))
        if comment and comment != place.comment:
            run(self.session.stub.SetPlaceComment(pb2.SetPlaceCommentRequest(placename=name, comment=comment)))
            done.append("comment")
        run(self.session.sync_with_coordinator())
        return done

    def sync_tags(self) -> list[tuple[str, dict]]:
        """Copy each bench's unit, profile and family into its place's tags; returns what changed."""
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        changed = []
        for pb in self.places():
            if pb.bench is None:
                continue
            want = {"unit": pb.bench.get("serial") or "", "profile": pb.bench.get("profile") or "",
                    "family": pb.bench.get("family") or ""}
            diff = {k: v for k, v in want.items() if pb.tags.get(k, "") != v}
            if not diff:
                continue
            # an empty value deletes the tag in labgrid: a bench with no unit declared loses its old one
            self.loop.run_until_complete(self.session.stub.SetPlaceTags(pb2.SetPlaceTagsRequest(
                placename=pb.place, tags=diff)))
            changed.append((pb.place, diff))
        if changed:
            self.loop.run_until_complete(self.session.sync_with_coordinator())
        return changed


def read_places_file(path) -> list[dict]:
    """A lab's places from YAML; every mistake says file:line, before anything is changed.

    ::

        places:
          bench-01:
            match: pi-01/bench-01/RigBench     # exporter/group/RigBench (or a list of them)
            tags: {shop: north}                # more tags; sync-tags adds unit/profile/family
            comment: Pi 07, left bench
    """
    import re

    from ..errors import Problem
    from ..yamlfile import load_file

    data = load_file(path)
    src = str(path)
    problems, out = [], []
    places = data.get("places") if isinstance(data, dict) else None
    if not isinstance(places, dict) or not places:
        raise ConfigError([Problem(src, 1, "a places file is `places: {NAME: {match: EXPORTER/GROUP/RigBench}}`")])
    for name, spec in places.items():
        line = places.line_of(name)
        if not isinstance(spec, dict):
            problems.append(Problem(src, line, f"place {name}: give match:, and optionally tags: and comment:"))
            continue
        for k in spec:
            if k not in ("match", "tags", "comment"):
                problems.append(Problem(src, spec.line_of(k), f"place {name}: unknown field {k!r} "
                                        f"(match, tags, comment)"))
        matches = spec.get("match")
        matches = [matches] if isinstance(matches, str) else matches
        if not matches or not all(isinstance(m, str) and 2 <= m.count("/") <= 3 for m in matches):
            problems.append(Problem(src, spec.line_of("match"), f"place {name}: match is EXPORTER/GROUP/CLASS "
                                    f"(e.g. pi-01/bench-01/RigBench)"))
        tags = spec.get("tags") or {}
        if not isinstance(tags, dict) or not all(re.fullmatch(r"[a-z][a-z0-9_]+", str(k)) for k in tags):
            problems.append(Problem(src, spec.line_of("tags"), f"place {name}: tags are lower-case names "
                                    f"(a-z, 0-9, _; two characters or more) with values"))
            tags = {}
        out.append({"name": str(name), "match": list(matches or []), "tags": {str(k): str(v) for k, v in tags.items()},
                    "comment": str(spec.get("comment") or "")})
    if problems:
        raise ConfigError(problems)
    return out


def _url(entry) -> str:
    """The bench's address from its resource entry; through labgrid's SSH forwarding when the
    exporter runs isolated (``rig-lg-exporter --isolated``), as labgrid's own network resources are."""
    host, port = str(entry.args.get("host") or "127.0.0.1"), int(entry.args.get("port") or 8470)
    extra = entry.extra or {}
    if extra.get("proxy_required"):
        from labgrid.util.ssh import sshmanager

        port = sshmanager.request_forward(extra.get("proxy"), host, port)
        host = "localhost"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _said(exc) -> str:
    """labgrid's message without its "Error: " prefix."""
    return str(exc.args[0]) if exc.args else str(exc)


class _Quiet(logging.Filter):
    def filter(self, record) -> bool:
        return "coordinator" not in record.getMessage()
