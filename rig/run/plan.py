"""The whole plan, checked before the first pin moves: the permissions and answers a run will need.

A run that sits out a half-hour lockout and only then refuses the code it came to
enter, or that an unattended CI job finds one missing ``--answer`` at a time (each a
failed run in the history), wastes a bench. From the procedure, the profile and the
ledger the rig works out beforehand what the run will ask for: the override words
the code entry will need when its turn comes (after any lockout wait on its way), and
every prompt an unattended run cannot answer.
"""

from __future__ import annotations

from ..errors import SafetyRefusal, UsageError
from ..records.standing import Standing
from .procedure import Procedure, load_procedure
from .references import has


def steps(proc: Procedure, profile=None, _seen=None, _sure=True):
    """Every step a run of ``proc`` may reach, called procedures included, as (step, sure):
    ``sure`` when the profile alone decides that it is reached. A step whose condition the
    profile decides as false is left out."""
    seen = (_seen or set()) | {proc.source}
    for step in proc.steps:
        decided = decide(step.cond, profile)
        if decided is False:
            continue
        sure = _sure and decided is True
        yield step, sure
        if step.kind == "call" and isinstance(step.args.get("procedure"), str):
            try:
                sub = load_procedure(str(step.args["procedure"]), beside=step.file)
            except Exception:  # noqa: BLE001  (a call the procedure check reports with file:line)
                continue
            if sub.source not in seen:
                yield from steps(sub, profile, seen, sure)


def decide(cond, profile) -> bool | None:
    """A step's condition as the profile alone decides it (``has:``), or None where only the
    run can tell (the display, a sense, the tap, the ledger)."""
    if not cond:
        return True
    (k, v), = cond.items()
    try:
        if k == "has":
            return None if profile is None else bool(has(profile, v))
        if k == "not":
            inner = decide(v, profile)
            return None if inner is None else not inner
        if k in ("all", "any"):
            parts = [decide(c, profile) for c in v]
            if k == "all":
                return False if False in parts else (True if all(parts) else None)
            return True if True in parts else (False if all(p is False for p in parts) else None)
    except Exception:  # noqa: BLE001  (a reference only the run resolves)
        return None
    return None


def enters_code(proc: Procedure, profile=None) -> bool:
    return any(s.kind == "enter_code" for s, _ in steps(proc, profile))


def waits_out_lockout(proc: Procedure, profile=None) -> bool:
    return any(s.kind == "wait_until" and s.args.get("lockout") for s, _ in steps(proc, profile))


def check_permissions(ledger, serial: str, profile, proc: Procedure, allow_lockout: bool, allow_permanent: bool,
                      command: str = "rig") -> None:
    """Refuse now (SafetyRefusal, exit 3) a run that would sit out the unit's lockout and then
    refuse its code entry, naming the words it needs. (A run whose entry comes without a wait
    is refused by the entry itself, a few seconds in, and recorded.)"""
    if not enters_code(proc, profile):
        return
    st = ledger.standing(serial, profile)
    if st.lockout is not None and waits_out_lockout(proc, profile):
        check_after_wait(ledger, serial, profile, st, allow_lockout, allow_permanent, command)


def check_after_wait(ledger, serial: str, profile, st: Standing | None, allow_lockout: bool, allow_permanent: bool,
                     command: str = "rig") -> None:
    """Before a lockout wait in a run that enters a code after it: will that entry need words
    this run was not given? Said before the wait, not after it has been sat out."""
    st = st or ledger.standing(serial, profile)
    after = profile.attempts.after_lockout
    wait = "the lockout wait" if st.lockout is None else "its lockout wait"
    if st.permanent_left is not None and st.permanent_left <= 1 and not allow_permanent:
        raise SafetyRefusal(f"after {wait}, a wrong code would lock {serial} PERMANENTLY ({st.total} of "
                            f"{st.permanent_after} used): this run would sit the wait out and then refuse the "
                            f"code. If you are certain of it, run again with --allow-permanent-lock (or "
                            f"`{command} run lockout-wait --unit {serial}` alone)")
    if after == 1 and not allow_lockout:
        raise SafetyRefusal(f"after {wait}, {profile.id} allows 1 attempt before the next lockout, so the code "
                            f"this run enters is the last: it would sit the wait out and then refuse it. If you "
                            f"are sure of the code, run again with --allow-lockout (or "
                            f"`{command} run lockout-wait --unit {serial}` alone)")


def missing_answers(proc: Procedure, profile, answers: dict, yes: bool) -> tuple[list[str], list[str]]:
    """An unattended run's unanswerable prompts: (those every run asks, those it may ask),
    each as the option that answers it (``--answer model=...``, ``--yes``)."""
    sure, maybe = [], []
    for step, certain in steps(proc, profile):
        if step.kind != "prompt":
            continue
        name, kind = step.args.get("record"), step.args.get("kind", "yesno")
        if isinstance(name, str) and name in answers or kind == "yesno" and yes:
            continue
        need = f"--answer {name}=..." if isinstance(name, str) else "--yes"
        (sure if certain else maybe).append(need)
    return list(dict.fromkeys(sure)), [m for m in dict.fromkeys(maybe) if m not in sure]


def check_answers_up_front(proc: Procedure, profile, answers: dict, yes: bool) -> None:
    """An unattended run (``--yes``) that would stop at a prompt nobody can answer is refused
    before it starts, listing every answer it needs at once."""
    sure, maybe = missing_answers(proc, profile, answers, yes)
    if sure:
        also = f" (and, if it asks: {' '.join(maybe)})" if maybe else ""
        raise UsageError(f"{proc.name} runs unattended (--yes) and would stop at questions nobody can answer: "
                         f"add {' '.join(sure)}{also}; nothing was switched")
