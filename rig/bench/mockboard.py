"""gpiozero's MockFactory with the Pi's board described once per process.

The stock factory builds the header's 40 pins anew for each factory and walks
all of them for every pin a device reserves, releases or asks for: about a
quarter of a mock bench's open and release (``rig --backend mock|sim``, and
the thousands of benches the test suite opens). The board never changes, so
here it is built once per board revision and each pin is looked up once.

>>> f = MockFactory()
>>> f.pin(17) is f.pin(17) and f.board_info is MockFactory().board_info
True
"""

from __future__ import annotations

from . import gpiozero_lazy  # noqa: F401  (before gpiozero)
from gpiozero.pins.mock import MockFactory as _GpiozeroMockFactory  # noqa: E402
from gpiozero.pins.pi import PiBoardInfo  # noqa: E402

_BOARDS: dict[int, "_Board"] = {}
_PINS: dict[tuple, tuple] = {}


class _Board(PiBoardInfo):
    """A PiBoardInfo whose pin look-ups are remembered (its pins are immutable tuples)."""

    __slots__ = ()

    def find_pin(self, name):
        key = (self.revision, name)
        try:
            return _PINS[key]
        except KeyError:  # TypeError too for an unhashable name: gpiozero answers that one
            return _PINS.setdefault(key, tuple(super().find_pin(name)))


class MockFactory(_GpiozeroMockFactory):
    """gpiozero's MockFactory (the name is what ``Backend.pin_library`` shows), its board built once."""

    def _get_board_info(self):
        if self._info is None:
            revision = self._get_revision()
            if revision not in _BOARDS:
                _BOARDS[revision] = _Board(*PiBoardInfo.from_revision(revision))
            self._info = _BOARDS[revision]
        return self._info
