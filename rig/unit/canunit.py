"""A unit's CAN parts on an open bench: its wake set, its keys that are frames, its display over CAN.

Which wake set a run sends, first found: the one the command names (``--wake-set``),
the bench's own (the pin map's ``can.wake``), the profile's (``can.wake``). Everything
is checked before any pin moves (:func:`can_problems`): a bench without CAN, a bitrate
that differs from the family's, a unit that needs wake frames nobody knows, a frame
with a diagnostic id.

>>> from rig.unit.profiles import load_profiles
>>> from rig.bench.wiring import load_wiring
>>> import dataclasses
>>> no_hat = dataclasses.replace(load_wiring(), can=None)   # a pin map without a can: block
>>> [p.message for p in can_problems(no_hat, load_profiles()["vw-rcd310"])]  # doctest: +ELLIPSIS
["vw-rcd310 talks on the car's CAN (wake frames) but this bench has none: the pin map ... has no can: block ..."]
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..can.frames import diagnostic, same_bitrate
from ..can.wakeset import WakeSet, find_wake_set
from ..errors import ConfigError, Problem

SETUP = "wiring/README.md section 12"


def needs_can(profile, wiring=None, override: str | None = None) -> bool:
    """Does a run of ``profile`` use the bus (its own CAN parts, or a wake set the command or bench names)?"""
    return bool((profile is not None and profile.can is not None) or override
                or (wiring is not None and wiring.can is not None and wiring.can.wake))


def wake_for(wiring, profile, override: str | None = None) -> tuple[WakeSet | None, str]:
    """The wake set a run sends and where it comes from (ConfigError for a bad file)."""
    if override:
        return find_wake_set(override), f"--wake-set {override}"
    if wiring is not None and wiring.can is not None and wiring.can.wake:
        return find_wake_set(wiring.can.wake, beside=wiring.source), wiring.can.wake_source
    can = getattr(profile, "can", None)
    if can is None:
        return None, ""
    if can.wake_set_name:
        return find_wake_set(can.wake_set_name, beside=can.source), f"the profile {profile.id} ({can.wake_set_name})"
    if can.wake_frames:
        return WakeSet(profile.id, list(can.wake_frames), can.bitrate, file=can.source), f"the profile {profile.id}"
    return None, ""


def can_keys(profile) -> set[str]:
    """The keys this profile presses with frames rather than optocouplers."""
    can = getattr(profile, "can", None)
    return set(can.keys) if can is not None else set()


def can_problems(wiring, profile, override: str | None = None) -> list[Problem]:
    """Everything about CAN that would stop a run of ``profile`` on this bench, before any pin moves."""
    if not needs_can(profile, wiring, override):
        return []
    can = getattr(profile, "can", None)
    pid = profile.id if profile is not None else "this run"
    where = can.source if can is not None else ""
    if wiring.can is None:
        parts = [what for what, has in (("wake frames", can and (can.wake_needed or can.wake_set_name
                                                                   or can.wake_frames)),
                                        ("display", can and can.display), ("keys", can and can.keys)) if has]
        parts = parts or ["a wake set"]
        return [Problem(where, None, f"{pid} talks on the car's CAN ({', '.join(parts)}) but this bench has none: "
                        f"the pin map {wiring.source} has no can: block (fit a CAN HAT: {SETUP})")]
    problems = []
    if can is not None and can.bitrate and wiring.can.bitrate and not same_bitrate(can.bitrate, wiring.can.bitrate):
        problems.append(Problem(wiring.source, wiring.can.line, f"{pid} is on a {can.bitrate} bit/s bus; this bench's "
                                f"{wiring.can.channel} is set to {wiring.can.bitrate} (set the interface to "
                                f"{can.bitrate}: sudo ip link set {wiring.can.channel} down && sudo ip link set "
                                f"{wiring.can.channel} up type can bitrate {can.bitrate} restart-ms 100, and "
                                f"write bitrate: {can.bitrate} in the pin map)"))
    try:
        ws, source = wake_for(wiring, profile, override)
    except ConfigError as exc:
        return problems + exc.problems
    if ws is None and can is not None and can.wake_needed:
        problems.append(Problem(where, None, f"{pid} stays dark without its car's wake frames, and none are known "
                                f"for it: record them on the car (rig can record car.log, key in), pick them "
                                f"(rig can pick car.log -o wake.yaml --profile {pid}), then run with --wake-set "
                                f"wake.yaml or name the file under can.wake in the pin map"))
    if ws is not None:
        rate = wiring.can.bitrate or (can.bitrate if can else None)
        if ws.bitrate and rate and not same_bitrate(ws.bitrate, rate):
            problems.append(Problem(ws.file, None, f"the wake set {ws.name} was recorded on a {ws.bitrate} bit/s bus; "
                                    f"this run's is {rate} ({source})"))
        allowed = can is not None and can.diagnostics
        own = set(can.unit_ids) if can is not None else set()
        for f in ws.frames:
            why = diagnostic(f.id, f.extended, can.diagnostic_ids if can is not None else ())
            if why and not allowed:
                problems.append(Problem(f.file or ws.file, f.line or None, f"the wake set {ws.name}: {why}; rig "
                                        f"never sends diagnostic requests unless the profile says can.diagnostics: "
                                        f"true on purpose"))
            if f.id in own:
                problems.append(Problem(f.file or ws.file, f.line or None, f"the wake set {ws.name}: {f.label} is a "
                                        f"frame {pid} sends itself; sending it back would fight the unit"))
    return problems


@dataclass
class CanParts:
    """What :func:`attach` put on a bench, and how to take it off again."""

    bench: object
    wake_set: WakeSet | None = None
    source: str = ""
    keys: dict = field(default_factory=dict)      # the bench's own keys these replaced
    display: object = None                        # the bench's own display, if a CAN tap replaced it
    tap: object = None

    def detach(self) -> None:
        """Give the bench back as it was (after the run's release made it safe)."""
        bench = self.bench
        for name, key in self.keys.items():
            replaced = bench.keys.get(name)
            if replaced is not None:
                replaced._device.close()
            if key is None:
                bench.keys.pop(name, None)
            else:
                bench.keys[name] = key
        if self.tap is not None:
            self.tap.close()
            bench.display = self.display
        if bench.can is not None and self.wake_set is not None and bench.is_open:  # a server's bench: its own set back
            own = bench.wiring.can.wake if bench.wiring.can is not None else None
            bench.can.set_wake(find_wake_set(own, beside=bench.wiring.source) if own else None,
                               source=bench.wiring.can.wake_source if own else "")


def attach(bench, profile, override: str | None = None) -> CanParts | None:
    """Put ``profile``'s CAN parts on an open bench: its wake set (following its rails), its CAN keys
    (in place of optocouplers of the same name), its display over CAN (in place of the tap)."""
    if not needs_can(profile, bench.wiring, override):
        return None
    from ..bench.channels import Key
    from ..bench.canbus import CanKeyDevice
    from ..bench.pinmap import KeySpec
    from .candisplay import CanDisplayTap

    channel = bench.use_can()
    can = getattr(profile, "can", None)
    parts = CanParts(bench)
    ws, source = wake_for(bench.wiring, profile, override)
    if can is not None:
        channel.allow_diagnostics, channel.diagnostic_ids = can.diagnostics, tuple(can.diagnostic_ids)
        for name, frames in can.keys.items():
            parts.keys[name] = bench.keys.get(name)
            bench.keys[name] = Key(KeySpec(name, -1), CanKeyDevice(channel, frames), bench)
        if can.display is not None:
            parts.display, parts.tap = bench.display, CanDisplayTap(channel, can.display, bench.clock)
            bench.display = parts.tap
            parts.tap.subscribe(lambda new, old: bench.events.emit("display", "", old, new))
    if ws is not None:
        parts.wake_set, parts.source = ws, source
        channel.set_wake(ws, can.wake_rails if can is not None else ["acc"], source)
    return parts


def why_dark(bench) -> str:
    """A sentence for a run that failed on a unit that showed nothing: what the car's network did."""
    channel = getattr(bench, "can", None)
    if channel is None:
        return ""
    return (f". CAN: {channel.describe_wake()}. A unit that needs the car's network stays dark without "
            f"the right wake frames: record your car (rig can record), pick them (rig can pick) and run with "
            f"--wake-set.")
