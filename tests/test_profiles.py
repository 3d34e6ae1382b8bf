"""Profiles from firmware_notes: every shipped one loads; a broken one says file:line."""

import pytest

from rig.errors import ConfigError
from rig.unit.profiles import load_profiles

GOOD = """---
family: test
title: Test family
profiles:
  - id: t1
    name: one
    confidence: assumed
    display:
      locked: SAFE
      entry: "{digits}"
      wrong: SAFE
      lockout: WAIT
      unlocked: "{radio}"
    entry: {keys: [mode, scan], at_power_on: false, hold: 2s, max_hold: 10s}
    digits: {scheme: increment, count: 4, start: "1000", allowed: "0123456789",
             keys: [preset1, preset2, preset3, preset4], press: 0.3s, gap: 0.3s}
    confirm: {keys: [mode, scan], hold: 2s, until: locked, max_hold: 10s, result_within: 5s}
    attempts: {before_lockout: {value: 2, confidence: sourced, source: "[5]"}, after_lockout: 2, persistent: true}
    lockout: {wait: 1h, growth: fixed, rails: [battery, acc], rail_off: restart, ends: display}
    arming: {battery_off: 20s}
  - id: t2
    extends: t1
    name: two
    confidence: assumed
    entry: {keys: [tp, rds]}
---
notes
"""


def test_every_shipped_profile_loads_with_seven_families_or_more():
    profiles = load_profiles()
    families = {p.family for p in profiles.values()}
    assert {"vw-safe", "ford", "honda", "renault", "gm-theftlock", "vauxhall-opel", "becker-mercedes"} <= families
    for p in profiles.values():
        assert p.confidence, p.id
        assert set(p.display) >= {"locked", "entry", "wrong", "lockout", "unlocked"}


def test_confidence_and_extends(tmp_path):
    (tmp_path / "t.md").write_text(GOOD)
    ps = load_profiles([tmp_path])
    assert ps["t1"].confidence_of("attempts.before_lockout") == ("sourced", "[5]")
    assert ps["t1"].confidence_of("attempts.after_lockout") == ("assumed", "")
    assert ps["t2"].entry.keys == ["tp", "rds"] and ps["t2"].entry.hold == 2.0  # the rest is inherited
    assert ps["t2"].lockout.wait == 3600


def test_lockout_growth():
    ps = load_profiles()
    assert [ps["renault"].lockout_wait(n) for n in (1, 2, 3)] == [ps["renault"].lockout.wait * k for k in (1, 2, 4)]


@pytest.mark.parametrize("change, line, message", [
    ("      lockout: WAIT\n", 12, "t1: display: unknown display 'lockut'"),
    ("count: 4,", 15, "t1: digits.count: 'four' is not a whole number"),
    ("wait: 1h,", 19, "t1: lockout.wait: 'an hour' is not a duration (write e.g."),
    ("confidence: sourced, source", 18, "attempts.before_lockout: confidence 'sure' is not one of"),
    ("extends: t1", 22, "extends: no profile 't9' to extend"),
    ("scheme: increment", 15, "t1: digits.scheme: 'binary' is not one of increment, direct"),
])
def test_broken_profile_gives_file_and_line(tmp_path, change, line, message):
    broken = {
        "      lockout: WAIT\n": ("      lockout: WAIT\n", "      lockut: WAIT\n"),
        "count: 4,": ("count: 4,", "count: four,"),
        "wait: 1h,": ("wait: 1h,", "wait: an hour,"),
        "confidence: sourced, source": ("confidence: sourced", "confidence: sure"),
        "extends: t1": ("extends: t1", "extends: t9"),
        "scheme: increment": ("scheme: increment", "scheme: binary"),
    }[change]
    (tmp_path / "t.md").write_text(GOOD.replace(*broken))
    with pytest.raises(ConfigError) as info:
        load_profiles([tmp_path])
    got = [(p.line, p.message) for p in info.value.problems]
    assert any(l == line and m.startswith(message) for l, m in got), got
    assert all(p.file.endswith("t.md") for p in info.value.problems)


def test_front_matter_yaml_error_is_on_the_file_line(tmp_path):
    (tmp_path / "t.md").write_text(GOOD.replace("name: one", "name: [one"))
    with pytest.raises(ConfigError) as info:
        load_profiles([tmp_path])
    (p,) = info.value.problems
    assert p.message.startswith("not valid YAML") and p.line in (7, 8)


def test_profiles_cli(run_rig):
    r = run_rig("profiles", "list")
    assert r.returncode == 0
    for pid in ("vw-safe", "ford", "honda", "renault", "gm-theftlock", "vauxhall-opel", "becker-mercedes"):
        assert pid in r.stdout
    assert "sourced" in r.stdout and "assumed" in r.stdout
    s = run_rig("profiles", "show", "ford")
    assert s.returncode == 0
    assert "attempts.before_lockout" in s.stdout and "sourced" in s.stdout and "ASSUMED" in s.stdout
    assert run_rig("profiles", "show", "nope").returncode == 2


def test_display_pattern_for_a_debug_uart(tmp_path):
    (tmp_path / "t.md").write_text(GOOD.replace("    name: one\n", "    name: one\n    display_pattern: 'LCD: (?P<display>.*?) *$'\n"))
    p = load_profiles([tmp_path])["t1"]
    import re
    assert re.search(p.display_pattern, "12:00:01 LCD: SAFE  ").group("display") == "SAFE"
    (tmp_path / "t.md").write_text(GOOD.replace("    name: one\n", "    name: one\n    display_pattern: 'LCD(.*'\n"))
    with pytest.raises(ConfigError) as info:
        load_profiles([tmp_path])
    assert any(p.line == 7 and "display_pattern: not a regular expression" in p.message for p in info.value.problems)


def test_display_patterns_that_share_placeholders_combine():
    import re
    from rig.unit.templates import either, group, to_regex

    wrong = to_regex(["SAFE", "{n} SAFE", "SAFE {n}"])
    entry = to_regex(["{n} {digits}"])
    both = re.compile(either([wrong.pattern, entry.pattern, wrong.pattern]))  # joined twice over: still one regex
    assert group(both.search("9 SAFE"), "n") == "9"
    m = both.search("10 - - - -")
    assert (group(m, "n"), group(m, "digits")) == ("10", "- - - -")
    assert both.search("SAFE 10") and not both.search("WAIT")
