"""The pytest plugin's fixtures, as a HIL CI suite would use them."""

import pytest


def test_a_procedure_through_the_fixtures(rig_sim_unit, rig_run):
    rig_sim_unit("ford", code="2580")
    result = rig_run("enter-code", profile="ford", unit="M1", code="2580")
    assert (result.outcome, result.exit_code) == ("passed", 0), result.message


@pytest.mark.rig_unit("vw-safe", code="5173")
def test_the_bench_fixture_gives_an_open_bench_on_the_marked_unit(rig_bench):
    rig_bench.power("acc", True)
    rig_bench.clock.sleep(3)  # a realistic simulated unit boots (1.2 s) and shows its splash (1.5 s) first
    assert rig_bench.read("unit_on") is True and rig_bench.display.current() == "SAFE"


def test_the_bench_is_released_however_the_test_ends(rig_wiring, rig_sim_unit, rig_sim_state):
    from rig.pytest_plugin import held_bench
    from rig.sim.backend import sim_backend

    rig_sim_unit("vw-safe", code="5173")
    with pytest.raises(AssertionError):
        with held_bench(rig_wiring, lambda w: sim_backend(w, rig_sim_state)) as bench:
            bench.power("acc", True)
            bench.down("mode")
            raise AssertionError("the test failed mid-press")
    assert bench.released
    assert [bench.backend.pin_factory.pin(p).state for p in (13, 27, 17)] == [False, False, False]


@pytest.mark.rig_hardware
def test_needs_the_real_bench(rig_bench):
    raise AssertionError("must be skipped without --rig-backend hardware")


# -- a CI suite written from the README, run in a fresh directory ------------------
import os  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402
from pathlib import Path  # noqa: E402

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_example() -> str:
    text = README.read_text()
    return re.search(r"<!-- plugin-example -->\s*```python\n(.*?)```", text, re.S).group(1)


def run_pytest(where, *args, env=None, timeout=120, autoload=False):
    """pytest in a child, in ``where``, as CI would run it; the child is reaped even on a timeout.

    Only rig's plugin is loaded unless ``autoload``: this environment's other plugins
    (hypothesis, xdist, labgrid's) cost the child ~1 s of start-up and play no part in what
    these tests check. The README suite's own test loads them all, finding rig's plugin
    through its entry point as CI does.
    """
    full = dict(os.environ, XDG_DATA_HOME=str(where / "xdg-data"), **(env or {}))
    plugins = []
    if not autoload:
        full["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        plugins = ["-p", "rig.pytest_plugin"]
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *plugins, "-rs", *args],
                          cwd=where, env=full, capture_output=True, text=True, timeout=timeout)


def outcomes(report: Path) -> dict:
    cases = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        kind = next((c.tag for c in case if c.tag in ("skipped", "failure", "error")), "passed")
        reason = next((c.get("message", "") for c in case if c.tag in ("skipped", "failure", "error")), "")
        props = [(p.get("name"), p.get("value")) for p in case.iter("property")]
        cases[case.get("name")] = (kind, reason, props)
    return cases


@pytest.fixture
def ci_dir(tmp_path):
    (tmp_path / "test_units.py").write_text(readme_example())
    return tmp_path


def test_the_readme_suite_passes_under_sim_and_leaves_its_artifacts(ci_dir):
    r = run_pytest(ci_dir, "--rig-backend", "sim", "--rig-artifacts", "art", "--junitxml", "report.xml",
                   autoload=True)
    assert r.returncode == 0, r.stdout + r.stderr
    cases = outcomes(ci_dir / "report.xml")
    assert {n: k for n, (k, _, _) in cases.items()} == {
        "test_ford_unlocks": "passed", "test_a_wrong_code_is_counted": "passed",
        "test_a_lockout_is_sat_out_first": "passed", "test_acc_relay_switches_the_unit_on": "skipped"}
    props = dict(cases["test_a_wrong_code_is_counted"][2])
    assert props["rig_backend"] == "sim" and props["rig_profile"] == "vw-safe" and props["rig_unit"] == "VW1"
    assert props["rig_outcome"] == "failed" and props["rig_attempts_used"] == "1"
    assert re.fullmatch(r"[0-9a-f]{12}", props["rig_wiring_hash"]) and props["rig_version"]
    unlock = [v for k, v in cases["test_a_lockout_is_sat_out_first"][2] if k == "rig_procedure"]
    assert unlock == ["unlock"]
    for test in ("test_ford_unlocks", "test_a_wrong_code_is_counted", "test_a_lockout_is_sat_out_first"):
        (kept,) = [d for d in (ci_dir / "art").iterdir() if d.name.endswith(test)]
        names = sorted(p.suffix for p in kept.iterdir())
        assert names == [".json", ".jsonl", ".svg", ".xml"], (kept, names)
        log = next(kept.glob("*.jsonl"))
        assert (ci_dir / dict(cases[test][2])["rig_log"]).resolve() == log.resolve()
        assert "2580" not in log.read_text() and "6284" not in log.read_text()


