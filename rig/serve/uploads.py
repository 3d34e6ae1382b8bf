"""Procedures a client sends with a job (``rig run FILE`` through a server): kept by content,
bounded, cleaned, and confined to themselves.

A request never names a file on the bench: its ``procedure`` is a built-in's name, or the
procedure comes with the request (``procedure_file``, with the files it calls). What was sent
is written, only once the request passed authentication and the lab's lease check, into a
folder named by its content under the log folder (0750, files 0640), at most 256 KiB of it.
A ``call:`` in it finds only the files sent with it and the built-ins (never ``../`` or an
absolute path: rig.run.procedure.confine), it is never kept in the parsed-YAML cache, and the
oldest uploads go once there are more than KEEP (or they are older than MAX_AGE), except
those a queued or running job still reads.

>>> import tempfile
>>> ups = Uploads(tempfile.mkdtemp())
>>> path = ups.keep({"name": "mine.yaml", "text": "name: mine\\nsteps: [{wait: 1s}]\\n"})
>>> Path(path).name, Path(path).parent.parent.name
('mine.yaml', 'procedures')
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from pathlib import Path, PurePosixPath

from ..errors import ConfigError
from ..records.files import folder, write_new
from ..run.procedure import confine
from ..yamlfile import never_remember

MAX_BYTES = 256 * 1024   # a procedure is a page of YAML; with every file it calls, far less than this
MAX_FILES = 64
KEEP = 32                # uploads kept: a day of a CI runner's jobs with their own procedures
MAX_AGE = 7 * 24 * 3600  # s
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,80}")


class Uploads:
    """The uploads folder of one server (``LOG_DIR/procedures``)."""

    def __init__(self, log_dir):
        self.root = Path(log_dir) / "procedures"
        never_remember(self.root)  # what a request holds never lands in the parsed-YAML cache
        confine(self.root)         # and calls only itself and the built-ins

    def keep(self, upload, in_use=frozenset()) -> str:
        """Check the shape of ``upload`` and write it; returns the procedure's path. ``in_use``:
        procedure paths a queued or running job reads (their folders are not cleaned away)."""
        files = _files(upload)
        digest = hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()[:12]
        home = folder(self.root / digest, "the server's uploads folder")
        for path, text in files.items():
            target = home / path
            folder(target.parent, "the server's uploads folder")
            write_new(target, text)  # whole or not at all, however two uploads of the same files meet
        os.utime(home)  # sent again: the newest, whatever its first upload's age
        self.clean(set(in_use) | {str(home / upload["name"])})
        return str(home / upload["name"])

    def clean(self, in_use=frozenset()) -> None:
        """Remove the oldest uploads past KEEP, and any older than MAX_AGE, but none a job reads."""
        try:
            kept = sorted((p for p in self.root.iterdir() if p.is_dir() and not p.is_symlink()),
                          key=lambda p: p.stat().st_mtime, reverse=True)
        except OSError:
            return
        busy = set()
        for path in in_use:  # a job's procedure, or a file it calls: its upload's own folder
            rel = os.path.relpath(path, self.root)
            if not rel.startswith(".."):
                busy.add(self.root / rel.split(os.sep)[0])
        now = time.time()
        for n, home in enumerate(kept):
            if home in busy:
                continue
            try:
                if n >= KEEP or now - home.stat().st_mtime > MAX_AGE:
                    shutil.rmtree(home)
            except OSError:
                pass  # another server's clean got there first

    def shown(self, message: str) -> str:
        """A problem about an upload, naming its files as the sender has them (not the bench's folders)."""
        return re.sub(re.escape(str(self.root)) + r"/[0-9a-f]{12}/", "", message)


def _files(upload) -> dict[str, str]:
    if not isinstance(upload, dict) or not isinstance(upload.get("text"), str) \
            or not isinstance(upload.get("name"), str):
        raise ConfigError("procedure_file is {\"name\": \"mine.yaml\", \"text\": \"...\"}")
    name, calls = upload["name"], upload.get("calls") or []
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,80}\.ya?ml", name) or name.startswith("."):
        raise ConfigError(f"procedure_file name {name[:80]!r}: a plain file name ending in .yaml")
    if not isinstance(calls, list) or len(calls) > MAX_FILES:
        raise ConfigError(f"procedure_file calls: a list of at most {MAX_FILES} {{\"path\": ..., \"text\": ...}}")
    files = {name: upload["text"]}
    for c in calls:
        path = c.get("path") if isinstance(c, dict) else None
        parts = PurePosixPath(path).parts if isinstance(path, str) else ()
        if not parts or not isinstance(c.get("text"), str) or PurePosixPath(path).is_absolute() \
                or not all(_NAME.fullmatch(part) and not part.startswith(".") for part in parts) \
                or not re.search(r"\.ya?ml$", path) or path in files:
            raise ConfigError(f"procedure_file calls: {str(path)[:80]!r} is not a relative path to a .yaml file "
                              "below the procedure's folder")
        files[path] = c["text"]
    try:
        size = sum(len(t.encode("utf-8")) for t in files.values())
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") in the JSON
        raise ConfigError("procedure_file: its text is not UTF-8") from None
    if size > MAX_BYTES:
        raise ConfigError(f"procedure_file is over {MAX_BYTES // 1024} KiB with what it calls; "
                          "a procedure is a page of YAML")
    return files
