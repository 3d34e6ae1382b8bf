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
