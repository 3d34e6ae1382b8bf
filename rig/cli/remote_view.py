"""A served job's countdown at the client: a live line at a terminal, a line a tenth of the way in a pipe.

The server sends the countdown already carried to the moment it sent it (served, left, and
when it ends); at a terminal the line moves on between its reports at the bench clock's pace,
so it reads what `rig status` and the page read at the same moment.
"""

from __future__ import annotations

import time

from ..serve.countdown import onward, words


class RemoteCountdown:
    """``update(progress)`` with each state of the job; ``close()`` when it ends."""

    def __init__(self, console):
        self.console = console
        self.current: dict | None = None
        self._live = None
        self._next: dict[str, float] = {}

    def update(self, c: dict | None) -> None:
        if not c:
            return
        self.current = c
        if c.get("done"):
            self.close()
            self.console.print(f"  {words(c)}", markup=False, highlight=False)
            return
        if self.console.is_terminal:
            self._start()
            return
        step = c["total"] / 10.0 if c["total"] >= 600 else max(c["total"], 1.0)
        if c["served"] >= self._next.get(c["label"], 0.0):  # a pipe: at the start and every tenth
            self.console.print(f"  {words(c)}", markup=False, highlight=False)
            self._next[c["label"]] = (c["served"] // step + 1) * step

    def __rich__(self) -> str:
        c = self.current
        return "" if c is None else f"  {words(onward(c, time.time()))}  (Ctrl-C to stop)"

    def _start(self) -> None:
        if self._live is None:
            from rich.live import Live
            from rich.text import Text

            view = self

            class _Line:
                def __rich__(self):
                    return Text(view.__rich__())

            self._live = Live(_Line(), console=self.console, refresh_per_second=4, transient=True)
            self._live.start()

    def close(self) -> None:
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()
