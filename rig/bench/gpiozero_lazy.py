"""gpiozero, imported without importlib.metadata until a pin factory is looked up by name.

``gpiozero.devices`` and ``gpiozero.pins.mock`` import ``entry_points`` from
importlib.metadata at the top (with email, zipfile and csv behind it: ~20 ms, a tenth of a whole
simulated ``rig run``), yet calls it only when it looks a pin factory up by
name (``GPIOZERO_PIN_FACTORY`` or its default search on real hardware, a
mock pin class given by name). Rig's mock and sim backends hand gpiozero their
factory and pin class. So gpiozero gets an
``entry_points`` that imports importlib.metadata on its first call; the
hardware backend's lookup works as before (the tests choose factories by name).
Import this module before gpiozero anywhere in rig; it leaves nothing behind in
``sys.modules`` that another library could mistake for the real backport.

>>> import rig.bench.gpiozero_lazy, gpiozero.devices
>>> [ep.name for ep in gpiozero.devices.entry_points(group="gpiozero_pin_factories") if ep.name == "mock"]
['mock']
"""

from __future__ import annotations

import sys
import types


def _entry_points(*args, **kwargs):
    from importlib.metadata import entry_points

    return entry_points(*args, **kwargs)


def _import_gpiozero() -> None:
    if "gpiozero.pins.mock" in sys.modules or "importlib_metadata" in sys.modules:
        return
    from importlib.util import find_spec

    if find_spec("importlib_metadata") is not None:  # the real backport is installed: gpiozero prefers it
        return
    shim = types.ModuleType("importlib_metadata", "rig's stand-in while gpiozero imports")
    shim.entry_points = _entry_points
    sys.modules["importlib_metadata"] = shim
    try:
        import gpiozero.devices  # noqa: F401
        import gpiozero.pins.mock  # noqa: F401
    finally:
        if sys.modules.get("importlib_metadata") is shim:
            del sys.modules["importlib_metadata"]


_import_gpiozero()
