"""The seam for simulated head units: attach a unit model the project did not ship.

A unit model is the firmware side of a simulated bench. The ``sim`` backend gives it a
:class:`UnitIO` - the bench seen from the unit's side of the connector - and the model
answers through it. The shipped profile-driven unit (:class:`rig.sim.unit.SimUnit`)
attaches through exactly this seam.

**What a model receives** (``io``):

- ``io.clock``: the bench's virtual clock, as a model may use it: ``now()``,
  ``call_later(s, fn, wakes=True)``, ``call_at(t, fn, wakes=True)`` (a handle with
  ``cancel()``). A model never sleeps: everything it does happens at a virtual time, so a
  run is deterministic.
- ``io.watch_rail(fn, name=None)`` / ``io.watch_key(fn, name=None)``: ``fn(name, on)`` on
  every change of a rail *at the connector* (after fuses, supply and relay contacts) or of
  a key (``on`` = pressed); ``name=None`` watches all of them.
- ``io.rails`` (``{name: on}``, at the connector) and ``io.keys_down`` (a set): now.
- ``io.drive(sense, active)``: drive a sense input (``unit_on``, by its name in the pin map)
  active or inactive. The level stays when the bench opens or closes. Rail senses
  (``battery_v``, ``acc_v``) are driven by the backend from what reaches the connector.
- ``io.show(text)``: one display line on the tap (the rig reads it on the same clock);
  ``""`` is a blank display.
- ``io.settings``: the model's own settings, from ``--unit-model MODULE:FACTORY,NAME=VALUE,...``
  (``RIG_UNIT_MODEL``, the pytest plugin's ``--rig-unit-model``). A factory that declares
  ``settings = {name: default}`` gets every name filled in, a duration written ``2s`` for a
  number, and an unknown name refused before anything opens.
- ``io.state_path``: the file the model keeps its memory in between commands (its own
  format), ``io.wiring``: the pin map.
- The car's network, where the pin map has a ``can:`` block (``io.can`` is then True):
  ``io.watch_frame(fn, ident=None)`` calls ``fn(ident, data)`` for every frame the rig
  sends (wake frames, CAN keys, flow control), at the moment it is sent;
  ``io.send_frame(ident, data)`` puts a frame of the unit's on the bus (a display
  text, an answer); ``io.bus_error(kind)`` makes the rig's controller report
  ``error-warning``, ``error-passive``, ``bus-off``, ``restarted`` or ``no-ack``.
  Periodic frames arrive at their periods over short stretches; when simulated time
  jumps (an hour's wait) a frame arrives once for all the periods that passed, so a
  model should ask "has a frame come lately", not count them.

What a unit sees of the bench arrives as watchers (``watch_rail``, ``watch_key``) and what
it shows leaves through drivers (``drive``, ``show``); a new channel between bench and unit
(a CAN bus, say) is one more pair of the same shape on :class:`UnitIO`, called through the
same guard.

**The contract.**

- *What wakes the rig.* The rig's powered waits (the lockout hour) sleep from one moment
  that can matter to the next: every callback scheduled with ``wakes=True`` (the default)
  is such a moment, and costs one wake-up of the wait. A callback that changes a sense or
  the display wakes the wait at its own time whatever ``wakes`` says; ``wakes=False`` only
  spares the wake-ups of callbacks that change nothing the rig sees (a timer's bookkeeping,
  a ticker whose line has not changed). So ``wakes=False`` saves time and never makes the
  rig see a change late.
- *What an exception does.* An exception from a model - its factory, a watcher, a callback,
  ``close()`` - never reaches the pin that set it off: the seam catches it, the model gets
  no further calls, the traceback is logged, and the command fails at its next moment
  outside the bench's release with ``the unit model ... raised ...`` (exit 1; a
  ``ConfigError`` the model raises is a configuration error, exit 2). Keys are let go and
  the rails go safe as on every other way out.
- *What is saved.* Nothing of the model's is kept by the rig. ``close()`` is called once
  when the command ends, after the bench is released: write ``io.state_path`` there (or as
  things change, as an EEPROM would). Between commands the bench sits with constant power
  on and ACC off for however long the technician takes: a model that counts time then
  (a lockout timer on constant power) ages its memory by the wall time since it was saved.
- *Starting a unit.* ``rig sim reset --unit-model ...`` calls the factory's ``reset(path,
  profile=, code=, state=, attempts=, serial=, settings=)`` and ``rig sim show`` its
  ``describe(path) -> dict`` (the :class:`UnitModel` class methods, for a class used as
  the factory); the pytest plugin's ``rig_sim_unit`` and ``rig_unit`` call ``reset`` too.

A factory is any callable ``factory(io) -> UnitModel``, usually the model's class. Attach
it with ``rig --backend sim --unit-model package.module:factory`` (or ``RIG_UNIT_MODEL``),
by a name registered in the ``rig.unit_models`` entry-point group, or from Python with
``sim_backend(wiring, state, unit_model=factory, settings={...})``.

>>> class Lamp(UnitModel):
...     '''Shows its text while ACC is on, and drives unit_on with it.'''
...     settings = {"text": "ON", "after": 0.0}
...     def __init__(self, io):
...         super().__init__(io)
...         io.watch_rail(self.acc, "acc")
...     def acc(self, name, on):
...         show = lambda: (self.io.drive("unit_on", on), self.io.show(self.io.settings["text"] if on else ""))
...         self.io.clock.call_later(self.io.settings["after"], show)
>>> from rig.bench.wiring import load_wiring
>>> from rig.bench.bench import Bench
>>> import tempfile, os
>>> w = load_wiring()
>>> from rig.sim.backend import sim_backend
>>> backend = sim_backend(w, os.path.join(tempfile.mkdtemp(), "lamp"), unit_model=Lamp,
...                       settings={"text": "HELLO", "after": "1s"})
>>> with Bench(w, backend) as bench:
...     bench.power("acc", True); bench.clock.sleep(1)
...     bench.read("unit_on"), bench.display.current()
(True, 'HELLO')
>>> backend.close()
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Callable

from ..errors import ConfigError, RigError

ENTRY_POINT_GROUP = "rig.unit_models"

Watcher = Callable[[str, bool], None]
log = logging.getLogger(__name__)


class UnitModelFailed(RigError):
    """A unit model raised: it was stopped there, and the command fails (exit 1)."""

    exit_code = 1


class UnitModel:
    """Base class of a simulated head unit. Subclass it; register watchers in ``__init__``.

    ``settings`` names the model's own settings and their defaults; ``close()`` is called
    once when the command ends (after the bench is released): save what must survive to
    the next command there. ``reset`` and ``describe`` serve ``rig sim reset/show``.
    """

    settings: dict = {}

    def __init__(self, io: "UnitIO"):
        self.io = io

    def close(self) -> None:
        """The command is over; keep what must survive (default: nothing)."""

    @classmethod
    def reset(cls, path, *, profile: str, code: str, state: str = "locked", attempts: int = 0,
              serial: str = "SIM0000001", settings: dict | None = None) -> None:
        """Write a fresh unit's memory to ``path`` (``rig sim reset``)."""
        raise ConfigError(f"the unit model {cls.__name__} cannot start a fresh unit (it has no reset); "
                          f"make its memory file as its author says")

    @classmethod
    def describe(cls, path) -> dict:
        """What ``rig sim show`` prints of the unit's memory in ``path`` (never a code in clear)."""
        raise ConfigError(f"the unit model {cls.__name__} has no describe: rig sim show cannot read its memory")


