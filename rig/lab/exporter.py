"""``rig-lg-exporter``: labgrid's exporter, with the bench as one of its resources.

labgrid has no plugin mechanism for exports (its issue #1205), so this registers
a ``RigBench`` export in the exporter module's ``exports`` table and then runs
labgrid's own exporter, with all its options. In the exporter's YAML::

    bench-01:                       # the group; a place matches */bench-01/RigBench
      RigBench:
        url: http://127.0.0.1:8470  # the bench's rig serve (on the same Pi)
        token_file: /etc/rig/exporter.token   # an operator token of that server (else RIG_TOKEN)

A bench serving HTTPS (``rig serve --tls-cert ...``) is ``url: https://pi-07.lab:8470``
with ``ca_file: /etc/rig/lab-ca.crt`` (else ``RIG_CA``): the exporter checks the
bench's certificate against it, and tells clients (``tls: true``) to do the same.

The export is *available* only while ``rig serve`` answers and says its bench is
healthy (three misses in a row, about five seconds, before it is marked gone, so a
slow answer does not drop a running job). When labgrid acquires the place, the
exporter tells ``rig serve`` which place holds the bench; when the place is
released, or forced off (``labgrid-client release --kick``, ``release-from``),
it tells it to let go, and the server stops any running job with the safe unwind.
A background check keeps the two in step, so a restarted server or exporter
catches up within seconds.

Example::

    rig-lg-exporter -c coord.lab:20408 --hostname pi-07.lab exporter.yaml
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


class BenchWatch:
    """Asks ``rig serve`` how the bench is, from its own thread (labgrid's poll must never block)."""

    def __init__(self, url: str, token: str | None, ca: str | None = None):
        self.client = Client(url.rstrip("/"), token, ca=ca)
        self.avail = False
        self.info: dict = {}
        self.want: str | None = None       # the place labgrid says holds the bench (None: none)
        self.misses = MISSES
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rig-bench-watch", daemon=True)
        self._thread.start()

    def poll(self) -> None:
        """labgrid's hook: the state is kept fresh by the thread already."""

    def tell(self, place: str | None) -> None:
        """Labgrid's acquire (a place) or release (None): passed on now, and kept in step after."""
        self.want = place
        self._sync()
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()

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
        self.info = info
        self.avail = bool(info.get("healthy"))
        self._sync()

    def _sync(self) -> None:
        held = ((self.info.get("place") or {}).get("place")) if self.info else None
        try:
            if self.want and held != self.want:
                if held:  # a place labgrid no longer knows of still holds it: that one goes first
                    self.client.post("/api/lab/release", {"place": held, "why": "was released in labgrid"})
                self.info["place"] = self.client.post("/api/lab/hold", {"place": self.want})["place"]
                log.info("told %s: place %s holds the bench", self.client.url, self.want)
            elif not self.want and held:
                self.client.post("/api/lab/release", {"place": held, "why": "was released in labgrid"})
                self.info["place"] = None
                log.info("told %s: place %s let go of the bench", self.client.url, held)
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
        self.local = BenchWatch(url, token, self.local_params.get("ca_file"))

    def _get_params(self):
        unit = (self.local.info or {}).get("unit") or {}
        return {"host": self.host, "port": self.url.port or 8470, "serial": unit.get("serial") or "",
                "profile": unit.get("profile") or "", "family": unit.get("family") or "",
                "tls": self.url.scheme == "https"}

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
    lg_exporter.exports["RigBench"] = RigBenchExport
    lg_exporter.main()


if __name__ == "__main__":
    main()
