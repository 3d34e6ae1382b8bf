"""What the safety tests look at: every pin's own history, in one order, and the ledger's rows.

A pin's history (``pin.states``, timed by the clock) says what the hardware did;
one pin's history alone cannot say whether a key came up *before* a rail went
safe, because on the virtual clock both happen at the same instant. A
:class:`PinTape` puts every wired pin's changes on one tape, in the order they
happened, by listening to each pin's own ``states`` list: what is recorded is
exactly what the pins did, whatever the rig's code around them looks like.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from rig.run.job import Job, run_job
from rig.records.ledger import Ledger
from rig.unit.profiles import load_profiles
from rig.records.secret import Code
from rig.sim.backend import reset_unit, sim_backend
from rig.sim.memory import UnitMemory
from rig.cli.ui import Plain
from rig.bench.wiring import load_wiring


@dataclass(frozen=True)
class Edge:
    t: float      # clock time
    kind: str     # rail | key | sense
    name: str
    on: bool      # rail on / key down / sense active

    def __repr__(self) -> str:
        word = {"rail": ("off", "on"), "key": ("up", "down"), "sense": ("low", "high")}[self.kind][self.on]
        return f"{self.name} {word}"


class _Recording(list):
    """A pin's ``states`` list that also writes each new state onto the tape."""

    def __init__(self, states, tape, kind, spec):
        super().__init__(states)
        self.tape, self.kind, self.spec = tape, kind, spec

    def append(self, state) -> None:
        super().append(state)
        self.tape._record(self.kind, self.spec, state.state)


class PinTape:
    """Every change of every wired pin of ``backend``, in order, as rail/key/sense edges.

    ``on_edge(edge)`` is called at the instant the pin changes, before anything
    watching the pin (the simulated unit) has seen it.
    """

    def __init__(self, backend, wiring, on_edge=None):
        self.backend, self.wiring, self.on_edge = backend, wiring, on_edge
        self.edges: list[Edge] = []
        self.start = backend.clock.now()
        self.initial: dict[tuple[str, str], bool] = {}  # what each pin meant when the tape started
        for kind, group in (("rail", wiring.rails), ("key", wiring.keys), ("sense", wiring.senses)):
            for spec in group.values():
                pin = backend.pin_factory.pin(spec.pin)
                self.initial[kind, spec.name] = self._meaning(kind, spec, pin.states[-1].state)
                pin.states = _Recording(pin.states, self, kind, spec)

    @staticmethod
    def _meaning(kind, spec, level: bool) -> bool:
        return level == spec.energised_for(True) if kind == "rail" else level == spec.active_high

    def _record(self, kind, spec, level: bool) -> None:
        on = self._meaning(kind, spec, level)
        edge = Edge(round(self.backend.clock.now(), 6), kind, spec.name, on)
        self.edges.append(edge)
        if self.on_edge is not None:
            self.on_edge(edge)

    def of(self, *kinds) -> list[Edge]:
        return [e for e in self.edges if e.kind in kinds]

    def downs(self) -> list[str]:
        """The keys pressed, one entry per press, in order."""
        return [e.name for e in self.edges if e.kind == "key" and e.on]

    def on_time(self, rail: str) -> float:
        """Seconds the rail was on since the tape started, from its edges (still on: up to now)."""
        total, since = 0.0, (self.start if self.initial["rail", rail] else None)
        for e in self.edges:
            if e.kind == "rail" and e.name == rail:
                if e.on and since is None:
                    since = e.t
                elif not e.on and since is not None:
                    total, since = total + e.t - since, None
        return total + (self.backend.clock.now() - since if since is not None else 0.0)


def committed_attempts(ledger_path, serial: str) -> list[str]:
    """The attempts' outcomes as another process would read them now: committed rows only."""
    if not Path(ledger_path).exists():
        return []
    db = sqlite3.connect(str(ledger_path), timeout=5)
    try:
        return [r[0] for r in db.execute("SELECT outcome FROM attempts WHERE serial=? ORDER BY id", (serial,))]
    except sqlite3.OperationalError:  # no table yet
        return []
    finally:
        db.close()


class Lines:
    """A stream for rig.cli.ui.Plain: what the technician's screen showed, line by line."""

    def __init__(self):
        self.lines: list[str] = []

    def write(self, s):
        self.lines.extend(x for x in s.splitlines() if x)

    def flush(self):
        pass

    def text(self) -> str:
        return "\n".join(self.lines)


