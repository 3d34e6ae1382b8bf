"""Shared fixtures: pin maps written on the fly, a virtual clock, a bench on the mock backend."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rig.bench.backends import mock_backend
from rig.bench.bench import Bench
from rig.bench.clock import VirtualClock
from rig.bench.wiring import load_wiring
from tests.rigcli import rig_child, rig_in_process

REPO = Path(__file__).resolve().parent.parent

# Where PYTHONDONTWRITEBYTECODE is set (containers often set it), every child the suite
# starts (rig, rig serve, pytest, a lab's exporters) and every xdist worker would compile
# rig from source again: ~40 ms each. The suite's processes cache bytecode as Python does by
# default (__pycache__ is git-ignored). Set before xdist starts its workers.
if os.environ.pop("PYTHONDONTWRITEBYTECODE", None):
    sys.dont_write_bytecode = False


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker more than the CPUs this process may use. About a third of the
    suite's time is spent waiting (on a lab's coordinator, Chromium, a child rig, a paced clock),
    and the extra worker fills it: 34 s -> 29 s on 2 cores. PYTEST_XDIST_AUTO_NUM_WORKERS wins."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return cpus + 1


# Modules whose tests take seconds each (a lab in network namespaces, Chromium, real `rig`
# processes and servers). One of these collected last keeps a worker busy after the others ran
# dry: started first, they overlap the thousands of short tests instead. Whole modules move,
# keeping their order; with xdist they are also dealt out among the workers (see _dealt).
SLOW_FIRST = ("test_lab_hosts.py", "test_lab.py", "browser/", "security/", "test_signals_campaign.py",
              "test_can_signals.py", "test_display_memory.py", "test_serve_client.py", "test_serve_process.py",
              "test_signals_session.py", "test_signals_exit.py", "test_serve_lab.py", "test_pytest_plugin.py")


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return next((i for i, name in enumerate(SLOW_FIRST) if name in path), len(SLOW_FIRST))

    items.sort(key=rank)  # stable: every module keeps its own order
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    if workers > 1:
        items[:] = _dealt(items, [rank(item) < len(SLOW_FIRST) for item in items], workers)


LABS = ("tests/test_lab_hosts.py", "tests/test_lab.py")


def _dealt(items, slow, workers: int) -> list:
    """The order to hand ``workers`` xdist workers, each starting on its share of the slow modules.

    xdist's worksteal scheduler (pyproject's addopts) sends worker i the i-th of ``workers``
    consecutive blocks, then lets an idle worker take the tail of the longest queue. Slow-first
    alone put every slow module in the first block, one worker's (its chain ran ~300 s under
    load, the others' ~110 s). Here each block starts with slow modules dealt whole in turn,
    heaviest first (a module's fixtures, one Chromium, stay on one worker); short tests fill it.
    """
    modules: dict[str, list] = {}
    fast = []
    for item, is_slow in zip(items, slow):
        if is_slow:
            module = item.nodeid.split("::", 1)[0]
            # the two labs stay one after the other on one worker, as before: their timed stories
            # (restarts, a grace, a lockout wait at a set speed) never share the cores with each other
            modules.setdefault("labs" if module in LABS else module, []).append(item)
        else:
            fast.append(item)
    blocks = [[] for _ in range(workers)]
    for i, module in enumerate(modules.values()):
        blocks[i % workers] += module
    out = []
    for i, block in enumerate(blocks):
        size = (len(items) - len(out)) // (workers - i)  # what worksteal sends worker i of what is left
        take = max(0, size - len(block))
        out += block + fast[:take]
        fast = fast[take:]
    return out + fast


@pytest.fixture(scope="session")
def _parsed_yaml_dir(tmp_path_factory):
    # rig's parsed-YAML cache is keyed by content, so the session's `rig` children share one
    return tmp_path_factory.mktemp("xdg-cache")


_UNMADE = itertools.count()


@pytest.fixture(autouse=True)
def _hermetic(request, monkeypatch, _parsed_yaml_dir):
    """No test reads or writes the developer's (or CI's) real rig settings and data.

    The data and runtime folders are under the test's tmp_path when it has one; otherwise
    under a path of its own that is made only if something writes there (a tmp_path for
    each of the ~1,000 tests that need none cost ~0.5 ms apiece).
    """
    for name in list(os.environ):
        if name.startswith("RIG_") or name == "GPIOZERO_PIN_FACTORY":
            monkeypatch.delenv(name)
    if "tmp_path" in request.fixturenames:
        home = request.getfixturevalue("tmp_path")
    else:
        home = _parsed_yaml_dir.parent / "unmade" / str(next(_UNMADE))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(_parsed_yaml_dir))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "xdg-run"))  # no test talks to a real `rig serve`
    # ... nor to one found where a user's shell looks next (/run/rig, /run/user/UID, /tmp/rig-UID):
    # a `rig serve` started by hand on this machine, or by a test elsewhere, would take the test's
    # commands. `rig` run in-process looks only where this test's servers write.
    from rig.serve import client

    monkeypatch.setattr(client, "_candidates", lambda: [client.discovery_path()])


def _children() -> set[int]:
    pid = os.getpid()
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return {int(p) for p in fh.read().split()}
    except OSError:
        return set()


@pytest.fixture(autouse=True)
def _reap_children():
    """A process a test started (a rig run, a command on a pty) never outlives the test, even a failed one."""
    before = _children()
    yield
    for pid in _children() - before:  # only this test's own children, by id
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


@pytest.fixture
def clock():
    return VirtualClock()


@pytest.fixture
def write_yaml(tmp_path):
    """Write a YAML file from an indented string; returns its path."""

    def write(text: str, name: str = "bench.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def wiring():
    return load_wiring()


@pytest.fixture
def bench(wiring, clock):
    with Bench(wiring, mock_backend(wiring, clock)) as b:
        yield b


def pin_states(bench_or_backend, gpio: int) -> list[bool]:
    """The whole state history of a mock pin, as a list of levels."""
    factory = getattr(bench_or_backend, "backend", bench_or_backend).pin_factory
    return [s.state for s in factory.pin(gpio).states]


def pin_durations(bench_or_backend, gpio: int) -> list[tuple[float, bool]]:
    factory = getattr(bench_or_backend, "backend", bench_or_backend).pin_factory
    return [(round(s.timestamp, 6), s.state) for s in factory.pin(gpio).states]


@pytest.fixture
def run_rig(tmp_path):
    """Run the `rig` command against this test's own unit, ledger and data folder; returns a
    CompletedProcess. In this process by default (:func:`rig_in_process`); ``run_rig.child(...)``
    starts a real ``python -m rig`` where the process itself is under test."""

    def environment(env):
        full_env = dict(os.environ)  # already free of the caller's RIG_* (see _hermetic)
        full_env["RIG_SIM_STATE"] = str(tmp_path / "sim-unit.json")
        full_env["RIG_LEDGER"] = str(tmp_path / "ledger.sqlite")
        full_env["XDG_DATA_HOME"] = str(tmp_path / "data")
        full_env["COLUMNS"] = "200"
        full_env.update(env or {})
        return full_env

    def run(*args, input=None, env=None, timeout=60):
        return rig_in_process(args, environment(env), tmp_path, input)

    def child(*args, input=None, env=None, timeout=60):
        return rig_child(args, environment(env), tmp_path, input, timeout)

    run.child = child
    return run


@pytest.fixture
def rig_main(monkeypatch, tmp_path, capsys):
    """Run ``rig --backend mock ARGS`` in this process (virtual clock, a temporary ledger);
    returns (exit code, stdout, stderr). Faster than a child process per case."""
    from rig.cli import main

    monkeypatch.setenv("RIG_CLOCK", "virtual")
    monkeypatch.setenv("RIG_LEDGER", str(tmp_path / "ledger.sqlite"))
    monkeypatch.setenv("RIG_LOG_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("COLUMNS", "80")

    def run(*args):
        capsys.readouterr()
        code = main(["--backend", "mock", *args])
        got = capsys.readouterr()
        return code, got.out, got.err

    return run
