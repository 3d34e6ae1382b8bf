"""Which lab place holds this bench, for which labgrid user: the server's side of a reservation.

In a lab, labgrid's coordinator decides who holds which bench (a *place*,
acquired by a labgrid user ``host/user``), and the bench's exporter
(``rig-lg-exporter``, the only credential with the ``exporter`` role) tells
``rig serve`` when its place is acquired, by whom, and when it is released.
While a place holds the bench, a request acts on it only if it names that
place (``X-Rig-Place``, which ``rig --place`` sends) *and* comes with a token
bound to the labgrid user holding it (``rig serve token new --lab-user
'runner-07/*'``): a second CI job with its own token cannot press, power,
queue, answer or stop on another job's place. The bench's own user on the Pi
(the CLI's token from the discovery file) may always stop and make safe.

A coordinator restart forgets every lock (labgrid's design). The exporter then
says the place was *lost*, not released: the bench keeps its running job for a
grace period in which the holder acquires the place again (``rig --place``
does it by itself); only another holder, or the grace running out, stops it.

>>> lease = Lease(lab=True)
>>> lease.check(None)
Traceback (most recent call last):
...
rig.errors.BenchBusy: this bench belongs to a lab and no place holds it: reserve and acquire its place with labgrid first (rig lab status shows the places)
>>> lease.hold("bench-01", "exporter", "runner-07/ci-41")["user"]
'runner-07/ci-41'
>>> lease.check("bench-01", {"name": "runner-07", "lab": "runner-07/*"})
>>> lease.check("bench-01", {"name": "runner-08", "lab": "runner-08/*"})
Traceback (most recent call last):
...
rig.errors.BenchBusy: place bench-01 is held by labgrid user runner-07/ci-41; the token runner-08 acts only for runner-08/*
"""

from __future__ import annotations

import fnmatch
import threading
import time

from ..errors import BenchBusy, ConfigError

GRACE = 300.0   # s a running job is kept after labgrid lost its place (a coordinator restart)
SAFER = ("stop", "safe")   # actions that only make the bench safer


