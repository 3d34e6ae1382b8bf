"""The rig's pin map: load a wiring YAML, check it whole, report every problem with file:line.

Nothing here touches a pin. A map that loads is one the bench can open
without a relay ever passing through its unsafe state.

>>> from rig.bench.wiring import load_wiring
>>> w = load_wiring()              # the packaged default, wiring/bench.yaml
>>> w.rails["acc"].pin, w.rails["battery"].safe_on
(27, True)
"""

from __future__ import annotations

from pathlib import Path

from ..durations import parse_duration
from ..errors import ConfigError, Problem
from ..yamlfile import LineDict, load_file
from .canwiring import parse_can

from .pinmap import (  # noqa: F401  (the pin map's objects; imported from here by the rest of rig)
    RESERVED, SHARED, CAN_HAT, HEADER, NAME, REQUIRED_RAILS, boot_pulls_high, RailSpec, KeySpec, SenseSpec, DisplaySpec, HeartbeatSpec, ComboSpec, Timing, Wiring,
)


LIBRARIES = ("lgpio", "rpigpio", "pigpio", "native")
MAX_STAGGER = 0.1  # a key scan debounces ~20-50 ms; 100 ms apart, the first key is already a press
KEYS_DOWN = 3       # a combo is two or three keys
MAX_KEYS_DOWN = 6   # 6 x 6.5 mA of LED current, with the relay drivers' bases, stays near the header's ~50 mA


def default_wiring_path() -> Path:
    """The packaged default map (wiring/bench.yaml, shipped inside the package too)."""
    here = Path(__file__).resolve().parent.parent  # rig/
    for candidate in (here.parent / "wiring" / "bench.yaml", here / "data" / "bench.yaml"):
        if candidate.exists():
            return candidate
    return here / "data" / "bench.yaml"


class _Checker:
    """Collects problems while walking the YAML; raises once, with all of them."""

    def __init__(self, filename: str):
        self.file = filename
        self.problems: list[Problem] = []
        self.pins: dict[int, str] = {}

    def error(self, line, msg):
        self.problems.append(Problem(self.file, line, msg))

    def warn(self, line, msg):
        self.problems.append(Problem(self.file, line, msg, "warning"))

    def note(self, line, msg):
        self.problems.append(Problem(self.file, line, msg, "note"))

    def fields(self, node: LineDict, where: str, allowed: set, required: set = frozenset()):
        for k in node:
            if k not in allowed:
                self.error(node.line_of(k), f"{where}: unknown field {k!r} (allowed: {', '.join(sorted(allowed))})")
        for k in sorted(required - set(node)):
            self.error(node.line, f"{where}: missing field {k!r}")

    def mapping(self, node, where, line) -> LineDict | None:
        if node is None:  # `battery_v:` with nothing under it: what it lacks is said at its own line
            empty = LineDict()
            empty.line, empty.key_lines = line or 1, {}
            return empty
        if not isinstance(node, dict):
            self.error(line, f"{where}: expected a mapping, got {type(node).__name__}")
            return None
        return node

    def pin(self, node: LineDict, where: str, output: bool = True, key: str = "pin", allow=()):
        if key not in node:
            return None
        line, pin = node.line_of(key), node[key]
        if isinstance(pin, bool) or not isinstance(pin, int):
            self.error(line, f"{where}.{key}: {pin!r} is not a BCM pin number")
            return None
        if not 0 <= pin <= 27:
            self.error(line, f"{where}.{key}: GPIO{pin} is outside 0-27 (BCM numbering)")
            return None
        if pin in RESERVED and pin not in allow:
            self.error(line, f"{where}.{key}: GPIO{pin} is reserved ({RESERVED[pin]})")
        elif pin in CAN_HAT:
            # the CAN work builds on these pins: a channel here is taken from under a CAN HAT
            self.warn(line, f"{where}.{key}: GPIO{pin} is {CAN_HAT[pin]} in the CAN-HAT pin plan "
                      f"(wiring/README.md section 12); a CAN HAT and this channel cannot share it")
        elif pin in SHARED:  # a clash with a peripheral switched on in config.txt is refused at open
            self.note(line, f"{where}.{key}: GPIO{pin} is also {SHARED[pin]}; keep that peripheral off in "
                      f"config.txt (wiring/README.md section 2)")
        if pin in self.pins:
            self.error(line, f"{where}.pin: GPIO{pin} is already used by {self.pins[pin]}")
        else:
            self.pins[pin] = where
        return pin

    def boolean(self, node, key, where, default):
        v = node.get(key, default)
        if not isinstance(v, bool):
            self.error(node.line_of(key), f"{where}.{key}: expected true or false, got {v!r}")
            return default
        return v

    def output_pull(self, node, where, active_high, pin) -> str:
        """An output's external pull: released, the pin floats (both pin libraries switch the
        Pi's pull off on open and close, gpiozero #1146), so only this resistor holds it off."""
        pull = self.choice(node, "pull", where, ("down", "up"), "down")
        if not active_high and pull != "up" and (pin is None or boot_pulls_high(pin)):
            # (on GPIO9-27 the boot-pull check already rejects an active-low output)
            self.error(node.line_of("active_high"), f"{where}: an active-low output is switched on by a released, "
                       f"floating pin unless an external pull-up holds it off; fit a 10k pull-up and declare it "
                       f"(pull: up)")
        elif active_high and pull == "up":
            self.error(node.line_of("pull"), f"{where}: a pull-up on an active-high output switches it on "
                       f"whenever the pin is released; fit the 10k pull-down (pull: down)")
        return pull

    def duration(self, node, key, where, default: float) -> float:
        if key not in node:
            return default
        try:
            return parse_duration(node[key])
        except ValueError as exc:
            self.error(node.line_of(key), f"{where}.{key}: {exc}")
            return default

    def choice(self, node, key, where, choices, default):
        v = node.get(key, default)
        if isinstance(v, bool):  # someone wrote true/false for on/off
            v = "on" if v else "off"
        v = str(v).lower() if v is not None else v
        if v not in choices:
            self.error(node.line_of(key), f"{where}.{key}: {node.get(key)!r} is not one of {', '.join(choices)}")
            return default
        return v


