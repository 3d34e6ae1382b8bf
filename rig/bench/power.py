"""What reached the unit: each rail's sense at the connector, checked against what its relay was told.

A blown fuse, a supply in current limit or a loose connector leaves a relay
clicked on and the unit unpowered; a welded contact leaves it powered with
the relay off. Where the pin map gives a rail a sense (``rail: acc``),
powered time counts only what the sense confirms, and a disagreement that
outlasts the relay's settle time is a fault that stops the step.

>>> from rig.bench.wiring import load_wiring
>>> from rig.bench.backends import mock_backend
>>> from rig.bench.bench import Bench
>>> from rig.bench.clock import VirtualClock
>>> w = load_wiring()
>>> with Bench(w, mock_backend(w, VirtualClock())) as bench:   # bare pins: nothing powers the connector
...     bench.power("acc", True); bench.clock.sleep(1)
...     [f.kind for f in rail_faults(bench)]
['no_voltage', 'no_voltage']
"""

from __future__ import annotations

from dataclasses import dataclass

SETTLE = 0.5  # seconds a rail's sense may take to agree with its relay (operate time, bounce, debounce)


@dataclass(frozen=True)
class RailFault:
    rail: str
    kind: str      # no_voltage | welded
    message: str


def settle_time(bench) -> float:
    return float(getattr(bench.wiring.timing, "rail_settle", SETTLE))


def rail_faults(bench, rails=None) -> list[RailFault]:
    """Rails whose sense disagrees with their relay for longer than the settle time."""
    now, settle, out = bench.clock.now(), settle_time(bench), []
    for name, rail in bench.rails.items():
        if rails is not None and name not in rails and rail.is_on:
            continue  # a rail the step does not need: only a welded contact matters there
        sensed = rail.sensed
        if sensed is None or sensed == rail.is_on or now - rail.switched_at < settle:
            continue
        iso = f" ({rail.spec.iso})" if rail.spec.iso else ""
        if rail.is_on:
            out.append(RailFault(name, "no_voltage", f"{name} is switched on but there is no voltage at the "
                                 f"connector{iso}: check the fuse, the supply's current limit and the connector"))
        else:
            out.append(RailFault(name, "welded", f"{name} is switched off but the connector{iso} still has "
                                 f"voltage: the relay contact is welded (or miswired); power the bench down and "
                                 f"replace the relay"))
    return out


def powered(bench, rails) -> bool:
    """Every rail in ``rails`` is switched on and, where it has a sense, measured on."""
    for name in rails:
        rail = bench.rail(name)
        if not rail.is_on or rail.sensed is False:
            return False
    return True


def unsensed(bench, rails) -> list[str]:
    """Rails whose power can only be assumed from the relay (no sense wired)."""
    return [r for r in rails if bench.rail(r).sense is None]


def next_settle(bench) -> float | None:
    """When the earliest disagreement between a relay and its sense that is still settling becomes a fault."""
    settle, times = settle_time(bench), []
    for rail in bench.rails.values():
        sensed = rail.sensed
        if sensed is not None and sensed != rail.is_on:
            times.append(rail.switched_at + settle)
    return min(times, default=None)
