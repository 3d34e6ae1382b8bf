"""Wake frames stop with the process that sends them, however it ends: a SIGKILL of `rig serve` or of a
command holding the bus, SIGTERM, Ctrl-C and SIGHUP, and a rig that hangs (its lease runs out).

These listen from another process, on python-can's cross-process ``udp_multicast`` bus (a pin map
with ``can: {interface: udp_multicast}`` and ``--backend mock``: real time, real threads). On
socketcan the frames are the kernel's broadcast-manager tasks, which end when the process's
socket closes; test_hardware_can.py does the same there, on a Pi with a HAT.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

can = pytest.importorskip("can")
pytest.importorskip("msgpack", reason="python-can's udp_multicast needs msgpack (pip install '.[test]')")

from .canbench import can_pin_map  # noqa: E402


@pytest.fixture
def udp_bench(tmp_path):
    """A pin map whose CAN bus is a udp_multicast group of this test's own, with a wake set on it."""
    group, port = f"239.74.{random.randint(1, 254)}.{random.randint(1, 254)}", random.randint(20000, 60000)
    (tmp_path / "wake.yaml").write_text("frames: [{id: 0x575, data: '02 00 00 00', period: 50ms}]\n")
    wiring = can_pin_map(tmp_path / "udp-bench.yaml", interface="udp_multicast", channel=group,
                         wake=str(tmp_path / "wake.yaml"), extra=f"  port: {port}\n")
    try:
        listener = can.Bus(interface="udp_multicast", channel=group, port=port)
    except Exception as exc:  # noqa: BLE001 - a machine without multicast on loopback
        pytest.skip(f"no udp_multicast here: {exc}")
    env = dict(os.environ, RIG_WIRING=str(wiring), RIG_BACKEND="mock", XDG_RUNTIME_DIR=str(tmp_path / "run"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               RIG_LEDGER=str(tmp_path / "ledger.sqlite"), RIG_LOCK=str(tmp_path / "bench.lock"))
    yield listener, env, (group, port)
    listener.shutdown()


def heard(listener, seconds: float) -> int:
    """Frames of 0x575 heard in the next ``seconds``."""
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        msg = listener.recv(max(0.0, end - time.monotonic()))
        if msg is not None and msg.arbitration_id == 0x575:
            n += 1
    return n


def test_sigkill_of_a_command_holding_the_bus_stops_its_frames(udp_bench):
    listener, env, _ = udp_bench
    p = subprocess.Popen([sys.executable, "-m", "rig", "power", "acc", "on", "--for", "60s"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert _flowing(listener), "no wake frames while ACC was on"
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        heard(listener, 0.1)  # what was in flight
        assert heard(listener, 1.0) == 0, "wake frames outlived the process"
    finally:
        p.kill() if p.poll() is None else None


def test_sigkill_of_rig_serve_holding_the_bus_stops_its_frames(udp_bench, tmp_path):
    import httpx

    listener, env, _ = udp_bench
    p = subprocess.Popen([sys.executable, "-m", "rig", "serve", "--port", "0"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        disc = tmp_path / "run" / "rig" / "server.json"
        for _ in range(400):
            if disc.exists():
                break
            time.sleep(0.05)
        info = json.loads(disc.read_text())
        c = httpx.Client(base_url=info["url"], headers={"authorization": f"Bearer {info['token']}"}, timeout=20)
        assert c.post("/api/bench/power", json={"rail": "acc", "on": True}).status_code == 200
        assert _flowing(listener), "no wake frames while the server held ACC on"
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        heard(listener, 0.1)
        assert heard(listener, 1.0) == 0, "wake frames outlived the server"
    finally:
        p.kill() if p.poll() is None else None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],  # a CI cancel, Ctrl-C, SSH gone
                         ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_sigterm_ctrl_c_and_sighup_stop_the_frames_and_say_so(udp_bench, sig):
    listener, env, _ = udp_bench
    p = subprocess.Popen([sys.executable, "-m", "rig", "power", "acc", "on", "--for", "60s"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert _flowing(listener)
    p.send_signal(sig)
    _, err = p.communicate(timeout=20)
    assert p.returncode == 130 and "keys released, rails safe" in err, err
    heard(listener, 0.1)
    assert heard(listener, 1.0) == 0


def test_a_hung_rig_lets_the_lease_run_out(udp_bench):
    """The process lives on, its main thread stuck: the kernel's (or the thread's) frames stop by
    themselves when nobody renews their lease."""
    from rig.bench.clock import RealClock
    from rig.can.frames import parse_frame
    from rig.can.sender import WakeSender

    listener, _, (group, port) = udp_bench
    bus = can.Bus(interface="udp_multicast", channel=group, port=port)
    making_progress = {"yes": True}
    sender = WakeSender(bus, RealClock(), alive=lambda: making_progress["yes"], lease=0.6)
    try:
        sender.start([parse_frame({"id": 0x575, "data": "02 00 00 00", "period": "50ms"}, "", [])])
        assert heard(listener, 1.0) >= 15, "renewed, the frames go on past the lease"
        making_progress["yes"] = False  # hung: no more renewals
        heard(listener, 0.8)  # the lease runs out within 0.6 s of the last renewal
        assert heard(listener, 0.5) == 0
    finally:
        sender.stop()
        bus.shutdown()


def _flowing(listener, frames: int = 10, within: float = 5.0) -> bool:
    """At least ``frames`` wake frames heard (the child takes a moment to start)."""
    n, end = 0, time.monotonic() + within
    while n < frames and time.monotonic() < end:
        msg = listener.recv(max(0.0, end - time.monotonic()))
        n += msg is not None and msg.arbitration_id == 0x575
    return n >= frames