def load_wiring(path: str | Path | None = None) -> Wiring:
    """Load and validate a pin map; raise ConfigError listing every problem.

    Warnings do not raise; they are kept in ``Wiring.warnings``.
    """
    path = Path(path) if path else default_wiring_path()
    data = load_file(path)
    c = _Checker(str(path))
    if not isinstance(data, dict):
        raise ConfigError([Problem(str(path), 1, "a pin map is a YAML mapping with rails:, keys:, senses:")])
    c.fields(data, "pin map", {"name", "rails", "keys", "senses", "display", "timing", "heartbeat", "combos",
                               "pin_library", "max_keys_down", "can"}, {"rails", "keys"})

    rails: dict[str, RailSpec] = {}
    rails_node = c.mapping(data.get("rails"), "rails", data.line_of("rails")) if "rails" in data else None
    if rails_node is not None:
        for name in REQUIRED_RAILS:
            if name not in rails_node:
                c.error(rails_node.line or data.line_of("rails"), f"rails: missing required rail {name!r}")
        for name, node in rails_node.items():
            spec = _rail(c, name, node, rails_node.line_of(name))
            if spec:
                rails[name] = spec

    keys: dict[str, KeySpec] = {}
    keys_node = c.mapping(data.get("keys"), "keys", data.line_of("keys")) if "keys" in data else None
    for name, node in (keys_node or {}).items():
        where = f"keys.{name}"
        node = c.mapping(node, where, keys_node.line_of(name))
        if node is None:
            continue
        if not NAME.match(str(name)):
            c.error(keys_node.line_of(name), f"{where}: a key name is lowercase letters, digits and _")
        if name in rails:
            c.error(keys_node.line_of(name), f"{where}: {name!r} is already a rail name")
        c.fields(node, where, {"pin", "active_high", "line", "switch", "pull", "note"}, {"pin"})
        pin = c.pin(node, where)
        active_high = c.boolean(node, "active_high", where, True)
        if pin is not None and boot_pulls_high(pin) == active_high:
            c.error(node.line_of("pin"), f"{where}: the Pi pulls GPIO{pin} {'high' if boot_pulls_high(pin) else 'low'} "
                    f"at boot, which would press this {'active-high' if active_high else 'active-low'} key")
        pull = c.output_pull(node, where, active_high, pin)
        switch = c.choice(node, "switch", where, ("photomos", "pc817"), "photomos")
        ladder = None
        if "line" in node:  # the unit's wiring, not the rig's: one bench serves many units
            c.error(node.line_of("line"), f"{where}.line: which keys share a key line belongs to the unit: write it "
                    f"in its profile (ladders: {{{node['line']}: [{name}, ...]}}, firmware_notes/README.md)")
        if pin is not None:
            keys[name] = KeySpec(name, pin, active_high, node.line, None if ladder is None else str(ladder),
                                 switch, pull)

    senses: dict[str, SenseSpec] = {}
    senses_node = c.mapping(data.get("senses"), "senses", data.line_of("senses")) if "senses" in data else LineDict()
    for name, node in (senses_node or {}).items():
        where = f"senses.{name}"
        node = c.mapping(node, where, senses_node.line_of(name))
        if node is None:
            continue
        c.fields(node, where, {"pin", "pull", "active", "rail", "debounce", "note"}, {"pin"})
        debounce = c.duration(node, "debounce", where, 0.0)
        pin = c.pin(node, where, output=False)
        rail = node.get("rail")
        if rail is not None and (not isinstance(rail, str) or rail not in rails):
            c.error(node.line_of("rail"), f"{where}.rail: {rail!r} is not a rail of this pin map "
                    f"(rails: {', '.join(rails)})")
            rail = None
        pull = c.choice(node, "pull", where, ("up", "down", "none"), "up")
        default_active = {"up": "low", "down": "high"}.get(pull)
        if pull == "none" and "active" not in node:
            c.error(node.line, f"{where}: with pull: none, say which level is active (active: high|low)")
        active = c.choice(node, "active", where, ("high", "low"), default_active or "high")
        if pin is not None:
            senses[name] = SenseSpec(name, pin, pull, active == "high", node.line, rail, debounce)
    if senses_node is not None and "unit_on" not in senses:
        c.warn(getattr(senses_node, "line", None) or 1,
               "senses: no 'unit_on' sense; the rig cannot see whether the unit is on")

    display = None
    if data.get("display") is not None:
        node = c.mapping(data["display"], "display", data.line_of("display"))
        if node is not None:
            c.fields(node, "display", {"port", "baud", "note"}, {"port"})
            baud = node.get("baud", 115200)
            if isinstance(baud, bool) or not isinstance(baud, int) or not 0 < baud <= 4_000_000:
                shown = baud if len(str(baud)) < 20 else str(baud)[:17] + "..."
                c.error(node.line_of("baud"), f"display.baud: {shown!r} is not a baud rate (1 to 4000000)")
                baud = 115200
            if "port" in node:
                display = DisplaySpec(str(node["port"]), baud, node.line)

    timing = Timing()
    if data.get("timing") is not None:
        node = c.mapping(data["timing"], "timing", data.line_of("timing"))
        if node is not None:
            c.fields(node, "timing", {"press", "gap", "relay_dwell", "rail_settle"})
            values = {}
            for k in ("press", "gap", "relay_dwell", "rail_settle"):
                if k in node:
                    try:
                        values[k] = parse_duration(node[k])
                    except ValueError as exc:
                        c.error(node.line_of(k), f"timing.{k}: {exc}")
            if not 0.01 <= values.get("rail_settle", 0.5) <= 10:
                c.error(node.line_of("rail_settle"), f"timing.rail_settle: {values['rail_settle']:g}s is outside "
                        f"10ms-10s; rig selftest measures how long a rail takes to decay and prints it")
                values.pop("rail_settle")
            timing = Timing(**values)

    heartbeat = _heartbeat(c, data)
    _outside_deadman(c, data, rails, keys, heartbeat)
    combos, can = _combos(c, data, keys), parse_can(c, data)  # can last: the HAT's pins against every other pin
    library = data.get("pin_library")
    if library is not None and str(library).lower() not in LIBRARIES:
        c.error(data.line_of("pin_library"), f"pin_library: {library!r} is not one of {', '.join(LIBRARIES)} "
                f"(leave it out for lgpio, the one rig is built for)")
        library = None
    keys_down = data.get("max_keys_down", KEYS_DOWN)
    if isinstance(keys_down, bool) or not isinstance(keys_down, int) or not 1 <= keys_down <= MAX_KEYS_DOWN:
        c.error(data.line_of("max_keys_down"), f"max_keys_down: {keys_down!r} is not 1-{MAX_KEYS_DOWN}: each key's "
                f"LED draws ~6.5 mA from the 3.3 V header, which the Pi can supply ~50 mA of in all "
                f"(wiring/README.md section 4)")
        keys_down = KEYS_DOWN

    errors = [p for p in c.problems if p.severity == "error"]
    if errors:
        raise ConfigError([p for p in c.problems if p.severity != "note"])
    return Wiring(str(data.get("name") or path.stem), str(path), rails, keys, senses, display, timing,
                  [p for p in c.problems if p.severity == "warning"], heartbeat, combos,
                  [p for p in c.problems if p.severity == "note"], None if library is None else str(library).lower(),
                  keys_down, can=can)


