"""pytest plugin for a lab of benches: ``--rig-place`` and the ``rig_lab`` fixture.

Loaded through the ``pytest11`` entry point beside :mod:`rig.pytest_plugin`;
labgrid is imported only when a lab is used, so the base install is unaffected.

``--rig-place NAME|+`` makes ``rig_run`` run each procedure on the bench of a
labgrid place the CI job has reserved and acquired (``+``: the place of the
reservation in ``LG_TOKEN``), through the bench's ``rig serve``; its records
are copied back into ``--rig-artifacts`` (or the test's tmp folder)::

    eval "$(labgrid-client reserve --wait --shell family=vw-safe)"
    labgrid-client -p + acquire
    pytest --rig-place + --rig-artifacts artifacts tests/hil

``rig_lab`` is a whole lab on loopback, for testing lab jobs without a lab::

    def test_two_jobs_get_two_benches(rig_lab):
        rig_lab.add_sim_bench("bench-01", "vw-safe", code="1234", serial="VW1")
        env = rig_lab.env("ci-1")          # LG_COORDINATOR, RIG_TOKEN, LG_USERNAME for a client
        ...
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("rig", "head-unit bench rig")
    group.addoption("--rig-place", default=None, metavar="NAME|+",
                    help="rig_run runs on the bench of this acquired labgrid place (+: the reservation in "
                         "LG_TOKEN), through its rig serve; LG_COORDINATOR and RIG_TOKEN as for `rig --place`")


class SimLab:
    """A :class:`rig.lab.local.LocalLab` whose benches are simulated units made on the spot."""

    def __init__(self, root: Path):
        from .lab.local import LocalLab

        self.lab = LocalLab(root)

    def __getattr__(self, name):
        return getattr(self.lab, name)

    def add_sim_bench(self, place: str, profile: str, code: str, serial: str, *, state: str = "locked",
                      attempts: int = 0, speed: float | None = None, knobs: dict | None = None,
                      ideal: bool = True):
        """A fresh simulated unit (:func:`rig.sim.backend.reset_unit`) on a new bench for ``place``.

        ``ideal``: the unit answers at once (the lab is under test here, not the unit's timing).
        A unit that arrives with attempts spent is registered with them first, as an admin does
        with ``rig units add --attempts-used``; otherwise ``rig serve --unit`` registers it.
        """
        from .sim.backend import reset_unit  # the plugin is an edge: it may make simulated units

        path = self.lab.root / f"{place}-unit.json"
        mem = reset_unit(path, profile, code, state=state, attempts=attempts, serial=serial, knobs=knobs, ideal=ideal)
        if mem.wrong_in_window:  # the bench's ledger knows what the unit has used, as a lab's would
            from .records.ledger import Ledger
            from .unit.profiles import load_profiles

            led = Ledger(str(self.lab.root / f"{place}.sqlite"))
            try:
                led.add_unit(serial, profile)
                led.set_attempts_used(serial, mem.wrong_in_window, load_profiles()[profile], "arrived so")
            finally:
                led.close()
        return self.lab.add_bench(place, serial, profile, path, speed=speed)


@pytest.fixture
def rig_lab(tmp_path_factory):
    """A labgrid coordinator on loopback; add benches with ``add_sim_bench``. All stopped at teardown."""
    from .lab import need_labgrid

    try:
        need_labgrid()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))
    lab = SimLab(tmp_path_factory.mktemp("lab"))
    try:
        yield lab
    finally:
        lab.close()


PLACE_SKIP = ("starts a fresh simulated unit; --rig-place runs on a lab bench's real unit, which is not the unit "
              "the test describes, and entering codes into it would spend attempts the test never counted; "
              "run it without --rig-place")


def pytest_collection_modifyitems(config, items):
    """Under --rig-place the bench is real: tests of a simulated unit of their own are skipped, saying why."""
    if not config.getoption("--rig-place", default=None):
        return
    for item in items:
        if item.get_closest_marker("rig_unit") is not None:
            item.add_marker(pytest.mark.skip(reason=f"rig_unit {PLACE_SKIP}"))


def place_runner(request, artifacts: Path | None, tmp_path: Path):
    """``rig_run`` for ``--rig-place``: the same call, run on the place's bench, with the same
    records here (``junit=``, the artifacts, the JUnit properties) as a run on this machine."""
    import json

    from . import __version__
    from .errors import RigError
    from .lab.places import Lab
    from .lab.reserve import KeepAcquired
    from .run.job import JobResult
    from .serve.artifacts import fetch_artifacts
    from .serve.client import Client
    from .serve.follow import follow_run, procedure_fields

    pattern = request.config.getoption("--rig-place")
    try:
        with Lab() as lab:
            pb = lab.bench_of(pattern)
        client = Client(pb.url, os.environ.get("RIG_TOKEN"), place=pb.place)
        bench = client.get("/api/lab")
    except RigError as exc:
        pytest.fail(f"--rig-place {pattern}: {exc}", pytrace=False)
    keep = artifacts or tmp_path / "runs"
    runs: list[dict] = []

    def run(procedure, profile=None, unit=None, code=None, **kw):
        junit = kw.pop("junit", None)
        body = {**procedure_fields(procedure), "profile": profile or pb.bench.get("profile") or None,
                "unit": unit or pb.bench.get("serial") or None, **kw}
        if code:
            body["code"] = str(code)
        try:
            with KeepAcquired(pb.place, client):  # a coordinator restart mid-run: the place is acquired again
                r = follow_run(client, body)
            files = fetch_artifacts(client, r["run_id"], keep) if r.get("run_id") else []
            if junit and r.get("run_id"):
                Path(junit).write_bytes(client.get(f"/api/runs/{r['run_id']}/junit.xml"))
            attempts = 0
            if r.get("run_id") and body["unit"]:
                unit_ = client.get(f"/api/units/{body['unit']}")
                attempts = sum(1 for a in unit_.get("attempts") or [] if a.get("run_id") == r["run_id"])
        except RigError as exc:
            pytest.fail(f"rig_run({procedure!r}) on place {pb.place}: {exc}", pytrace=False)
        log = str(files[0]) if files else ""
        props = {"rig_backend": bench.get("backend") or "", "rig_profile": body["profile"] or "",
                 "rig_unit": body["unit"] or "", "rig_procedure": Path(procedure).stem,
                 "rig_wiring_hash": bench.get("wiring_hash") or "", "rig_version": __version__,
                 "rig_outcome": r["outcome"], "rig_attempts_used": attempts, "rig_log": log,
                 "rig_place": pb.place}
        for key, value in props.items():
            request.node.user_properties.append((key, value))
        runs.append(props)
        if artifacts is not None:
            (artifacts / "properties.json").write_text(json.dumps(runs, indent=1) + "\n")
        if r["outcome"] == "interrupted":  # a cancelled CI job: stop the session, as Ctrl-C would
            pytest.exit(f"rig_run({procedure!r}): {r.get('message')}", returncode=130)
        return JobResult(r["outcome"], r.get("message") or "", r.get("run_id") or 0, log, r["exit_code"])

    return run
