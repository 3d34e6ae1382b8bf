"""One process owns the bench: a lock file, taken before any pin is touched.

The lock file also keeps when each relay last switched, so the relay dwell
holds across processes: ``rig power acc on`` followed at once by
``rig power acc off`` waits out the dwell just as one process would.
"""

from __future__ import annotations

import errno
import fcntl
import grp
import json
import os
import sys
import time
from pathlib import Path

from ..errors import BenchBusy
from ..records.files import folder

LOCK_GROUP = "gpio"  # every user allowed at the bench is in it (they need it for the pins too)


def boot_id() -> str:
    """Identifies this boot: monotonic times from another boot mean nothing."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


class BenchLock:
    """An exclusive, non-blocking lock on ``path``, naming its holder.

    The kernel drops a ``flock`` when its process dies, however it dies, so a
    crashed run never leaves the bench locked. The file is made group-writable
    (group ``gpio`` where it exists) so the next technician can take it.

    >>> import tempfile, os
    >>> lock = BenchLock(os.path.join(tempfile.mkdtemp(), "bench.lock"))
    >>> lock.acquire(); lock.switched("acc"); "acc" in lock.last_switches(); lock.release()
    True
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd: int | None = None
        self._writable = False
        self._info: dict = {}
        self._previous: dict = {}

    def acquire(self) -> None:
        fd, self._writable = self._open()
        # Taking the lock and naming its holder are one step to anyone else: both happen while
        # this process holds a POSIX lock on the file's first byte, and a process refused the lock
        # reads the name only under that byte's lock too. Otherwise a start refused in between
        # read the previous holder's name (a process long gone) or none at all.
        try:
            _naming(fd, self._writable)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._describe(self._read(fd))
                raise BenchBusy(f"the bench is in use by {holder} (lock {self.path}); "
                                f"wait for it to finish, or stop that process") from None
            self._previous = self._read(fd)
            self._info = {"pid": os.getpid(), "command": _command(), "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                          "user": _user(), "boot": boot_id(), "switched": self._switched_this_boot()}
            self._fd = fd
            self._write()
            _named(fd)
        except BaseException:
            if self._fd is None:
                os.close(fd)  # closing drops both locks
            raise

    def _open(self) -> tuple[int, bool]:
        """Open the lock file, creating it group-writable; read-only if that is all we may do."""
        folder(self.path.parent, "the bench lock's folder (RIG_LOCK)")
        for _ in range(3):
            try:
                # Without O_CREAT first: in a sticky directory (/run/lock, /tmp) the kernel refuses
                # O_CREAT on another user's file (fs.protected_regular) even when we may write it.
                return os.open(self.path, os.O_RDWR), True
            except FileNotFoundError:
                try:
                    fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o664)
                except FileExistsError:
                    continue  # someone created it just now: open theirs
                _share(fd)
                return fd, True
            except PermissionError:
                try:
                    return os.open(self.path, os.O_RDONLY), False  # flock works on a read-only file too
                except OSError:
                    break
        owner = _owner(self.path)
        raise BenchBusy(f"the bench lock {self.path} belongs to {owner} and this user may not open it, so the "
                        f"bench may be in use. If it is not, ask {owner} to run: chmod 664 {self.path} "
                        f"(or point RIG_LOCK at a lock file you share)")

    @staticmethod
    def _read(fd: int) -> dict:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            info = json.loads(os.read(fd, 65536) or b"{}")
            return info if isinstance(info, dict) else {}
        except (ValueError, OSError):
            return {}

    @staticmethod
    def _describe(info: dict) -> str:
        try:
            who = f" as {info['user']}" if info.get("user") else ""
            return f"pid {info['pid']}{who} ({info['command']}, since {info['since']})"
        except KeyError:
            return "another process"

    def _switched_this_boot(self) -> dict:
        prev = self._previous
        if prev.get("boot") != boot_id() or not isinstance(prev.get("switched"), dict):
            return {}
        now = time.monotonic()
        return {k: v for k, v in prev["switched"].items() if isinstance(v, (int, float)) and v <= now}

    def _write(self) -> None:
        if self._fd is None or not self._writable:
            return
        try:
            data = json.dumps(self._info).encode()
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, data, 0)
        except OSError:
            pass  # the lock still holds; only the holder's name and the dwell record are lost

    def last_switches(self) -> dict[str, float]:
        """Seconds since each relay last switched, in any process this boot."""
        now = time.monotonic()
        return {k: now - v for k, v in self._info.get("switched", {}).items()}

    def switched(self, rail: str) -> None:
        """Record that ``rail``'s relay switched just now."""
        if self._fd is not None:
            self._info.setdefault("switched", {})[rail] = time.monotonic()
            self._write()

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def _naming(fd: int, writable: bool) -> None:
    """Wait (moments: another start between taking the bench lock and writing its name) for the
    file's first byte, exclusively where the file may be written, shared where only read."""
    fcntl.lockf(fd, fcntl.LOCK_EX if writable else fcntl.LOCK_SH, 1, 0)


def _named(fd: int) -> None:
    fcntl.lockf(fd, fcntl.LOCK_UN, 1, 0)


def _share(fd: int) -> None:
    """Group-writable whatever the umask, and in the gpio group where we are in it."""
    try:
        gid = grp.getgrnam(LOCK_GROUP).gr_gid
        if gid in os.getgroups() or os.getuid() == 0:
            os.fchown(fd, -1, gid)
    except (KeyError, OSError):
        pass
    try:
        os.fchmod(fd, 0o664)
    except OSError as exc:
        if exc.errno != errno.EPERM:
            raise


def _owner(path: Path) -> str:
    try:
        import pwd

        return pwd.getpwuid(path.stat().st_uid).pw_name
    except (KeyError, OSError, ImportError):
        return "another user"


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (KeyError, ImportError):
        return str(os.getuid())


_GLOBAL_VALUES = {"--backend", "--wiring", "--sim-state", "--ledger", "--events"}  # rig's options taking a value


def _command() -> str:
    """The holder's command as typed (``rig shell``, not ``rig sim`` from ``--backend sim``):
    the program and its sub-command words, past rig's global options and their values.
    Only those: arguments could carry anything."""
    prog = os.path.basename(sys.argv[0] or "python")
    if prog in ("__main__.py", "-m", "-c"):  # python -m rig
        prog = "rig"
    words, args = [], iter(sys.argv[1:])
    for a in args:
        if a.startswith("-"):
            if a in _GLOBAL_VALUES:
                next(args, None)
            continue
        words.append(a)
        if len(words) == 2:
            break
    return " ".join([prog] + words)[:80]
