"""The car's network keeps the rails' promises: frames only while their rails are on, stopped before
the rails go safe on every way out, only what a wake set names, never a diagnostic request, a missing
interface refused before any pin moves.

Read off what the unit hears (the simulated wire) at the very moment each rail reaches the connector,
not off rig's own event log.
"""

from __future__ import annotations

import pytest

from rig.bench.bench import Bench
from rig.can.bus import CanError
from rig.can.frames import parse_frame
from rig.can.wakeset import WakeSet
from rig.errors import BenchRefused, ConfigError
from rig.sim.backend import reset_unit, sim_backend

from .canbench import can_wiring
from .conftest import pin_states

FRAME = parse_frame({"id": 0x575, "data": "02 00 00 00", "period": "100ms"}, "", [])


def sim_can_bench(tmp_path, profile="vw-rcd310"):
    wiring = can_wiring(tmp_path)
    reset_unit(tmp_path / "unit.json", profile, "1234", ideal=True)
    return wiring, sim_backend(wiring, tmp_path / "unit.json")


class Watch:
    """What the unit hears, and whether wake frames were still going when each rail changed at the connector."""

    def __init__(self, backend):
        self.frames, self.rails = [], []
        self.bench = None
        backend.io.watch_frame(lambda ident, data: self.frames.append((backend.clock.now(), ident)))
        backend.io.watch_rail(self._rail)

    def _rail(self, name, on):
        can = self.bench.can if self.bench is not None else None
        self.rails.append((name, on, can is not None and can.wake_sender.running))


def test_wake_frames_go_only_while_acc_is_on_and_stop_before_it_drops(tmp_path):
    wiring, backend = sim_can_bench(tmp_path)
    watch = Watch(backend)
    try:
        with Bench(wiring, backend, can=True) as bench:
            watch.bench = bench
            bench.can.set_wake(WakeSet("t", [FRAME]))
            bench.clock.sleep(1)
            assert watch.frames == [], "frames went out with ACC off"
            bench.power("acc", True)
            bench.clock.sleep(0.55)
            bench.power("acc", False)
            sent = len(watch.frames)
            bench.clock.sleep(5)
        assert sent == 6 and len(watch.frames) == sent, watch.frames  # 0.0 ... 0.5, then none
        assert ("acc", False, False) in watch.rails, f"ACC dropped with the wake frames still going: {watch.rails}"
    finally:
        backend.close()


@pytest.mark.parametrize("how", ["end", "exception", "keyboardinterrupt"])
def test_every_way_out_stops_the_frames_before_the_rails_go_safe(tmp_path, how):
    wiring, backend = sim_can_bench(tmp_path)
    watch = Watch(backend)
    raised = {"exception": RuntimeError, "keyboardinterrupt": KeyboardInterrupt}.get(how)
    try:
        with pytest.raises(raised) if raised else _nothing():
            with Bench(wiring, backend, can=True) as bench:
                watch.bench = bench
                bench.can.set_wake(WakeSet("t", [FRAME]), rails=["battery"])  # a set that follows constant power
                bench.power("acc", True)
                bench.clock.sleep(1)
                bench.down("preset1")
                if raised:
                    raise raised("a way out")
        acc = [r for r in watch.rails if r[0] == "acc"]
        assert acc[-1] == ("acc", False, False), f"ACC went safe with frames still going: {watch.rails}"
        assert not bench.can.wake_sender.running
        t_off = backend.clock.now()
        backend.clock.sleep(2)
        assert all(t <= t_off for t, _ in watch.frames), "a frame after the release"
    finally:
        backend.close()


def test_a_missing_interface_is_refused_before_any_pin_moves(tmp_path, write_yaml):
    wiring = can_wiring(tmp_path, interface="socketcan", channel="can9")
    from rig.bench.backends import mock_backend
    from rig.bench.clock import VirtualClock

    backend = mock_backend(wiring, VirtualClock())
    backend.open_can = None  # the interface the pin map names: socketcan's can9, which this machine lacks
    with pytest.raises(CanError, match="no CAN interface can9"):
        Bench(wiring, backend, can=True).open()
    for spec in list(wiring.rails.values()) + list(wiring.keys.values()):
        assert len(backend.pin_factory.pin(spec.pin).states) == 1, f"{spec.name} moved"


