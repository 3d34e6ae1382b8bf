"""The seam for simulated head units: attach a unit model the project did not ship.

A unit model is the firmware side of a simulated bench. The ``sim`` backend gives it a
:class:`UnitIO` - the bench seen from the unit's side of the connector - and the model
answers through it. The shipped profile-driven unit (:class:`rig.sim.unit.SimUnit`)
attaches through exactly this seam.

What a model receives (``io``):

- ``io.clock``: the bench's VirtualClock. Schedule with ``io.clock.call_later(s, fn)``;
  never sleep. Everything a model does happens at a virtual time, so a run is
  deterministic.
- ``io.watch_rail(fn, name=None)`` / ``io.watch_key(fn, name=None)``: ``fn(name, on)`` on
  every change of a rail *at the connector* (after fuses, supply and relay contacts) or of
  a key (``on`` = pressed); ``name=None`` watches all of them.
- ``io.rails`` (``{name: on}``, at the connector) and ``io.keys_down`` (a set): now.
- ``io.drive(sense, active)``: drive a sense input (``unit_on``, by its name in the pin map)
  active or inactive. The level stays when the bench opens or closes. Rail senses
  (``battery_v``, ``acc_v``) are driven by the backend from what reaches the connector.
- ``io.show(text)``: one display line on the tap (the rig reads it on the same clock);
  ``""`` is a blank display.
- ``io.state_path``: a file the model may keep its memory in between commands (its own
  format), ``io.wiring``: the pin map.

A factory is any callable ``factory(io) -> UnitModel``. Attach it with
``rig --backend sim --unit-model package.module:factory`` (or ``RIG_UNIT_MODEL``), by a
name registered in the ``rig.unit_models`` entry-point group, or from Python with
``sim_backend(wiring, state, unit_model=factory)``.

>>> class Lamp(UnitModel):
...     '''Shows ON while ACC is on, and drives unit_on with it.'''
...     def __init__(self, io):
...         super().__init__(io)
...         io.watch_rail(self.acc, "acc")
...     def acc(self, name, on):
...         self.io.drive("unit_on", on)
...         self.io.show("ON" if on else "")
>>> from rig.bench.wiring import load_wiring
>>> from rig.bench.bench import Bench
>>> import tempfile, os
>>> w = load_wiring()
>>> from rig.sim.backend import sim_backend
>>> backend = sim_backend(w, os.path.join(tempfile.mkdtemp(), "lamp"), unit_model=Lamp)
>>> with Bench(w, backend) as bench:
...     bench.power("acc", True)
...     bench.read("unit_on"), bench.display.current()
(True, 'ON')
>>> backend.close()
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

from ..errors import ConfigError

ENTRY_POINT_GROUP = "rig.unit_models"

Watcher = Callable[[str, bool], None]


class UnitModel:
    """Base class of a simulated head unit. Subclass it; register watchers in ``__init__``.

    ``close()`` is called once when the command ends (after the bench is released): save
    what must survive to the next command there.
    """

    def __init__(self, io: "UnitIO"):
        self.io = io

    def close(self) -> None:
        """The command is over; keep what must survive (default: nothing)."""


class UnitIO:
    """The bench from the unit's side: rails and keys to watch, senses to drive, a display.

    Built by the sim backend; a model only uses it.
    """

    def __init__(self, clock, wiring, state_path, *, drive: Callable[[str, bool], None],
                 show: Callable[[str], None], rails: dict[str, bool]):
        self.clock, self.wiring, self.state_path = clock, wiring, Path(state_path)
        self._drive, self._show = drive, show
        self.rails: dict[str, bool] = dict(rails)
        self.keys_down: set[str] = set()
        self._rail_watchers: list[tuple[str | None, Watcher]] = []
        self._key_watchers: list[tuple[str | None, Watcher]] = []
        self.connector = None  # set by the backend: faults between relay and connector

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
    def senses(self) -> list[str]:
        return list(self.wiring.senses)

    def set_rail_fault(self, fault: dict | None, memory: dict | None = None,
                       save: Callable[[], None] = lambda: None) -> None:
        """Put a fault between relay and connector (see :mod:`rig.sim.knobs`, ``rail_fault``).
        ``memory`` keeps a blown fuse or a welded contact between commands; ``save`` is called
        when it changes."""
        self.connector.set_fault(fault, memory if memory is not None else {}, save)

    # -- for the backend ---------------------------------------------------------
    def _rail(self, name: str, on: bool) -> None:
        if self.rails.get(name) == on:
            return
        self.rails[name] = on
        for want, fn in list(self._rail_watchers):
            if want is None or want == name:
                fn(name, on)

    def _key(self, name: str, down: bool) -> None:
        if down == (name in self.keys_down):
            return
        (self.keys_down.add if down else self.keys_down.discard)(name)
        for want, fn in list(self._key_watchers):
            if want is None or want == name:
                fn(name, down)


def load_factory(spec: str) -> Callable:
    """``package.module:factory`` or a name in the ``rig.unit_models`` entry-point group.

    >>> load_factory("rig.sim.backend:shipped_unit").__name__
    'shipped_unit'
    """
    spec = spec.strip()
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"--unit-model {spec}: cannot import {module_name} ({exc}); "
                              f"is it on PYTHONPATH or installed?") from None
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                raise ConfigError(f"--unit-model {spec}: {module_name} has no {attr!r}")
    else:
        from importlib.metadata import entry_points

        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == spec]
        if not found:
            names = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
            raise ConfigError(f"--unit-model {spec}: no unit model of that name (write package.module:factory, "
                              f"or one of the installed: {', '.join(names) or 'none'})")
        try:
            obj = found[0].load()
        except Exception as exc:
            raise ConfigError(f"--unit-model {spec}: loading {found[0].value} failed: {exc}") from None
    if not callable(obj):
        raise ConfigError(f"--unit-model {spec}: {obj!r} is not callable (a factory takes the UnitIO)")
    return obj
