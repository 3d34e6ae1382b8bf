"""Property tests: whatever is in a file or on the command line, only the rig's own error escapes.

For every loader (pin map, profiles, procedures, durations, YAML) and for the CLI's argument
parsing: a bad input raises ConfigError whose every problem names its file and line, and a
refused command moves nothing (no pin, no ledger row, no simulated unit's memory).

Small and fast in CI (the ``ci`` profile, a few seconds in all); ``RIG_FUZZ=big`` runs the
``big`` profile for tens of thousands of examples::

    RIG_FUZZ=big python -m pytest -q tests/test_fuzz.py
"""

from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.durations import MAX_WAIT, format_duration, parse_duration
from rig.errors import ConfigError
from rig.run.procedure import builtin_dir, check, load_procedure
from rig.unit.profiles import load_profiles
from rig.bench.wiring import load_wiring
from rig.yamlfile import LineDict, LineList, load_file, load_text

REPO = Path(__file__).resolve().parent.parent
_common = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                     HealthCheck.too_slow])
settings.register_profile("ci", max_examples=100, **_common)
settings.register_profile("big", max_examples=5000, **{**_common, "derandomize": False})
FUZZ = settings.get_profile(os.environ.get("RIG_FUZZ", "ci"))


def examples(share: float):
    """This test's share of the profile's examples: cheap loaders get more, whole commands fewer."""
    return settings(FUZZ, max_examples=max(10, int(FUZZ.max_examples * share)))

NASTY = [math.inf, -math.inf, math.nan, -1, 0, 1, 10**20, 99999999999999999999, 1e308, "inf", "nan", "-5s",
         "1000000h", "48h", "49h", "[/bold]", "[red]x", "file:100: error", ":100:", "\x1b[31m", "a\x00b", "",
         "abc", "on", "off", "2s", "0s", "250ms", "${profile.lockout.wait}", "${params.nope}", "${unit.serial}",
         "${profile.lockout}", "mode+foo", "mode+", "+", None, True, False, [], {}, [[1]], ["SAFE", ["x"]],
         {"a": {"b": 1}}, {"sense": "unit_on"}, "é", "SAFE", "locked", "lockedd", "/[/", "/SAFE/"]
VALUES = st.one_of(st.sampled_from(NASTY), st.text(max_size=12), st.integers(), st.floats(),
                   st.lists(st.sampled_from(NASTY[:20]), max_size=3),
                   st.dictionaries(st.sampled_from(["a", "on", "unit_on", "display", "x"]),
                                   st.sampled_from(NASTY[:20]), max_size=2))


# -- helpers ---------------------------------------------------------------------------
def plain(node):
    """The rig's line-numbered YAML as plain dicts and lists, to mutate and dump again."""
    if isinstance(node, (LineDict, dict)):
        return {k: plain(v) for k, v in node.items()}
    if isinstance(node, (LineList, list)):
        return [plain(v) for v in node]
    return node


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, prefix + (i,))


@st.composite
def mutated(draw, doc):
    """``doc`` with one to three places replaced, deleted, or given an unknown field."""
    import copy

    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        where = list(paths(doc))[1:]
        path = draw(st.sampled_from(where))
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        how = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        if how == "delete":
            del parent[path[-1]]
        elif how == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["colour", "[/bold]", "if", "name", "hold", "x:100:"]))] = \
                copy.deepcopy(draw(VALUES))
        else:
            parent[path[-1]] = copy.deepcopy(draw(VALUES))  # a copy: NASTY's own lists must not grow
    return doc


def dump(doc) -> str:
    # libyaml's emitter where PyYAML has it: the pure-Python one was a third of this file's time
    return yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False, allow_unicode=True)


def assert_located(problems, file_hint: str):
    """Every problem says which file and which line."""
    assert problems, "a ConfigError with nothing in it"
    for p in problems:
        assert p.file and file_hint in p.file, p
        assert p.line is not None and p.line >= 1, f"no line for: {p}"


def load_or_located(fn, file_hint):
    try:
        return fn()
    except ConfigError as exc:
        assert_located(exc.problems, file_hint)
        return None


# -- durations ---------------------------------------------------------------------------
@examples(4)
@given(st.one_of(VALUES, st.from_regex(r"\A[0-9. ]{0,8}(ms|s|min|m|h|sec)?([0-9.]{0,4}(ms|s|min|h))?\Z")))
def test_a_duration_is_finite_and_bounded_or_a_value_error(value):
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 200
        return
    assert math.isfinite(seconds) and 0 <= seconds <= MAX_WAIT
    text = format_duration(seconds)
    assert "e-" not in text and "e+" not in text and len(text) <= 10


# -- YAML ------------------------------------------------------------------------------
@examples(2)
@given(st.one_of(st.text(max_size=80),
                 st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
                 st.integers(1, 1500).map(lambda n: "a: " + "[" * n + "]" * n),
                 st.integers(1, 1500).map(lambda n: "".join("  " * i + "-\n" for i in range(min(n, 60))))))
