"""A simulated car's bus with the key in: what ``rig can record`` hears on ``--backend sim``.

Like a real car it carries much more than a unit needs: the wake frame among other
periodic frames (one with a speed that wanders, one with a rolling counter and a
checksum), events (a door, a button), a tester's diagnostic request, and the radio's
own frames. Picking the wake set from this is the same work as on a real recording.

>>> from rig.bench.clock import VirtualClock
>>> from rig.sim.canbus import SimCanWire
>>> clock = VirtualClock(); wire = SimCanWire(clock)
>>> bus = wire.rig_bus()
>>> car = SimCar(wire, clock, "vw-rcd310")
>>> clock.sleep(1.0)
>>> ids = set()
>>> while (msg := bus.recv(0)) is not None:
...     ids.add(hex(msg.arbitration_id))
>>> sorted(ids)
['0x351', '0x35b', '0x470', '0x575', '0x5c1', '0x65f', '0x7df']
>>> car.stop(); bus.shutdown(); wire.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Periodic:
    id: int
    period: float
    payload: Callable[[int], bytes]    # n-th frame -> its payload


def _const(hexdata: str) -> Callable[[int], bytes]:
    data = bytes.fromhex(hexdata)
    return lambda n: data


def _speed(n: int) -> bytes:
    return bytes([0x00, (40 + (n // 7) % 13) & 0xFF, 0x00, 0x00])


def _counted_xor(n: int) -> bytes:
    data = bytearray([0x00, n & 0x0F, 0x21, 0x00, 0x10])
    data[0] = data[1] ^ data[2] ^ data[3] ^ data[4]
    return bytes(data)


# per profile: periodic frames of the car with the key in, and events (t, id, payload)
CARS: dict[str, tuple[list[Periodic], list[tuple[float, int, str]]]] = {
    "vw-rcd310": ([Periodic(0x575, 0.1, _const("02000000")),    # terminal status: Kl.15 (the wake frame)
                   Periodic(0x351, 0.1, _speed),                # speed: wanders
                   Periodic(0x35B, 0.1, _const("0010270000")),  # engine
                   Periodic(0x5C1, 0.1, _counted_xor),          # a counter and an XOR checksum
                   Periodic(0x65F, 0.2, _const("0157575A5A5A"))],
                  [(0.35, 0x470, "01"), (0.65, 0x7DF, "0201000000000000")]),
    "ford-6000cd-can": ([Periodic(0x048, 2.0, _const("0000000007 00E000".replace(" ", ""))),  # power mode
                         Periodic(0x080, 1.0, lambda n: bytes([26, 11, 30, 14, 5, n % 60])),   # date and time
                         Periodic(0x286, 0.2, _const("90")),
                         Periodic(0x433, 0.5, _const("00"))],
                        [(0.9, 0x4C0, "0734464d20393820"), (1.5, 0x265, "20"), (2.5, 0x7DF, "0201000000000000")]),
    "opel-cd30": ([Periodic(0x4ED, 0.1, _const("46034143")),    # IGN: ignition on (the guess this simulator wakes on)
                   Periodic(0x4EC, 0.1, _const("4607 3C2900".replace(" ", ""))),
                   Periodic(0x4E8, 0.1, lambda n: bytes([0x46, 0x0F, 0x0C, 0x50, 0x19, n % 3, 0x02])),
                   Periodic(0x180, 1.0, lambda n: bytes([0x46, 0x01, 0x10, 0x0B, 0xF1, 0x6F, n % 60, 0xFF]))],
                  [(0.4, 0x201, "013100"), (0.5, 0x201, "000101"), (1.2, 0x6C1, "0706000000000000")]),
}


class SimCar:
    """The car of the simulated unit's family, sending its frames on a simulated wire."""

    def __init__(self, wire, clock, profile_id: str):
        if profile_id not in CARS:
            from ..errors import ConfigError

            raise ConfigError(f"the simulated unit is a {profile_id}, whose car is not simulated; the simulated cars "
                              f"are those of {', '.join(CARS)} (rig sim reset --profile ...)")
        self.wire, self.clock = wire, clock
        periodic, events = CARS[profile_id]
        self._timers = []
        for p in periodic:
            count = {"n": 0}

            def send(passed: int, p=p, count=count) -> None:
                for _ in range(passed):
                    wire.send(p.id, p.payload(count["n"]))
                    count["n"] += 1

            # every frame at its own time, however far the clock jumps: a recording has them all
            self._timers.append(clock.call_every(p.period, send, coalesce=10 ** 9))
        start = clock.now()
        for t, ident, hexdata in events:
            self._timers.append(clock.call_at(start + t, lambda i=ident, d=bytes.fromhex(hexdata): wire.send(i, d)))

    def stop(self) -> None:
        for t in self._timers:
            t.cancel()


def car_bus(state_path):
    """The simulated car of the unit in ``state_path`` (``rig sim reset``), for ``rig can record/watch``:
    (the rig's side of its bus, the clock it runs on, a closer)."""
    import time

    from ..bench.clock import VirtualClock
    from .canbus import SimCanWire
    from .memory import UnitMemory

    profile_id = UnitMemory.load(state_path).profile
    clock = VirtualClock(start=round(time.time(), 3))  # a log's times look like a real recording's
    wire = SimCanWire(clock)
    bus = wire.rig_bus()
    car = SimCar(wire, clock, profile_id)

    def close() -> None:
        car.stop()
        bus.shutdown()
        wire.close()

    return bus, clock, close
