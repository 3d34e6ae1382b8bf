"""The procedure language: every kind of error gives file:line, and no pin moves."""

import json


from rig.errors import ConfigError
from rig.run.procedure import builtin_names, check, load_procedure
from rig.unit.profiles import load_profiles
from rig.bench.wiring import load_wiring
from .spare_keys import SPARE_WIRING


def errors_of(path, profile="vw-safe", wiring=None, params=None):
    try:
        proc = load_procedure(str(path))
    except ConfigError as exc:
        return [(p.line, p.message) for p in exc.problems]
    w = wiring or load_wiring()
    return [(p.line, p.message) for p in check(proc, w, load_profiles()[profile] if profile else None, params)]


def test_every_builtin_checks_clean_for_every_profile_the_default_rig_can_drive():
    profiles = load_profiles()
    default = {p.id for p in profiles.values() if p.keys_needed <= set(load_wiring().keys)}
    assert {"vw-safe", "ford", "honda", "renault", "becker-mercedes"} <= default
    w = load_wiring(SPARE_WIRING)  # a channel renamed for the family's own button (wiring/bench.yaml)
    drivable = [p for p in profiles.values() if p.keys_needed <= set(w.keys)]
    assert {"vauxhall-opel", "gm-theftlock", "vw-concert-us"} <= {p.id for p in drivable}
    assert set(builtin_names()) == {"reproduce-safe", "enter-code", "lockout-wait", "read-serial",
                                    "bench-removal", "unlock"}
    for name in builtin_names():
        for p in drivable:
            assert check(load_procedure(name), w, p) == [], (name, p.id)


def test_unknown_step_kind(write_yaml):
    path = write_yaml("name: x\nsteps:\n  - power: {acc: on}\n  - presss: mode\n", "p.yaml")
    (line, msg), = errors_of(path)
    assert line == 4 and msg.startswith("unknown step kind 'presss'")


def test_bad_durations_are_all_reported(write_yaml):
    path = write_yaml("""
        name: x
        steps:
          - wait: 90s
          - wait: 30min
          - wait: 1h
          - wait: soon
          - press: {keys: mode, hold: 2 seconds}
        """, "p.yaml")
    assert errors_of(path) == [
        (6, "wait: for: 'soon' is not a duration (write e.g. 90s, 30min, 1h)"),
        (7, "press: hold: '2 seconds' is not a duration (write e.g. 90s, 30min, 1h)"),
    ]


def test_a_key_the_wiring_lacks(write_yaml):
    path = write_yaml("name: x\nsteps:\n  - press: mode+dx\n", "p.yaml")
    (line, msg), = errors_of(path)
    assert line == 3 and msg.startswith("press: key 'dx' is not on this bench")


def test_a_key_the_profile_needs_but_the_wiring_lacks(write_yaml):
    path = write_yaml("name: x\nneeds: [profile, unit, code]\nsteps:\n  - enter_code: {}\n", "p.yaml")
    (line, msg), = errors_of(path, profile="vw-beta")
    assert line == 4
    assert "the profile vw-beta needs key(s) dx, fm which the pin map" in msg


def test_unknown_field_and_unknown_reference(write_yaml):
    path = write_yaml("""
        name: x
        steps:
          - expect: {display: locked, within: 5s, colour: red}
          - wait: "${profile.lockout.wiat}"
          - wait: "${params.nope}"
        """, "p.yaml")
    got = errors_of(path)
    assert got[0][0] == 3 and "expect: unknown field 'colour'" in got[0][1]
    path2 = write_yaml("""
        name: x
        steps:
          - wait: "${profile.lockout.wiat}"
          - wait: "${params.nope}"
        """, "q.yaml")
    assert errors_of(path2) == [(3, "wait: ${profile.lockout.wiat}: no 'wiat'"), (4, "wait: ${params.nope}: no 'nope'")]


def test_references_resolve_to_profile_values(write_yaml, tmp_path):
    proc = load_procedure("reproduce-safe")
    assert check(proc, load_wiring(), load_profiles()["ford"], {"margin": "10s"}) == []
    assert check(proc, load_wiring(), load_profiles()["ford"], {"margn": "10s"})[0].message.startswith(
        "--set margn: this procedure has no parameter")


def test_not_yaml_names_the_line(write_yaml):
    path = write_yaml("name: x\nsteps:\n  - power: {acc: on\n  - wait: 1s\n", "p.yaml")
    (line, msg), = errors_of(path)
    assert line == 4 and msg.startswith("not valid YAML")


def test_a_broken_procedure_moves_no_pin(run_rig, write_yaml, tmp_path):
    run_rig("sim", "reset", "--profile", "vw-safe", "--code", "5173", "--state", "unlocked")
    before = json.loads((tmp_path / "sim-unit.json").read_text())
    path = write_yaml("name: x\nsteps:\n  - power: {acc: on}\n  - press: {keys: mode, hold: forever}\n", "p.yaml")
    events = tmp_path / "events.jsonl"
    r = run_rig("--backend", "sim", "--events", str(events), "run", str(path), "--profile", "vw-safe")
    assert r.returncode == 2
    assert "p.yaml:4: error: press: hold: 'forever' is not a duration" in r.stderr
    assert not events.exists()  # the bench was never opened
    assert not (tmp_path / "data" / "rig" / "runs").exists()
    after = json.loads((tmp_path / "sim-unit.json").read_text())
    assert after == before


def test_a_code_on_the_command_line_is_refused(run_rig):
    r = run_rig("--backend", "sim", "run", "enter-code", "--profile", "vw-safe", "--unit", "U1", "--new-unit", "--set", "code=5173")
    assert r.returncode == 2
    assert "a code never goes on the command line" in r.stderr


def test_a_code_of_the_wrong_shape_is_refused_before_any_pin(run_rig, tmp_path):
    run_rig("sim", "reset", "--profile", "honda", "--code", "12345")
    before = (tmp_path / "sim-unit.json").read_text()
    events = tmp_path / "events.jsonl"
    run = ("--backend", "sim", "--events", str(events), "run", "enter-code", "--profile", "honda", "--unit", "U1", "--new-unit")
    r = run_rig(*run, env={"RIG_CODE": "12375"})  # 7 is not on a Honda keypad
    assert r.returncode == 2
    assert "not a honda code: it must be 5 digits from 123456" in r.stderr
    assert "12375" not in r.stderr + r.stdout
    assert (tmp_path / "sim-unit.json").read_text() == before  # the unit was never even powered
    assert not events.exists() and not (tmp_path / "data" / "rig" / "runs").exists()
    assert "enter-code" not in run_rig("runs", "list").stdout
    ok = run_rig(*run, env={"RIG_CODE": "12345"})  # the same command with a good code does all of that
    assert ok.returncode == 0 and events.exists() and (tmp_path / "data" / "rig" / "runs").exists()