# A peripheral that can toggle a pin by itself (PWM, a clock, SPI or PCM traffic) would feed
# the dead-man with no rig running: the heartbeat never sits on one of these.
CLOCKED = {4: "GPCLK0", 5: "GPCLK1", 6: "GPCLK2", 7: "SPI0 CE1", 8: "SPI0 CE0", 9: "SPI0 MISO",
           10: "SPI0 MOSI", 11: "SPI0 SCLK", 12: "PWM0", 13: "PWM1", 18: "PWM0 and PCM CLK", 19: "PWM1 and PCM FS",
           20: "PCM DIN and GPCLK0", 21: "PCM DOUT and GPCLK1"}
# What the dead-man's time T must leave over the beat: a rising edge comes every 2 x every, and
# T (an RC monostable: the part's tolerance, the capacitor's bias and temperature drift) must
# hold at least two of those, so every <= T/4.
BEAT_RATIO = 4


def _heartbeat(c: _Checker, data) -> HeartbeatSpec | None:
    if data.get("heartbeat") is None:
        return None
    node = c.mapping(data["heartbeat"], "heartbeat", data.line_of("heartbeat"))
    if node is None:
        return None
    c.fields(node, "heartbeat", {"pin", "every", "timeout", "readback", "armed", "switches", "note"}, {"pin"})
    pin = c.pin(node, "heartbeat")
    every = c.duration(node, "every", "heartbeat", 0.25)
    if not 0.01 <= every <= 5:
        c.error(node.line_of("every"), f"heartbeat.every: {every:g}s is outside 10ms-5s")
    if "timeout" not in node:
        c.error(node.line, "heartbeat: missing field 'timeout': the dead-man's time T, which its parts set "
                "(wiring/README.md section 11: 4.7s for the default 1M + 4.7uF) and rig selftest measures")
        timeout = max(every * BEAT_RATIO, 0.04)
    else:
        timeout = c.duration(node, "timeout", "heartbeat", 5.0)
        if not 0.04 <= timeout <= 60:
            c.error(node.line_of("timeout"), f"heartbeat.timeout: {timeout:g}s is outside 40ms-60s")
        elif every * BEAT_RATIO > timeout:
            c.error(node.line_of("every"), f"heartbeat.every: {every:g}s against a dead-man time of {timeout:g}s: "
                    f"a rising edge comes every {2 * every:g}s and the dead-man's time must hold two of them "
                    f"with its tolerance; beat every {timeout / BEAT_RATIO:g}s or less")
    if pin is not None and boot_pulls_high(pin):
        # held high by the boot pull, the dead-man's input would sit at a level, not toggle, and
        # one glitch at power-on could trigger it: keep it on a quiet pulled-down pin
        c.error(node.line_of("pin"), f"heartbeat.pin: GPIO{pin} is pulled high at boot; use one of GPIO9-27")
    elif pin in CLOCKED:
        c.error(node.line_of("pin"), f"heartbeat.pin: GPIO{pin} is also {CLOCKED[pin]}, which can toggle it by "
                f"itself and feed the dead-man with no rig running; use a quiet pin (GPIO16, 17, 22-27)")
    # GPIO2 is allowed for the readback: its on-board 1.8k pull-up makes a broken wire read "tripped"
    readback = c.pin(node, "heartbeat", output=False, key="readback", allow=(2, 3))
    if readback is not None and readback in (2, 3):
        c.note(node.line_of("readback"), f"heartbeat.readback: GPIO{readback} is I2C1; keep dtparam=i2c_arm off")
    armed = c.choice(node, "armed", "heartbeat", ("low", "high"), "low")
    if "armed" in node and "readback" not in node:
        c.error(node.line_of("armed"), "heartbeat.armed: says the readback's level; give the readback pin too")
    return HeartbeatSpec(pin, every, node.line, timeout, readback, armed == "high") if pin is not None else None


