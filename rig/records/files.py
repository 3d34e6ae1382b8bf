"""The files a run leaves behind: named by the rig, kept inside their folder, private to the bench.

A run's files are named from its run id (and the procedure's name, a checked slug), made in
the log folder with ``O_EXCL | O_NOFOLLOW``: a link planted under the name, or another run's
file, is never written through or reused. What the rig writes is readable by the bench user
and its group only (0640; folders 0750), whatever the umask: serials and VINs are enough to
obtain some codes.

>>> import tempfile
>>> logs = folder(tempfile.mkdtemp() + "/runs", "the log folder")
>>> path, fd = new_run_log(logs, 7, "unlock"); os.close(fd)
>>> path.name, oct(path.stat().st_mode & 0o777)
('run-00007-unlock.jsonl', '0o640')
>>> new_run_log(logs, 7, "unlock")[0].name      # never the same file twice
'run-00007-unlock.2.jsonl'
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path

from ..errors import ConfigError, Problem

MODE = 0o640         # the bench user reads and writes, its group reads, nobody else
FOLDER_MODE = 0o750
SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,47}")  # a procedure's name, as it appears in file names
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def folder(path, what: str, mode: int = FOLDER_MODE) -> Path:
    """``path`` as a folder the rig may write in (made 0750 if missing); a ConfigError naming
    ``what`` (e.g. ``RIG_LOG_DIR``) when it is a file or cannot be made."""
    path = Path(path)
    try:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError([Problem(str(path), None, f"{what}: not a folder (a file is in the way)")]) from None
    except OSError as exc:
        raise ConfigError([Problem(str(path), None, f"{what}: cannot make it ({exc.strerror})")]) from None
    return path


def private(path) -> None:
    """Make ``path`` (0640) if it is missing, or take away what others may do with it (a ledger
    made under umask 022 was world-readable). Problems are left for whoever opens it to name."""
    try:
        os.close(os.open(path, _NEW, MODE))
        return
    except FileExistsError:
        pass
    except OSError:
        return
    try:
        st = os.stat(path)
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o007 and st.st_uid == os.geteuid():
            os.chmod(path, st.st_mode & 0o7770)
    except OSError:
        pass


def new_run_log(logs: Path, run_id: int, name: str) -> tuple[Path, int]:
    """A run's event log, made new in ``logs`` for writing: its path and an O_APPEND descriptor.

    Named ``run-NNNNN-NAME.jsonl``; a name that is not a slug is left out (the run id names the
    run). Taken already (another ledger's run with the same id in the same folder, or something
    planted there): ``.2``, ``.3``... - never written through.
    """
    stem = f"run-{int(run_id):05d}" + (f"-{name}" if SLUG.fullmatch(name or "") else "")
    for n in range(1, 100):
        path = logs / (f"{stem}.jsonl" if n == 1 else f"{stem}.{n}.jsonl")
        try:
            return path, os.open(path, _NEW | os.O_APPEND, MODE)
        except FileExistsError:
            continue
    raise FileExistsError(f"{logs}/{stem}.*.jsonl: 99 files of that name are there already")


def is_run_log(path, logs, run_id: int) -> bool:
    """Whether ``path`` (as a ledger row names it) is run ``run_id``'s log, inside ``logs``, and no link:
    what a server reads back for a run, whatever its ledger row says."""
    path = Path(path)
    if not re.fullmatch(rf"run-{int(run_id):05d}(-{SLUG.pattern})?(\.\d+)?\.jsonl", path.name):
        return False
    try:
        return not path.is_symlink() and path.parent.resolve() == Path(logs).resolve()
    except OSError:
        return False


def write_new(path, data: str | bytes) -> Path:
    """Write ``path`` whole (0640) through a new file beside it and a rename: a link at ``path``
    is replaced, never written through, and a reader never sees half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, _NEW, MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def read_private(path) -> bytes:
    """A file the rig wrote, never read through a link."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        return fh.read()
