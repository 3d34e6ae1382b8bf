"""A profile's ``can:`` section: what a family needs from the car's network, and what it puts on it.

Most units from ~2004 stay dark on the bench unless they hear the car's frames saying
the key is in; some put their display text (Ford 6000CD, Opel CD30) or their buttons
(Opel's radio panel) on the bus. Every value carries its confidence, as in the rest of
the profile.

.. code-block:: yaml

    can:
      bitrate: {value: 100k, confidence: sourced, source: "[56]"}
      wake:
        set: {value: vw-pq, confidence: single-report}   # a shipped wake set (firmware_notes/wake/)
        # frames: [{id: 0x575, data: "02 00 00 00", period: 100ms}]    # or the frames themselves
        rails: [acc]            # the frames go while these rails are on (default: acc)
        needed: true            # the unit stays dark without them
      display: {id: 0x4C0, flow_control: 0x4C8, format: ascii, skip: 1}
      keys:
        preset1: {id: 0x201, press: "01 31 00", release: "00 31 00", repeat: 100ms, hold_byte: 2}
      unit_ids: [0x4C0]         # frames the unit sends itself: never sent back at it
      diagnostics: false        # may the rig send diagnostic requests? never, unless true on purpose

>>> from rig.unit.profiles import load_profiles
>>> c = load_profiles()["vw-rcd310"].can
>>> c.bitrate, c.wake_needed, c.wake_set_name
(100000, True, 'vw-pq')
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..can.frames import Frame, parse_bitrate, parse_frame, parse_id
from ..can.keys import KeyFrames, parse_key_frames
from ..errors import Problem, shown

FIELDS = {"bitrate", "wake", "display", "keys", "unit_ids", "diagnostic_ids", "diagnostics", "note"}
WAKE_FIELDS = {"set", "frames", "rails", "needed", "note"}
DISPLAY_FIELDS = {"id", "flow_control", "format", "skip", "field", "confidence", "source", "note"}
FORMATS = ("ascii", "opel")


@dataclass(frozen=True)
class CanDisplaySpec:
    """Where a unit's display text travels: its id, the flow control id the rig answers on
    (ISO-TP), and how the text sits in the payload (``ascii`` after ``skip`` bytes, or ``opel``:
    the CID/GID fields in UTF-16, ``field`` naming which)."""

    id: int
    flow_control: int | None = None
    extended: bool = False
    format: str = "ascii"
    skip: int = 0
    field: int | None = None
    confidence: str = "assumed"
    source: str = ""


@dataclass
class CanProfile:
    """What one family needs of the car's CAN and puts on it."""

    source: str                                   # the firmware note (wake set files are found beside it)
    bitrate: int | None = None
    wake_set_name: str | None = None
    wake_frames: list[Frame] = field(default_factory=list)
    wake_rails: list[str] = field(default_factory=lambda: ["acc"])
    wake_needed: bool = False
    display: CanDisplaySpec | None = None
    keys: dict[str, KeyFrames] = field(default_factory=dict)
    unit_ids: list[int] = field(default_factory=list)
    diagnostic_ids: list[int] = field(default_factory=list)
    diagnostics: bool = False


def can_rows(c: CanProfile) -> list[tuple[str, str]]:
    """The section as ``rig profiles show`` lists it: (path, value) with the paths its confidence has."""
    from ..can.frames import id_label

    rows = [("can.bitrate", f"{c.bitrate} bit/s")] if c.bitrate else []
    if c.wake_set_name:
        rows.append(("can.wake.set", c.wake_set_name))
    rows += [(f"can.wake.frames[{i}]", f.describe()) for i, f in enumerate(c.wake_frames)]
    rows += [("can.wake.rails", ", ".join(c.wake_rails)), ("can.wake.needed", "yes" if c.wake_needed else "no")]
    if c.display is not None:
        d = c.display
        rows.append(("can.display", f"{id_label(d.id, d.extended)}" + (f", flow control {id_label(d.flow_control)}"
                                                                      if d.flow_control is not None else "")
                     + f", {d.format}" + (f" field {d.field:#04x}" if d.field is not None else "")))
    rows += [(f"can.keys.{n}", f"{k.label} {k.press.hex(' ').upper()} / {k.release.hex(' ').upper()}")
             for n, k in c.keys.items()]
    if c.diagnostics:
        rows.append(("can.diagnostics", "allowed"))
    return rows


