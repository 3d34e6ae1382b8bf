"""Pin maps with a CAN bus, and a simulated CAN unit's bench, for the CAN tests."""

import re
from pathlib import Path

from rig.bench.wiring import load_wiring

CAN_UNITS = ("vw-rcd310", "ford-6000cd-can", "opel-cd30")


def without_can(text: str) -> str:
    """A pin map's text without its ``can:`` block: a bench with no CAN HAT, whose SPI pins are free."""
    return re.sub(r"(?ms)^can:.*?(?=^\S|\Z)", "", text)


def can_pin_map(path: Path, interface: str = "virtual", channel: str = "rig-test", wake: str | None = None,
                bitrate: str | None = None, extra: str = "") -> Path:
    """The default pin map with a ``can:`` block (a virtual bus: the simulated unit is on it)."""
    text = Path(load_wiring().source).read_text(encoding="utf-8")
    text = without_can(text)  # the default's own block
    block = f"\ncan:\n  interface: {interface}\n  channel: {channel}\n"
    if bitrate:
        block += f"  bitrate: {bitrate}\n"
    if wake:
        block += f"  wake: {wake}\n"
    path.write_text(text + block + extra, encoding="utf-8")
    return path


def can_wiring(tmp_path, **kw):
    return load_wiring(can_pin_map(Path(tmp_path) / "can-bench.yaml", **kw))


def can_bench(tmp_path, profile_id, code, **reset):
    """A simulated bench for ``profile_id``: on a CAN bus if the unit needs one, with the wake set
    a technician would have picked from the car where the profile ships none (Opel)."""
    from rig.unit.profiles import load_profiles

    from .simbench import Bench

    if load_profiles()[profile_id].can is None:
        return Bench(tmp_path, profile_id, code, **reset)
    wake = str(opel_wake_set(Path(tmp_path) / "astra.yaml")) if profile_id == "opel-cd30" else None
    return Bench(tmp_path, profile_id, code, wiring=can_wiring(tmp_path), wake_set=wake, **reset)


def opel_wake_set(path: Path) -> Path:
    """A wake set as rig can pick makes it from the simulated Astra: its ignition frame."""
    path.write_text("name: astra\nbitrate: 95238\nframes:\n"
                    "  - {id: 0x4ED, data: \"46 03 41 43\", period: 100ms, confidence: sourced,"
                    " source: \"recorded: astra.log\"}\n", encoding="utf-8")
    return path


def lockout_attempts(profile_id: str) -> int:
    """Wrong codes that put ``profile_id`` in its lockout."""
    from rig.unit.profiles import load_profiles

    return load_profiles()[profile_id].attempts.before_lockout
