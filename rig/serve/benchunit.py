"""The unit on a served bench: put there by an admin, and the only one a job may name.

An admin puts a unit on a bench with ``rig serve --unit S --profile P`` (or the
page's unit card). A serial the bench's ledger has never seen is registered
then (:meth:`rig.records.ledger.Ledger.register`: with its profile, who did it
and why), so the first CI job needs no ``--new-unit`` and no later one trips
over it; a known serial must have that profile. From then on a job naming
another serial is refused before anything moves: codes are per unit, and a
wrong one spends a real attempt.

>>> check_named({"serial": "VW123", "profile": "vw-safe"}, "VW124")
Traceback (most recent call last):
...
rig.errors.SafetyRefusal: the bench holds unit VW123 (vw-safe), not VW124: nothing was entered. `rig --place + status --json` says which unit a job got
"""

from __future__ import annotations

import os

from ..errors import ConfigError, SafetyRefusal, UsageError, unknown
from ..records.ledger import Ledger, LedgerRefused
from ..unit.profiles import load_profiles
from .ledgerview import unit_standing


class BenchUnit:
    """The unit on a served bench: ``unit`` (``{"serial", "profile"}`` or None), ``declared`` once
    someone said so (``rig serve --unit``, the page's unit card) rather than the last job naming it."""

    def __init__(self, ledger_path: str):
        self.ledger_path = ledger_path
        self.unit: dict | None = None
        self.declared = False
        self._cached = (None, None)

    def declare(self, serial: str, profile: str) -> None:
        if profile not in load_profiles():
            raise ConfigError(f"no profile {profile!r}; rig profiles list shows them")
        self.unit, self.declared = {"serial": serial, "profile": profile}, True

    def ran(self, serial: str | None, profile: str | None) -> None:
        """A job ran on a unit: on a bench with no declared unit, that one is on it now."""
        if serial and profile:
            self.unit = {"serial": serial, "profile": profile}

    def check(self, named: str | None) -> None:
        check_named(self.unit if self.declared else None, named)

    def standing(self, jobs_done: int | None = None) -> dict | None:
        """The unit as the ledger sees it (attempts, lockout); kept until the unit, the job count or the
        ledger's files change (an attempt counted by hand, through the bench commands or another process)."""
        key = (str(self.unit), jobs_done, _written(self.ledger_path))
        if jobs_done is None or self._cached[0] != key:
            self._cached = (key, unit_standing(self.ledger_path, self.unit))
        return self._cached[1]


def _written(path: str) -> tuple:
    """When the ledger (and its write-ahead log) last changed: a cheap check before a query."""
    out = []
    for f in (path, path + "-wal"):
        try:
            st = os.stat(f)
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def put_on_bench(ledger_path: str, serial: str, profile: str, by: str) -> str | None:
    """Register ``serial`` in the bench's ledger if it is new there; a known unit must have
    ``profile`` (exit 3 otherwise, as ``rig run`` refuses it). Returns why it was registered, or None."""
    why = f"put on the bench (rig serve --unit {serial} --profile {profile})"
    led = Ledger(ledger_path)
    try:
        done = led.register(serial, load_profiles()[profile], who=by, why=why)
    finally:
        led.close()
    return f"by {by}: {why}" if done != "known" else None


class NotOnRecord(LedgerRefused):
    """A serial the ledger has never seen, put on the bench without saying it is a new unit.
    ``near``: the known serials it looks like (two digits swapped, a letter dropped)."""

    def __init__(self, serial: str, near: list[str]):
        self.serial, self.near = serial, near
        hint = f" Did you mean {' or '.join(near)}?" if near else ""
        super().__init__(f"the ledger has never seen a unit {serial!r}.{hint} If it is a new unit, say so and "
                         f"choose its profile: it starts with a full set of attempts")


def identify(ledger_path: str, serial: str, profile_id: str, new_unit: bool, by: str) -> str:
    """The unit a technician put on the bench from the page, checked as ``rig run`` checks it;
    returns its profile.

    A known serial keeps its recorded profile (another one is refused, exit 3); a serial the
    ledger has never seen is refused with the near matches (:class:`NotOnRecord`) unless the
    technician said it is new *and* chose its profile: then it is registered
    (:meth:`Ledger.register`), so a typo never starts a fresh record with a full set of attempts.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "ledger.sqlite")
    >>> identify(path, "VW123", "vw-safe", True, "alice")
    'vw-safe'
    >>> identify(path, "VW132", "", False, "alice")
    Traceback (most recent call last):
    ...
    rig.serve.benchunit.NotOnRecord: the ledger has never seen a unit 'VW132'. Did you mean VW123? If it is a new unit, say so and choose its profile: it starts with a full set of attempts
    """
    profiles = load_profiles()
    if profile_id and profile_id not in profiles:
        raise UsageError(unknown("profile", profile_id, profiles, "choose one of the list"))
    led = Ledger(ledger_path)
    try:
        unit = led.unit(serial)
        if unit is None and not new_unit:
            raise NotOnRecord(serial, led.closest(serial))
        if unit is not None and not profile_id and not new_unit:
            profile_id = unit["profile"] or ""  # the ledger knows what the unit is
        if not profile_id:
            raise UsageError(f"{serial}: " + ("a new unit is registered with its profile" if unit is None else
                                              "no profile on record (a ledger from an older rig)")
                             + ": choose it on purpose, so its attempts are counted by its own family's rules")
        led.register(serial, profiles[profile_id], who=by, why="put on the bench from the page",
                     new=True if new_unit else None)
    finally:
        led.close()
    return profile_id


def check_named(unit: dict | None, named: str | None) -> None:
    """A job naming another serial than the declared unit on the bench is refused (exit 3)."""
    if named and unit and named != unit["serial"]:
        raise SafetyRefusal(f"the bench holds unit {unit['serial']} ({unit['profile']}), not {named}: nothing "
                            f"was entered. `rig --place + status --json` says which unit a job got")
