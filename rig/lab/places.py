"""The lab as the CLI sees it: places on the coordinator, and the benches behind them.

One :class:`Lab` is one connection to labgrid's coordinator (``LG_COORDINATOR``,
else ``127.0.0.1:20408``), opened for one command. It answers "which bench
does this place give me?" (:meth:`Lab.bench_of`, which insists the place is
acquired by this user on this host, as labgrid's own client does), lists places
for ``rig lab status``, and lets a job go (:meth:`Lab.release`). What a lab admin
does with it (places, tags, the sweep) is :mod:`rig.lab.admin`.

>>> Lab.address_from_env({"LG_COORDINATOR": "coord.lab:20408"})
'coord.lab:20408'
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
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
    url: str | None = None             # how this client reaches the bench's rig serve (bench_of says)
    entry: object = field(default=None, repr=False, compare=False)  # the RigBench on the coordinator
    comment: str = ""


_loops = threading.local()


def _thread_loop() -> asyncio.AbstractEventLoop:
    """This thread's event loop for labgrid's gRPC calls, made once and never closed.

    gRPC's asyncio poller binds itself to every loop it has seen and wakes them all on each
    event: a loop closed by an earlier connection (a process that talks to the coordinator
    more than once: rig serve's lease, a lab test) made that wake-up raise "Event loop is
    closed", and the next connection could miss its answer and report "no coordinator".
    """
    loop = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = _loops.loop = asyncio.new_event_loop()
    return loop


class Lab:
    """A connection to the coordinator for one command; close it (or use ``with``)."""

    def __init__(self, address: str | None = None):
        need_labgrid()
        from labgrid.remote.client import ServerError, start_session

        self.address = address or self.address_from_env(os.environ)
        loop = _thread_loop()
        if threading.current_thread() is not threading.main_thread():
            asyncio.set_event_loop(loop)  # gRPC calls are made outside the loop; off the main thread they need it set
        quiet = _Quiet()  # labgrid logs a failed connect on the root logger; the error below says it once
        logging.getLogger().addFilter(quiet)
        try:
            self.session = loop.run_until_complete(asyncio.wait_for(self._start(start_session, loop),
                                                                    CONNECT_TIMEOUT))
        except (asyncio.TimeoutError, ServerError, ConnectionError, OSError) as exc:
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
            self.loop = None  # the thread's loop stays open for its next connection (see _thread_loop)

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
            entry = self.bench_entry(p)
            if entry is not None:
                # no URL here: an isolated bench's would open an SSH forward, for a look at the tags
                pb.bench, pb.avail, pb.entry = dict(entry.args), bool(entry.avail), entry
            out.append(pb)
        return out

    def bench_entry(self, place):
        """The RigBench entry a place matches, or None."""
        for exporter, groups in self.session.resources.items():
            for group, resources in groups.items():
                for rname, entry in resources.items():
                    if entry.cls == "RigBench" and place.hasmatch((exporter, group, entry.cls, rname)):
                        return entry
        return None

    def mine(self) -> list[str]:
        """The places this labgrid user (``LG_HOSTNAME/LG_USERNAME``) has acquired."""
        return sorted(name for name, p in self.session.places.items() if p.acquired == self.me)

    def bench_of(self, pattern: str) -> PlaceBench:
        """The bench of a place this user holds: ``+`` is the place of the reservation in LG_TOKEN,
        or without one, the place this labgrid user acquired (``rig lab reserve``).

        Refused (exit 3) when the place is not acquired, or acquired by someone else.
        """
        from labgrid.remote.client import UserError

        if pattern == "+" and not os.environ.get("LG_TOKEN"):
            mine = self.mine()
            if len(mine) != 1:
                raise BenchBusy(f"--place +: {self.me} holds " + (f"{len(mine)} places ({', '.join(mine)}): name one"
                                if mine else "no place; take one first: rig lab reserve family=..."))
            pattern = mine[0]
        try:
            place = self.session.get_place(pattern)
        except UserError as exc:
            raise ConfigError(f"--place {pattern}: {_said(exc)}") from None
        try:
            self.session._check_allowed(place)  # labgrid's own rule for "is it mine?"
        except UserError as exc:
            raise BenchBusy(f"--place {place.name}: {_said(exc)}; acquire it first: labgrid-client -p {place.name} acquire") \
                from None
        entry = self.bench_entry(place)
        if entry is None:
            raise ConfigError(f"place {place.name} matches no RigBench: add one with "
                              f"labgrid-client -p {place.name} add-match EXPORTER/GROUP/RigBench")
        if not entry.avail:
            raise BenchBusy(f"the bench of place {place.name} is not available: its rig serve does not answer "
                            f"(check rig-lg-exporter and rig serve on {entry.args.get('host')})")
        pb = PlaceBench(place.name, dict(place.tags), place.acquired, place.reservation, dict(entry.args), True)
        pb.url = entry_url(entry)
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
        if pattern == "+" and not os.environ.get("LG_TOKEN"):
            return self.release_mine()
        try:
            place = self.session.get_place(pattern)
        except UserError as exc:
            if pattern.startswith("+"):  # the reservation is gone (a trap running a second time, a
                return self.release_mine()  # coordinator restart): let go of whatever this user holds
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


    def release_mine(self) -> list[str]:
        """Cancel this labgrid user's reservations, then release its places (a job's user is its own:
        ``LG_USERNAME=ci-$CI_JOB_ID``). Returns what was done."""
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        run, done = self.loop.run_until_complete, []
        for res in run(self.session.stub.GetReservations(pb2.GetReservationsRequest())).reservations:
            if res.owner == self.me:
                run(self.session.stub.CancelReservation(pb2.CancelReservationRequest(token=res.token)))
                done.append(f"cancelled reservation {res.token}")
        for name in self.mine():
            run(self.session.stub.ReleasePlace(pb2.ReleasePlaceRequest(placename=name)))
            done.append(f"released {name}")
        run(self.session.sync_with_coordinator())
        return done


def entry_url(entry) -> str:
    """The bench's address from its resource entry on the coordinator."""
    return bench_address(entry.args.get("host"), entry.args.get("port"), entry.extra, entry.args.get("tls"))


def bench_address(host, port, extra=None, tls=False) -> str:
    """``http(s)://host:port`` of a bench's rig serve; through labgrid's SSH forwarding when the
    exporter runs isolated (``rig-lg-exporter --isolated``), as labgrid's own network resources are.

    ``tls``: the bench serves HTTPS (its exporter's ``url`` is https://); clients verify its
    certificate against the lab's CA (``RIG_CA``)."""
    host, port = str(host or "127.0.0.1"), int(port or 8470)
    extra = extra or {}
    if extra.get("proxy_required"):
        from labgrid.util.ssh import sshmanager

        from ..serve.client import FORWARDED

        port = sshmanager.request_forward(extra.get("proxy"), host, port)
        FORWARDED[f"127.0.0.1:{port}"] = host  # its certificate still has to name the bench
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def _said(exc) -> str:
    """labgrid's message without its "Error: " prefix."""
    return str(exc.args[0]) if exc.args else str(exc)


class _Quiet(logging.Filter):
    def filter(self, record) -> bool:
        return "coordinator" not in record.getMessage()