def _outside_deadman(c: _Checker, data, rails, keys, heartbeat) -> None:
    """The default dead-man switches the 0 V return (SW0V) of active-high drivers. An active-low
    output sinks into its own GPIO instead, so it never returns through SW0V: the dead-man could
    not cut it. Refused, unless the map says the dead-man switches the supply (switches: high)."""
    if heartbeat is None:
        return
    node = data["heartbeat"]
    side = c.choice(node, "switches", "heartbeat", ("low", "high"), "low")
    if side == "high":
        return
    for kind, group in (("rails", rails), ("keys", keys)):
        for name, spec in group.items():
            if not spec.active_high:
                c.error(spec.line, f"{kind}.{name}: an active-low output sinks into its GPIO, not through the "
                        f"dead-man's switched 0 V, so a stalled rig could leave it on; wire it active-high, or put "
                        f"the dead-man on the supply side and say so (heartbeat: switches: high, wiring/README.md "
                        f"section 11)")


def _combos(c: _Checker, data, keys) -> dict[frozenset, ComboSpec]:
    out: dict[frozenset, ComboSpec] = {}
    if data.get("combos") is None:
        return out
    node = c.mapping(data["combos"], "combos", data.line_of("combos"))
    for name, spec in (node or {}).items():
        where = f"combos.{name}"
        line = node.line_of(name)
        names = [p.strip() for p in str(name).split("+")]
        if len(names) < 2 or not all(names):
            c.error(line, f"{where}: a combo is two or more keys joined by + (e.g. mode+scan)")
            continue
        for n in names:
            if n not in keys:
                c.error(line, f"{where}: no key {n!r} in this pin map")
        spec = c.mapping(spec, where, line)
        if spec is None:
            continue
        c.fields(spec, where, {"stagger", "note"})
        stagger = c.duration(spec, "stagger", where, 0.0)
        if stagger > MAX_STAGGER:
            c.error(spec.line_of("stagger"), f"{where}.stagger: {stagger:g}s; a person staggers by tens of ms, and "
                    f"past ~{MAX_STAGGER * 1000:g} ms a unit may take the first key as a press of its own")
        out[frozenset(names)] = ComboSpec(tuple(names), stagger, line)
    return out


