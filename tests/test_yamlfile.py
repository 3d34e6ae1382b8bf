"""YAML with line numbers: the C (libyaml) and the Python parser give the same data, lines and errors."""

from pathlib import Path

import pytest

from rig import yamlcache, yamlfile
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
    monkeypatch.setattr(yamlcache, "KEEP", 3)
    for n in range(6):
        load_text(f"pin: {n}\n", "bench.yaml")
    assert len(list(remembered.iterdir())) == 3
    assert load_text("pin: 0\n", "bench.yaml")["pin"] == 0  # dropped, so parsed again


# -- what a file can ask the loader for is bounded ------------------------------------------
LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))  # 10**9 leaves, 380 bytes


@pytest.mark.parametrize("fast", [True, False])
def test_an_alias_is_refused_with_its_line_before_it_expands(fast):
    """A few hundred bytes of nested aliases took 3 minutes and 5.8 GB; they are refused at once."""
    with pytest.raises(ConfigError) as err:
        load_text(LAUGHS, "p.yaml", fast=fast)
    (problem,) = err.value.problems
    assert (problem.file, problem.line) == ("p.yaml", 2) and "alias (*a)" in problem.message


@pytest.mark.parametrize("text", ["a: &x 1\nb: *x\n", "base: &b {pin: 1}\nacc:\n  <<: *b\n", "- &s [1]\n- *s\n"])
def test_every_alias_is_refused_even_one_that_expands_to_nothing_much(text):
    with pytest.raises(ConfigError, match=r"alias \(\*[xbs]\)"):
        load_text(text, "p.yaml")


def test_text_past_the_cap_is_refused_before_it_is_parsed(monkeypatch):
    import yaml

    monkeypatch.setattr(yaml, "load", lambda *a, **k: pytest.fail("parsed"))
    with pytest.raises(ConfigError, match=r"p.yaml:3: error: 256 KiB of YAML; the rig reads at most 256 KiB"):
        load_text("- x\n" * (64 * 1024 + 1), "p.yaml", first_line=3)


def test_a_file_past_the_cap_is_not_read_whole(tmp_path):
    big = tmp_path / "image.yaml"
    with open(big, "wb") as fh:
        fh.truncate(1 << 30)  # a sparse gigabyte: reading it whole would take the memory
    with pytest.raises(ConfigError, match=r"image.yaml: error: over 256 KiB; is this the right file\?"):
        yamlfile.load_file(big)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("text, line, said", [
    ("a: 1\nwait: !!float x\n", 2, "!!float 'x' is not a value of that type"),
    ("wait: !!int 1.5\n", 1, "!!int '1.5' is not a value of that type"),
    ("flag: !!bool maybe\n", 1, "!!bool 'maybe' is not a value of that type"),
    ("when: !!timestamp x\n", 1, "!!timestamp: the rig reads text, numbers"),
    ("when: !!timestamp 2024-01-01\n", 1, "!!timestamp: the rig reads text, numbers"),
    ("blob: !!binary aGVsbG8=\n", 1, "!!binary: the rig reads text"),
    ("keys: !!set {a, b}\n", 1, "!!set: the rig reads text"),
    ("keys: !!omap [a: 1]\n", 1, "!!omap: the rig reads text"),
    ("keys: !!pairs [a: 1]\n", 1, "!!pairs: the rig reads text"),
    ("x: 1\nkeys: !!seq word\n", 2, "!!seq on something that is not a list"),
    ("keys: !!map word\n", 1, "!!map on something that is not a mapping"),
    ("rails:\n  ? [a, b]\n  : 1\n", 2, "a key is a word or a number, not a list or a mapping"),
    ("rails: {{a: 1}: 2}\n", 1, "a key is a word or a number"),
])
def test_a_value_its_tag_cannot_make_names_its_line(fast, text, line, said):
    with pytest.raises(ConfigError) as err:
        load_text(text, "p.yaml", fast=fast)
    (problem,) = err.value.problems
    assert (problem.file, problem.line) == ("p.yaml", line) and said in problem.message, problem


def test_a_date_stays_the_text_it_was_written_as():
    assert load_text("checked: 2024-01-31\n", "n.md")["checked"] == "2024-01-31"


# -- the parsed-YAML cache ---------------------------------------------------------------------
def _entries(folder):
    return [p for p in folder.iterdir() if not p.name.startswith(".")]


@pytest.mark.parametrize("damage", [
    lambda blob: __import__("marshal").dumps(None),          # marshal reads it: None for a notes file
    lambda blob: __import__("marshal").dumps(("d", 1, [])),  # an empty mapping, well formed
    lambda blob: blob[:-1] + bytes([blob[-1] ^ 1]),          # one bit
    lambda blob: bytes(range(256)) * 4,
    lambda blob: b"",
])
def test_an_entry_that_does_not_verify_is_thrown_away_and_the_notes_parsed_afresh(remembered, monkeypatch, damage):
    """Random bytes in the cache made every command refuse, blaming a packaged notes file (issue 20)."""
    import rig.unit.profiles as profiles

    monkeypatch.setattr(profiles, "_CACHE", {})
    fresh = profiles.load_profiles()
    for entry in _entries(remembered):
        entry.write_bytes(damage(entry.read_bytes()))
    monkeypatch.setattr(profiles, "_CACHE", {})
    again = profiles.load_profiles()
    assert sorted(again) == sorted(fresh) and again["vw-safe"].attempts.__dict__ == fresh["vw-safe"].attempts.__dict__
    for entry in _entries(remembered):  # each damaged one was thrown away and kept afresh
        assert yamlcache.recall(entry.name, yamlfile._thaw) is not yamlcache.MISSING


def test_no_entry_grows_past_a_small_bound(remembered):
    big = "".join(f"- {{pin: {n}, name: key{n}, note: some words here}}\n" for n in range(4000))  # ~170 KB
    assert len(load_text(big, "big.yaml")) == 4000
    assert load_text("pin: 1\n", "small.yaml") == {"pin": 1}
    sizes = [p.stat().st_size for p in _entries(remembered)]
    assert sizes and max(sizes) <= yamlcache.ENTRY_MAX


def test_files_under_a_never_remembered_folder_are_not_kept(remembered, tmp_path, monkeypatch):
    monkeypatch.setitem(yamlcache._DISK, "never", ())
    uploads = tmp_path / "uploads"
    (uploads / "ab12").mkdir(parents=True)
    (uploads / "ab12" / "p.yaml").write_text("name: sent\n")
    yamlfile.never_remember(uploads)
    assert yamlfile.load_file(uploads / "ab12" / "p.yaml") == {"name": "sent"}
    assert not _entries(remembered) if remembered.exists() else True
    (tmp_path / "mine.yaml").write_text("name: mine\n")
    yamlfile.load_file(tmp_path / "mine.yaml")
    assert len(_entries(remembered)) == 1
