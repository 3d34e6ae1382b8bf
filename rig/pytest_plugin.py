"""pytest plugin for hardware-in-the-loop CI: the bench as fixtures.

Loaded through the ``pytest11`` entry point wherever rig is installed. It adds
options, markers and fixtures, and changes nothing else.

    pytest --rig-backend sim          # CI without a Pi (the default)
    pytest --rig-backend hardware     # on the bench's Pi
    pytest --rig-artifacts rig-artifacts --junitxml report.xml   # keep what CI should keep

.. code-block:: python

    def test_unit_unlocks(rig_sim_unit, rig_run):
        rig_sim_unit("vw-safe", code="5173")
        assert rig_run("enter-code", profile="vw-safe", unit="U1", code="5173").outcome == "passed"

    @pytest.mark.rig_unit("ford", code="2580")   # a fresh simulated unit before the bench opens
    def test_presses(rig_bench):
        rig_bench.power("acc", True)

    @pytest.mark.rig_hardware          # skipped unless --rig-backend hardware
    def test_relays_click(rig_bench):
        rig_bench.power("acc", True)

What runs where: ``rig_unit`` and ``rig_sim_unit`` describe a fresh *simulated*
unit, so their tests run under ``sim`` only and are skipped with the reason
under ``mock`` (no unit at all) and ``hardware`` (the unit on the bench is not
the one the test describes, and entering codes into it would spend attempts
the test never counted). ``rig_hardware`` tests run under ``hardware`` only; there a
missing pin library or a chip that cannot be opened is an error, never a skip (a bench
runner that lost its GPIO must not go green). Under ``hardware`` runs are
counted in the bench's own ledger (the one ``rig run`` uses, or
``--rig-ledger``), never in a throw-away one that would reset the attempt
guard.

Every bench a fixture opens is released at teardown, whatever the test did:
keys up, rails to their safe state.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import ExitStack
from pathlib import Path

import pytest

from .run.heldbench import draw_timeline, held_bench  # noqa: F401  (held_bench: part of the plugin's API)

_SIM_ONLY = {
    "mock": "starts a fresh simulated unit, and --rig-backend mock has no unit (bare pins); "
            "run it with --rig-backend sim",
    "hardware": "starts a fresh simulated unit; on the real bench it would enter codes into the unit there, "
                "which is not the unit the test describes; run it with --rig-backend sim",
}


def pytest_addoption(parser):
    group = parser.getgroup("rig", "head-unit bench rig")
    group.addoption("--rig-backend", choices=("sim", "mock", "hardware"), default="sim",
                    help="which bench the rig fixtures drive (default: sim)")
    group.addoption("--rig-wiring", default=None, metavar="FILE",
                    help="pin map YAML (default: $RIG_WIRING, else the packaged one)")
    group.addoption("--rig-ledger", default=None, metavar="FILE",
                    help="ledger the runs are counted in (default: a fresh one per test under sim and mock; "
                         "under hardware the bench's own, as rig run uses it: $RIG_LEDGER, else "
                         "~/.local/share/rig/ledger.sqlite)")
    group.addoption("--rig-unit-model", default=None, metavar="MODULE:FACTORY[,NAME=VALUE...]",
                    help="under sim: your own simulated unit instead of the shipped one, with its settings "
                         "(default: $RIG_UNIT_MODEL; see rig.sim.model)")
    group.addoption("--rig-artifacts", default=None, metavar="DIR",
                    help="keep each test's run logs, SVG timelines, JUnit files and properties in DIR/<test>/")


def pytest_configure(config):
    config.addinivalue_line("markers", "rig_hardware: needs the real bench (runs only with --rig-backend hardware)")
    config.addinivalue_line("markers", "rig_unit(profile, code, **state): start a fresh simulated unit for the "
                                       "test (runs only with --rig-backend sim)")


_NO_GPIO = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter, config):
    """Under ``--rig-backend hardware`` with no GPIO, the reason once at the end, where CI's log ends."""
    why = config.stash.get(_NO_GPIO, None)
    if why is not None:
        terminalreporter.section("rig", sep="-", red=True, bold=True)
        terminalreporter.line(f"the bench's GPIO could not be opened, so every test that needs it failed: {why}")