def _rail(c: _Checker, name, node, line) -> RailSpec | None:
    where = f"rails.{name}"
    node = c.mapping(node, where, line)
    if node is None:
        return None
    if not NAME.match(str(name)):
        c.error(line, f"{where}: a rail name is lowercase letters, digits and _")
    c.fields(node, where, {"pin", "active_high", "contact", "safe", "required", "iso", "pull", "note"},
             {"pin", "safe"})
    pin = c.pin(node, where)
    active_high = c.boolean(node, "active_high", where, True)
    pull = c.output_pull(node, where, active_high, pin)
    contact = c.choice(node, "contact", where, ("no", "nc"), "no")
    safe_on = c.choice(node, "safe", where, ("on", "off"), "off") == "on"
    required = c.boolean(node, "required", where, True)
    if pin is None:
        return None
    spec = RailSpec(name, pin, active_high, contact, safe_on, required, str(node.get("iso", "")), node.line, pull)
    if "safe" in node and (released_on := contact == "nc") != safe_on:
        c.error(node.line_of("safe"), f"{where}: safe state is {'on' if safe_on else 'off'} but a released relay "
                f"on its {contact.upper()} contact leaves the rail {'on' if released_on else 'off'}; "
                f"a crash or power loss on the Pi would leave it unsafe (wire it through the "
                f"{'NC' if safe_on else 'NO'} contact)")
    energised_at_boot = boot_pulls_high(pin) == active_high
    on_at_boot = spec.energised_for(True) == energised_at_boot
    if "safe" in node and on_at_boot != safe_on:
        relay = f"this {'active-high' if active_high else 'active-low'} relay"  # low: an active-high one stays released
        c.error(node.line_of("pin"), f"{where}: the Pi pulls GPIO{pin} {'high' if boot_pulls_high(pin) else 'low'} at boot, "
                f"which {'energises ' + relay if energised_at_boot else 'leaves ' + relay + ' released'} and switches "
                f"{name} {'on' if on_at_boot else 'off'}; its safe state is {'on' if safe_on else 'off'}")
    return spec
