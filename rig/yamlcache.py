"""What a YAML file parsed to, kept on disk by content (for :mod:`rig.yamlfile`).

A command that reads the same pin map, procedure and notes as the last one skips
YAML (~30 ms of a ~150 ms ``rig run``). Only documents that parsed and passed the
loader's checks are kept, each under a small bound (ENTRY_MAX), and each sealed with
a checksum keyed by its name: an entry that does not verify (a torn write, another
version's format, random bytes) is thrown away and the text parsed afresh. The rig
command turns it on (rig.cli.main); a program importing rig parses every time unless
it calls :func:`remember_parses`. Files a server was sent are never kept
(:func:`never_remember`): what a request holds must not land in the cache.

>>> remember_parses(None); on()
False
"""

from __future__ import annotations

import hashlib
import hmac
import marshal
import os
from pathlib import Path

_DISK: dict = {"dir": None, "never": ()}
MISSING = object()
FORMAT = b"rig-yaml-2"  # bump when LineDict/LineList or the loader's rules change
KEEP = 200  # files kept: a bench's pin map, notes and procedures, and their last few edits
ENTRY_MAX = 64 * 1024  # bytes: the largest shipped file (vw-safe's notes) keeps ~19 KB
_SEAL = 16


def remember_parses(directory: str | Path | None) -> None:
    """Keep parsed YAML under ``directory`` (made 0700; None: stop).

    >>> remember_parses(None)
    """
    _DISK["dir"] = Path(directory) if directory else None


def on() -> bool:
    return _DISK["dir"] is not None


def never_remember(folder: str | Path) -> None:
    """Files under ``folder`` are parsed every time, never kept (a server's uploaded procedures).

    >>> never_remember("/tmp/uploads"); kept_from("/tmp/uploads/ab/p.yaml"), kept_from("/tmp/mine.yaml")
    (False, True)
    """
    _DISK["never"] = (*_DISK["never"], os.path.abspath(folder))


def kept_from(path) -> bool:
    """Whether a file at ``path`` may be kept (it is under no :func:`never_remember` folder)."""
    here = os.path.abspath(path)
    return not any(here == f or here.startswith(f + os.sep) for f in _DISK["never"])


def key(text: str, filename: str, first_line: int) -> str:
    h = hashlib.blake2b(FORMAT, digest_size=20)
    for part in (filename, str(first_line), text):
        h.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()


def _seal(name: str, payload: bytes) -> bytes:
    return hashlib.blake2b(payload, key=name.encode(), digest_size=_SEAL).digest()


def recall(name: str, thaw):
    """What was kept under ``name``, through ``thaw``; MISSING if nothing (or nothing sound) was."""
    path = _DISK["dir"] / name
    try:
        with open(path, "rb") as fh:
            blob = fh.read(ENTRY_MAX + 1)
    except OSError:
        return MISSING  # not kept (or the folder cannot be read): parse
    try:
        seal, payload = blob[:_SEAL], blob[_SEAL:]
        if len(blob) > ENTRY_MAX or not hmac.compare_digest(seal, _seal(name, payload)):
            raise ValueError("does not verify")
        return thaw(marshal.loads(payload))
    except Exception:  # torn, damaged, another version's: throw it away and parse afresh
        try:
            path.unlink()
        except OSError:
            pass
        return MISSING


def remember(name: str, freeze, data) -> None:
    """Keep ``freeze(data)`` under ``name``, if it is small enough; never fails a command."""
    try:
        payload = marshal.dumps(freeze(data))  # a value of another type: ValueError, not kept
        if len(payload) + _SEAL > ENTRY_MAX:
            return  # parsed every time rather than fill the card
        directory = _DISK["dir"]
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = directory / f".{name}.{os.getpid()}"
        tmp.write_bytes(_seal(name, payload) + payload)
        os.replace(tmp, directory / name)  # whole or not at all, even with two commands at once
        kept = sorted(directory.iterdir(), key=lambda p: p.stat().st_mtime)
        for old in kept[:-KEEP]:  # every edit of a file adds one: the oldest go (a miss re-parses)
            old.unlink()
    except Exception:
        pass
