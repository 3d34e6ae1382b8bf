"""``rig-lg-exporter``: labgrid's exporter, with the bench as one of its resources.

labgrid has no plugin mechanism for exports (its issue #1205), so this registers
a ``RigBench`` export in the exporter module's ``exports`` table and then runs
labgrid's own exporter, with all its options. In the exporter's YAML::

    bench-01:                       # the group; a place matches */bench-01/RigBench
      RigBench:
        url: https://pi-01.lab:8470 # the bench's rig serve (on the same Pi)
        token_file: /etc/rig/exporter.token   # a token with the exporter role (else RIG_TOKEN)

A bench serving HTTPS (``rig serve --tls-cert ...``) is ``url: https://pi-07.lab:8470``
with ``ca_file: /etc/rig/lab-ca.crt`` (else ``RIG_CA``): the exporter checks the
bench's certificate against it, and tells clients (``tls: true``) to do the same.

The export is *available* only while ``rig serve`` answers and says its bench is
healthy (three misses in a row, about five seconds, before it is marked gone, so a
slow answer does not drop a running job). When labgrid acquires the place, the
exporter tells ``rig serve`` which place holds the bench and, asking the
coordinator, for which labgrid user; when the place is released, or forced off
(``labgrid-client release --kick``, ``release-from``), it tells it to let go, and
the server stops any running job with the safe unwind.

Restarts never change who holds a bench. A restarted exporter knows nothing yet,
so it asks the coordinator before telling the bench anything: a place still
acquired stays (the coordinator hands it back to the new exporter by itself); a
place the coordinator has forgotten without a release (the coordinator itself
restarted) is *lost*, and the bench keeps its job for a grace period in which the
holder acquires it again.

Example::

    rig-lg-exporter -c coord.lab:20408 -n pi-07 --hostname pi-07.lab exporter.yaml
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from urllib.parse import urlparse

import attr
from labgrid.remote import exporter as lg_exporter

from ..errors import RigError
from ..serve.client import Client

log = logging.getLogger("rig.lab.exporter")

CHECK_EVERY = 1.5   # s between health checks of rig serve
MISSES = 3          # checks missed in a row before the bench counts as gone
UNKNOWN = ("unknown",)   # a fresh exporter: labgrid has not said, and the coordinator was not asked yet
RELEASED = ("released",)
COORDINATOR: str | None = None   # the exporter's -c (main() reads it): where to ask who holds a place


class CoordinatorAsk:
    """Asks the coordinator who holds a place (``host/user``), from the watch's own thread.

    A plain (blocking) gRPC channel of its own: never from inside labgrid's event loop,
    where the coordinator may be waiting on this very exporter with its lock held.
    """

    def __init__(self, address: str):
        self.address = address
        self._stub = None

    def __call__(self, place: str) -> tuple[bool, str | None]:
        """(found, acquired by) for ``place``; raises OSError when the coordinator does not answer."""
        import grpc
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2
        from labgrid.remote.generated import labgrid_coordinator_pb2_grpc as pb2_grpc

        if self._stub is None:
            address = self.address if ":" in self.address.rsplit("]", 1)[-1] else self.address + ":20408"
            self._stub = pb2_grpc.CoordinatorStub(grpc.insecure_channel(address))
        try:
            places = self._stub.GetPlaces(pb2.GetPlacesRequest(), timeout=5).places
        except grpc.RpcError as exc:
            self._stub = None
            raise OSError(f"the coordinator at {self.address} does not answer ({exc.code().name})") from None
        for p in places:
            if p.name == place:
                return True, (p.acquired if p.HasField("acquired") else None) or None
        return False, None


class BenchWatch:
    """Keeps ``rig serve`` in step with labgrid, from its own thread (labgrid's poll must never block).

    ``want`` is what labgrid says: ``("held", place, user)`` (user None until the coordinator
    said), :data:`RELEASED`, ``("lost", place)``, or :data:`UNKNOWN` at start.
    ``ask(place) -> (found, user)`` asks the coordinator (None: never ask; then a fresh
    watch leaves the bench's holder alone until labgrid says something).
    """

    def __init__(self, url: str, token: str | None, ca: str | None = None, ask=None):
        self.client = Client(url.rstrip("/"), token, ca=ca)
        self.ask = ask
        self.avail = False
        self.info: dict = {}
        self.want: tuple = UNKNOWN
        self.misses = MISSES
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rig-bench-watch", daemon=True)
        self._thread.start()

    def poll(self) -> None:
        """labgrid's hook: the state is kept fresh by the thread already."""

    def tell(self, place: str | None) -> None:
        """Labgrid's acquire (a place) or release (None): passed on now, and kept in step after."""
        with self._lock:
            self.want = ("held", place, None) if place else RELEASED
            self._sync()
        self._wake.set()

    def close(self) -> None:
        """Stop watching; once it returns, this watch tells the bench nothing more (a check in flight
        is dropped: told after a close, its stale wish released a place the next exporter had found)."""
        with self._lock:  # a sync under way finishes first
            self._stop.set()
        self._wake.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(CHECK_EVERY * 2 + 1)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._check()
            self._wake.wait(CHECK_EVERY)
            self._wake.clear()

    def _check(self) -> None:
        try:
            info = self.client.call("GET", "/api/lab", timeout=CHECK_EVERY * 2)
        except (RigError, OSError, ValueError) as exc:
            self.misses += 1
            if self.misses >= MISSES and self.avail:
                log.warning("the bench's rig serve at %s does not answer (%s): marked unavailable",
                            self.client.url, exc)
                self.avail = False
            return
        self.misses = 0
        with self._lock:
            if self._stop.is_set():
                return
            self.info = info
            self.avail = bool(info.get("healthy"))
            want = self.want
        learned = self._learn(want, info.get("place") or None)  # the coordinator is asked outside the lock
        with self._lock:
            if self._stop.is_set():
                return
            if learned is not None and self.want == want:  # unless labgrid said something meanwhile
                self.want = learned
            self._sync()

    def _learn(self, want: tuple, held: dict | None) -> tuple | None:
        """What labgrid did not say: who holds the place, or, fresh from a restart, whether the
        place the bench has is still acquired at all. None: nothing learned."""
        if want == UNKNOWN:
            if not held:
                return RELEASED
            if self.ask is None:
                return None  # nobody to ask: wait for labgrid's own word
            try:
                found, user = self.ask(held["place"])
            except OSError as exc:
                log.info("cannot ask who holds %s yet (%s); the bench keeps it", held["place"], exc)
                return None
            if user:
                return ("held", held["place"], user)
            log.warning("place %s holds the bench but the coordinator has %s: lost (a coordinator restart?); "
                        "the bench keeps its job while the holder acquires it again", held["place"],
                        "it released" if found else "no such place")
            return ("lost", held["place"])
        if want[0] == "held" and want[2] is None and self.ask is not None:
            try:
                _found, user = self.ask(want[1])
            except OSError:
                return None
            return ("held", want[1], user) if user else None
        return None

    def _sync(self) -> None:
        held = (self.info.get("place") or None) if self.info else None
        want = self.want
        try:
            if want[0] == "held":
                _kind, place, user = want
                if held and (held["place"] != place or (user and held.get("user") and held["user"] != user)):
                    # another place, or another labgrid user, acquired it: the old holder's jobs end first
                    self.client.post("/api/lab/release", {"place": held["place"], "why": "was acquired by another labgrid user"})
                    held = None
                if not held or (user and (held.get("user") != user or held.get("lost"))):
                    self.info["place"] = self.client.post("/api/lab/hold", {"place": place, "user": user})["place"]
                    log.info("told %s: place %s holds the bench%s", self.client.url, place,
                             f" for {user}" if user else "")
            elif want == RELEASED and held:
                self.client.post("/api/lab/release", {"place": held["place"], "why": "was released in labgrid"})
                self.info["place"] = None
                log.info("told %s: place %s let go of the bench", self.client.url, held["place"])
            elif want[0] == "lost" and held and held["place"] == want[1] and not held.get("lost"):
                self.info["place"] = self.client.post("/api/lab/lose", {"place": want[1]})["place"]
                log.info("told %s: labgrid lost place %s", self.client.url, want[1])
        except (RigError, OSError, ValueError) as exc:
            log.warning("could not tell %s which place holds the bench (%s); retrying", self.client.url, exc)


@attr.s(eq=False)
class RigBenchExport(lg_exporter.ResourceExport):
    """The ``RigBench`` export: params for clients, acquire/release passed to ``rig serve``."""

    def __attrs_post_init__(self):
        super().__attrs_post_init__()
        url = self.local_params.get("url") or "http://127.0.0.1:8470"
        token = _token(self.local_params)
        self.url = urlparse(url)
        self.local = BenchWatch(url, token, self.local_params.get("ca_file"),
                                CoordinatorAsk(COORDINATOR) if COORDINATOR else None)

    def _get_params(self):
        unit = (self.local.info or {}).get("unit") or {}
        return {"host": self.published_host(), "port": self.url.port or 8470, "serial": unit.get("serial") or "",
                "profile": unit.get("profile") or "", "family": unit.get("family") or "",
                "tls": self.url.scheme == "https"}

    def published_host(self) -> str:
        """Where clients reach rig serve: the url's own host when it is a lab-network name (the name its
        certificate carries); with --isolated, the url's host as seen from here (clients come through an
        SSH forward from this host); else the exporter's --hostname (rig serve listening off loopback)."""
        host = self.url.hostname or "127.0.0.1"
        return host if self.proxy_required or not _loopback(host) else self.host

    def _get_start_params(self):
        return {"place": self.acquired}

    def _start(self, start_params):
        self.local.tell(start_params["place"])

    def _stop(self, start_params):
        # Called on release, and also when the bench stops answering while still acquired;
        # only a release (nothing acquired any more) lets go of the bench.
        if not self.acquired:
            self.local.tell(None)

    def release(self, *args, **kwargs):
        super().release(*args, **kwargs)
        self.local.tell(None)  # even if the bench was unavailable (no _stop ran): let go when it answers


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def _token(params: dict) -> str | None:
    path = params.get("token_file")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SystemExit(f"rig-lg-exporter: token_file {path}: {exc.strerror}") from None
    return os.environ.get("RIG_TOKEN")


def main() -> None:
    """The console script: labgrid's exporter, knowing RigBench."""
    import argparse
    import sys

    global COORDINATOR
    ours = argparse.ArgumentParser(add_help=False)
    ours.add_argument("-c", "--coordinator", default=os.environ.get("LG_COORDINATOR", "127.0.0.1:20408"))
    COORDINATOR = ours.parse_known_args(sys.argv[1:])[0].coordinator
    lg_exporter.exports["RigBench"] = RigBenchExport
    lg_exporter.main()


if __name__ == "__main__":
    main()
