"""pytest plugin for hardware-in-the-loop CI: the bench as fixtures.

Loaded through the ``pytest11`` entry point wherever rig is installed. It adds
options and fixtures, and changes nothing else.

    pytest --rig-backend sim          # CI without a Pi (the default)
    pytest --rig-backend hardware     # on the bench's Pi

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

Every bench a fixture opens is released at teardown, whatever the test did:
keys up, rails to their safe state.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("rig", "head-unit bench rig")
    group.addoption("--rig-backend", choices=("sim", "mock", "hardware"), default="sim",
                    help="which bench the rig fixtures drive (default: sim)")
    group.addoption("--rig-wiring", default=None, help="pin map YAML (default: the packaged one)")


def pytest_configure(config):
    config.addinivalue_line("markers", "rig_hardware: needs the real bench (runs only with --rig-backend hardware)")
    config.addinivalue_line("markers", "rig_unit(profile, code, **state): start a fresh simulated unit for the test")


def pytest_collection_modifyitems(config, items):
    try:
        backend = config.getoption("--rig-backend")
    except ValueError:
        return
    if backend == "hardware":
        return
    skip = pytest.mark.skip(reason="needs the real bench: run with --rig-backend hardware")
    for item in items:
        if "rig_hardware" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rig_wiring(request):
    from .wiring import load_wiring

    return load_wiring(request.config.getoption("--rig-wiring"))


@pytest.fixture
def rig_sim_state(tmp_path):
    """Where the simulated unit of this test keeps its memory."""
    return tmp_path / "sim-unit.json"


@pytest.fixture
def rig_sim_unit(rig_sim_state):
    """Start a fresh simulated unit: ``rig_sim_unit("ford", code="2580", state="lockout")``."""
    from .sim.backend import reset_unit

    def make(profile: str, code: str, **kw):
        return reset_unit(rig_sim_state, profile, code, **kw)

    return make


@pytest.fixture
def rig_backend_factory(request, rig_sim_state):
    """A callable wiring -> Backend for the chosen --rig-backend."""
    from .backends import hardware_backend, mock_backend
    from .clock import VirtualClock

    name = request.config.getoption("--rig-backend")
    if name == "sim":
        from .sim.backend import reset_unit, sim_backend

        marker = request.node.get_closest_marker("rig_unit")
        if marker is not None:
            reset_unit(rig_sim_state, *marker.args, **marker.kwargs)
        return lambda w: sim_backend(w, rig_sim_state)
    if name == "mock":
        return lambda w: mock_backend(w, VirtualClock())
    return hardware_backend


@contextmanager
def held_bench(wiring, backend_factory):
    """Open a bench for a test; release it (keys up, rails safe) and close the backend after."""
    from .bench import Bench

    backend = backend_factory(wiring)
    bench = Bench(wiring, backend)
    try:
        bench.open()
        yield bench
    finally:
        bench.release("test teardown")
        backend.close()


@pytest.fixture
def rig_bench(rig_wiring, rig_backend_factory):
    """An open Bench; released (keys up, rails safe) at teardown, however the test ended."""
    with held_bench(rig_wiring, rig_backend_factory) as bench:
        yield bench


@pytest.fixture
def rig_run(rig_wiring, rig_backend_factory, tmp_path):
    """Run a procedure as ``rig run`` would; returns a JobResult (outcome, exit_code, log)."""
    from .job import Job, run_job
    from .secret import Code

    def run(procedure, profile=None, unit=None, code=None, **kw):
        job = Job(procedure, rig_wiring, rig_backend_factory, str(tmp_path / "ledger.sqlite"),
                  str(tmp_path / "runs"), profile, unit, code=Code(code) if code else None, **kw)
        return run_job(job)

    return run
