"""The pin map: every problem reported with file:line, all at once, before any pin moves."""

import pytest

from rig.errors import ConfigError
from rig.bench.wiring import load_wiring

GOOD = """
rails:
  battery: {pin: 17, active_high: true, contact: nc, safe: on}
  acc: {pin: 27, active_high: true, contact: "no", safe: off}
keys:
  mode: {pin: 13}
  scan: {pin: 18}
senses:
  unit_on: {pin: 6, pull: up}
"""


def problems(path):
    with pytest.raises(ConfigError) as info:
        load_wiring(path)
    return [(p.line, p.message) for p in info.value.problems]


def test_default_map_is_clean():
    w = load_wiring()
    assert w.warnings == []
    assert set(w.rails) == {"battery", "acc", "ignition"}
    assert {f"preset{i}" for i in range(1, 7)} | {"mode", "scan"} <= set(w.keys)
    assert w.senses["unit_on"].active_high is False
    # every output idles de-energised: that is what a crashed or unpowered Pi leaves
    assert all(not r.energised_for(r.safe_on) for r in w.rails.values())


def test_a_good_minimal_map_loads(write_yaml):
    w = load_wiring(write_yaml(GOOD))
    assert w.rails["battery"].safe_on and not w.rails["acc"].safe_on
    assert w.display is None


def test_pin_used_twice_names_both(write_yaml):
    path = write_yaml(GOOD.replace("scan: {pin: 18}", "scan: {pin: 13}"))
    assert problems(path) == [(6, "keys.scan.pin: GPIO13 is already used by keys.mode")]


def test_pin_out_of_range_and_reserved(write_yaml):
    text = GOOD.replace("mode: {pin: 13}", "mode: {pin: 31}").replace("scan: {pin: 18}", "scan: {pin: 14}")
    assert problems(write_yaml(text)) == [
        (5, "keys.mode.pin: GPIO31 is outside 0-27 (BCM numbering)"),
        (6, "keys.scan.pin: GPIO14 is reserved (UART TX, toggles at boot)"),
    ]


def test_unknown_fields_on_rails_and_keys(write_yaml):
    text = GOOD.replace("safe: off}", "safe: off, colour: red}").replace("mode: {pin: 13}", "mode: {pin: 13, hold: 2}")
    got = problems(write_yaml(text))
    assert (3, "rails.acc: unknown field 'colour' (allowed: active_high, contact, iso, note, pin, pull, required, safe)") in got
    assert (5, "keys.mode: unknown field 'hold' (allowed: active_high, line, note, pin, pull, switch)") in got


def test_missing_required_rail(write_yaml):
    text = GOOD.replace('  acc: {pin: 27, active_high: true, contact: "no", safe: off}\n', "")
    assert problems(write_yaml(text)) == [(2, "rails: missing required rail 'acc'")]


def test_relay_the_boot_pull_would_switch(write_yaml):
    # GPIO5 is pulled HIGH at boot: an active-high relay there energises and switches ACC on
    text = GOOD.replace("acc: {pin: 27,", "acc: {pin: 5,")
    (line, msg), = problems(write_yaml(text))
    assert line == 3
    assert msg.startswith("rails.acc: the Pi pulls GPIO5 high at boot, which energises this active-high relay "
                          "and switches acc on; its safe state is off")


def test_safe_state_must_be_the_released_state(write_yaml):
    text = GOOD.replace("contact: nc, safe: on", 'contact: "no", safe: on')
    got = problems(write_yaml(text))
    assert got[0][0] == 2 and "a released relay on its NO contact leaves the rail off" in got[0][1]


def test_key_pressed_by_boot_pull(write_yaml):
    (line, msg), = problems(write_yaml(GOOD.replace("mode: {pin: 13}", "mode: {pin: 13, active_high: false}")))
    assert (line, msg) == (5, "keys.mode: the Pi pulls GPIO13 low at boot, which would press this active-low key")


