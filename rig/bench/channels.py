"""The bench's channels: a Rail (relay), a Key (opto across a button), a Sense (GPIO input).

Each is one gpiozero device owned by a :class:`rig.bench.bench.Bench`, which opens
them in their safe state and releases them in the safe order.
"""

from __future__ import annotations

from . import gpiozero_lazy  # noqa: F401  (before gpiozero)
from gpiozero import DigitalInputDevice, OutputDevice  # noqa: E402

from ..errors import BenchRefused
from .heartbeat import call_later
from .wiring import KeySpec, RailSpec, SenseSpec


class _HeldOutput(OutputDevice):
    """An OutputDevice that stays put when collected.

    gpiozero closes a device in ``__del__``, which drops its relay (gpiozero
    #1058). The bench closes its devices itself, in the safe order.
    """

    def __del__(self):
        pass


class _HeldInput(DigitalInputDevice):
    def __del__(self):
        pass


def parse_combo(combo) -> list[str]:
    """``"mode+scan"`` or ``["mode", "scan"]`` -> ``["mode", "scan"]``."""
    if isinstance(combo, str):
        names = [p.strip() for p in combo.split("+")]
    else:
        names = [str(p).strip() for p in combo]
    if not names or any(not n for n in names):
        raise BenchRefused(f"{combo!r} is not a key or combo (write e.g. mode or mode+scan)")
    return names


class Rail:
    """A supply rail switched by a relay; ``on`` means the unit gets power on it."""

    def __init__(self, spec: RailSpec, device: OutputDevice, bench):
        self.spec, self._device, self._bench = spec, device, bench
        self.name = spec.name
        self._last_switch: float | None = None
        self.sense: "Sense | None" = None  # measures the rail at the connector, where wired

    @property
    def switched_at(self) -> float:
        """Clock time of the relay's last switch (the bench's opening, if it has not moved since)."""
        return self._last_switch if self._last_switch is not None else self._bench.opened_at

    @property
    def sensed(self) -> bool | None:
        """What the rail's sense measures at the connector (None: no sense wired)."""
        return None if self.sense is None else self.sense.value

    @property
    def is_on(self) -> bool:
        return bool(self._device.value) == self.spec.energised_for(True)

    @property
    def is_safe(self) -> bool:
        return self.is_on == self.spec.safe_on

    def set(self, on: bool) -> None:
        """Switch the rail, waiting out the relay's minimum dwell first."""
        bench = self._bench
        bench._check_open()
        if self.is_on == on:
            return
        interlock(bench, self, on)
        dwell = bench.wiring.timing.relay_dwell
        if self._last_switch is not None:
            ready = self._last_switch + dwell
            if bench.clock.now() < ready:
                bench.events.emit("dwell", self.name, wait=round(ready - bench.clock.now(), 6))
                bench.clock.sleep_until(ready)
        if not on and bench.can is not None:
            bench.can.follow(self.name, False)  # wake frames stop before the rail they follow drops
        # Told once the relay moved; whatever it set off (the unit waking) follows it in the log.
        bench._drive([(self._device, self.spec.energised_for(on), "rail", self.name, _onoff(not on), _onoff(on))])
        self._last_switch = bench.clock.now()
        if on and bench.can is not None:
            bench.can.follow(self.name, True)
        if bench.backend.lock is not None:  # the next process waits out this dwell too
            bench.backend.lock.switched(self.name)
        if bench.guard is not None:  # a unit switched off forgets its entry; a long cut arms its lock
            try:
                bench._guard("rail_switched", self.name, on)
            except Exception:  # the guard's bookkeeping must never stop a rail (a release above all)
                import logging

                logging.getLogger(__name__).exception("the attempt guard, on %s %s", self.name, on)

    def on(self) -> None:
        self.set(True)

    def off(self) -> None:
        self.set(False)


def interlock(bench, rail: Rail, on: bool) -> None:
    """A car never cuts constant power with ACC or ignition on, nor has either without constant power.

    Cutting the constant feed under a running unit is the brown-out that arms SAFE or
    corrupts its EEPROM write; so the order is ACC and ignition off, then battery off
    (and back: battery on, then ACC and ignition). A constant feed is a rail whose safe
    state is on, a switched one a rail whose safe state is off. Putting constant power
    back on is always allowed, so a release (battery on, the rest off) never trips it.
    Wired as wiring/README.md section 3 says, K1's second pole also opens the switched
    relays' coils while it cuts constant power: the same rule in copper.
    """
    rails = bench.rails.values()
    if rail.spec.safe_on and not on:
        live = [r.name for r in rails if not r.spec.safe_on and r.is_on]
        if live:
            raise BenchRefused(f"refusing to cut {rail.name} while {' and '.join(live)} "
                               f"{'is' if len(live) == 1 else 'are'} on (a car never does that, and it can arm SAFE "
                               f"or corrupt the unit's memory): switch {' and '.join(live)} off first")
    if not rail.spec.safe_on and on:
        cut = [r.name for r in rails if r.spec.safe_on and not r.is_on]
        if cut:
            raise BenchRefused(f"refusing to switch {rail.name} on while {' and '.join(cut)} is cut: "
                               f"switch {' and '.join(cut)} on first")

class Key:
    """An optocoupler across a button's contacts; ``down`` means pressed."""

    def __init__(self, spec: KeySpec, device: OutputDevice, bench):
        self.spec, self._device, self._bench = spec, device, bench
        self.name = spec.name

    @property
    def is_down(self) -> bool:
        return bool(self._device.value)

    def _set(self, down: bool) -> None:
        self._bench._move([self], down)


class Sense:
    """A GPIO input, such as ``unit_on`` from the amp-remote lead.

    With ``debounce`` in the pin map a new level counts (and is told as an
    event) only once it has held that long: relay contacts bounce for a few
    ms, and a slow amp-remote edge can cross the threshold more than once.
    """

    def __init__(self, spec: SenseSpec, device: DigitalInputDevice, bench):
        self.spec, self._device, self._bench = spec, device, bench
        self.name = spec.name
        self._stable = bool(device.value)
        self._edge_seq = 0
        device.when_activated = lambda: self._edge(True)
        device.when_deactivated = lambda: self._edge(False)

    dropouts = 0  # a rail sense's losses of voltage, latched: a debounce must not hide a 10 ms dip

    def _edge(self, level: bool) -> None:
        if self.spec.rail is not None and not level and self._stable:
            self.dropouts += 1
            self._bench.events.emit("dropout", self.name, rail=self.spec.rail, count=self.dropouts)
        if self.spec.debounce <= 0:
            self._settle(level)
            return
        self._edge_seq += 1
        seq = self._edge_seq
        call_later(self._bench.clock, self.spec.debounce,
                    lambda: seq == self._edge_seq and self._settle(bool(self._device.value)))

    def _settle(self, level: bool) -> None:
        if level != self._stable:
            self._stable = level
            self._bench.events.emit("sense", self.name, not level, level)

    @property
    def value(self) -> bool:
        if self.spec.debounce <= 0:
            return bool(self._device.value)
        return self._stable


def _onoff(v: bool) -> str:
    return "on" if v else "off"
