"""Listening to a bus for a while: what ``rig can watch`` shows and ``rig can record`` keeps.

Listening sends nothing (no flow control, no acknowledge beyond what the controller does):
on the car, set the HAT listen-only too (``ip link set can0 type can ... listen-only on``).

>>> import can
>>> from rig.bench.clock import VirtualClock
>>> clock = VirtualClock()
>>> car, bench = (can.Bus(interface="virtual", channel="listen-doc") for _ in range(2))
>>> key_in = can.Message(arbitration_id=0x575, data=b"\\x02\\x00\\x00\\x00")
>>> _ = clock.call_every(0.5, lambda n: car.send(key_in), coalesce=10**9)
>>> heard = []
>>> listen(bench, clock, 2.0, heard.append)
>>> [hex(f.id) for f in heard]
['0x575', '0x575', '0x575', '0x575']
>>> car.shutdown(); bench.shutdown()
"""

from __future__ import annotations

from typing import Callable

from .logs import LogFrame


def frame_of(msg) -> LogFrame:
    return LogFrame(float(msg.timestamp), int(msg.arbitration_id), bool(msg.is_extended_id), bytes(msg.data),
                    bool(msg.is_error_frame), bool(msg.is_remote_frame))


def listen(bus, clock, seconds: float | None, on_frame: Callable[[LogFrame], None]) -> None:
    """Hand every frame heard to ``on_frame`` for ``seconds`` (None: until Ctrl-C, on the real clock)."""
    if getattr(clock, "virtual", False):
        def drain() -> None:
            while (msg := bus.recv(0)) is not None:
                on_frame(frame_of(msg))

        clock.add_settle_hook(drain)  # each frame taken in at its own simulated time
        try:
            clock.sleep(seconds or 0.0)
        finally:
            clock.remove_settle_hook(drain)
        drain()
        return
    deadline = None if seconds is None else clock.now() + seconds
    while deadline is None or clock.now() < deadline:
        wait = 0.2 if deadline is None else max(0.0, min(0.2, deadline - clock.now()))
        msg = bus.recv(wait)
        if msg is not None:
            on_frame(frame_of(msg))
