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
RESTART_SEC = 0.3   # systemd's RestartSec for a restarted exporter (5 s on a Pi; short here)


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
    """A child process whose output is kept (for the failure message) and scanned for a line.

    ``restart``: started again when it exits on its own, as systemd's ``Restart=always`` does
    for rig-lg-exporter (labgrid's exporter exits 100 when its coordinator goes away).
    """

    def __init__(self, name: str, argv: list[str], env: dict, cwd: Path, log: Path, restart: bool = False):
        self.name, self.log = name, log
        self.argv, self.env, self.cwd, self.restart = argv, env, cwd, restart
        self.lines: list[str] = []
        self.starts = 0
        self._stopping = False
        self._seen = threading.Condition()
        self._spawned = threading.Event()
        # one thread spawns, reads and restarts: PR_SET_PDEATHSIG fires when the spawning *thread* ends
        threading.Thread(target=self._supervise, daemon=True).start()
        self._spawned.wait()
        if self._error is not None:
            raise self._error

    _error: BaseException | None = None

    def _supervise(self):
        while True:
            self.starts += 1
            try:
                p = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True,
                                     preexec_fn=_die_with_parent)
            except OSError as exc:
                self._error = exc
                self._spawned.set()
                return
            self.p = p
            self._spawned.set()
            with open(self.log, "a", encoding="utf-8") as fh:
                for line in p.stdout:
                    fh.write(line)
                    fh.flush()
                    with self._seen:
                        self.lines.append(line.rstrip("\n"))
                        self._seen.notify_all()
            p.wait()
            if not self.restart or self._stopping:
                break
            RealClock().sleep(RESTART_SEC)
            if self._stopping:
                break
            with self._seen:
                self.lines.append(f"--- {self.name} exited ({p.returncode}); started again")
        with self._seen:
            self._seen.notify_all()

    def since(self) -> int:
        """A mark in the output: wait_for(..., after=mark) looks only at lines after it."""
        with self._seen:
            return len(self.lines)

    def wait_for(self, pattern: str, timeout: float = START_TIMEOUT, after: int = 0) -> re.Match:
        rx, end = re.compile(pattern), time.monotonic() + timeout
        with self._seen:
            while True:
                for line in self.lines[after:]:
                    m = rx.search(line)
                    if m:
                        return m
                if self.p.poll() is not None and not self.restart:
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
        self._stopping = True
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
        # one token file for every bench (it holds hashes only): the exporters' token, a viewer for the
        # admin's look-ups, and one operator token per client user (token_for), as the README advises
        self.tokens = self.root / "serve-tokens.json"
        self.exporter_token = Tokens(self.tokens).new("exporter", "exporters")
        self.token = Tokens(self.tokens).new("viewer", "lab")
        self._user_tokens: dict[str, str] = {}
        (self.root / "coordinator").mkdir(exist_ok=True)
        self.coordinator = "127.0.0.1:0"
        self._coordinator = None
        try:
            self.start_coordinator()
        except BaseException:
            self.close()
            raise

    def start_coordinator(self) -> None:
        """Start labgrid's coordinator (again, on the same port, after :meth:`stop_coordinator`)."""
        coord = self._start("coordinator", ["-m", "labgrid.remote.coordinator", "-l", self.coordinator],
                            cwd=self.root / "coordinator")
        port = coord.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1)
        self.coordinator = f"127.0.0.1:{port}"
        self._coordinator = coord

    def stop_coordinator(self) -> None:
        """Stop the coordinator as a crash or an upgrade does: every lock and reservation is forgotten,
        the places are not (it saves them to places.yaml every 15 s; here they are saved first)."""
        import yaml

        from .places import Lab

        with Lab(self.coordinator) as lab:
            places = {name: p.asdict() for name, p in lab.session.places.items()}
        self._coordinator.stop(0.3)
        self._procs.remove(self._coordinator)
        (self.root / "coordinator" / "places.yaml").write_text(yaml.dump(places))

    def token_for(self, user: str) -> str:
        """An operator token bound to the labgrid user ``localhost/USER`` (one per CI runner or person)."""
        from ..serve.auth import Tokens

        if user not in self._user_tokens:
            self._user_tokens[user] = Tokens(self.tokens).new("operator", user, lab_user=f"localhost/{user}")
        return self._user_tokens[user]

    def _start(self, name, args, cwd=None, env=None, restart=False) -> _Proc:
        p = _Proc(name, [self.python, *args], env or self._base_env(), cwd or self.root, self.root / f"{name}.log",
                  restart)
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
                   RIG_TOKEN=self.token_for(user), XDG_RUNTIME_DIR=str(self.root / f"run-{user}"),
                   XDG_DATA_HOME=str(self.root / f"client-{user}"))
        if token:
            env["LG_TOKEN"] = token
        return env

    def add_bench(self, place: str, serial: str, profile: str, state, speed: float | None = None) -> LocalBench:
        """A bench for ``place``: ``rig serve --backend sim`` on ``state`` (a simulated unit file made
        first, e.g. with ``rig sim reset``), its exporter, and the place matching it, tagged.

        ``rig serve --unit --profile`` registers the unit in the bench's ledger, as on a Pi.
        ``speed``: simulated seconds per wall second (None: waits jump, as in tests).
        """
        b = LocalBench(place, serial, profile, ledger=self.root / f"{place}.sqlite", state=Path(state))
        env = self._base_env()
        env.update(XDG_RUNTIME_DIR=str(self.root / f"run-{place}"), RIG_LOG_DIR=str(self.root / f"runs-{place}"))
        args = ["-m", "rig", "--backend", "sim", "--sim-state", str(b.state), "--ledger", str(b.ledger),
                "serve", "--port", "0", "--tokens", str(self.tokens), "--lab", "--unit", serial, "--profile", profile]
        if speed:
            args += ["--speed", str(speed)]
        serve = self._start(f"serve-{place}", args, env=env)
        b.url = serve.wait_for(r"page at (http://127\.0\.0\.1:\d+)/").group(1)
        config = self.root / f"exporter-{place}.yaml"
        (self.root / f"{place}.token").write_text(self.exporter_token)
        os.chmod(self.root / f"{place}.token", 0o600)
        config.write_text(f"{place}:\n  RigBench:\n    url: {b.url}\n    token_file: {self.root / f'{place}.token'}\n")
        exporter = self._start(f"exporter-{place}", ["-m", "rig.lab.exporter", "-c", self.coordinator, "-n",
                                                     f"exp-{place}", "--hostname", "127.0.0.1", str(config)],
                               restart=True)
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

    def restart_exporter(self, place: str, kill: bool = False) -> None:
        """Restart a bench's exporter (SIGTERM, or SIGKILL: a crash), as systemd would."""
        exporter = self.benches[place].procs[0]
        mark = exporter.since()
        exporter.p.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        exporter.wait_for(r"connected to coordinator", after=mark)

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
