"""A CI job's hold on a bench: reserve one by its tags, acquire it, and keep it through a coordinator restart.

labgrid's ``reserve --wait`` fails when the coordinator restarts (reservations and
locks live in its memory), and ``eval "$(labgrid-client reserve ...)"`` hides that
failure. :func:`reserve` waits through restarts (reserving again when the
coordinator forgot, and leaving alone a place whose bench keeps it for its holder's
grace), acquires the place as soon as it is allocated (no 60 s window
to miss), and cancels its reservation then: the job holds the place as its own
labgrid user (``LG_HOSTNAME/LG_USERNAME``), and ``rig --place +`` finds it without a
token. :class:`KeepAcquired` runs beside a job on the bench: when a coordinator
restart drops the lock, it acquires the place again, as the same user, once the
bench's exporter is back; the bench keeps the running job meanwhile (its grace).

Example::

    place = reserve({"family": "vw-safe"}, timeout=7200)
    with KeepAcquired(place, client):   # client: the bench's rig.serve.client.Client
        ...  # follow a job on the place's bench
"""

from __future__ import annotations

import logging
import os
import threading
import time

from ..bench.clock import RealClock
from ..errors import BenchBusy, ConfigError, RigError

log = logging.getLogger("rig.lab")
POLL = 1.0        # s between polls of a waiting reservation (labgrid's own client polls every second)
KEEP_EVERY = 2.0  # s between checks that a running job's place is still acquired


def reserve(filters: dict, timeout: float, address: str | None = None, say=lambda text: None,
            clock=None) -> str:
    """Wait for a place whose tags match ``filters`` and acquire it; returns the place's name.

    A coordinator that goes away meanwhile is waited for, and the reservation made again if it
    was forgotten. Raises BenchBusy (exit 3) when no place came within ``timeout`` seconds;
    however it ends without a place, nothing of it is left on the coordinator.
    """
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

    from .places import Lab

    clock = clock or RealClock()
    deadline = time.monotonic() + timeout
    said = say

    def say(text: str, _last=[None]) -> None:  # each thing once, not once a second while it lasts
        if text != _last[0]:
            _last[0] = text
            said(text)

    lab, token, kept = None, None, None
    try:
        while True:
            if time.monotonic() > deadline:
                raise BenchBusy(f"no place with {_tags(filters)} was free within {timeout:.0f} s")
            try:
                if lab is None:
                    lab = Lab(address)
                run = lab.loop.run_until_complete
                if kept is not None and _kept_for_its_job(lab, kept):  # no reservation meanwhile: it would
                    clock.sleep(POLL)                                   # stop the holder acquiring it again
                    continue
                kept = None
                if token is None:
                    request = pb2.CreateReservationRequest(
                        filters={"main": pb2.Reservation.Filter(filter=filters)}, prio=0.0)
                    token = run(lab.session.stub.CreateReservation(request)).reservation.token
                    say(f"reserved {_tags(filters)} (reservation {token}); waiting for a place")
                res = run(lab.session.stub.PollReservation(pb2.PollReservationRequest(token=token))).reservation
                place = res.allocations.get("main")
                if res.state in (STATE["allocated"], STATE["acquired"]) and place and _kept_for_its_job(lab, place):
                    run(lab.session.stub.CancelReservation(pb2.CancelReservationRequest(token=token)))
                    token, kept = None, place
                    say(f"{place} is free in labgrid, but its bench keeps it for the labgrid user who held it before "
                        f"the coordinator restarted (its grace, rig serve --lab-grace); waiting")
                elif res.state in (STATE["allocated"], STATE["acquired"]) and place:
                    run(lab.session.stub.AcquirePlace(pb2.AcquirePlaceRequest(placename=place)))
                    run(lab.session.stub.CancelReservation(pb2.CancelReservationRequest(token=token)))
                    token = None  # the place is held as this user now: nothing to expire
                    say(f"acquired {place} as {lab.me}")
                    return place
                if res.state not in (STATE["waiting"], STATE["allocated"]):  # expired, invalid: again
                    say(f"the reservation {token} {_word(res.state)}; reserving again")
                    token = None
            except (ConfigError, OSError) as exc:
                if isinstance(exc, ConfigError) and "no labgrid coordinator answers" not in str(exc):
                    raise
                lab = _drop(lab)
                say(f"{exc}; waiting for it")
            except Exception as exc:  # noqa: BLE001  (a gRPC error: the coordinator went away, or forgot us)
                if "does not exist" in str(getattr(exc, "details", lambda: "")() or exc):
                    say("the coordinator forgot the reservation (restarted?); reserving again")
                    token = None
                else:
                    say(f"lost the coordinator ({_said(exc)}); waiting for it")
                    lab = _drop(lab)
            clock.sleep(POLL)
    except BaseException:
        _let_go(lab, token)  # a timeout, Ctrl-C or a CI cancel: leave no reservation behind
        raise
    finally:
        _drop(lab)


