"""A simulated bench for job-level tests: a simulated unit, a ledger and a log dir in tmp_path."""

from rig.run.job import Job, run_job
from rig.records.ledger import Ledger
from rig.unit.profiles import load_profiles
from rig.sim.backend import reset_unit, sim_backend
from rig.sim.memory import UnitMemory
from rig.records.secret import Code
from rig.cli.ui import Plain
from rig.bench.wiring import load_wiring

from .spare_keys import SPARE_WIRING


def drivable(wiring=None) -> list[str]:
    """Every profile a bench with this pin map (default: the test bench with every spare key) can drive
    as it is: its keys wired (or on its CAN bus), and everything it needs of the car's network there."""
    from rig.unit.canunit import can_keys, can_problems

    wiring = wiring or load_wiring(SPARE_WIRING)
    return sorted(p.id for p in load_profiles().values()
                  if p.keys_needed <= set(wiring.keys) | can_keys(p) and not can_problems(wiring, p))


class Bench:
    """A simulated unit, a ledger and a log dir in tmp_path; runs jobs in-process."""

    def __init__(self, tmp_path, profile, code, wiring=None, wake_set=None, **reset):
        self.tmp, self.profile, self.code = tmp_path, profile, code
        self.wake_set = wake_set  # rig --wake-set for every run
        self.state = tmp_path / "unit.json"
        self.ledger = str(tmp_path / "ledger.sqlite")
        self.logs = str(tmp_path / "runs")
        self.wiring = wiring or load_wiring(SPARE_WIRING)  # the default's eight keys and the spares
        self.lines = []
        reset.setdefault("serial", "SIM-1")
        reset_unit(self.state, profile, code, **reset)

    def run(self, procedure, code=None, ui=None, **kw):
        kw.setdefault("new_unit", not self.known())
        kw.setdefault("wake_set", self.wake_set)

        def backend(w):
            self.backend = sim_backend(w, self.state)
            return self.backend

        job = Job(procedure, self.wiring, backend, self.ledger, self.logs,
                  self.profile, "U1", code=Code(code) if code else None,
                  make_ui=ui or (lambda bench, redact: Plain(redact, stream=_Lines(self.lines))), **kw)
        return run_job(job)

    def known(self) -> bool:
        led = Ledger(self.ledger)
        try:
            return led.unit("U1") is not None
        finally:
            led.close()

    def presses(self, key):
        """How often ``key`` went down in the last run, read from its pin (the log masks entry presses)."""
        spec = self.wiring.keys[key]
        levels = [s.state == spec.active_high for s in self.backend.pin_factory.pin(spec.pin).states]
        return sum(1 for a, b in zip(levels, levels[1:]) if b and not a)

    @property
    def unit(self):
        return UnitMemory.load(self.state)

    def standing(self):
        led = Ledger(self.ledger)
        try:
            return led.standing("U1", load_profiles()[self.profile])
        finally:
            led.close()


class _Lines:
    def __init__(self, into):
        self.into = into

    def write(self, s):
        self.into.extend(x for x in s.splitlines() if x)

    def flush(self):
        pass