def pytest_collection_modifyitems(config, items):
    try:
        backend = config.getoption("--rig-backend")
    except ValueError:
        return
    for item in items:
        if "rig_hardware" in item.keywords and backend != "hardware":
            item.add_marker(pytest.mark.skip(reason="needs the real bench: run with --rig-backend hardware"))
        if item.get_closest_marker("rig_unit") is not None and backend != "sim":
            item.add_marker(pytest.mark.skip(reason=f"rig_unit {_SIM_ONLY[backend]}"))


# -- where things are ----------------------------------------------------------
@pytest.fixture
def rig_wiring(request):
    """The pin map: --rig-wiring, else $RIG_WIRING, else the packaged one."""
    from .errors import ConfigError
    from .bench.wiring import load_wiring

    try:
        return load_wiring(request.config.getoption("--rig-wiring") or os.environ.get("RIG_WIRING") or None)
    except ConfigError as exc:
        pytest.fail(f"the pin map has problems:\n{exc}", pytrace=False)


@pytest.fixture
def rig_sim_state(tmp_path):
    """Where the simulated unit of this test keeps its memory."""
    return tmp_path / "sim-unit.json"


@pytest.fixture
def rig_ledger_path(request, tmp_path) -> Path:
    """The ledger this test's runs are counted in (see --rig-ledger)."""
    chosen = request.config.getoption("--rig-ledger")
    if chosen:
        return Path(chosen)
    if request.config.getoption("--rig-backend") == "hardware":
        from .cli.app import data_dir

        return Path(os.environ.get("RIG_LEDGER") or data_dir() / "ledger.sqlite")
    return tmp_path / "ledger.sqlite"


@pytest.fixture
def rig_artifacts(request) -> Path | None:
    """This test's directory under --rig-artifacts (created), or None without the option."""
    root = request.config.getoption("--rig-artifacts")
    if not root:
        return None
    name = re.sub(r"[^A-Za-z0-9_.=-]+", "_", request.node.nodeid).strip("_")[:150]
    path = Path(root) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


# -- units and backends ----------------------------------------------------------
def _unit_model(config):
    """The unit model of --rig-unit-model / $RIG_UNIT_MODEL (None: the shipped simulated unit)."""
    text = config.getoption("--rig-unit-model") or os.environ.get("RIG_UNIT_MODEL")
    if not text:
        return None
    from .errors import ConfigError
    from .sim.modelspec import load_model

    try:
        return load_model(text)
    except ConfigError as exc:
        pytest.fail(f"--rig-unit-model: {exc}", pytrace=False)


def _fresh_unit(config, path, what: str, profile: str, code: str, **kw):
    """A fresh simulated unit of the chosen model (``rig sim reset``), or a failure said the pytest way."""
    from .errors import ConfigError
    from .sim.backend import reset_unit

    model = _unit_model(config)
    try:
        if model is None or model.shipped:
            return reset_unit(path, profile, code, **kw)
        return model.reset(path, profile=profile, code=code, **kw)
    except (ConfigError, TypeError) as exc:
        pytest.fail(f"{what}: {exc}", pytrace=False)


@pytest.fixture
def rig_sim_unit(request, rig_sim_state):
    """Start a fresh simulated unit: ``rig_sim_unit("ford", code="2580", state="lockout")``.

    Skips the test under a backend other than sim (the unit would not be the bench's).
    """
    backend = request.config.getoption("--rig-backend")
    if backend != "sim":
        pytest.skip(f"rig_sim_unit {_SIM_ONLY[backend]}")
    if request.config.getoption("--rig-place", default=None):  # the bench of a lab place: a real unit
        from .pytest_plugin_lab import PLACE_SKIP

        pytest.skip(f"rig_sim_unit {PLACE_SKIP}")

    def make(profile: str, code: str, **kw):
        return _fresh_unit(request.config, rig_sim_state, f"rig_sim_unit({profile!r}, ...)", profile, code, **kw)

    return make