def test_any_text_is_yaml_or_a_located_config_error(text):
    try:
        load_text(text, "f.yaml")
    except ConfigError as exc:
        for p in exc.problems:
            assert p.file == "f.yaml"


def _every_tag() -> list[str]:
    """Every tag PyYAML can be asked to construct, by any of its loaders (the rig's must refuse or
    make each, never raise), and a few it has never heard of."""
    tags = set()
    for loader in (yaml.SafeLoader, yaml.FullLoader, yaml.UnsafeLoader):
        tags |= {t for t in loader.yaml_constructors if t}
        tags |= {t + "x" for t in loader.yaml_multi_constructors}
    short = lambda t: "!!" + t[len("tag:yaml.org,2002:"):] if t.startswith("tag:yaml.org,2002:") else f"!<{t}>"  # noqa: E731
    return sorted(map(short, tags)) + ["!", "!local", "!!nothing", "!<tag:example.com,2000:x>"]


TAGS = _every_tag()
TAGGED = st.sampled_from(["x", "''", "1", "1.5", "-1", "0x1f", "1e999", "true", "maybe", "2024-01-01",
                          "2024-13-45 25:61:00", "aGVsbG8=", "%%%", "~", ".nan", "[]", "[1, a]", "[a: 1]",
                          "{}", "{a: 1}", "{a, b}", "{? [a]: 1}", "os.system", "[os.system, [ls]]"])


@examples(2)
@given(st.sampled_from(TAGS), TAGGED, st.booleans())
def test_every_tag_with_any_value_is_a_value_or_a_located_error(tag, value, fast):
    text = f"name: x\nwait: {tag} {value}\n"
    try:
        data = load_text(text, "f.yaml", fast=fast)
    except ConfigError as exc:
        assert_located(exc.problems, "f.yaml")
        assert all(p.line == 2 for p in exc.problems), exc.problems
        return
    assert isinstance(data["wait"], (str, int, float, bool, type(None), LineList, LineDict)), data


def test_every_tag_is_tried():
    assert {"!!float", "!!int", "!!bool", "!!timestamp", "!!binary", "!!set", "!!omap",
            "!!python/object/apply:x"} <= set(TAGS)


# -- the pin map -------------------------------------------------------------------------
BENCH = plain(load_file(REPO / "wiring" / "bench.yaml"))


