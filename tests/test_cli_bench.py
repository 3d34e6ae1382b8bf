"""The bench commands as a new user would try them from the README."""

import pytest

VIRTUAL = {"RIG_CLOCK": "virtual"}


def test_press_a_combo(run_rig):
    r = run_rig("--backend", "mock", "press", "mode+scan", "--hold", "2", env=VIRTUAL)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "pressed mode+scan for 2s"


def test_power_for_a_duration_then_release(run_rig, tmp_path):
    log = tmp_path / "ev.jsonl"
    r = run_rig("--backend", "mock", "--events", str(log), "power", "acc", "on", "--for", "1s", env=VIRTUAL)
    assert r.returncode == 0, r.stderr
    assert "holding acc on for 1s" in r.stderr
    import json
    rails = [(e["t"], e["to"]) for e in map(json.loads, log.read_text().splitlines()) if e["kind"] == "rail"]
    assert rails == [(0.0, "on"), (1.0, "off")]


def test_piped_shell_session(run_rig):
    r = run_rig("--backend", "mock", "shell", input="power acc on\npress mode+scan 3s\nwait 5s\nstatus\n", env=VIRTUAL)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "acc on", "pressed mode+scan for 3s", "waited 5s",
        "rail battery: on", "rail acc: on", "rail ignition: off", "keys: all up", "sense unit_on: off",
        "sense battery_v: off", "sense acc_v: off",
    ]


def test_shell_script_error_stops_with_line_number(run_rig):
    r = run_rig("--backend", "mock", "shell", input="power acc on\npress mdoe\nstatus\n", env=VIRTUAL)
    assert r.returncode == 2
    assert "line 2: no key 'mdoe'" in r.stderr
    assert "rail acc" not in r.stdout  # it stopped before status


@pytest.mark.parametrize("args, code, text", [
    (["press"], 2, "Missing argument"),
    (["press", "nokey"], 2, "no key 'nokey'"),
    (["power", "acc", "sideways"], 2, "'sideways' is not one of"),
    (["press", "mode", "--hold", "fast"], 2, "not a duration"),
])
def test_exit_codes_say_what_went_wrong(run_rig, args, code, text):
    r = run_rig("--backend", "mock", *args, env=VIRTUAL)
    assert r.returncode == code
    assert text in r.stderr


def test_hardware_backend_without_gpio_names_the_way_out(run_rig):
    r = run_rig("status", env={"GPIOZERO_PIN_FACTORY": ""})
    assert r.returncode == 2
    assert "--backend sim" in r.stderr


@pytest.mark.parametrize("cmd", [["press"], ["power"], ["shell"], ["status"], ["wiring", "check"]])
def test_help_teaches_with_an_example(run_rig, cmd):
    r = run_rig(*cmd, "--help")
    assert r.returncode == 0
    assert "Example" in r.stdout and "rig " in r.stdout