@pytest.fixture
def rig_backend_factory(request, rig_sim_state):
    """A callable wiring -> Backend for the chosen --rig-backend.

    A test with no simulated unit, or ``hardware`` on a machine whose GPIO cannot be
    opened, ends the test the pytest way (an error naming what to add or what is
    missing), not with a traceback from deep inside the rig.
    """
    from .bench.backends import hardware_backend, mock_backend
    from .bench.clock import VirtualClock
    from .errors import ConfigError, NoGPIO

    name = request.config.getoption("--rig-backend")
    if name == "sim":
        from .sim.backend import sim_backend

        marker = request.node.get_closest_marker("rig_unit")
        if marker is not None:
            _fresh_unit(request.config, rig_sim_state, f"@pytest.mark.rig_unit{marker.args!r}", *marker.args,
                        **marker.kwargs)
        model = _unit_model(request.config)
        attach = {} if model is None else {"unit_model": model.factory, "settings": model.settings, "name": model.spec}

        def sim(w):
            if not Path(rig_sim_state).exists():
                pytest.fail("this test opens the bench and there is no simulated unit on it: mark the test "
                            "@pytest.mark.rig_unit(PROFILE, code=CODE), or call rig_sim_unit(PROFILE, code=CODE) "
                            "first", pytrace=False)
            return sim_backend(w, rig_sim_state, **attach)

        return sim
    if name == "mock":
        return lambda w: mock_backend(w, VirtualClock())

    def hardware(w):
        try:
            backend = hardware_backend(w)
        except NoGPIO as exc:
            backend, request.config.stash[_NO_GPIO] = None, str(exc).replace("--backend ", "--rig-backend ")
        if backend is None:  # an error, never a skip: a runner that lost its pin library must not go green
            pytest.fail(f"--rig-backend hardware, and the bench's GPIO cannot be opened: "
                        f"{request.config.stash[_NO_GPIO]}", pytrace=False)
        import warnings

        for warning in backend.warnings:
            warnings.warn(warning, stacklevel=2)
        if w.display is not None and backend.display is None:  # the bench's serial tap, as rig run opens it
            from .unit.display import SerialTap

            backend.display = SerialTap(w.display.port, w.display.baud, backend.clock)
            backend.closers.append(backend.display.close)
        return backend

    return hardware


# -- the bench and runs ------------------------------------------------------------
@pytest.fixture
def rig_bench(request, rig_wiring, rig_backend_factory, rig_artifacts):
    """An open Bench; released (keys up, rails safe) at teardown, however the test ended."""
    from .errors import RigError

    log = rig_artifacts / "bench.jsonl" if rig_artifacts else None
    with ExitStack() as stack:
        try:
            bench = stack.enter_context(held_bench(rig_wiring, rig_backend_factory, log))
        except RigError as exc:  # a busy bench, a pin the hardware refuses: said the pytest way
            pytest.fail(f"rig_bench could not open the bench: {exc}", pytrace=False)
        for key, value in _bench_properties(request, rig_wiring).items():
            request.node.user_properties.append((key, value))
        yield bench