@pytest.mark.parametrize("backend", ["mock", "hardware"])
def test_the_readme_suite_off_the_simulator_skips_with_reasons_and_fails_without_gpio(ci_dir, backend):
    """Under mock every test is skipped, naming why. Under hardware on this machine (no GPIO) the
    simulated-unit tests are skipped, and the bench test is an error: a bench runner that lost
    its pin library fails instead of going green."""
    r = run_pytest(ci_dir, "--rig-backend", backend, "--rig-artifacts", "art", "--junitxml", "report.xml",
                   env={"GPIOZERO_PIN_FACTORY": ""} if backend == "hardware" else None)
    cases = outcomes(ci_dir / "report.xml")
    reasons = {n: why for n, (_, why, _) in cases.items()}
    assert "rig_unit starts a fresh simulated unit" in reasons["test_ford_unlocks"]
    assert "rig_sim_unit starts a fresh simulated unit" in reasons["test_a_wrong_code_is_counted"]
    assert "--rig-backend sim" in reasons["test_a_lockout_is_sat_out_first"]
    kinds = {n: k for n, (k, _, _) in cases.items()}
    if backend == "hardware":
        assert r.returncode == 1, r.stdout + r.stderr
        assert kinds.pop("test_acc_relay_switches_the_unit_on") == "error", cases
        why = reasons["test_acc_relay_switches_the_unit_on"]
        assert "--rig-backend hardware, and the bench's GPIO cannot be opened" in why and "no GPIO" in why, why
        assert "3 skipped, 1 error" in r.stdout, r.stdout
        summary = r.stdout.split("rig ---")[-1]  # once more where CI's log ends, with no traceback
        assert "the bench's GPIO could not be opened" in summary and "Traceback" not in r.stdout, r.stdout
    else:
        assert r.returncode == 0, r.stdout + r.stderr
        assert "--rig-backend hardware" in reasons["test_acc_relay_switches_the_unit_on"]
    assert set(kinds.values()) == {"skipped"}, cases
    assert not list((ci_dir / "xdg-data").rglob("ledger.sqlite"))  # no run, so no ledger touched


def test_under_hardware_a_chip_that_cannot_be_opened_is_an_error_not_a_skip(tmp_path):
    """A Pi 5 on a kernel before 6.6.45: lgpio loads and the chip it opens is the SoC's, not the header's."""
    (tmp_path / "conftest.py").write_text(
        "from rig.bench import backends\n\n"
        "class LGPIOFactory:\n    _handle, _chip = 1, 0\n    def close(self): pass\n\n"
        "backends.choose_pin_factory = lambda: (LGPIOFactory(), 'lgpio (gpiochip0)')\n"
        "backends.lgpio_can_start = lambda cwd=None: None\n"
        "backends.apply_lgpio_workaround = lambda: None\n"
        "backends.chip_identity = lambda f: (0, 'gpio-brcmstb@107d508500')\n")
    (tmp_path / "test_relay.py").write_text("def test_relay(rig_bench):\n    rig_bench.power('acc', True)\n")
    r = run_pytest(tmp_path, "--rig-backend", "hardware", "--junitxml", "report.xml")
    assert r.returncode == 1 and "1 error" in r.stdout, r.stdout + r.stderr
    kind, why, _ = outcomes(tmp_path / "report.xml")["test_relay"]
    assert kind == "error" and "gpiochip0 is gpio-brcmstb@107d508500, not the 40-pin header's chip" in why, why


