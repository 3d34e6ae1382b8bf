"""One process owns the bench: a lock file, taken before any pin is touched."""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path

from .errors import BenchBusy


class BenchLock:
    """An exclusive, non-blocking lock on ``path``, naming its holder.

    The kernel drops a ``flock`` when its process dies, however it dies, so a
    crashed run never leaves the bench locked.

    >>> import tempfile, os
    >>> lock = BenchLock(os.path.join(tempfile.mkdtemp(), "bench.lock"))
    >>> lock.acquire(); lock.release()
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o664)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._read_holder(fd)
            os.close(fd)
            raise BenchBusy(f"the bench is in use by {holder} (lock {self.path}); "
                            f"wait for it to finish, or stop that process") from None
        os.ftruncate(fd, 0)
        info = {"pid": os.getpid(), "command": _command(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.write(fd, json.dumps(info).encode())
        os.fsync(fd)
        self._fd = fd

    @staticmethod
    def _read_holder(fd: int) -> str:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            info = json.loads(os.read(fd, 4096) or b"{}")
            return f"pid {info['pid']} ({info['command']}, since {info['since']})"
        except (ValueError, KeyError, OSError):
            return "another process"

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def _command() -> str:
    # Only the program and sub-command: arguments could carry anything.
    argv = [os.path.basename(sys.argv[0] or "python")] + [a for a in sys.argv[1:3] if not a.startswith("-")]
    return " ".join(argv)[:80]
