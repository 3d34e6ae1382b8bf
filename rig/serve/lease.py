"""Which lab place holds this bench: the server's side of a labgrid reservation.

In a lab, labgrid's coordinator decides who holds which bench (a *place*), and
the bench's exporter (``rig-lg-exporter``) tells ``rig serve`` when its place is
acquired and released. While a place holds the bench, only requests naming that
place (the ``X-Rig-Place`` header ``rig --place`` sends) may run jobs, press keys
or switch rails; a stop is always allowed, since stopping only makes things safer.
A server started with ``--lab`` refuses jobs while no place holds it at all.

labgrid has no authentication (identity is a self-declared ``host/user``), so
this guards against mistakes - two jobs driving one unit - not against a
hostile client; the server's tokens are what keep strangers out.

>>> lease = Lease(lab=True)
>>> lease.check(None)
Traceback (most recent call last):
...
rig.errors.BenchBusy: this bench belongs to a lab and no place holds it: reserve and acquire its place with labgrid first (rig lab status shows the places)
>>> lease.hold("bench-01", "exporter")["place"]
'bench-01'
>>> lease.check("bench-01")
>>> lease.check("bench-02")
Traceback (most recent call last):
...
rig.errors.BenchBusy: this bench is held by place bench-01, not bench-02: check `labgrid-client -p bench-02 show`
"""

from __future__ import annotations

import threading
import time

from ..errors import BenchBusy, ConfigError


class Lease:
    """The place holding the bench, if any."""

    def __init__(self, lab: bool = False):
        self.lab = lab
        self._holder: dict | None = None
        self._lock = threading.Lock()

    @property
    def holder(self) -> dict | None:
        with self._lock:
            return dict(self._holder) if self._holder else None

    def hold(self, place: str, by: str) -> dict:
        """The exporter says ``place`` acquired this bench (a repeat of the same place is harmless)."""
        place = _name(place)
        with self._lock:
            if self._holder and self._holder["place"] != place:
                raise BenchBusy(f"this bench is held by place {self._holder['place']}; it must be released "
                                f"before {place} can hold it")
            if not self._holder:
                self._holder = {"place": place, "by": by, "since": time.time()}
            return dict(self._holder)

    def release(self, place: str) -> dict | None:
        """The place let go (or was forced to); returns what it held, or None if it held nothing."""
        place = _name(place)
        with self._lock:
            if not self._holder or self._holder["place"] != place:
                return None
            held, self._holder = self._holder, None
            return held

    def check(self, place: str | None) -> None:
        """Refuse a job or a bench command from anyone but the holding place."""
        with self._lock:
            holder = self._holder
        if holder is None:
            if place:
                raise BenchBusy(f"place {place} does not hold this bench (labgrid has not told it so): "
                                f"acquire it with `labgrid-client -p {place} acquire`")
            if self.lab:
                raise BenchBusy("this bench belongs to a lab and no place holds it: reserve and acquire its "
                                "place with labgrid first (rig lab status shows the places)")
            return
        if place != holder["place"]:
            if not place:
                raise BenchBusy(f"this bench is held by lab place {holder['place']} (labgrid); run through it "
                                f"with `rig --place {holder['place']} ...` after acquiring it, or wait")
            raise BenchBusy(f"this bench is held by place {holder['place']}, not {place}: check "
                            f"`labgrid-client -p {place} show`")


def _name(place) -> str:
    if not isinstance(place, str) or not place.strip() or len(place) > 100:
        raise ConfigError("a place is {\"place\": \"NAME\"}, the labgrid place's name")
    return place.strip()
