"""``rig selftest``: the commissioning a bench runs on its first power-on and after any change.

A procedure of measurements, each with its limits (OpenHTF's idea: a test is a list
of named measurements that pass or fail against limits, and the record keeps the
values): the pin library and its chip, the kernel's ``persist_gpio_outputs``, every
output's external pull-down, each relay followed by its rail sense (with the decay
after a cut timed and proposed as ``timing.rail_settle``), a welded contact, the
interlock, the display tap, and last the dead-man: it must trip within T of the last
beat, stay tripped, and the bench must refuse to switch anything on after it.

Run with **no head unit connected**: it switches every rail.

>>> from rig.bench.wiring import load_wiring
>>> from rig.bench.backends import mock_backend
>>> from rig.bench.clock import VirtualClock
>>> w = load_wiring()
>>> results = run_selftest(w, mock_backend(w, VirtualClock(), circuit={}))
>>> all(m.passed is not False for m in results), [m.name for m in results][:3]
(True, ['pin library', 'gpiochip', 'persist_gpio_outputs'])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import BenchRefused
from .backends import HEADER_CHIPS, chip_identity, gpio_outputs_persist
from .bench import Bench
from .channels import _HeldInput
from .heartbeat import DeadmanTripped, SETTLE

FOLLOW = 2.0       # seconds a rail's sense has to follow its relay switching on
DECAY_MAX = 5.0    # a rail still live this long after its cut has no working bleed
MARGIN = 1.5       # rail_settle proposed: the slowest decay measured, times this


@dataclass
class Measurement:
    """One named measurement: its value, the limits it had to meet, and whether it did."""

    name: str
    value: object
    limit: str
    passed: bool | None   # None: not measured on this bench (said why in ``note``)
    note: str = ""
    unit: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def run_selftest(wiring, backend, sys_root: str = "/sys") -> list[Measurement]:
    """Every measurement, in order; the bench is released safe at the end whatever happened."""
    out: list[Measurement] = []
    hardware = backend.name == "hardware"
    out += _library(wiring, backend, hardware, sys_root)
    out += _pulldowns(wiring, backend)
    try:
        bench = Bench(wiring, backend).open()
    except DeadmanTripped as exc:
        out.append(Measurement("dead-man off before the first beat, on after it", "no", "yes", False, str(exc)))
        return out
    with bench:
        out.append(Measurement("dead-man off before the first beat, on after it", "yes", "yes",
                               True if wiring.heartbeat and wiring.heartbeat.readback is not None else None,
                               "" if wiring.heartbeat and wiring.heartbeat.readback is not None
                               else "no read-back in the pin map"))
        out += _rails(wiring, bench)
        out.append(_interlock(bench))
        out.append(_tap(bench))
        out += _deadman(wiring, bench)
    return out


def _library(wiring, backend, hardware, sys_root) -> list[Measurement]:
    lib = backend.pin_library
    if not hardware:
        return [Measurement("pin library", lib, "lgpio on hardware", True, "a mock bench: nothing to drive"),
                Measurement("gpiochip", "-", " or ".join(HEADER_CHIPS), None, "a mock bench"),
                Measurement("persist_gpio_outputs", "-", "N", None, "a mock bench")]
    wanted = getattr(wiring, "pin_library", None) or "lgpio"
    chip, label = chip_identity(backend.pin_factory) if lib.startswith("lgpio") else (None, "-")
    keeps, detail = gpio_outputs_persist(sys_root)
    return [Measurement("pin library", lib, wanted, lib.lower().startswith(wanted.replace("rpigpio", "rpi.gpio"))),
            Measurement("gpiochip", f"gpiochip{chip} {label}", " or ".join(HEADER_CHIPS),
                        label in HEADER_CHIPS if lib.startswith("lgpio") else None),
            Measurement("persist_gpio_outputs", detail, "N (dtparam=strict_gpiod)", keeps is False,
                        "" if keeps is False else "add dtparam=strict_gpiod to config.txt and reboot")]


def _pulldowns(wiring, backend) -> list[Measurement]:
    """Each output's 10k pull-down, read with the Pi's own pull-up on: it must still read low.

    Done before the bench opens, so the dead-man has never beaten and the relay and
    key supply is off: pulling a pin up here cannot switch anything.
    """
    outputs = [(f"rail {r.name}", r.pin, r.pull) for r in wiring.rails.values()]
    outputs += [(f"key {k.name}", k.pin, k.pull) for k in wiring.keys.values()]
    if wiring.heartbeat is not None:
        outputs.append(("heartbeat", wiring.heartbeat.pin, "down"))
    missing = []
    for what, pin, pull in outputs:
        dev = _HeldInput(pin, pull_up=pull == "down", pin_factory=backend.pin_factory)
        try:
            if not dev.is_active:  # pull_up=True: active means low; a pull-up's output reads high with pull-down on
                missing.append(f"{what} (GPIO{pin})")
        finally:
            dev.close()
    return [Measurement("external pull resistors", f"{len(outputs) - len(missing)} of {len(outputs)}",
                        f"all {len(outputs)}", not missing,
                        "missing on " + ", ".join(missing) + " (wiring/README.md section 3)" if missing else "")]


def _wait(bench, sense, want: bool, limit: float) -> float | None:
    start = bench.clock.now()
    ok = bench.clock.wait_for(lambda: bench.read(sense) == want, limit, poll=0.005)
    return bench.clock.now() - start if ok else None


def _rails(wiring, bench) -> list[Measurement]:
    out, decays = [], []
    # switched rails first (the interlock's order), then the constant ones, each back to safe
    order = sorted(bench.rails.values(), key=lambda r: r.spec.safe_on)
    for rail in order:
        sense = wiring.rail_sense(rail.name)
        if sense is None:
            out.append(Measurement(f"{rail.name}: sense follows the relay", "-", f"within {FOLLOW:g}s", None,
                                   "no rail sense in the pin map: powered time is assumed from the relay"))
            continue
        energised_live = rail.spec.contact == "no"  # what the connector has while the relay is energised
        # a cut is a decay (the bleed, capacitors): DECAY_MAX; voltage arriving is the contact: FOLLOW
        rail.set(not rail.spec.safe_on)             # energise it
        follow = _wait(bench, sense.name, energised_live, FOLLOW if energised_live else DECAY_MAX)
        rail.set(rail.spec.safe_on)                 # and back
        back = _wait(bench, sense.name, not energised_live, DECAY_MAX if energised_live else FOLLOW)
        ok = follow is not None and back is not None
        decay = back if energised_live else follow
        if decay is not None:
            decays.append(decay)
        note = ""
        if follow is None:
            note = ("the connector never followed the relay: " + ("welded contact, or the sense is miswired"
                    if not energised_live else "check the fuse, the supply and the sense wiring"))
        elif back is None:
            note = ("the connector still has voltage with the relay released: a welded contact (replace the "
                    "relay), or no bleed" if energised_live else "the connector never came back")
        out.append(Measurement(f"{rail.name}: sense follows the relay", _fmt(follow, back),
                               f"within {FOLLOW:g}s on, {DECAY_MAX:g}s off", ok, note, "s"))
    if decays:
        need = round(max(decays) * MARGIN + 0.05, 2)
        have = wiring.timing.rail_settle
        out.append(Measurement("timing.rail_settle", need, f"<= {have:g}s (the pin map's)", need <= have,
                               "" if need <= have else f"write rail_settle: {need:g}s under timing: in "
                               f"{wiring.source} (rig selftest --write does it), or a slow decay reads as "
                               f"a welded relay", "s"))
    return out


def _fmt(on, off) -> str:
    return " / ".join("-" if v is None else f"{v:.3f}" for v in (on, off))


def _interlock(bench) -> Measurement:
    acc, battery = bench.rails.get("acc"), next((r for r in bench.rails.values() if r.spec.safe_on), None)
    if acc is None or battery is None:
        return Measurement("interlock refuses a cut under ACC", "-", "refused", None, "no acc or constant rail")
    acc.set(True)
    try:
        battery.set(False)
        refused = False
    except BenchRefused:
        refused = True
    finally:
        acc.set(False)
    return Measurement("interlock refuses a cut under ACC", "refused" if refused else "allowed", "refused",
                       refused and battery.is_on)


def _tap(bench) -> Measurement:
    tap = bench.display
    if tap is None or not hasattr(tap, "status"):
        why = "no display tap in the pin map" if bench.wiring.display is None else "this backend opens no tap"
        return Measurement("display tap produces a line", "-", "a line within 5s", None, why)
    got = bench.clock.wait_for(lambda: tap.current() is not None or len(tap.status) > 0, 5.0, poll=0.05)
    return Measurement("display tap produces a line", "yes" if got else "no", "a line within 5s", got,
                       "" if got else "nothing from the tap: its TX to the adapter's RX, its baud, its power")


def _deadman(wiring, bench) -> list[Measurement]:
    hb = wiring.heartbeat
    if hb is None:
        return [Measurement("dead-man trips within T", "-", "-", None, "no heartbeat in the pin map")]
    acc = bench.rails.get("acc")
    sense = wiring.rail_sense("acc") if acc is not None else None
    if hb.readback is None and sense is None:
        return [Measurement("dead-man trips within T", "-", f"<= {hb.timeout:g}s", None,
                            "no read-back and no acc sense: time it by hand (a lamp on A7)")]
    if acc is not None:
        acc.set(True)
    hbeat = bench._heartbeat
    hbeat._halt()  # the beat stops, as if rig had hung: the pin stays low
    hbeat.tripped = "rig selftest stopped the beat"
    start = hbeat._last_rise if hbeat._last_rise is not None else bench.clock.now()  # T runs from the last edge
    limit = hb.timeout * 1.1

    def off():  # the monostable's own output where it is read back; else what ACC's relay did
        return not hbeat._armed() if hbeat.readback is not None else not bench.read(sense.name)

    tripped = bench.clock.wait_for(off, hb.timeout * SETTLE + (0.5 if hbeat.readback is None else 0), poll=0.01)
    took = bench.clock.now() - start
    out = [Measurement("dead-man trips within T", round(took, 3) if tripped else "never",
                       f"<= {limit:.2f}s (timeout {hb.timeout:g}s + 10 %)", tripped and took <= limit,
                       "" if tripped else "the supply stayed on: the dead-man is stuck on or bypassed (a channel "
                       "not on SW0V)", "s")]
    if tripped:  # stays tripped: another T with the pin still, and nothing may switch on
        bench.clock.sleep(hb.timeout)
        stayed = off()
        try:
            bench.press(next(iter(bench.keys))) if bench.keys else None
            refused = False
        except DeadmanTripped:
            refused = True
        out.append(Measurement("dead-man stays tripped, the bench refuses to energise", "yes" if stayed and refused
                               else "no", "yes", stayed and refused))
        # every relay with a sense must have dropped with the supply (a channel off SW0V would not)
        wrong = [r.name for r in bench.rails.values() if r.sensed is not None and r.sensed != r.spec.safe_on]
        out.append(Measurement("every sensed relay released by the dead-man", ", ".join(wrong) or "all", "all",
                               not wrong, f"still energised: {', '.join(wrong)} - not switched through SW0V, or "
                               f"welded" if wrong else ""))
    return out


def passed(results: list[Measurement]) -> bool:
    return all(m.passed is not False for m in results)
