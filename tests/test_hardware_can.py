"""The car's network on a real bench: a Pi with an MCP2515 HAT, can0 up (README: "The car's network").

These run only with ``--rig-backend hardware`` on the bench (the plugin's ``rig_hardware`` marker),
with the pin map's ``can:`` block naming the HAT, and nothing but the rig on the bus (no unit
needed: SocketCAN's local loopback lets a second socket hear the rig's frames):

    python -m pytest -q tests/test_hardware_can.py --rig-backend hardware

They check what the simulator cannot: that the kernel's broadcast-manager tasks go out at their
periods, end with the process's socket (kill -9), and that a missing or down interface and a
bitrate mismatch are named before any pin moves.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.rig_hardware
can = pytest.importorskip("can")


@pytest.fixture
def can0(rig_wiring):
    spec = rig_wiring.can
    if spec is None or spec.interface != "socketcan":
        pytest.skip("the bench's pin map has no socketcan can: block")
    from rig.can.bus import check_socketcan

    check_socketcan(spec.channel, spec.bitrate)  # the HAT is there and up, or this fails saying why
    bus = can.Bus(interface="socketcan", channel=spec.channel)
    yield spec, bus
    bus.shutdown()


def frames(bus, ident: int, seconds: float) -> list[float]:
    times, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        msg = bus.recv(max(0.0, end - time.monotonic()))
        if msg is not None and msg.arbitration_id == ident:
            times.append(msg.timestamp)
    return times


def test_the_wake_frames_go_at_their_period_while_acc_is_on(rig_bench, can0):
    from rig.can.frames import parse_frame
    from rig.can.wakeset import WakeSet

    _, listener = can0
    channel = rig_bench.use_can()
    channel.set_wake(WakeSet("hw", [parse_frame({"id": 0x575, "data": "02 00 00 00", "period": "100ms"}, "", [])]))
    assert frames(listener, 0x575, 0.5) == []  # ACC off: nothing
    rig_bench.power("acc", True)
    got = frames(listener, 0x575, 3.0)  # past the lease (2 s): renewed, not stopped
    gaps = [b - a for a, b in zip(got, got[1:])]
    assert len(got) >= 25 and all(0.05 < g < 0.25 for g in gaps), gaps
    rig_bench.power("acc", False)
    frames(listener, 0x575, 0.2)
    assert frames(listener, 0x575, 1.0) == []


def test_kill_9_of_the_process_holding_the_bus_ends_its_kernel_tasks(can0, rig_wiring, tmp_path):
    _, listener = can0
    wake = tmp_path / "wake.yaml"
    wake.write_text("frames: [{id: 0x575, data: '02 00 00 00', period: 50ms}]\n")
    env = dict(os.environ, RIG_WIRING=rig_wiring.source, RIG_WAKE_SET=str(wake))
    p = subprocess.Popen([sys.executable, "-m", "rig", "power", "acc", "on", "--for", "60s"], env=env)
    try:
        assert len(frames(listener, 0x575, 2.0)) >= 10
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        frames(listener, 0x575, 0.1)
        assert frames(listener, 0x575, 1.0) == []
    finally:
        p.kill() if p.poll() is None else None


def test_a_channel_that_is_not_there_is_named(can0):
    from rig.can.bus import CanError, check_socketcan

    with pytest.raises(CanError, match="there is no CAN interface can7"):
        check_socketcan("can7", None)


def test_the_kernel_reports_the_bus(can0):
    from rig.can.bus import kernel_status

    spec, _ = can0
    status = kernel_status(spec.channel)
    assert status["up"] and status["state"] in ("error-active", "error-warning", "error-passive", "bus-off")
    assert status["bitrate"] and (spec.bitrate is None or abs(status["bitrate"] - spec.bitrate) <= spec.bitrate * 0.005)
