"""A whole lab on loopback: labgrid's coordinator, and benches of ``rig serve`` + ``rig-lg-exporter``.

For tests (this repository's and a user's CI, through the ``rig_lab`` fixture)
and for trying the lab on one machine. Every process listens on 127.0.0.1 on a
port the kernel picks, keeps its files under one folder, and is stopped at
:meth:`LocalLab.close` (benches first, with SIGTERM: each ends its running job
safely, as on a real Pi).

>>> import inspect
>>> "def add_bench" in inspect.getsource(LocalLab)
True
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..bench.clock import RealClock
from ..errors import ConfigError

START_TIMEOUT = 20.0


@dataclass
class LocalBench:
    """One bench of the lab: its place, unit and the two processes behind it."""

    place: str
    serial: str
    profile: str
    url: str = ""
    ledger: Path | None = None
    state: Path | None = None
    procs: list = field(default_factory=list)


class _Proc:
    """A child process whose output is kept (for the failure message) and scanned for a line."""

    def __init__(self, name: str, argv: list[str], env: dict, cwd: Path, log: Path):
        self.name, self.log = name, log
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self.p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, start_new_session=True, preexec_fn=_die_with_parent)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        with open(self.log, "a", encoding="utf-8") as fh:
            for line in self.p.stdout:
                fh.write(line)
                fh.flush()
                with self._seen:
                    self.lines.append(line.rstrip("\n"))
                    self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def wait_for(self, pattern: str, timeout: float = START_TIMEOUT) -> re.Match:
        rx, end = re.compile(pattern), time.monotonic() + timeout
        with self._seen:
            while True:
                for line in self.lines:
                    m = rx.search(line)
                    if m:
                        return m
                if self.p.poll() is not None:
                    self._seen.wait(0.2)  # the last lines may still be on their way
                    if not any(rx.search(x) for x in self.lines):
                        raise ConfigError(f"{self.name} exited ({self.p.returncode}) before it was ready:\n"
                                          + "\n".join(self.lines[-15:]))
                    continue
                left = end - time.monotonic()
                if left <= 0:
                    raise ConfigError(f"{self.name} was not ready within {timeout:.0f} s:\n" + "\n".join(self.lines[-15:]))
                self._seen.wait(min(left, 0.5))

    def stop(self, timeout: float = 10.0) -> None:
        self.ask_to_stop()
        self.wait_stopped(timeout)

    def ask_to_stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout: float) -> None:
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(5)


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test process dies, even by kill -9, so no lab outlives its run
    (a bench's rig serve then ends its job safely, as on a Pi)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux/glibc: close() still stops them


class LocalLab:
    """A coordinator and any number of simulated benches, on loopback, under ``root``.

    Example::

        lab = LocalLab(tmp_path)
        lab.add_bench("bench-01", "VW123", "vw-safe", state=unit_file)   # a simulated unit made first
        env = lab.env("ci-1")                                            # LG_COORDINATOR, RIG_TOKEN, ...
        subprocess.run(["labgrid-client", "-p", "bench-01", "acquire"], env=env, check=True)
        ...
        lab.close()
    """

    def __init__(self, root, python: str = sys.executable):
        from ..serve.auth import Tokens
        from . import need_labgrid

        need_labgrid()
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.python = python
        self.benches: dict[str, LocalBench] = {}
        self._procs: list[_Proc] = []
        self.tokens = self.root / "serve-tokens.json"   # one token file for every bench (it holds hashes only)
        self.token = Tokens(self.tokens).new("operator", "lab")
        (self.root / "coordinator").mkdir(exist_ok=True)
        coord = self._start("coordinator", ["-m", "labgrid.remote.coordinator", "-l", "127.0.0.1:0"],
                            cwd=self.root / "coordinator")
        try:
            port = coord.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1)
        except BaseException:
            self.close()
            raise
        self.coordinator = f"127.0.0.1:{port}"

    def _start(self, name, args, cwd=None, env=None) -> _Proc:
        p = _Proc(name, [self.python, *args], env or self._base_env(), cwd or self.root, self.root / f"{name}.log")
        self._procs.append(p)
        return p

    def _base_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LG_", "RIG_"))}
        env.update(PYTHONUNBUFFERED="1", XDG_DATA_HOME=str(self.root / "data"),
                   XDG_CONFIG_HOME=str(self.root / "config"))
        bindir = str(Path(self.python).parent)  # labgrid-client and rig from the same environment
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        return env

    def env(self, user: str = "ci", token: str | None = None) -> dict:
        """The environment of a lab client (a CI job) called ``user`` on this host."""
        env = self._base_env()
        env.update(LG_COORDINATOR=self.coordinator, LG_USERNAME=user, LG_HOSTNAME="localhost",
                   RIG_TOKEN=self.token, XDG_RUNTIME_DIR=str(self.root / f"run-{user}"),
                   XDG_DATA_HOME=str(self.root / f"client-{user}"))
        if token:
            env["LG_TOKEN"] = token
        return env

    def add_bench(self, place: str, serial: str, profile: str, state, known: bool = True,
                  speed: float | None = None) -> LocalBench:
        """A bench for ``place``: ``rig serve --backend sim`` on ``state`` (a simulated unit file made
        first, e.g. with ``rig sim reset``), its exporter, and the place matching it, tagged.

        ``known``: the bench's ledger already has the unit (as a lab's benches would).
        ``speed``: simulated seconds per wall second (None: waits jump, as in tests).
        """
        from ..records.ledger import Ledger

        b = LocalBench(place, serial, profile, ledger=self.root / f"{place}.sqlite", state=Path(state))
        if known:
            led = Ledger(str(b.ledger))
            try:
                if led.unit(serial) is None:
                    led.add_unit(serial, profile)
            finally:
                led.close()
        env = self._base_env()
        env.update(XDG_RUNTIME_DIR=str(self.root / f"run-{place}"), RIG_LOG_DIR=str(self.root / f"runs-{place}"))
        args = ["-m", "rig", "--backend", "sim", "--sim-state", str(b.state), "--ledger", str(b.ledger),
                "serve", "--port", "0", "--tokens", str(self.tokens), "--lab", "--unit", serial, "--profile", profile]
        if speed:
            args += ["--speed", str(speed)]
        serve = self._start(f"serve-{place}", args, env=env)
        b.url = serve.wait_for(r"page at (http://127\.0\.0\.1:\d+)/").group(1)
        config = self.root / f"exporter-{place}.yaml"
        (self.root / f"{place}.token").write_text(self.token)
        os.chmod(self.root / f"{place}.token", 0o600)
        config.write_text(f"{place}:\n  RigBench:\n    url: {b.url}\n    token_file: {self.root / f'{place}.token'}\n")
        exporter = self._start(f"exporter-{place}", ["-m", "rig.lab.exporter", "-c", self.coordinator, "-n",
                                                     f"exp-{place}", "--hostname", "127.0.0.1", str(config)])
        exporter.wait_for(r"connected to coordinator")
        b.procs = [exporter, serve]
        self.benches[place] = b
        from .admin import add_place, sync_tags
        from .places import Lab

        with Lab(self.coordinator) as lab:
            add_place(lab, place, [f"exp-{place}/{place}/RigBench"])
            self._wait_avail(lab, place)
            sync_tags(lab)
        return b

    def _wait_avail(self, lab, place: str, timeout: float = START_TIMEOUT) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for pb in lab.places():
                if pb.place == place and pb.avail and pb.bench and pb.bench.get("serial"):
                    return
            lab.loop.run_until_complete(lab.session.sync_with_coordinator())
            RealClock().sleep(0.03)
        raise ConfigError(f"the bench of {place} did not become available within {timeout:.0f} s")

    def stop_bench(self, place: str) -> None:
        """SIGTERM to the bench's exporter and server (its running job ends safely, as on a Pi)."""
        for p in self.benches[place].procs:
            p.stop()

    def close(self) -> None:
        """Benches first, all at once (each ends its job safely), then the coordinator."""
        benches = [p for p in self._procs if p.name != "coordinator"]
        for p in benches:
            p.ask_to_stop()
        for p in benches:
            p.wait_stopped(10.0)
        for p in self._procs:
            if p.name == "coordinator":
                # it holds no state worth a graceful end here, and gRPC's graceful stop waits for
                # every client stream to go: a moment is enough
                p.stop(0.3)
        self._procs.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