def test_a_test_that_opens_the_bench_with_no_unit_gets_a_pytest_error(tmp_path):
    (tmp_path / "test_nounit.py").write_text(
        "def test_bench(rig_bench):\n    pass\n\n"
        "def test_run(rig_run):\n    rig_run('enter-code', profile='ford', unit='M1', code='2580')\n\n"
        "def test_no_serial(rig_sim_unit, rig_run):\n"
        "    rig_sim_unit('ford', code='2580')\n    rig_run('enter-code', profile='ford', code='2580')\n")
    r = run_pytest(tmp_path)
    assert r.returncode == 1
    out = r.stdout
    assert "1 failed, 1 error" in out or ("1 error" in out and "2 failed" in out), out
    assert "there is no simulated unit on it: mark the test @pytest.mark.rig_unit(PROFILE, code=CODE)" in out
    assert "rig_run('enter-code') needs unit=..." in out
    assert "Traceback" not in out and "ConfigError" not in out and "rig sim reset" not in out, out


def test_hardware_runs_count_in_the_benchs_own_ledger(tmp_path):
    (tmp_path / "test_where.py").write_text(
        "import os\n\ndef test_where(rig_ledger_path):\n    assert str(rig_ledger_path) == os.environ['WANT']\n")
    bench_ledger = tmp_path / "xdg-data" / "rig" / "ledger.sqlite"
    assert run_pytest(tmp_path, "--rig-backend", "hardware", env={"WANT": str(bench_ledger)}).returncode == 0
    mine = tmp_path / "bench.sqlite"
    assert run_pytest(tmp_path, "--rig-backend", "hardware", env={"WANT": str(mine), "RIG_LEDGER": str(mine)}) \
        .returncode == 0
    assert run_pytest(tmp_path, "--rig-backend", "hardware", "--rig-ledger", "x.sqlite",
                      env={"WANT": "x.sqlite", "RIG_LEDGER": str(mine)}).returncode == 0


def test_a_failing_test_leaves_no_process_behind(tmp_path):
    repo = Path(__file__).resolve().parent.parent
    (tmp_path / "conftest.py").write_text(f"import sys\nsys.path.insert(0, {str(repo)!r})\n"
                                          "from tests.conftest import _reap_children  # noqa: F401\n")
    (tmp_path / "test_leaky.py").write_text(
        "import subprocess, sys\n\n"
        "def test_leaky(tmp_path):\n"
        "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"    open({str(tmp_path / 'pid')!r}, 'w').write(str(child.pid))\n"
        "    assert False, 'the test failed with its child running'\n")
    r = run_pytest(tmp_path)
    assert r.returncode == 1 and "the test failed with its child running" in r.stdout
    pid = int((tmp_path / "pid").read_text())
    alive = Path(f"/proc/{pid}").exists()
    if alive:  # this test must not leak it either
        os.kill(pid, 9)
    assert not alive, f"pid {pid} outlived its test"


def test_the_rig_bench_fixture_lets_keys_go_before_rails_when_a_test_fails(tmp_path):
    (tmp_path / "test_keys.py").write_text(
        "def test_fails_with_keys_down(rig_bench):\n"
        "    rig_bench.power('acc', True)\n    rig_bench.down('mode+scan')\n    assert False, 'mid-press'\n")
    r = run_pytest(tmp_path, "--rig-backend", "mock", "--rig-artifacts", "art")
    assert r.returncode == 1 and "mid-press" in r.stdout
    (kept,) = (tmp_path / "art").iterdir()
    assert (kept / "bench.svg").read_text().startswith("<svg")
    from rig.records.report import read_events

    moves = [(e["kind"], e["what"], e.get("to")) for e in read_events(kept / "bench.jsonl")
             if e["kind"] in ("key", "rail", "bench")]
    assert moves[-4:] == [("key", "mode", "up"), ("key", "scan", "up"), ("rail", "acc", "off"),
                          ("bench", "released", None)], moves