def test_a_diagnostic_frame_is_never_sent(tmp_path):
    wiring, backend = sim_can_bench(tmp_path)
    tester = parse_frame({"id": 0x7E0, "data": "02 10 03", "period": "1s"}, "", [])
    try:
        with Bench(wiring, backend, can=True) as bench:
            with pytest.raises(BenchRefused, match="never sends diagnostic requests"):
                bench.can.set_wake(WakeSet("t", [tester]))
            with pytest.raises(BenchRefused, match="0x7DF is the OBD/UDS functional request id"):
                bench.can.send(0x7DF, b"\x02\x01\x00")
        assert backend.io._wire.heard == 0
    finally:
        backend.close()


def test_a_released_bench_sends_nothing(tmp_path):
    wiring, backend = sim_can_bench(tmp_path)
    try:
        with Bench(wiring, backend, can=True) as bench:
            pass
        with pytest.raises(BenchRefused, match="closed"):
            bench.can.send(0x201, b"\x01\x31\x00")
    finally:
        backend.close()


@pytest.mark.parametrize("pin,said", [(25, "can.interrupt: GPIO25 is the CAN HAT's interrupt"),
                                      (10, "can.spi: GPIO10 is SPI0 MOSI, the CAN HAT's"),
                                      (8, "can.cs: GPIO8 is SPI0 CE0, the CAN HAT's chip select")])
def test_the_hat_pins_are_checked_against_the_pin_map(tmp_path, pin, said):
    from .canbench import can_pin_map

    text = can_pin_map(tmp_path / "b.yaml", interface="socketcan", channel="can0").read_text()
    (tmp_path / "c.yaml").write_text(text.replace("preset3: {pin: 20}", f"preset3: {{pin: {pin}}}"))
    from rig.bench.wiring import load_wiring

    with pytest.raises(ConfigError) as info:
        load_wiring(tmp_path / "c.yaml")
    assert any(f"{said} and keys.preset3 uses it too" in p.message for p in info.value.problems), \
        [p.message for p in info.value.problems]


def test_a_can_key_is_let_go_before_the_frames_stop(tmp_path):
    from rig.unit.canunit import attach
    from rig.unit.profiles import load_profiles

    wiring, backend = sim_can_bench(tmp_path, "opel-cd30")
    heard = []
    backend.io.watch_frame(lambda ident, data: heard.append((ident, data[:2].hex())), 0x201)
    try:
        with Bench(wiring, backend, can=True) as bench:
            attach(bench, load_profiles()["opel-cd30"], str(_astra(tmp_path)))
            bench.power("acc", True)
            bench.down("ok")
            bench.clock.sleep(0.35)
        assert heard[0] == (0x201, "016f") and heard[-1] == (0x201, "006f"), heard
        assert len([h for h in heard if h[1] == "016f"]) == 4  # the press, and its repeats every 100 ms
        assert pin_states(backend, wiring.rails["acc"].pin)[-1] is False
    finally:
        backend.close()


def _astra(tmp_path):
    from .canbench import opel_wake_set

    return opel_wake_set(tmp_path / "astra.yaml")


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_the_lockout_wait_does_not_count_while_the_bus_is_error_passive_or_off_and_says_so(tmp_path):
    """The unit's lockout timer needs the unit awake; a bus the rig's controller says is error-passive
    or off (nobody acknowledges) is not a unit known to be awake: those minutes are not counted, and the
    run's lines say when the bus failed, that the wait stopped counting, and how long it did not count."""
    import json

    from rig.records.ledger import Ledger
    from rig.unit.profiles import load_profiles

    from .canbench import can_bench

    def served_until(sub, fault):
        knobs = {"can_fault": fault} if fault else {}
        (tmp_path / sub).mkdir()
        b = can_bench(tmp_path / sub, "vw-rcd310", "1234", state="lockout", attempts=2, knobs=knobs, ideal=True)
        led = Ledger(b.ledger)
        led.add_unit("U1", "vw-rcd310")
        led.set_attempts_used("U1", 2, load_profiles()["vw-rcd310"], "arrived locked out")
        led.close()
        r = b.run("lockout-wait")
        assert r.outcome == "passed", r.message
        events = [json.loads(line) for line in open(r.log)]
        bus = [e["to"] for e in events if e["kind"] == "can" and e.get("what") == "bus"]
        return events[-1]["t"], bus, b.lines

    plain, _, lines = served_until("plain", None)
    assert not [line for line in lines if "CAN bus" in line or "does not count" in line]
    faulty, bus, lines = served_until("faulty", {"kind": "error_passive", "after": 300, "for": 600})
    assert bus == ["error-passive", "error-active"]
    assert faulty - plain >= 600 - 1, (plain, faulty)  # the ten minutes error-passive were served again
    said = [line for line in lines if "CAN" in line or "count" in line]
    assert said[1].startswith("  [5:00] CAN bus: error-passive (tx errors 1"), said
    assert said[2].startswith("  the CAN bus is error-passive (tx errors ") and said[2].endswith(
        "): a unit that needs the car's network is not awake, so this wait does not count until it is"), said
    assert "  [15:00] CAN bus: error-active" in said
    assert any("the wait counts again (10:00 not counted)" in line for line in said), said
    off, bus, lines = served_until("off", {"kind": "bus_off", "after": 300, "for": 600})
    assert bus == ["error-passive", "bus-off", "error-active"]
    assert off - plain >= 600 - 1, (plain, off)
    said = [line for line in lines if "CAN" in line or "count" in line]
    assert "  [5:00] CAN bus: bus-off (tx errors 255)" in said, said
    assert any(line.startswith("  the CAN bus is bus-off (tx errors 255): a unit that needs the car's network is "
                               "not awake") for line in said), said


