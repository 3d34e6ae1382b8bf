"""systemd's notify protocol, in the few lines it takes (no dependency).

With ``Type=notify`` and ``WatchdogSec=`` in the unit, systemd sets
``NOTIFY_SOCKET`` (a datagram socket; a leading ``@`` means the abstract
namespace) and ``WATCHDOG_USEC``. The server says ``READY=1`` once the bench is
open and it listens, then ``WATCHDOG=1`` at half the watchdog interval while
the bench is healthy; systemd restarts a server that goes quiet.

>>> Notifier({}).send("READY=1")   # not under systemd: nothing to do
False
"""

from __future__ import annotations

import os
import socket


class Notifier:
    def __init__(self, environ=None):
        env = os.environ if environ is None else environ
        self.address = env.get("NOTIFY_SOCKET")
        self.watchdog_usec = env.get("WATCHDOG_USEC")
        self.watchdog_pid = env.get("WATCHDOG_PID")

    def send(self, *lines: str) -> bool:
        """One datagram of ``KEY=VALUE`` lines; False when not running under systemd."""
        if not self.address:
            return False
        addr = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.connect(addr)
                s.sendall("\n".join(lines).encode())
            return True
        except OSError:
            return False

    def watchdog_every(self) -> float | None:
        """Seconds between WATCHDOG=1 pings (half the interval), or None when no watchdog is set."""
        if not self.watchdog_usec:
            return None
        if self.watchdog_pid and self.watchdog_pid != str(os.getpid()):
            return None
        try:
            return max(0.5, int(self.watchdog_usec) / 1e6 / 2)
        except ValueError:
            return None
