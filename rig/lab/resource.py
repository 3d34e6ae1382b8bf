"""The bench as labgrid sees it: a ``RigBench`` resource and the ``RigDriver`` that uses it.

A ``RigBench`` is what a bench *is* to the lab: where its ``rig serve`` listens
and which unit sits on it (serial, profile, family). The ``RigDriver`` is how a
labgrid test *drives* it: run a procedure, read the status, stop, fetch the
run's records. Every call goes to the bench's server, which keeps the pins,
the ledger and the safe unwind; the driver never touches a pin itself.

Use it from a labgrid environment file (the client needs these classes
importable, or it says ``unknown resource class RigBench``)::

    imports: [rig.lab.resource]
    targets:
      main:
        resources: {RemotePlace: {name: bench-01}}
        drivers: {RigDriver: {}}

and in a test (labgrid's pytest plugin gives ``target``; acquire the place first)::

    def test_unlock(target):
        rig = target.get_driver("RigDriver")
        result = rig.run("enter-code", code_file="code.txt")
        assert result["outcome"] == "passed"
        rig.fetch_artifacts(result["run_id"], "artifacts/")
"""

from __future__ import annotations

import os
from pathlib import Path

import attr
from labgrid.driver.common import Driver
from labgrid.factory import target_factory
from labgrid.resource.common import NetworkResource
from labgrid.step import step

from ..serve.client import Client
from ..serve.artifacts import fetch_artifacts
from ..serve.follow import follow_run, procedure_fields, stop_job
from .places import bench_address


@target_factory.reg_resource
@attr.s(eq=False)
class RigBench(NetworkResource):
    """One bench: its ``rig serve`` at ``host:port`` and the unit on it.

    Args:
        host (str): where the bench's ``rig serve`` answers (the exporter's --hostname)
        port (int): its port
        serial (str): the unit on the bench ('' when none is declared)
        profile (str): that unit's profile id
        family (str): that profile's family (what ``reserve family=...`` matches)
        tls (bool): the bench serves HTTPS; its certificate is checked against ``RIG_CA``
    """

    port = attr.ib(default=8470, validator=attr.validators.instance_of(int))
    serial = attr.ib(default="", validator=attr.validators.instance_of(str))
    profile = attr.ib(default="", validator=attr.validators.instance_of(str))
    family = attr.ib(default="", validator=attr.validators.instance_of(str))
    tls = attr.ib(default=False, validator=attr.validators.instance_of(bool))

    @property
    def place(self) -> str | None:
        """The labgrid place this resource came through (a RemotePlace parent), if any."""
        parent = self.parent
        return getattr(parent, "name", None) if parent is not None else None


def bench_url(res: RigBench) -> str:
    """Where the resource's rig serve answers (through SSH when the exporter is isolated)."""
    return bench_address(res.host, res.port, getattr(res, "extra", None), res.tls)


@target_factory.reg_driver
@attr.s(eq=False)
class RigDriver(Driver):
    """Runs rig procedures on the bench of a labgrid target (through its ``rig serve``).

    The token comes from ``RIG_TOKEN`` (an operator token of the bench's server);
    every request names the place, so the bench refuses it unless that place holds it.
    """

    bindings = {"bench": "RigBench"}
    token = attr.ib(default=None, validator=attr.validators.optional(attr.validators.instance_of(str)))

    def _client(self) -> Client:
        return Client(bench_url(self.bench), self.token or os.environ.get("RIG_TOKEN"), place=self.bench.place)

    @Driver.check_active
    @step(title="rig status")
    def status(self) -> dict:
        """The bench's live state: rails, keys, senses, display, the running job, the holding place."""
        return self._client().get("/api/state")

    @Driver.check_active
    @step(title="rig run", args=["procedure"])
    def run(self, procedure: str, *, unit: str | None = None, profile: str | None = None,
            code: str | None = None, code_file: str | None = None, params: dict | None = None,
            answers: dict | None = None, yes: bool = False, new_unit: bool = False,
            allow_lockout: bool = False, allow_permanent: bool = False, timeout: float | None = None) -> dict:
        """Run a procedure and wait for its end; returns ``{"outcome", "message", "run_id", ...}``.

        ``unit`` and ``profile`` default to the bench's unit. The code is read from
        ``code_file`` (or given as ``code``) and sent only to the bench's server.
        """
        body = {**procedure_fields(procedure), "unit": unit or self.bench.serial or None,
                "profile": profile or self.bench.profile or None, "params": params or {},
                "answers": answers or {}, "yes": yes, "new_unit": new_unit,
                "allow_lockout": allow_lockout, "allow_permanent": allow_permanent}
        if code_file:
            code = Path(code_file).read_text(encoding="utf-8").strip()
        if code:
            body["code"] = code
        return follow_run(self._client(), body, timeout=timeout)

    @Driver.check_active
    @step(title="rig stop", args=["discard_served"])
    def stop(self, discard_served: bool = False) -> dict:
        """Stop the running job (keys up, rails safe, recorded as interrupted); ``{}`` if none runs,
        so a test's teardown may always call it. A lockout wait on a unit whose wait starts over is
        not stopped without ``discard_served=True``: the refusal says how much served time it would
        throw away (before, it was swallowed and ``{}`` said nothing ran while the wait went on)."""
        return stop_job(self._client(), discard_served)

    @Driver.check_active
    @step(title="rig fetch", args=["run_id", "directory"])
    def fetch_artifacts(self, run_id: int, directory) -> list[Path]:
        """Write the run's event log, timeline and JUnit XML into ``directory``; returns the files."""
        return fetch_artifacts(self._client(), run_id, directory)