def test_a_wake_set_with_a_diagnostic_request_is_refused_before_any_pin_moves(run_rig, tmp_path):
    (tmp_path / "tester.yaml").write_text("frames:\n  - {id: 0x575, data: '02 00 00 00', period: 100ms}\n"
                                          "  - {id: 0x7E0, data: '02 10 03', period: 1s}\n")
    assert run_rig("sim", "reset", "--profile", "vw-rcd310", "--code", "1234").returncode == 0
    r = run_rig("--backend", "sim", "--wake-set", tmp_path / "tester.yaml", "run", "reproduce-safe", "--unit", "D1",
                "--new-unit", "--profile", "vw-rcd310")
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{tmp_path / 'tester.yaml'}:3: error: the wake set tester: 0x7E0" in r.stderr, r.stderr
    assert "rig never sends diagnostic requests unless the profile says can.diagnostics: true on purpose" in r.stderr
    assert "nothing was switched" in r.stderr


def test_a_profile_that_says_can_diagnostics_true_may_send_them(tmp_path):
    """On purpose only: the same wake set goes out, request and all, for a profile that allows it."""
    import dataclasses

    from rig.can.wakeset import load_wake_set
    from rig.unit.canunit import attach, can_problems
    from rig.unit.profiles import load_profiles

    (tmp_path / "tester.yaml").write_text("frames:\n  - {id: 0x575, data: '02 00 00 00', period: 100ms}\n"
                                          "  - {id: 0x7E0, data: '02 10 03', period: 1s}\n")
    rcd = load_profiles()["vw-rcd310"]
    allowed = dataclasses.replace(rcd, can=dataclasses.replace(rcd.can, diagnostics=True))
    wiring, backend = sim_can_bench(tmp_path)
    assert [p.message for p in can_problems(wiring, rcd, str(tmp_path / "tester.yaml"))] != []
    assert can_problems(wiring, allowed, str(tmp_path / "tester.yaml")) == []
    heard = []
    backend.io.watch_frame(lambda ident, data: heard.append(ident), 0x7E0)
    try:
        with Bench(wiring, backend, can=True) as bench:
            attach(bench, allowed, str(tmp_path / "tester.yaml"))
            bench.power("acc", True)
            bench.clock.sleep(2.5)
        assert heard == [0x7E0] * 3, heard
    finally:
        backend.close()
    assert load_wake_set(tmp_path / "tester.yaml")  # the file itself is fine: it is the profile that decides


def test_the_simulated_rcd310_is_dark_without_0x575_and_falls_asleep_seconds_after_it_stops(tmp_path):
    """Untidy like a real one: ACC alone does not wake it; its wake frame does; and with ACC still on it
    goes dark a few seconds (the can_sleep_after knob: 5 s) after the last frame, not at once."""
    from rig.can.wakeset import find_wake_set

    wiring, backend = sim_can_bench(tmp_path)
    try:
        with Bench(wiring, backend, can=True) as bench:
            on = bench.senses["unit_on"]
            bench.power("acc", True)
            bench.clock.sleep(10)
            assert not on.value, "awake on ACC alone"
            bench.can.set_wake(find_wake_set("vw-pq"))  # ACC is on: the frames start at once
            bench.clock.sleep(5)
            assert on.value, "still dark with 0x575 going out"
            bench.can.set_wake(None)  # the frames stop; ACC stays on
            bench.clock.sleep(4)
            assert on.value, "asleep at once: a real unit keeps going a few seconds"
            bench.clock.sleep(2)
            assert not on.value, "still awake 6 s after the last wake frame"
    finally:
        backend.close()
