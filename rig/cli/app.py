"""What every command shares: the chosen backend, the pin map, opening the bench."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

# The bench's modules (gpiozero above all) are imported when a command first needs
# them, not when the CLI starts: `rig --help` and `rig profiles list` never touch a pin.
if TYPE_CHECKING:
    from ..bench.wiring import Wiring


class App:
    """Global options, resolved once per invocation."""

    def __init__(self, backend: str, wiring: str | None, sim_state: str | None, ledger: str | None,
                 events: str | None = None, server: str | None = None):
        self.backend_name = backend
        self.server_url = server  # rig --server URL / RIG_SERVER; "off" never talks to one
        self.events_path = events
        self.wiring_path = wiring
        self.sim_state = sim_state
        self.ledger_path = ledger
        self._wiring: Wiring | None = None
        from .exitcodes import remember_context  # suggested follow-up commands keep these options

        remember_context(backend, wiring, sim_state, ledger)

    def wiring(self) -> Wiring:
        if self._wiring is None:
            from ..bench.wiring import load_wiring
            from .render import err

            self._wiring = with_wake_set(load_wiring(self.wiring_path), self.wake_set)
            for w in self._wiring.warnings:
                err.print(f"[yellow]{w}[/]")
        return self._wiring

    wake_set: str | None = None  # rig --wake-set / RIG_WAKE_SET: the bench's wake set for this command

    def no_wake_set_for(self, client) -> None:
        """A request over the network never names a file: the server sends its own wake set."""
        if self.wake_set:
            from ..errors import UsageError

            raise UsageError(f"--wake-set {self.wake_set}: the rig server at {client.url} holds the bench and sends "
                             f"its own wake set (start it with rig serve --wake-set ...); leave --wake-set out")

    def make_backend(self, wiring: Wiring):
        if self.unit_model and self.backend_name != "sim":
            from ..errors import ConfigError

            raise ConfigError(f"--unit-model {self.unit_model}: a unit model needs --backend sim "
                              f"(the backend is {self.backend_name})")
        from ..bench.backends import hardware_backend, mock_backend
        from ..bench.clock import RealClock, VirtualClock
        from .render import err

        if self.backend_name == "mock":
            # RIG_CLOCK=virtual lets tests and dry runs skip real waiting on bare pins
            clock = VirtualClock() if os.environ.get("RIG_CLOCK") == "virtual" else RealClock()
            return mock_backend(wiring, clock)
        if self.backend_name == "sim":
            from ..sim.backend import sim_backend  # the edge may import the simulator; the core never does

            return sim_backend(wiring, state_path=self.sim_state_path(), **self.unit_model_args())
        backend = hardware_backend(wiring)  # first: no GPIO is the more useful error
        for w in backend.warnings:
            err.print(f"[yellow]warning: {w}[/]")
        if wiring.display is not None:
            from ..unit.display import SerialTap

            backend.display = SerialTap(wiring.display.port, wiring.display.baud, backend.clock)
            backend.closers.append(backend.display.close)
        return backend

    unit_model: str | None = None  # rig --unit-model / RIG_UNIT_MODEL (sim backend only)
    _model = None

    def model(self):
        """The unit model of ``--unit-model`` with its settings (None: the shipped simulated unit)."""
        if not self.unit_model:
            return None
        if self._model is None:
            from ..sim.modelspec import load_model

            self._model = load_model(self.unit_model)
        return self._model

    def unit_model_args(self) -> dict:
        """What :func:`rig.sim.backend.sim_backend` needs to attach ``--unit-model``."""
        m = self.model()
        return {} if m is None else {"unit_model": m.factory, "settings": m.settings, "name": m.spec}

    def sim_state_path(self) -> Path:
        """``--sim-state``; by default ``sim-unit.json`` for the shipped unit, ``sim-<model>.json`` for
        another model (one model's memory file is not another's)."""
        if self.sim_state:
            return Path(self.sim_state)
        m = self.model()
        return data_dir() / ("sim-unit.json" if m is None or m.shipped else f"sim-{m.slug}.json")

    ca: str | None = None  # rig --ca / RIG_CA: the lab CA an https:// bench's certificate is checked against
    place: str | None = None  # rig --place NAME|+ / RIG_PLACE / LG_PLACE: a lab place this user holds
    _place_bench = None

    def lab_bench(self):
        """The bench of ``--place`` (asked of labgrid's coordinator once), or None without --place."""
        if not self.place:
            return None
        if self._place_bench is None:
            from ..lab.places import Lab

            with Lab() as lab:
                self._place_bench = lab.bench_of(self.place)
        return self._place_bench

    def server(self):
        """The rig server holding this bench (rig serve), or None: then commands open the bench.

        With ``--place``, the server of that place's bench, found through labgrid; its
        token is ``RIG_TOKEN``, and every request names the place.
        """
        from ..serve.client import Client, find_server

        pb = self.lab_bench()
        if pb is not None:
            return Client(pb.url, os.environ.get("RIG_TOKEN"), place=pb.place, ca=self.ca)
        return find_server(self.server_url, ca=self.ca)

    @contextmanager
    def bench(self, can: bool | None = None):
        """Open the bench for one command; it is released safely however the command ends."""
        from ..bench import signals
        from ..bench.bench import Bench
        from ..records.events import EventBus
        from ..records.report import EventLog

        wiring = self.wiring()
        client = self.server()
        if client is not None:  # a server holds the pins: go through it instead of being refused
            from ..serve.remote import RemoteBench

            self.no_wake_set_for(client)

            remote = RemoteBench(client, wiring)
            try:
                yield remote
            finally:
                remote.release()
            return
        backend = self.make_backend(wiring)
        events = EventBus(backend.clock)
        log = EventLog(self.events_path) if self.events_path else None
        if log:
            events.subscribe(log.write)
        bench = Bench(wiring, backend, events=events, can=can)
        if log:
            log.redact = bench.logged  # a code typed by hand (rig shell) is never logged in clear
        try:
            with bench:
                yield bench
        finally:
            # One step no signal cuts into: the bench is released (if a second signal skipped its
            # __exit__ as the first unwound it) before its backend and its log are closed. Closed
            # first, the release told a closed log and drove a simulated unit whose display was gone.
            signals.finish(_close_bench, bench, backend, log)
        fault = backend.fault()
        if fault is not None:  # found during the release (a simulated unit's model that raised): said now
            raise fault


def _close_bench(bench, backend, log) -> None:
    bench.release("interrupted" if bench.is_open else "end")  # a no-op once released
    backend.close()
    if log:
        log.close()


def with_wake_set(wiring, wake_set: str | None):
    """The pin map with ``--wake-set`` as its ``can.wake`` (a file named here is found from here)."""
    if not wake_set:
        return wiring
    import dataclasses

    from ..errors import UsageError

    if wiring.can is None:
        raise UsageError(f"--wake-set {wake_set}: this bench has no CAN interface (the pin map {wiring.source} "
                         f"has no can: block)")
    path = Path(wake_set)
    spec = str(path.resolve()) if path.is_file() else wake_set  # else a shipped set's name
    can = dataclasses.replace(wiring.can, wake=spec, wake_from=f"--wake-set {wake_set}")
    return dataclasses.replace(wiring, can=can)


def data_dir() -> Path:
    """Per-user data: $XDG_DATA_HOME/rig (~/.local/share/rig)."""
    from ..records.files import folder

    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return folder(Path(base) / "rig", "the rig's data folder ($XDG_DATA_HOME/rig, else ~/.local/share/rig)")


def ledger_path(app) -> str:
    """The ledger file: --ledger / RIG_LEDGER, else the per-user default (its folder made on the
    first run). A named file's folder is never made: a typo there is refused, not a new, empty
    ledger that would know none of the attempts spent. A ledger a command makes is said so."""
    if not app.ledger_path:
        path = str(data_dir() / "ledger.sqlite")
    else:
        path = app.ledger_path
        parent = Path(path).expanduser().parent
        if not parent.is_dir():
            from ..errors import UsageError

            raise UsageError(f"--ledger {path}: there is no folder {parent} (a typo?). The rig makes no folder "
                             f"for a ledger you name; without --ledger it keeps one in {data_dir()}")
    if not getattr(app, "_ledger_watched", False) and not Path(path).exists():
        app._ledger_watched = True
        import click

        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            ctx.find_root().call_on_close(lambda: _said_new(path))
    return path


def _said_new(path: str) -> None:
    if Path(path).exists():
        from .render import err

        err.print(f"new ledger: {path} (it keeps the attempts counted on your units: back it up)", markup=False)


def log_dir() -> str:
    return os.environ.get("RIG_LOG_DIR") or str(data_dir() / "runs")
