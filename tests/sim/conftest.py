"""Helpers for the simulator tests: a fresh simulated unit on a bench, and its display history.

The expected display sequences live in the test modules, written by hand from the
"Expected display sequence" sections of ``firmware_notes/*.md``; nothing here reads a
profile to decide what a unit should show.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from pathlib import Path

import pytest

from rig.bench.bench import Bench
from rig.unit.profiles import load_profiles
from rig.sim.backend import reset_unit, sim_backend
from rig.sim.knobs import REALISTIC, realistic_for
from rig.sim.keys import RESULT_DELAY  # only to time a verdict the display does not show (VW: SAFE -> SAFE)
from rig.bench.wiring import load_wiring

from ..spare_keys import SPARE_WIRING, spare_wiring_text

RADIO = "FM1 87.5"  # the notes' example of the normal radio display

# The unit counts its lockout on its own clock, which runs slow by the timer_drift knob
# (realistic default; rig/sim/knobs.py). A wait the notes give as 1 h is served in
# unit_clock(3600) of powered time; the tests write the notes' value through it.
DRIFT = REALISTIC["timer_drift"]


# A line that answers a key (a verdict, WAIT after a wrong code) shows up to this late
# (display_lag); times measured from such a line carry that much slack.
LAG = REALISTIC["display_lag"][1]


def unit_clock(nominal: float) -> float:
    """Powered seconds the unit needs to count ``nominal`` seconds of its lockout."""
    return nominal * (1 + DRIFT)

# The default pin map has eight keys; the families with other buttons get a test bench's
# spares (tests/spare_keys.py). VW's dx, vf and tuneup (vw-beta, vw-gamma2, vw-premium4):
VW_WIRING = spare_wiring_text({"dx": 9, "tp": 10, "rds": 11, "fm": 23, "vf": 25, "tuneup": 26})


class Sim:
    """A bench on the sim backend, plus the display history in the forms the tests compare."""

    def __init__(self, bench: Bench, backend, state: Path | None = None):
        self.bench, self.backend = bench, backend
        self.clock = bench.clock
        self.unit = backend.unit
        self.state = state  # the unit's memory file (to open the same unit again)
        self._frozen = None
        self.events: list = []  # every bench event from here on (rail, key, sense, display)
        self._unsubscribe = bench.events.subscribe(self.events.append)

    def edges(self, kind: str, what: str) -> list[tuple[float, object]]:
        """(virtual time, new value) of each ``kind`` event on ``what``, e.g. edges("sense", "unit_on")."""
        return [(round(e.t, 6), e.new) for e in self.events if e.kind == kind and e.what == what]

    def log(self) -> list[tuple]:
        """The event log as tuples, for a determinism check (timestamps included)."""
        return [(round(e.t, 6), e.kind, e.what, e.old, e.new) for e in self.events]

    def sensed(self) -> dict[str, bool]:
        return {n: sense.value for n, sense in self.bench.senses.items()}

    def freeze(self) -> None:
        """Keep the history (display and events) as it was at the end of the test's block, before
        the bench is released (releasing switches ACC off, which blanks the display)."""
        self._frozen = list(self.backend.display.history())
        self._unsubscribe()

    def _history(self):
        return self._frozen if self._frozen is not None else self.backend.display.history()

    # -- the display ------------------------------------------------------------
    def lines(self, since: int = 0) -> list[tuple[float, str]]:
        """Every display line as (virtual time, text), raw."""
        return [(round(l.t, 6), l.text) for l in self._history()[since:]]

    def texts(self, since: int = 0) -> list[str]:
        """Every display line, raw ('' = display blank / unit off)."""
        return [text for _, text in self.lines(since)]

    def shown(self, since: int = 0) -> list[str]:
        """The display lines that stayed on the display for some time: a line replaced at the
        same virtual instant is dropped (nobody and no tap can see a zero-length display).
        The raw history (``texts``) is what the first-press tests check: no zero-length line."""
        lines = self.lines(since)
        return [text for i, (t, text) in enumerate(lines) if i + 1 == len(lines) or lines[i + 1][0] > t]

    def mark(self) -> int:
        return len(self._history())

    def time_of(self, text: str, since: int = 0) -> float:
        """Virtual time of the first line ``text`` at or after index ``since``."""
        for t, got in self.lines(since):
            if got == text:
                return t
        raise AssertionError(f"{text!r} never shown after line {since}: {self.lines(since)}")

    def last_time(self) -> float:
        return self.lines()[-1][0]

    @property
    def now(self) -> float:
        return self.clock.now()

    # -- the bench ------------------------------------------------------------------
    @property
    def boot(self) -> float:
        """Seconds from power at the connector to the unit showing its state and taking keys
        (the boot_delay and splash knobs of this unit)."""
        k = self.unit.k
        return k["boot_delay"] + (k["splash_for"] if k["splash"] else 0.0)

    def power(self, rail: str, on: bool, wait_boot: bool = True) -> None:
        """Switch a rail. When that powers the unit up, wait out its boot, as a technician
        waits for the display before pressing anything (``wait_boot=False``: do not)."""
        was_on = self.unit.on
        self.bench.power(rail, on)
        if wait_boot and self.unit.on and not was_on:
            self.sleep(self.boot)

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)

    def sleep_until(self, t: float) -> None:
        self.clock.sleep_until(t)

    def press(self, combo: str, hold: float = 0.3, times: int = 1, gap: float = 0.3) -> None:
        self.bench.press(combo, hold=hold, times=times, gap=gap)

    def press_each(self, keys: list[str], counts: list[int], hold: float = 0.3, gap: float = 0.3) -> None:
        """Press keys[i] counts[i] times (one key per digit position)."""
        for key, n in zip(keys, counts):
            if n:
                self.press(key, hold=hold, times=n, gap=gap)
                self.sleep(gap)

    def cut_battery(self, seconds: float) -> None:
        """Switch ACC and ignition off (if on: the car's order), hold constant power off ``seconds``,
        restore it. ACC and ignition stay off."""
        self.power("acc", False)
        if "ignition" in self.bench.rails:
            self.power("ignition", False)
        self.power("battery", False)
        self.sleep(seconds)
        self.power("battery", True)

    def power_on_holding(self, combo: str, hold: float) -> None:
        """Hold ``combo`` down, switch ACC on, keep holding ``hold`` seconds from ACC on, let go."""
        self.bench.down(combo)
        self.power("acc", True, wait_boot=False)
        self.sleep(hold)
        self.bench.up(combo)


@pytest.fixture
def vw_wiring_path(tmp_path) -> Path:
    path = tmp_path / "vw-bench.yaml"
    path.write_text(VW_WIRING, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def profiles():
    """The shipped profiles, loaded once (loading takes ~0.08 s; the sim only reads them)."""
    return load_profiles()


@pytest.fixture
def sim(tmp_path, profiles):
    """``with sim("ford", "1234", state="unlocked") as s:`` - a fresh unit on a fresh bench.

    Each call starts a new unit (its own memory file), so one test may run two.
    The history stays readable after the block, as it was at the block's end."""
    counter = itertools.count()

    @contextmanager
    def start(profile: str | None, code: str | None = None, wiring_path=None, again: Path | None = None,
              **reset_kw):
        """``again=s.state`` opens the same unit (its memory file) in a new command."""
        if again is None:
            state = tmp_path / f"unit-{next(counter)}.json"
            # Realistic unless the test asks for ideal (whatever the shipped default). The notes'
            # display sequences say nothing of a boot splash: the family tests run without it
            # (test_knobs_keys checks it).
            base = {} if reset_kw.get("ideal") else {**realistic_for(profile), "splash": ""}
            reset_kw["knobs"] = {**base, **(reset_kw.get("knobs") or {})}
            reset_unit(state, profile, code, profiles=profiles, **reset_kw)
        else:
            state = again
        w = load_wiring(wiring_path or SPARE_WIRING)
        backend = sim_backend(w, state, profiles=profiles)
        try:
            with Bench(w, backend) as bench:
                s = Sim(bench, backend, state)
                yield s
                s.freeze()
        finally:
            backend.close()

    return start


__all__ = ["LAG", "RADIO", "RESULT_DELAY", "Sim", "VW_WIRING", "unit_clock"]


def run_twice(start, script):
    """Run ``script`` on two fresh simulated units made by ``start()``; returns both, for a
    determinism check (same inputs, same display history, virtual timestamps included)."""
    units = []
    for _ in range(2):
        with start() as s:
            script(s)
        units.append(s)
    return units
