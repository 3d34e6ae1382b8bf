"""The bench's own circuits on mock pins: the dead-man, and (for ``rig selftest``) relays that feed senses.

The ``mock`` backend's pins are bare, but two things on a real bench are circuits
the rig reads back, and the rig's safety logic has to be testable against them:

- :class:`MockDeadman`, the retriggerable monostable on the heartbeat pin: its
  output is on while the pin rose less than T ago, and it drives the read-back
  pin (``heartbeat.readback``). Every mock and sim bench whose pin map has a
  read-back gets one, or the rig would read the supply as off.
- :class:`MockCircuit`, a whole bench with no unit: each relay's contact feeds its
  rail sense (after the dead-man's switched supply, with a decay time after a
  cut), each output has its pull-down. Faults a commissioning must catch are knobs:
  a missing pull-down, a dead-man stuck on, a slow rail, a welded contact.

>>> from rig.bench.wiring import load_wiring
>>> from rig.bench.backends import mock_backend
>>> from rig.bench.clock import VirtualClock
>>> w = load_wiring(); clock = VirtualClock()
>>> backend = mock_backend(w, clock)
>>> dm = backend.pin_factory.deadman
>>> dm.on(), dm.hb_pin.last_rise
(False, None)
"""

from __future__ import annotations

from gpiozero.pins.mock import MockPin


class MockDeadman:
    """The monostable: on while the heartbeat pin rose (or was fed) less than ``timeout`` ago.

    ``stuck_on`` is the fault of a dead-man that never cuts (a shorted MOSFET, a
    leaky timing capacitor); ``timeout`` may differ from the pin map's (a part off
    its value).
    """

    def __init__(self, factory, spec, clock, timeout: float | None = None, stuck_on: bool = False):
        self.factory, self.spec, self.clock = factory, spec, clock
        self.timeout = spec.timeout if timeout is None else timeout
        self.stuck_on = stuck_on
        self.hb_pin = factory.pin(spec.pin)

    def on(self, now: float | None = None) -> bool:
        """Is the relay and key supply switched on?"""
        if self.stuck_on:
            return True
        rise = getattr(self.hb_pin, "last_rise", None)
        now = self.clock.now() if now is None else now
        return rise is not None and now - rise < self.timeout

    def fed(self, pin: int, n: int) -> None:
        """``n`` beats passed in one jump of simulated time: as if the last one rose now."""
        if n > 1 and pin == self.spec.pin:
            self.hb_pin.last_rise = self.clock.now()


class ReadbackPin(MockPin):
    """The read-back input: what the dead-man's output makes it read, whatever was driven."""

    deadman: MockDeadman | None = None
    armed_high = False

    def _get_state(self):
        if self.deadman is None:
            return self._state
        return self.deadman.on() == self.armed_high


def attach_deadman(factory, wiring, clock, **faults) -> MockDeadman | None:
    """Give a mock factory the dead-man its pin map declares a read-back for (None if none)."""
    hb = wiring.heartbeat
    if hb is None or hb.readback is None:
        return None
    dm = MockDeadman(factory, hb, clock, **faults)
    pin = factory.pin(hb.readback, pin_class=ReadbackPin)
    pin.deadman, pin.armed_high = dm, hb.armed_high
    factory.deadman = dm
    return dm


class MockCircuit:
    """A bench with no unit on mock pins: each relay's contact feeds its rail sense.

    A relay is energised while its pin drives it *and* the dead-man holds the supply
    on; the sense follows the voltage at the connector ``operate`` seconds after it
    appears and ``decay`` seconds after it goes (the bleed, the unit's capacitors).
    Faults: ``missing_pulldown`` (pin numbers whose 10k is not fitted), ``slow`` (rail
    -> decay seconds), ``welded`` (rails whose contact stays closed), ``stuck_on``
    (the dead-man, given to :class:`MockDeadman`).
    """

    def __init__(self, factory, wiring, clock, operate: float = 0.01, decay: float = 0.2,
                 missing_pulldown=(), slow=None, welded=()):
        from .heartbeat import call_later

        self.factory, self.wiring, self.clock = factory, wiring, clock
        self.operate, self.decay, self.slow, self.welded = operate, decay, dict(slow or {}), set(welded)
        self._later = call_later
        self._gen: dict[str, int] = {}
        self._live: dict[str, bool] = {}
        factory.circuit = self
        for pin in missing_pulldown:
            factory.pin(pin).external_pull = None
        self.rails = {r.name: r for r in wiring.rails.values() if wiring.rail_sense(r.name) is not None}
        for name, rail in self.rails.items():
            factory.pin(rail.pin).watchers = (self.update,)
            self._live[name] = self._voltage(rail)
            self._sense(name, 0, self._live[name])
        hb = wiring.heartbeat
        if hb is not None:
            factory.pin(hb.pin).watchers = (self.update,)

    def supply_on(self) -> bool:
        dm = getattr(self.factory, "deadman", None)
        return True if dm is None else dm.on()

    def _voltage(self, rail) -> bool:
        if rail.name in self.welded:
            return True
        level = self.factory.pin(rail.pin).state
        energised = (level == rail.active_high) and self.supply_on()
        return energised == (rail.contact == "no")

    def update(self) -> None:
        """A relay pin or the heartbeat moved: what reaches each connector, and when each sense sees it."""
        for name, rail in self.rails.items():
            live = self._voltage(rail)
            if live != self._live[name]:
                self._live[name] = live
                self._gen[name] = gen = self._gen.get(name, 0) + 1
                delay = self.operate if live else self.slow.get(name, self.decay)
                self._later(self.clock, delay, lambda n=name, g=gen, v=live: self._sense(n, g, v))
        dm = getattr(self.factory, "deadman", None)
        if dm is not None and dm.hb_pin.last_rise is not None:  # look again when the dead-man runs out
            due = dm.hb_pin.last_rise + dm.timeout + 1e-6
            if due > self.clock.now() and due != self._due:
                self._due = due
                self._later(self.clock, due - self.clock.now(), self.update)

    _due = None

    def _sense(self, name: str, gen: int, live: bool) -> None:
        if self._gen.get(name, 0) != gen:
            return
        sense = self.wiring.rail_sense(name)
        pin = self.factory.pin(sense.pin)
        # the opto's transistor, conducting, holds the pin at its active level whatever the pull
        level = sense.active_high if live else None
        pin.external_pull = None if level is None else ("up" if level else "down")
        if pin.function != "input":
            return
        if level is None:
            level = pin.pull == "up"
        (pin.drive_high if level else pin.drive_low)()
