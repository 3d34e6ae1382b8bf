"""The bench as the CLI sees it through a server: the same calls as a Bench, sent over HTTP.

``rig press/power/shell`` use a :class:`RemoteBench` where they would open
the bench themselves, so every command works unchanged; the server refuses
while a job runs, naming it. However the command ends, the server puts the
bench back safe, as ending a command does on a bench the CLI opened.
"""

from __future__ import annotations

from contextlib import nullcontext
from types import SimpleNamespace

from .client import Client


class RemoteClock:
    """Time on the server's clock; a wait is done by the server (on a simulated bench, at once)."""

    def __init__(self, client: Client, state: dict):
        self.client = client
        self.virtual = bool(state.get("virtual"))
        self._now = float(state.get("t") or 0.0)

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        left = max(0.0, seconds)
        while True:
            # on a real clock a second at a time, so Ctrl-C here reaches the server soon
            piece = left if self.virtual else min(left, 1.0)
            r = self.client.post("/api/bench/wait", {"seconds": piece}, timeout=piece + 30)
            self._now = r["t"]
            left -= piece
            if left <= 1e-9:
                return

    def sleep_until(self, deadline: float) -> None:
        self.sleep(deadline - self._now)

    def outside(self, what: str = ""):
        """The server's own heartbeat does not hear of this process: nothing to say."""
        return nullcontext()


class RemoteBench:
    """What bench_cmds needs of a Bench, served by ``rig serve``."""

    def __init__(self, client: Client, wiring):
        self.client, self.wiring = client, wiring
        state = client.get("/api/state")
        if state.get("busy"):
            from ..errors import BenchBusy

            raise BenchBusy(f"{state['busy']} (the rig server at {client.url}); "
                            f"`rig status` shows it, `rig stop` stops it")
        bench = state.get("bench") or {}
        self.clock = RemoteClock(client, bench)
        self.backend = SimpleNamespace(name=f"{bench.get('backend', '?')} (via {client.url})")
        self.display = None

    def power(self, rail: str, on: bool) -> None:
        self._after(self.client.post("/api/bench/power", {"rail": rail, "on": bool(on)}))

    guard_words: dict = {}  # --unit and the override words of the command (the server's guard counts)

    def press(self, combo, hold: float | None = None, times: int = 1, gap=None) -> None:
        body = {"combo": str(combo), "hold": hold, "times": times, **self.guard_words}
        self._after(self.client.post("/api/bench/press", body, timeout=60 + (hold or 0) * times))

    def _after(self, r: dict) -> None:
        self.clock._now = r["t"]

    def snapshot(self) -> dict:
        state = self.client.get("/api/state")
        b = state.get("bench") or {}
        return {k: b.get(k) for k in ("t", "rails", "keys", "senses", "display")}

    def release(self) -> None:
        """Keys up, rails safe: how a command that opened the bench would have ended."""
        self.client.post("/api/bench/safe")
