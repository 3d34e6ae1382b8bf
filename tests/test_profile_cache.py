"""Profiles are parsed once per process, and a changed note is read again."""

import pytest

from rig.errors import ConfigError
from rig.unit.profiles import load_profiles
from tests.test_profiles import GOOD


def test_the_same_notes_give_the_same_profiles_without_parsing_again(tmp_path, monkeypatch):
    (tmp_path / "t.md").write_text(GOOD)
    first = load_profiles([tmp_path])
    import rig.unit.profiles

    def no_parse(*_a, **_k):
        raise AssertionError("parsed again")

    monkeypatch.setattr(rig.unit.profiles, "load_text", no_parse)
    again = load_profiles([tmp_path])
    assert again["t1"] is first["t1"]
    again.pop("t1")  # the caller's dict is its own
    assert "t1" in load_profiles([tmp_path])


def test_a_note_changed_in_place_is_read_again(tmp_path):
    note = tmp_path / "t.md"
    note.write_text(GOOD)
    assert load_profiles([note])["t1"].attempts.before_lockout == 2
    note.write_text(GOOD.replace("{value: 2,", "{value: 3,"))  # same size, likely the same mtime tick
    assert load_profiles([note])["t1"].attempts.before_lockout == 3


def test_a_broken_note_is_reported_every_time_and_its_fix_seen(tmp_path):
    note = tmp_path / "t.md"
    note.write_text(GOOD.replace("count: 4,", "count: four,"))
    for _ in range(2):
        with pytest.raises(ConfigError):
            load_profiles([note])
    note.write_text(GOOD)
    assert load_profiles([note])["t1"].digits.count == 4


def test_a_profile_pattern_is_compiled_once():
    p = load_profiles()["vw-safe"]
    assert p.pattern("locked") is p.pattern("locked")
    assert p.pattern("locked").search("SAFE")
