"""The default pin map plus the spare key channels the other families' entries use.

The default map (wiring/bench.yaml) carries the eight keys every family needs and
leaves SPI0, GPIO23 and GPIO25 free for a CAN HAT; a bench for GM, Opel or a VW
Concert gives a channel the button's name. Tests that drive every shipped family
use this copy: the same map, with ``power``, ``tp``, ``rds``, ``fm`` and ``as`` on
the CAN-HAT pins (which a test bench without a CAN HAT may use).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPARES = {"power": 9, "tp": 10, "rds": 11, "fm": 23, "as": 25}


def spare_wiring_text(spares: dict[str, int] = SPARES) -> str:
    text = (REPO / "wiring" / "bench.yaml").read_text(encoding="utf-8")
    anchor = "  scan:    {pin: 18}\n"
    assert anchor in text, "wiring/bench.yaml moved scan: update tests/spare_keys.py"
    extra = "".join(f"  {name}: {{pin: {pin}}}\n" for name, pin in spares.items())
    if "\ncan:" in text:  # the spares sit on the CAN HAT's pins: this test bench has no HAT
        start = text.index("\ncan:") + 1
        text = text[:start] + text[text.index("display:", start):]
    if 26 in spares.values():  # the heartbeat's pin: this test bench has no dead-man
        start = text.index("heartbeat:")
        text = text[:start] + text[text.index("senses:"):]
    return text.replace(anchor, anchor + extra).replace("3 rails, 8 keys", f"3 rails, {8 + len(spares)} keys")


_dir = Path(tempfile.mkdtemp(prefix="rig-spare-keys-"))
atexit.register(shutil.rmtree, _dir, True)
SPARE_WIRING = _dir / "spare-keys.yaml"
SPARE_WIRING.write_text(spare_wiring_text(), encoding="utf-8")
