"""`rig sim reset --knob/--ideal` and `rig sim show`: knobs stored with the unit, bad input named."""

import json

import pytest

from rig.bench.benchlock import BenchLock
from rig.errors import ConfigError
from rig.sim.backend import sim_backend
from rig.sim.knobs import parse_assignment
from rig.bench.wiring import load_wiring


def test_knobs_are_stored_with_the_unit(run_rig):
    r = run_rig("sim", "reset", "--profile", "ford", "--code", "1234", "--ideal",
                "--knob", "boot_delay=1.5s", "--knob", "amp_remote=stuck_low",
                "--knob", "rail_fault={rail: acc, kind: fuse, after: 2min}")
    assert r.returncode == 0, r.stderr
    knobs = json.loads(run_rig("sim", "show", "--json").stdout)["knobs"]
    assert knobs["boot_delay"] == 1.5 and knobs["amp_remote"] == "stuck_low"
    assert knobs["rail_fault"] == {"rail": "acc", "kind": "fuse", "after": 120.0}
    assert knobs["display_lag"] == [0.0, 0.0]  # --ideal under the explicit knobs


def test_a_stuck_low_amp_remote_through_the_cli(run_rig):
    run_rig("sim", "reset", "--profile", "ford", "--code", "1234", "--ideal", "--knob", "amp_remote=stuck_low")
    s = run_rig("--backend", "sim", "shell", input="power acc on\nwait 5s\nstatus\n")
    assert s.returncode == 0, s.stderr
    assert "sense unit_on: off" in s.stdout and "sense acc_v: on" in s.stdout
    assert "display: CODE - - - -" in s.stdout


def test_bad_knobs_are_refused_before_anything_is_written(run_rig, tmp_path):
    r = run_rig("sim", "reset", "--profile", "ford", "--code", "1234", "--knob", "amp_remote=sometimes")
    assert r.returncode == 2 and "not one of normal" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "sim-unit.json").exists()


@pytest.mark.parametrize("arg,says", [("foo=1", "no knob 'foo'"), ("rail_fault={rail: acc, kind: fuse}", "needs 'after'"),
                                      ("rail_fault={rail: horn, kind: fuse, after: 1}", "rail 'horn'"),
                                      ("boot_delay", "NAME=VALUE"), ("boot_delay=-1", "negative"),
                                      ("timer_drift=2", "drift"), ("display_lag=[0.4, 0.1]", "min is above max"),
                                      ("seed=x", "whole number"), ("splash=[", "not a value")])
def test_bad_knob_says_what_is_wrong(arg, says):
    with pytest.raises(ConfigError) as exc:
        parse_assignment(arg)
    assert says in str(exc.value)


def test_reset_help_lists_every_knob(run_rig):
    from rig.sim.knobs import IDEAL

    out = run_rig("sim", "reset", "--help").stdout
    assert all(name in out for name in IDEAL)


def test_missing_or_corrupt_state_file_is_named_not_a_traceback(run_rig, tmp_path):
    state = tmp_path / "sim-unit.json"
    for junk in (None, "{not json"):
        if junk is not None:
            state.write_text(junk)
        for args in (("sim", "show"), ("--backend", "sim", "status")):
            r = run_rig(*args)
            assert r.returncode == 2 and str(state) in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("junk", ["[1, 2]", '{"profile": "ford"}', '{"profile": "gone", "code_hash": "x"}',
                                  '{"profile": "ford", "code_hash": "x", "lockout_left": "soon"}',
                                  '{"profile": "ford", "code_hash": "x", "wrong_total": "many"}',
                                  '{"profile": "ford", "code_hash": "x", "knobs": {"boot_delay": "later"}}'])
def test_damaged_state_file_is_a_config_error_naming_it(tmp_path, junk):
    state = tmp_path / "sim-unit.json"
    state.write_text(junk)
    with pytest.raises(ConfigError) as exc:
        backend = sim_backend(load_wiring(), state)
        backend.close()
    assert str(state) in str(exc.value)
    lock = BenchLock(tmp_path / "sim-unit.json.lock")
    lock.acquire()  # not left held by the failed open (that would raise BenchBusy)
    lock.release()


def test_sim_show_lists_the_knobs_one_a_line(run_rig):
    run_rig("sim", "reset", "--profile", "ford", "--code", "1234", "--knob", "display_lag=[0.1, 0.2]",
            "--knob", "rail_fault={rail: acc, kind: welded}")
    out = run_rig("sim", "show").stdout
    assert "    display_lag: [0.1, 0.2]" in out
    assert "    rail_fault: {'rail': 'acc', 'kind': 'welded'}" in out