class Lease:
    """The place (and labgrid user) holding the bench, if any."""

    def __init__(self, lab: bool = False, grace: float = GRACE, on_expire=None):
        self.lab = lab
        self.grace = grace
        self.on_expire = on_expire  # (place, why): the grace ran out; the station stops the place's jobs
        self._holder: dict | None = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._known = threading.Condition(self._lock)

    @property
    def holder(self) -> dict | None:
        with self._lock:
            return dict(self._holder) if self._holder else None

    def user_of(self, place: str | None) -> str | None:
        """The labgrid user holding the bench through ``place`` (None: not that place, or not known)."""
        with self._lock:
            return self._holder["user"] if place and self._holder and self._holder["place"] == place else None

    def hold(self, place: str, by: str, user: str | None = None) -> dict:
        """The exporter says ``place`` acquired this bench, for labgrid user ``user`` (None: not known yet).

        A repeat is harmless; it fills in the user, and ends a grace period when the user is the
        one who held the place before. Another place, or another user, must be released first.
        """
        place = _name(place)
        user = _user(user)
        with self._lock:
            h = self._holder
            if h and h["place"] != place:
                raise BenchBusy(f"this bench is held by place {h['place']}; it must be released "
                                f"before {place} can hold it")
            if h and user and h["user"] and h["user"] != user:
                raise BenchBusy(f"place {place} holds this bench for {h['user']}; it must be released "
                                f"before {user} can hold it")
            if not h:
                h = self._holder = {"place": place, "user": user, "by": by, "since": time.time(), "lost": None}
            elif user:
                h["user"] = user
                if h["lost"]:  # the holder took its place back within the grace period
                    h["lost"] = None
                    self._cancel()
            self._known.notify_all()
            return dict(h)

    def lose(self, place: str, why: str) -> dict | None:
        """labgrid no longer has ``place`` acquired, but nobody released it (its coordinator restarted):
        keep the holder and its running job for :attr:`grace` seconds. Returns the holder, or None."""
        place = _name(place)
        with self._lock:
            h = self._holder
            if not h or h["place"] != place:
                return None
            if not h["lost"]:
                h["lost"] = {"at": time.time(), "until": time.time() + self.grace, "why": why}
                self._timer = threading.Timer(self.grace, self._expire, (place, h["lost"]["at"]))
                self._timer.daemon = True
                self._timer.start()
            return dict(h)

    def _expire(self, place: str, at: float) -> None:
        with self._lock:
            h = self._holder
            if not h or h["place"] != place or not h["lost"] or h["lost"]["at"] != at:
                return  # taken back, or released, meanwhile
        if self.on_expire is not None:
            self.on_expire(place, f"was not acquired again within {self.grace:.0f} s after labgrid lost it")
        else:
            self.release(place)

    def release(self, place: str) -> dict | None:
        """The place let go (or was forced to); returns what it held, or None if it held nothing."""
        place = _name(place)
        with self._lock:
            if not self._holder or self._holder["place"] != place:
                return None
            held, self._holder = self._holder, None
            self._cancel()
            return held

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def wait_known(self, timeout: float) -> None:
        """Wait (a moment, from a worker thread) for the exporter to say which labgrid user holds the
        place: it learns that from the coordinator just after the acquire."""
        end = time.monotonic() + timeout
        with self._known:
            while self._holder and not self._holder["user"] and time.monotonic() < end:
                self._known.wait(min(0.1, max(0.0, end - time.monotonic())))

    def pending(self) -> bool:
        with self._lock:
            return bool(self._holder and not self._holder["user"])

    def check(self, place: str | None, who: dict | None = None, action: str = "job") -> None:
        """Refuse a request on the bench from anyone but the holding place's labgrid user.

        ``who``: the request's credential (``name``; ``lab``, the labgrid users its token acts
        for; ``via``); None for a check of the place alone (a queued job whose credential
        passed when it was queued). ``action``: ``job``, ``command``, ``answer``, ``stop``,
        ``safe``: the bench's own user on this machine may always stop and make safe.
        """
        with self._lock:
            h = dict(self._holder) if self._holder else None
        if who is not None and who.get("via") == "cli" and action in SAFER:
            return
        if h is None:
            if place:
                raise BenchBusy(f"place {place} does not hold this bench (labgrid has not told it so): "
                                f"acquire it with `labgrid-client -p {place} acquire`")
            if self.lab:
                raise BenchBusy("this bench belongs to a lab and no place holds it: reserve and acquire its "
                                "place with labgrid first (rig lab status shows the places)")
            return
        if place != h["place"]:
            if not place:
                raise BenchBusy(f"this bench is held by lab place {h['place']} (labgrid); run through it "
                                f"with `rig --place {h['place']} ...` after acquiring it, or wait")
            raise BenchBusy(f"this bench is held by place {h['place']}, not {place}: check "
                            f"`labgrid-client -p {place} show`")
        if who is None:
            return
        if not h["user"]:
            raise BenchBusy(f"the bench's exporter has not said yet which labgrid user holds place {place}; "
                            f"try again in a moment")
        pattern = who.get("lab")
        if not pattern:
            raise BenchBusy(f"the token {who.get('name')} is not bound to a labgrid user, so it cannot act on "
                            f"place {place} (held by {h['user']}): give each CI runner or person its own token, "
                            f"`rig serve token new --role operator --name NAME --lab-user 'HOST/*'`")
        if not fnmatch.fnmatchcase(h["user"], pattern):
            raise BenchBusy(f"place {place} is held by labgrid user {h['user']}; the token {who.get('name')} "
                            f"acts only for {pattern}")
        if h["lost"] and action not in ("answer", *SAFER):
            left = max(0, int(h["lost"]["until"] - time.time()))
            raise BenchBusy(f"labgrid lost place {place} (its coordinator restarted?): the running job goes on "
                            f"for {left} s more; acquire the place again to carry on "
                            f"(labgrid-client -p {place} acquire)")


def _name(place) -> str:
    if not isinstance(place, str) or not place.strip() or len(place) > 100:
        raise ConfigError("a place is {\"place\": \"NAME\"}, the labgrid place's name")
    return place.strip()


def _user(user) -> str | None:
    if user is None or user == "":
        return None
    if not isinstance(user, str) or len(user) > 200 or "/" not in user:
        raise ConfigError("a labgrid user is \"host/user\", as labgrid's coordinator has it")
    return user