class _ModelClock:
    """The bench's clock as a model sees it: callbacks go through the seam's guard."""

    def __init__(self, clock, guard: Callable):
        self._clock, self._guard = clock, guard
        self.virtual = getattr(clock, "virtual", True)

    def now(self) -> float:
        return self._clock.now()

    def call_at(self, when: float, fn: Callable[[], None], wakes: bool = True):
        return self._clock.call_at(when, lambda: self._guard(fn), wakes)

    def call_later(self, delay: float, fn: Callable[[], None], wakes: bool = True):
        return self._clock.call_later(delay, lambda: self._guard(fn), wakes)

    def sleep(self, seconds: float) -> None:
        raise TypeError("a unit model never sleeps: schedule what comes next with io.clock.call_later")

    sleep_until = sleep


class UnitIO:
    """The bench from the unit's side: rails and keys to watch, senses to drive, a display.

    Built by the sim backend; a model only uses it.
    """

    def __init__(self, clock, wiring, state_path, *, drive: Callable[[str, bool], None],
                 show: Callable[[str], None], rails: dict[str, bool], settings: dict | None = None,
                 name: str = "unit model"):
        self.clock = _ModelClock(clock, self._call)
        self.wiring, self.state_path = wiring, Path(state_path)
        self.settings: dict = dict(settings or {})
        self.name = name
        self._drive, self._show = drive, show
        self.rails: dict[str, bool] = dict(rails)
        self.keys_down: set[str] = set()
        self._rail_watchers: list[tuple[str | None, Watcher]] = []
        self._key_watchers: list[tuple[str | None, Watcher]] = []
        self.connector = None  # set by the backend: faults between relay and connector
        self.failure: UnitModelFailed | ConfigError | None = None
        self.failure_told = False
        self._wire = None      # set by the backend where the pin map has a CAN bus (rig.sim.canbus)

    # -- for the model ---------------------------------------------------------
    def watch_rail(self, fn: Watcher, name: str | None = None) -> None:
        """``fn(rail, on)`` whenever a rail changes at the connector (``name=None``: every rail)."""
        self._rail_watchers.append((name, fn))

    def watch_key(self, fn: Watcher, name: str | None = None) -> None:
        """``fn(key, down)`` whenever a key is pressed or let go (``name=None``: every key)."""
        self._key_watchers.append((name, fn))

    def drive(self, sense: str, active: bool) -> None:
        """Drive the sense ``sense`` active (True) or not; a sense not in the pin map is ignored
        (a bench may have no ``unit_on`` wired)."""
        self._drive(sense, active)

    def show(self, text: str) -> None:
        """Put ``text`` on the display tap."""
        self._show(text)

    @property
    def can(self) -> bool:
        """The bench has a CAN bus the unit is on."""
        return self._wire is not None

    def watch_frame(self, fn: Callable[[int, bytes], None], ident: int | None = None) -> None:
        """``fn(ident, data)`` for each frame the rig sends (on ``ident`` only, if given)."""
        if self._wire is not None:
            self._wire.watch(fn, ident)

    def send_frame(self, ident: int, data: bytes) -> None:
        """A frame from the unit onto the bus (ignored on a bench without CAN)."""
        if self._wire is not None:
            self._wire.send(ident, data)

    def bus_error(self, kind: str, tx_errors: int = 0, rx_errors: int = 0) -> None:
        """Make the rig's CAN controller report ``kind`` (``bus-off``, ``error-passive``, ...)."""
        if self._wire is not None:
            self._wire.error(kind, tx_errors, rx_errors)

    @property
    def senses(self) -> list[str]:
        return list(self.wiring.senses)

    def set_rail_fault(self, fault: dict | None, memory: dict | None = None,
                       save: Callable[[], None] = lambda: None) -> None:
        """Put a fault between relay and connector, e.g. ``{"rail": "acc", "kind": "fuse", "after": 120}``.

        ``kind`` is ``fuse`` (blows ``after`` s after the rail is switched on), ``foldback``
        (switching the rail on drops every rail ``for`` s), ``sag`` (``after`` s after the rail
        is switched on, the supply sags ``for`` s: the unit browns out, the rail senses still
        read on) or ``welded`` (once closed, the contact stays closed); ``rig sim reset --help``
        lists them with the shipped unit's knobs. ``memory`` keeps a blown fuse or a welded
        contact between commands; ``save`` is called when it changes.
        """
        self.connector.set_fault(fault, memory if memory is not None else {}, save)

    # -- for the backend ---------------------------------------------------------
    def _rail(self, name: str, on: bool) -> None:
        if self.rails.get(name) == on:
            return
        self.rails[name] = on
        for want, fn in list(self._rail_watchers):
            if want is None or want == name:
                self._call(fn, name, on)

    def _key(self, name: str, down: bool) -> None:
        if down == (name in self.keys_down):
            return
        (self.keys_down.add if down else self.keys_down.discard)(name)
        for want, fn in list(self._key_watchers):
            if want is None or want == name:
                self._call(fn, name, down)

    def _call(self, fn: Callable, *args) -> None:
        """Call into the model; what it raises stops the model, never the pin write or the clock
        step that called it (see the contract above)."""
        if self.failure is not None:
            return  # a model that failed gets no further calls
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - a model's bug of any kind
            self._failed(exc, fn)

    def _failed(self, exc: Exception, fn) -> None:
        where = getattr(fn, "__qualname__", repr(fn))
        log.error("the unit model %s raised in %s at t=%.3f; it gets no further calls\n%s", self.name, where,
                  self.clock.now(), "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        if isinstance(exc, ConfigError):
            self.failure = ConfigError(f"the unit model {self.name}: {exc}")
        else:
            self.failure = UnitModelFailed(
                f"the unit model {self.name} raised {type(exc).__name__}: {exc} (in {where}, at "
                f"t={self.clock.now():.3f} s); it was stopped there. Keys released, rails safe; "
                f"the traceback is in the log")

    def _close_model(self, model) -> None:
        self._call(model.close)