def test_not_yaml(write_yaml):
    path = write_yaml("rails:\n  battery: {pin: 17\n  acc: [\n")
    (line, msg), = problems(path)
    assert line == 3 and msg.startswith("not valid YAML")


def test_all_problems_at_once_in_file_order(write_yaml):
    text = GOOD.replace("mode: {pin: 13}", "mode: {pin: 2}").replace("scan: {pin: 18}", "scan: {pin: 2}")
    text = text.replace("pull: up}", "pull: sideways}")
    got = problems(write_yaml(text))
    # GPIO2 is reserved *and* pulled high at boot; the second use also clashes
    assert [line for line, _ in got] == [5, 5, 6, 6, 6, 8]
    assert got[-1] == (8, "senses.unit_on.pull: 'sideways' is not one of up, down, none")


def test_on_off_stay_words_not_booleans(write_yaml):
    # YAML 1.1 would read `no` as False; a key called `no` or `on` must stay a name
    w = load_wiring(write_yaml(GOOD + "  'on': {pin: 16}\n".replace("  'on'", "  extra")))
    assert "extra" in w.senses


def test_missing_unit_on_is_a_warning(write_yaml):
    w = load_wiring(write_yaml(GOOD.replace("senses:\n  unit_on: {pin: 6, pull: up}\n", "")))
    assert [p.message for p in w.warnings] == ["senses: no 'unit_on' sense; the rig cannot see whether the unit is on"]


def test_bad_durations_in_timing(write_yaml):
    got = problems(write_yaml(GOOD + "timing:\n  press: fast\n"))
    assert got == [(10, "timing.press: 'fast' is not a duration (write e.g. 250ms, 2s, 90s, 30min, 1h)")]


def test_wiring_check_command(run_rig, write_yaml):
    ok = run_rig("wiring", "check")
    assert ok.returncode == 0, ok.stderr
    assert "battery" in ok.stdout and "unit_on" in ok.stdout and "ok: 3 rails, 8 keys, 3 senses, heartbeat on GPIO26" in ok.stdout
    bad = run_rig("wiring", "check", str(write_yaml(GOOD.replace("scan: {pin: 18}", "scan: {pin: 13}"))))
    assert bad.returncode == 1
    assert "bench.yaml:6: error: keys.scan.pin: GPIO13 is already used by keys.mode" in bad.stderr
    no_sense = GOOD.replace("senses:\n  unit_on: {pin: 6, pull: up}\n", "")
    warn = run_rig("wiring", "check", str(write_yaml(no_sense)))
    assert warn.returncode == 0 and "warning: senses: no 'unit_on' sense" in warn.stderr


def test_bad_map_stops_a_command_before_any_pin(run_rig, write_yaml):
    bad = write_yaml(GOOD.replace("scan: {pin: 18}", "scan: {pin: 13}"))
    r = run_rig("--backend", "mock", "--wiring", str(bad), "press", "mode")
    assert r.returncode == 2
    assert "keys.scan.pin: GPIO13 is already used" in r.stderr and "nothing was switched" in r.stderr
    assert "pressed" not in r.stdout


@pytest.mark.parametrize("pin, kind, says", [
    (9, "warnings", "keys.eject.pin: GPIO9 is SPI0 MISO, the CAN HAT's in the CAN-HAT pin plan"),
    (25, "warnings", "keys.eject.pin: GPIO25 is"),
    (20, "notes", "keys.eject.pin: GPIO20 is also PCM DIN (I2S); keep that peripheral off in config.txt"),
])
def test_a_channel_on_a_can_hat_pin_is_warned_and_one_on_pcm_is_noted(write_yaml, pin, kind, says):
    """SPI0 (GPIO7-11), GPIO23 and 25 are a CAN HAT's; PCM (18-21) a sound card's: the shared-pin check knows both."""
    w = load_wiring(write_yaml(GOOD.replace("  scan: {pin: 18}\n", f"  scan: {{pin: 18}}\n  eject: {{pin: {pin}}}\n")))
    assert any(p.message.startswith(says) for p in getattr(w, kind)), [p.message for p in getattr(w, kind)]