@pytest.fixture
def rig_run(request, rig_wiring, rig_backend_factory, rig_ledger_path, rig_artifacts, tmp_path):
    """Run a procedure as ``rig run`` would; returns a :class:`rig.run.job.JobResult`.

    ``rig_run(procedure, profile=None, unit=None, code=None, **kw)``; ``kw`` are
    :class:`rig.run.job.Job` fields: ``params`` (``--set``), ``answers``
    (``--answer``), ``yes``, ``allow_lockout``, ``allow_permanent``, ``junit``.
    Each run's properties are added to the test's JUnit record.
    """
    if request.config.getoption("--rig-place", default=None):  # a lab's bench, through its rig serve
        from .pytest_plugin_lab import place_runner

        return place_runner(request, rig_artifacts, tmp_path)
    from .errors import ConfigError
    from .run.job import Job, run_job
    from .run.procedure import load_procedure
    from .records.secret import Code

    if rig_artifacts is not None:
        logs = rig_artifacts
    elif request.config.getoption("--rig-backend") == "hardware":
        from .cli.app import data_dir

        logs = Path(os.environ.get("RIG_LOG_DIR") or data_dir() / "runs")
    else:
        logs = tmp_path / "runs"
    runs: list[dict] = []

    def run(procedure, profile=None, unit=None, code=None, **kw):
        call = f"rig_run({procedure!r})"
        try:
            needs = load_procedure(procedure).needs
        except ConfigError as exc:
            pytest.fail(f"{call}: {exc}", pytrace=False)
        missing = [f"{name}=..." for name, given in (("profile", profile), ("unit", unit), ("code", code))
                   if name in needs and not given]
        if missing:
            pytest.fail(f"{call} needs {', '.join(missing)} (the profile id, the unit's serial, the known code)",
                        pytrace=False)
        pending = str(rig_artifacts / "junit-pending.xml") if rig_artifacts else None
        junit = kw.pop("junit", None) or pending
        if unit and "new_unit" not in kw and rig_ledger_path == tmp_path / "ledger.sqlite":
            kw["new_unit"] = _unknown_unit(rig_ledger_path, unit)  # this test's own ledger: new to it
        job = Job(procedure, rig_wiring, rig_backend_factory, str(rig_ledger_path), str(logs), profile, unit,
                  code=Code(code) if code else None, junit=junit, **kw)
        try:
            result = run_job(job)
        except ConfigError as exc:
            pytest.fail(f"{call}: {exc}", pytrace=False)
        if pending is not None and junit == pending:  # named after the run's log, next to it
            os.replace(junit, Path(result.log).with_suffix(".xml"))
        props = {**_bench_properties(request, rig_wiring), "rig_profile": profile or "", "rig_unit": unit or "",
                 "rig_procedure": Path(procedure).stem, "rig_outcome": result.outcome,
                 "rig_attempts_used": _attempts_used(rig_ledger_path, unit, result.run_id),
                 "rig_log": result.log}
        for key, value in props.items():
            request.node.user_properties.append((key, value))
        runs.append(props)
        if rig_artifacts is not None:
            (rig_artifacts / "properties.json").write_text(json.dumps(runs, indent=1) + "\n")
        if result.outcome == "interrupted":  # a cancelled CI job: stop the session, as Ctrl-C would
            pytest.exit(f"{call}: {result.message}", returncode=130)
        return result

    return run


def _bench_properties(request, wiring) -> dict:
    from . import __version__

    return {"rig_backend": request.config.getoption("--rig-backend"), "rig_wiring_hash": wiring_hash(wiring),
            "rig_version": __version__}


def wiring_hash(wiring) -> str:
    """A short fingerprint of the pin map file, so a CI record says which wiring it ran on."""
    from .records.selftests import wiring_hash as digest

    return digest(wiring)


def _attempts_used(ledger_path, unit, run_id) -> int:
    from .records.ledger import Ledger

    if not unit:
        return 0
    led = Ledger(ledger_path)
    try:
        return sum(1 for a in led.attempts(unit) if a["run_id"] == run_id)
    finally:
        led.close()


def _unknown_unit(ledger_path, serial) -> bool:
    from .records.ledger import Ledger

    led = Ledger(ledger_path)
    try:
        return led.unit(serial) is None
    finally:
        led.close()