def _kept_for_its_job(lab, place: str) -> bool:
    """Whether ``place``'s bench keeps a running job for another labgrid user whose lock a coordinator
    restart dropped (the bench's grace): taking the place then would stop that job. Asked of the
    bench with RIG_TOKEN (a viewer's will do); a bench that cannot be asked is taken as free."""
    from ..serve.client import Client
    from .places import entry_url

    p = lab.session.places.get(place)
    entry = lab.bench_entry(p) if p is not None else None
    if entry is None or not os.environ.get("RIG_TOKEN"):
        return False
    try:
        held = Client(entry_url(entry), os.environ["RIG_TOKEN"]).call("GET", "/api/lab", timeout=5).get("place") or {}
    except Exception as exc:  # noqa: BLE001  (an unreachable bench: labgrid's word stands)
        log.debug("cannot ask %s's bench whether it keeps a job: %s", place, exc)
        return False
    return bool(held.get("lost")) and held.get("user") != lab.me


STATE = {"waiting": 0, "allocated": 1, "acquired": 2, "expired": 3, "invalid": 4}  # labgrid's ReservationState


def _word(state: int) -> str:
    return next((f"is {k}" for k, v in STATE.items() if v == state), f"is in state {state}")


def _tags(filters: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(filters.items())) or "any tags"


def _said(exc) -> str:
    details = getattr(exc, "details", None)
    return (details() if callable(details) else None) or str(exc).splitlines()[0]


def _drop(lab):
    if lab is not None:
        try:
            lab.close()
        except Exception:  # noqa: BLE001  (a connection that is already gone)
            pass
    return None


def _let_go(lab, token) -> None:
    if lab is None or token is None:
        return
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

    try:
        lab.loop.run_until_complete(lab.session.stub.CancelReservation(pb2.CancelReservationRequest(token=token)))
    except Exception:  # noqa: BLE001  (gone with the coordinator)
        pass


class KeepAcquired:
    """While a job runs on ``place``'s bench, keep the place acquired by this labgrid user.

    A coordinator restart forgets every lock; the bench keeps its running job for a grace
    period. This acquires the place again, as the same ``host/user``, as soon as the
    coordinator answers, the bench's exporter is back and ``bench`` (the bench's
    :class:`rig.serve.client.Client`) says labgrid *lost* the place. It gives up when someone
    else acquired the place, or when the bench says it was released (an admin's
    ``release --kick``: the bench stops the job, and the place is never taken back).
    """

    def __init__(self, place: str, bench, address: str | None = None, every: float = KEEP_EVERY):
        self.place, self.bench, self.address, self.every = place, bench, address, every
        self.taken_back = 0          # how many times the place was acquired again
        self.given_up: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rig-keep-place", daemon=True)

    def __enter__(self):
        from .places import _Quiet

        self._quiet = _Quiet()  # labgrid logs a lost coordinator on the root logger; the bench says what matters
        logging.getLogger().addFilter(self._quiet)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)
        logging.getLogger().removeFilter(self._quiet)

    def _loop(self) -> None:
        from .places import Lab

        lab = None
        while not self._stop.wait(self.every) and self.given_up is None:
            try:
                if lab is None:
                    lab = Lab(self.address)
                else:
                    lab.loop.run_until_complete(_within(lab.session.sync_with_coordinator(), 5))
                    if lab.session.stopping.is_set():
                        raise OSError("the coordinator went away")
                self._keep(lab)
            except (RigError, OSError, Exception) as exc:  # noqa: BLE001  (never a traceback in the job's output)
                log.debug("keeping %s: %s", self.place, exc)
                lab = _drop(lab)
        _drop(lab)

    def _keep(self, lab) -> None:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        place = lab.session.places.get(self.place)
        if place is None or place.acquired == lab.me:
            return
        if place.acquired:
            self.given_up = f"place {self.place} was acquired by {place.acquired}"
            log.warning("%s; this job no longer holds it", self.given_up)
            return
        entry = lab.bench_entry(place)
        if entry is None or not entry.avail:
            return  # the exporter is not back yet: acquiring now would leave the bench out of the place
        held = (self.bench.get("/api/lab") or {}).get("place") or {}  # lost (a restart) or released (a kick)?
        if held.get("place") != self.place:
            self.given_up = f"place {self.place} was released in labgrid"
            log.info("%s; this job no longer holds it", self.given_up)
            return
        if not held.get("lost"):
            return  # the exporter has not told the bench yet: ask again next time
        lab.loop.run_until_complete(lab.session.stub.AcquirePlace(pb2.AcquirePlaceRequest(placename=self.place)))
        self.taken_back += 1
        log.warning("place %s was lost by the coordinator (a restart?); acquired it again as %s", self.place, lab.me)


async def _within(awaitable, seconds: float):
    import asyncio

    return await asyncio.wait_for(awaitable, seconds)
