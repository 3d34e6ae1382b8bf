"""YAML with line numbers: the C (libyaml) and the Python parser give the same data, lines and errors."""

from pathlib import Path

import pytest

from rig import yamlfile
from rig.errors import ConfigError
from rig.unit.profiles import front_matter
from rig.yamlfile import LineDict, LineList, load_text

REPO = Path(__file__).resolve().parent.parent
needs_libyaml = pytest.mark.skipif(yamlfile._CLoader is None, reason="PyYAML built without libyaml")


def _shipped():
    for note in sorted((REPO / "firmware_notes").glob("*.md")):
        if note.name.lower() != "readme.md":
            text, first = front_matter(note.read_text(encoding="utf-8"), str(note))
            yield note.name, text, first
    for path in sorted((REPO / "rig" / "procedures").glob("*.yaml")) + [REPO / "wiring" / "bench.yaml"]:
        yield path.name, path.read_text(encoding="utf-8"), 1


def _lines(node):
    """The data with every line number a LineDict/LineList carries, for comparing loaders."""
    if isinstance(node, LineDict):
        return ("map", node.line, [(k, node.key_lines[k], _lines(v)) for k, v in node.items()])
    if isinstance(node, LineList):
        return ("seq", node.line, list(zip(node.item_lines, map(_lines, node))))
    return (type(node).__name__, node)


@needs_libyaml
@pytest.mark.parametrize("name, text, first", list(_shipped()), ids=lambda v: v if isinstance(v, str) and len(v) < 40 else "")
def test_both_parsers_read_every_shipped_file_the_same(name, text, first):
    fast = load_text(text, name, first_line=first)
    slow = load_text(text, name, first_line=first, fast=False)
    assert fast == slow
    assert _lines(fast) == _lines(slow)


BAD = [
    "a: [1, 2\nb: 3\n",                      # unclosed flow sequence
    "a: 1\n  b: 2\n",                         # bad indentation
    "a: 'open\nb: 2\n",                      # unclosed quote
    "a: 1\na: 2\n",                           # duplicate key (the rig's own check)
    "- a\nb: 1\n",                            # sequence then mapping
    "a:\n\t- 1\n",                            # a tab for indentation
    "a: *nothing\n",                          # unknown alias
    "a: !!python/object:os.system x\n",       # an unsafe tag
    "a: \x07bell\n",                          # a control character
    "a: {b: 1\n",                             # unclosed flow mapping
    "key: value: other\n",                    # mapping values not allowed here
]


@needs_libyaml
@pytest.mark.parametrize("text", BAD)
def test_both_parsers_give_the_same_error_and_line(text):
    with pytest.raises(ConfigError) as fast:
        load_text(text, "bad.yaml", first_line=5)
    with pytest.raises(ConfigError) as slow:
        load_text(text, "bad.yaml", first_line=5, fast=False)
    assert [(p.file, p.line, p.message) for p in fast.value.problems] == \
           [(p.file, p.line, p.message) for p in slow.value.problems]
    assert fast.value.problems[0].message.startswith("not valid YAML")


@pytest.mark.parametrize("fast", [True, False])
def test_only_true_and_false_are_booleans(fast):
    data = load_text("safe: on\nkey: no\nflag: true\nother: FALSE\n", "x.yaml", fast=fast)
    assert data == {"safe": "on", "key": "no", "flag": True, "other": False}


@pytest.fixture
def remembered(tmp_path):
    yamlfile.remember_parses(tmp_path / "parsed")
    yield tmp_path / "parsed"
    yamlfile.remember_parses(None)


@pytest.mark.parametrize("name, text, first", list(_shipped())[:3] + list(_shipped())[-1:],
                         ids=lambda v: v if isinstance(v, str) and len(v) < 40 else "")
def test_a_remembered_parse_gives_the_same_data_and_lines(remembered, name, text, first):
    fresh = load_text(text, name, first_line=first)
    again = load_text(text, name, first_line=first)  # from the disk
    assert list(remembered.iterdir()), "nothing was kept"
    assert _lines(again) == _lines(fresh)


def test_an_edited_file_is_parsed_again_not_recalled(remembered):
    assert load_text("rails: {acc: {pin: 17}}\n", "bench.yaml")["rails"]["acc"]["pin"] == 17
    edited = load_text("\nrails: {acc: {pin: 27}}\n", "bench.yaml")
    assert edited["rails"]["acc"]["pin"] == 27 and edited.line_of("rails") == 2


def test_a_damaged_cache_is_ignored_and_errors_are_never_kept(remembered):
    load_text("keys: [mode, scan]\n", "bench.yaml")
    for kept in remembered.iterdir():
        kept.write_bytes(b"\x00garbage")
    assert load_text("keys: [mode, scan]\n", "bench.yaml")["keys"] == ["mode", "scan"]
    for _ in range(2):
        with pytest.raises(ConfigError, match=r"bench.yaml:2"):
            load_text("keys: [mode\nrails: {\n", "bench.yaml")


def test_the_cache_keeps_only_the_latest_files(remembered, monkeypatch):
    monkeypatch.setattr(yamlfile, "_KEEP", 3)
    for n in range(6):
        load_text(f"pin: {n}\n", "bench.yaml")
    assert len(list(remembered.iterdir())) == 3
    assert load_text("pin: 0\n", "bench.yaml")["pin"] == 0  # dropped, so parsed again
