"""Whether one more code attempt may be made on a unit: the rule every path shares.

``rig run``'s code entry and a hand press that would submit a code (``rig shell``,
``rig press``, the page's and the API's bench commands, a procedure's plain ``press``)
ask the same question, from the ledger and the profile: refused (exit 3) on a unit
that is permanently locked, locked out or out of attempts, and on the attempt that
would start a lockout or lock the unit for good unless the technician said so in words.

>>> from types import SimpleNamespace as NS
>>> from rig.records.ledger import Ledger
>>> from rig.unit.profiles import load_profiles
>>> led = Ledger(":memory:")
>>> vw = load_profiles()["vw-safe"]
>>> led.register("VW1", vw, who="doc", why="example")
'registered'
>>> led.resolve_attempt(led.begin_attempt("VW1", None), "rejected")
>>> check_attempts(led, "VW1", vw)
Traceback (most recent call last):
...
rig.errors.SafetyRefusal: this is the last attempt before VW1 locks out (1:00:00 powered wait): a wrong code would trigger it. If you are sure of the code, run again with --allow-lockout
>>> check_attempts(led, "VW1", vw, allow_lockout=True)
['--allow-lockout: this is the last attempt; a wrong code starts a 1:00:00 lockout']
"""

from __future__ import annotations

from ..durations import format_duration
from ..errors import SafetyRefusal


def check_attempts(ledger, serial: str, profile, allow_lockout: bool = False, allow_permanent: bool = False,
                   command: str = "rig", again: str = "run again with") -> list[str]:
    """Refuse (SafetyRefusal) one more attempt on ``serial``, or return what must be said
    out loud because an override allowed it. ``again`` words the way to give the override
    (``run again with`` for a command; the API says its own)."""
    st = ledger.standing(serial, profile)  # (run/plan.py asks the same before a run starts)
    unit = f"--unit {serial}"
    if st.permanent:
        raise SafetyRefusal(f"the ledger marks {serial} as permanently locked; only the maker's service can help")
    if st.lockout is not None:
        raise SafetyRefusal(f"{serial} is locked out: {format_duration(st.lockout_left)} of powered wait left. "
                            f"Run `{command} run lockout-wait {unit}` first (or `{command} run unlock {unit}`)")
    if st.left <= 0:  # a ledger that says so without an open lockout was edited by hand
        raise SafetyRefusal(f"no attempts left on {serial} by the ledger and no lockout open; see "
                            f"`{command} units show {serial}`")
    loud = []
    if st.permanent_left is not None and st.permanent_left <= 1:
        if not allow_permanent:
            raise SafetyRefusal(f"a wrong code now would lock {serial} PERMANENTLY ({st.total} of "
                                f"{st.permanent_after} used). If you are certain of the code, {again} "
                                f"--allow-permanent-lock")
        loud.append("--allow-permanent-lock: a wrong code now locks the unit for good")
    if st.left == 1:
        wait = format_duration(profile.lockout_wait(len(ledger.lockouts(serial)) + 1))
        if not allow_lockout:
            raise SafetyRefusal(f"this is the last attempt before {serial} locks out ({wait} powered wait): "
                                f"a wrong code would trigger it. If you are sure of the code, {again} "
                                f"--allow-lockout")
        loud.append(f"--allow-lockout: this is the last attempt; a wrong code starts a {wait} lockout")
    return loud


def settle_attempt(ledger, serial: str, profile, outcome: str, run_id) -> dict | None:
    """After an attempt the unit refused, or whose answer nobody could read: the unit is now
    permanently locked, or in its lockout if that was the window's last attempt. Returns the
    lockout it opened, if any."""
    if outcome == "accepted":
        return None
    if ledger.standing(serial, profile).permanent_left == 0:
        ledger.mark_permanent(serial)
        return None
    return ledger.open_lockout_if_spent(serial, profile, run_id)