class SimBench:
    """A simulated unit, its ledger and run logs in ``tmp``; jobs run in-process as `rig run` runs them.

    After each run, ``tape`` holds that run's pin edges and ``screen`` what the
    technician saw. The unit is the simulator's ideal one (instant boot, exact
    timer) unless ``ideal=False`` or ``knobs`` say otherwise: these tests are
    about what the rig decides; a realistic unit gets tests of its own.
    """

    SERIAL = "U1"

    def __init__(self, tmp, profile: str, code: str, wiring=None, **reset):
        self.tmp, self.profile = Path(tmp), profile
        self.state = self.tmp / "unit.json"
        self.ledger_path = self.tmp / "ledger.sqlite"
        self.logs = self.tmp / "runs"
        self.wiring = wiring or load_wiring()
        self.tape: PinTape | None = None
        self.screen = Lines()
        self.backend = None
        reset.setdefault("ideal", True)
        reset_unit(self.state, profile, code, **reset)

    def run(self, procedure, code=None, on_edge=None, clock=None, sim_profiles=None, **kw):
        """``sim_profiles``: what the simulated unit really does, when it differs from the rig's profiles."""
        self.screen = Lines()

        def make_backend(w):
            extra = {k: v for k, v in (("clock", clock), ("profiles", sim_profiles)) if v is not None}
            self.backend = sim_backend(w, self.state, **extra)
            self.tape = PinTape(self.backend, w, on_edge)
            return self.backend

        led = self.ledger()
        kw.setdefault("new_unit", led.unit(self.SERIAL) is None)
        led.close()
        job = Job(procedure, self.wiring, make_backend, str(self.ledger_path), str(self.logs), self.profile,
                  self.SERIAL, code=Code(code) if code else None,
                  make_ui=lambda bench, redact: Plain(redact, stream=self.screen), **kw)
        return run_job(job)

    @property
    def unit(self) -> UnitMemory:
        return UnitMemory.load(self.state)

    def edit_unit(self, **fields) -> None:
        mem = self.unit
        for k, v in fields.items():
            setattr(mem, k, v)
        mem.save(self.state)

    def ledger(self) -> Ledger:
        return Ledger(self.ledger_path)

    def standing(self):
        led = self.ledger()
        try:
            return led.standing(self.SERIAL, load_profiles()[self.profile])
        finally:
            led.close()

    def spend(self, n: int, outcome: str = "rejected") -> None:
        """Record ``n`` attempts the unit has already had (as `rig units add --attempts-used` does)."""
        led = self.ledger()
        try:
            if led.unit(self.SERIAL) is None:
                led.add_unit(self.SERIAL, self.profile)
            for _ in range(n):
                led.resolve_attempt(led.begin_attempt(self.SERIAL, None), outcome)
        finally:
            led.close()

    def attempts(self) -> list[str]:
        return committed_attempts(self.ledger_path, self.SERIAL)


def write_profile(directory: Path, base_file: str, new_id: str | None, **fields) -> Path:
    """A test profile: the first profile of a shipped firmware note, under a new id (None: the
    same id), with other values for fields written one to a line (``before_lockout=5``,
    ``wrong='"E-01"'``). Point ``RIG_PROFILES`` at ``directory``, or load the file itself.
    """
    import re

    text = (Path(__file__).resolve().parent.parent / "firmware_notes" / base_file).read_text()
    front = text.split("\n---\n")[0]
    second = front.find("\n  - id:", front.find("\n  - id:") + 1)
    if second > 0:  # the first profile only: the note's variants keep their ids in the shipped file
        front = front[:second]
    front += "\n---\n\n# Test profile\n"
    if new_id:
        front = re.sub(r"^family: .*$", f"family: {new_id}", front, count=1, flags=re.M)
        front = re.sub(r"^  - id: .*$", f"  - id: {new_id}", front, count=1, flags=re.M)
    for field, value in fields.items():
        front, n = re.subn(rf"^(      {field}): .*$", lambda m: f"{m.group(1)}: {value}", front, count=1, flags=re.M)
        assert n == 1, field
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{new_id or Path(base_file).stem}.md"
    path.write_text(front)
    return path


def sigkill_when_stopped(argv: list[str], env: dict, timeout: float = 30) -> None:
    """Run a child that freezes itself (SIGSTOP) at the moment under test; SIGKILL it there.

    Fails the test if the child never stops; the child is gone when this returns,
    whatever happened.
    """
    import os
    import signal
    import subprocess
    import time

    import pytest

    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and child.poll() is None:
            with open(f"/proc/{child.pid}/stat") as fh:
                if fh.read().rsplit(") ", 1)[1].startswith("T"):
                    os.kill(child.pid, signal.SIGKILL)
                    child.wait(timeout=10)
                    return
            time.sleep(0.02)
        pytest.fail(f"the child never reached the moment under test (exit {child.poll()}): "
                    f"{child.stderr.read()[-2000:] if child.poll() is not None else 'still running'}")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        child.stderr.close()


def open_on(path) -> list[str]:
    """What this process holds open on ``path`` or on files whose names start with it (``ledger.sqlite``
    takes in its -wal and -shm): read from /proc, not a count of every descriptor, which another
    test's leftovers closed by the garbage collector would move."""
    import os

    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own descriptor, gone already
            continue
        if target.startswith(str(path)):
            held.append(target)
    return held