@examples(2)
@given(mutated(BENCH))
def test_a_mutated_pin_map_loads_or_names_file_and_line(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("w") / "bench.yaml"
    path.write_text(dump(doc), encoding="utf-8")
    load_or_located(lambda: load_wiring(path), "bench.yaml")


# -- profiles ------------------------------------------------------------------------------
def _front(path: Path):
    from rig.unit.profiles import front_matter

    text, first = front_matter(path.read_text(encoding="utf-8"), str(path))
    return plain(load_text(text, str(path), first_line=first))


NOTE = _front(REPO / "firmware_notes" / "vw-safe.md")


@examples(0.3)
@given(mutated(NOTE))
def test_a_mutated_profile_loads_or_names_file_and_line(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("p") / "vw-safe.md"
    path.write_text("---\n" + dump(doc) + "---\n\n# notes\n", encoding="utf-8")
    load_or_located(lambda: load_profiles([path]), "vw-safe.md")


# -- procedures ----------------------------------------------------------------------------
WIRING = load_wiring()
PROFILES = load_profiles()
PROCS = {p.stem: plain(load_file(p))
         for p in sorted(builtin_dir().glob("*.yaml"))}


@examples(2)
@given(st.sampled_from(sorted(PROCS)).flatmap(lambda name: mutated(PROCS[name])),
       st.sampled_from(["vw-safe", "ford", "honda", "vauxhall-opel"]))
def test_a_mutated_procedure_loads_and_checks_or_names_file_and_line(tmp_path_factory, doc, profile):
    path = tmp_path_factory.mktemp("q") / "proc.yaml"
    path.write_text(dump(doc), encoding="utf-8")
    proc = load_or_located(lambda: load_procedure(str(path)), "")
    if proc is None:
        return
    problems = check(proc, WIRING, PROFILES[profile])
    for p in problems:
        assert p.file and (p.line is not None or p.file.startswith("--")), p


# -- an empty entry anywhere (``battery_v:``) -------------------------------------------------
def _emptied(doc):
    """``doc`` once for each place in it, that place left empty (a key with nothing after it)."""
    import copy

    for path in list(paths(doc))[1:]:
        out = copy.deepcopy(doc)
        parent = out
        for p in path[:-1]:
            parent = parent[p]
        parent[path[-1]] = None
        yield path, out


def test_an_empty_entry_anywhere_in_a_pin_map_or_a_procedure_names_its_line(tmp_path):
    """An empty pin-map entry (``battery_v:``) was reported without its line."""
    docs = [("bench.yaml", BENCH, lambda p: load_wiring(p).warnings)]
    docs += [(f"{name}.yaml", PROCS[name], lambda p: check(load_procedure(str(p)), WIRING, PROFILES["vw-safe"]))
             for name in ("unlock", "lockout-wait")]
    for filename, doc, load in docs:
        for where, emptied in _emptied(doc):
            path = tmp_path / filename
            path.write_text(dump(emptied), encoding="utf-8")
            try:
                problems = load(path) or []
            except ConfigError as exc:
                problems = exc.problems
            for p in problems:
                assert p.file.startswith("--") or (p.line or 0) >= 1, (where, str(p))


def test_an_empty_entry_anywhere_in_a_profile_names_its_line(tmp_path):
    one = dict(NOTE, profiles=NOTE["profiles"][:1])  # vw-safe's first profile: the others repeat its fields
    for where, emptied in _emptied(one):
        path = tmp_path / "vw-safe.md"
        path.write_text("---\n" + dump(emptied) + "---\n\n# notes\n", encoding="utf-8")
        try:
            load_profiles([path])
        except ConfigError as exc:
            for p in exc.problems:
                assert (p.line or 0) >= 1, (where, str(p))


# -- the command line: refused means nothing moved -------------------------------------------
WORDS = st.sampled_from(["mode", "mode+scan", "mode+foo", "", "+", "acc", "battery", "nope", "on", "off",
                         "vw-safe", "vw-safee", "VW123", "1", "0", "-1", "99999999999999999999", "inf", "nan",
                         "1h", "0s", "250ms", "[/bold]", ":100:", "x=1", "margin=abc", "margin=inf",
                         "modle=x", "reproduce-safe", "enter-code", "unlok", "--json", "--limit", "--since"])
COMMANDS = st.sampled_from([
    ["press"], ["press", "mode", "--hold"], ["press", "mode", "--times"], ["power"], ["power", "acc", "on", "--for"],
    ["units", "show"], ["units", "list"], ["runs", "show"], ["runs", "list"], ["profiles", "show"],
    ["procedures", "show"], ["run"], ["run", "reproduce-safe", "--profile", "vw-safe", "--set"],
    ["run", "read-serial", "--profile", "vw-safe", "--unit", "U1", "--answer"], ["run", "reproduce-safe", "--profile"],
])


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


@examples(1)
@given(COMMANDS, st.lists(st.one_of(WORDS, st.text(max_size=8)), max_size=3))
def test_the_command_line_refuses_with_exit_2_and_moves_nothing(cli_env, monkeypatch, capsys, command, words):
    from rig.cli import main
    from rig.records.ledger import Ledger

    monkeypatch.setenv("RIG_CLOCK", "virtual")
    monkeypatch.setenv("RIG_LEDGER", str(cli_env / "ledger.sqlite"))
    monkeypatch.setenv("RIG_LOG_DIR", str(cli_env / "runs"))
    monkeypatch.setenv("RIG_LOCK", str(cli_env / "bench.lock"))
    events = cli_env / "events.jsonl"
    events.unlink(missing_ok=True)
    led = Ledger(cli_env / "ledger.sqlite")
    runs_before = len(led.runs(limit=10**6))
    led.close()
    code = main(["--backend", "mock", "--events", str(events), *command, *words])
    capsys.readouterr()
    assert code in (0, 1, 2, 3), code
    if code == 2:
        assert not events.exists(), (command, words)  # the bench never opened: no pin moved
        led = Ledger(cli_env / "ledger.sqlite")
        assert len(led.runs(limit=10**6)) == runs_before
        led.close()


def test_a_refused_run_leaves_the_simulated_unit_as_it_was(tmp_path, monkeypatch, capsys):
    """The same promise on --backend sim: the unit's memory is not touched by a refusal."""
    from rig.cli import main

    monkeypatch.setenv("RIG_SIM_STATE", str(tmp_path / "sim.json"))
    monkeypatch.setenv("RIG_LEDGER", str(tmp_path / "ledger.sqlite"))
    assert main(["sim", "reset", "--profile", "vw-safe", "--code", "5173"]) == 0
    before = (tmp_path / "sim.json").read_bytes()
    bad = tmp_path / "p.yaml"
    bad.write_text(textwrap.dedent("""\
        name: x
        steps:
          - power: {acc: on}
          - press: {keys: mode, times: 100000000}
          - wait: inf
        """), encoding="utf-8")
    for args in (["run", str(bad), "--profile", "vw-safe"], ["press", "mode+foo"], ["power", "acc", "on", "--for", "inf"],
                 ["run", "reproduce-safe", "--profile", "vw-safe", "--set", "margin=1000000h"]):
        assert main(["--backend", "sim", *args]) == 2, args
        assert (tmp_path / "sim.json").read_bytes() == before, args
    capsys.readouterr()