def parse_can(node, src: str, default_conf: str, conf: dict, problems: list[Problem], pid: str,
              unwrap) -> CanProfile | None:
    """The ``can:`` section of profile ``pid``; ``unwrap(node, path)`` strips a value's confidence
    wrapper and records it, as for every other value of the profile."""
    before = len(problems)

    def err(line, msg):
        problems.append(Problem(src, line, f"{pid}: can.{msg}"))

    if not isinstance(node, dict):
        problems.append(Problem(src, getattr(node, "line", None), f"{pid}: can: a mapping (bitrate:, wake:, "
                                f"display:, keys:)"))
        return None
    for k in node:
        if k not in FIELDS:
            err(node.line_of(k), f"{k}: unknown field (allowed: {', '.join(sorted(FIELDS))})")
    out = CanProfile(src)
    if "bitrate" in node:
        value = unwrap(node["bitrate"], "can.bitrate")
        out.bitrate = parse_bitrate(value)
        if out.bitrate is None:
            err(node.line_of("bitrate"), f"bitrate: {shown(value)} is not a CAN bitrate (e.g. 100k, 95.238k)")
    if node.get("wake") is not None:
        _wake(node["wake"], node.line_of("wake"), out, src, default_conf, conf, problems, pid, unwrap, err)
    if node.get("display") is not None:
        out.display = _display(node["display"], node.line_of("display"), default_conf, err)
        if out.display is not None:
            conf["can.display"] = (out.display.confidence, out.display.source)
    keys = node.get("keys")
    if keys is not None:
        if not isinstance(keys, dict):
            err(node.line_of("keys"), "keys: a mapping of key name to its frames")
        else:
            for name, spec in keys.items():
                k = parse_key_frames(str(name), spec, src, problems, f"{pid}: can.keys.{name}", default_conf)
                if k is not None:
                    out.keys[str(name)] = k
                    conf[f"can.keys.{name}"] = (k.confidence, k.source)
    for key in ("unit_ids", "diagnostic_ids"):
        for value in node.get(key) or []:
            ident = parse_id(value)
            if ident is None:
                err(node.line_of(key), f"{key}: {shown(value)} is not a CAN id (write it in hex, e.g. 0x4C0)")
            else:
                getattr(out, key).append(ident[0])
    if out.display is not None and out.display.id not in out.unit_ids:
        out.unit_ids.append(out.display.id)  # the unit's display frames are its own
    diag = unwrap(node.get("diagnostics", False), "can.diagnostics")
    if not isinstance(diag, bool):
        err(node.line_of("diagnostics"), f"diagnostics: {shown(diag)} is not true or false")
    out.diagnostics = diag is True
    return out if len(problems) == before else None


def _wake(node, line, out, src, default_conf, conf, problems, pid, unwrap, err) -> None:
    if not isinstance(node, dict):
        err(line, "wake: a mapping (set: NAME or frames: [...], rails:, needed:)")
        return
    for k in node:
        if k not in WAKE_FIELDS:
            err(node.line_of(k), f"wake.{k}: unknown field (allowed: {', '.join(sorted(WAKE_FIELDS))})")
    if "set" in node:
        name = unwrap(node["set"], "can.wake.set")
        if not isinstance(name, str) or not name:
            err(node.line_of("set"), f"wake.set: {shown(name)} is not a wake set's name or file")
        else:
            out.wake_set_name = name
    frames = node.get("frames")
    if frames is not None:
        if not isinstance(frames, list):
            err(node.line_of("frames"), "wake.frames: a list of frames (id:, data:, period:)")
        else:
            for i, f in enumerate(frames):
                frame = parse_frame(f, src, problems, f"{pid}: can.wake.frames[{i}]", frames.line_of(i), default_conf)
                if frame is not None:
                    out.wake_frames.append(frame)
                    conf[f"can.wake.frames[{i}]"] = (frame.confidence, frame.source)
    if out.wake_set_name and out.wake_frames:
        err(node.line_of("frames"), "wake: either set: (a wake set) or frames:, not both")
    rails = unwrap(node.get("rails", ["acc"]), "can.wake.rails")
    if not isinstance(rails, list) or not rails or not all(isinstance(r, str) for r in rails):
        err(node.line_of("rails"), f"wake.rails: {shown(rails)} is not a list of rails (e.g. [acc])")
    else:
        out.wake_rails = list(rails)
    needed = unwrap(node.get("needed", bool(out.wake_set_name or out.wake_frames)), "can.wake.needed")
    if not isinstance(needed, bool):
        err(node.line_of("needed"), f"wake.needed: {shown(needed)} is not true or false")
    out.wake_needed = needed is True


def _display(node, line, default_conf, err) -> CanDisplaySpec | None:
    if not isinstance(node, dict):
        err(line, "display: a mapping (id:, flow_control:, format:)")
        return None
    for k in node:
        if k not in DISPLAY_FIELDS:
            err(node.line_of(k), f"display.{k}: unknown field (allowed: {', '.join(sorted(DISPLAY_FIELDS))})")
    ident = parse_id(node.get("id"))
    if ident is None:
        err(node.line_of("id"), f"display.id: {shown(node.get('id'))} is not a CAN id (e.g. 0x4C0)")
        return None
    fc = None
    if node.get("flow_control") is not None:
        parsed = parse_id(node["flow_control"])
        if parsed is None:
            err(node.line_of("flow_control"), f"display.flow_control: {shown(node['flow_control'])} is not a CAN id")
            return None
        fc = parsed[0]
    fmt = node.get("format", "ascii")
    if fmt not in FORMATS:
        err(node.line_of("format"), f"display.format: {shown(fmt)} is not one of {', '.join(FORMATS)}")
        return None
    skip, fld = node.get("skip", 0), node.get("field")
    if isinstance(skip, bool) or not isinstance(skip, int) or not 0 <= skip <= 16:
        err(node.line_of("skip"), f"display.skip: {shown(skip)} is not a number of bytes (0-16)")
        return None
    if fld is not None and (isinstance(fld, bool) or not isinstance(fld, int) or not 0 <= fld <= 255):
        err(node.line_of("field"), f"display.field: {shown(fld)} is not a field id (0-255, e.g. 0x01)")
        return None
    return CanDisplaySpec(ident[0], fc, ident[1], fmt, skip, fld, node.get("confidence", default_conf),
                          str(node.get("source", "")))
