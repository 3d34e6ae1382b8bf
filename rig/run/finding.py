"""Where a procedure's file is: a built-in by name, a path, or a file beside its caller.

A ``call:`` finds a relative path next to the calling file first, then from the working
directory. A file sent to a bench's server (in a :func:`confine` folder) calls only the
files sent with it and the built-ins: never ``../``, an absolute path, or a file that merely
exists on the bench - the server never tells whether one does.

>>> find_procedure("unlock").name
'unlock.yaml'
>>> find_procedure("../procedures/unlock")
Traceback (most recent call last):
rig.errors.UsageError: no procedure '../procedures/unlock'; built-in ones are bench-removal, enter-code, lockout-wait, read-serial, reproduce-safe, unlock, or give a path to a YAML file
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError, Problem, UsageError, unknown


def builtin_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "procedures"


def builtin_names() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.yaml"))


def find_procedure(name_or_path: str, beside: str | None = None) -> Path:
    """A built-in by name, or a YAML file. ``beside``: the calling file, for a ``call:`` - a
    relative path is looked for next to it first, then from the working directory. A file in a
    :func:`confine` folder (sent to a server) calls only the files sent with it and the built-ins."""
    p = Path(name_or_path)
    home = _upload_home(beside)
    if home is not None:
        return _find_sent(name_or_path, beside, home)
    if beside and p.suffix in (".yaml", ".yml") and not p.is_absolute():
        near = Path(os.path.normpath(Path(beside).parent / p))  # one spelling per file: a loop is seen as one
        if near.is_file():
            return near
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.exists():
            raise ConfigError([Problem(str(p), None, "no such procedure file")])
        if p.is_dir():
            raise ConfigError([Problem(str(p), None, "a directory, not a procedure file (name a .yaml file)")])
        return p
    return _builtin(name_or_path, "or give a path to a YAML file")


def _builtin(name: str, more: str) -> Path:
    if name in builtin_names():  # a name, never a path: "../x" is no built-in
        return builtin_dir() / f"{name}.yaml"
    raise UsageError(unknown("procedure", name, builtin_names(),
                             f"built-in ones are {', '.join(builtin_names())}, {more}"))


_CONFINED: list[str] = []  # folders of files sent to a server, one folder per upload under each


def confine(folder) -> None:
    """Files in an upload under ``folder`` (``folder/DIGEST/...``) call only the files of their own
    upload and the built-ins: never ``../``, an absolute path, or a file that merely exists."""
    _CONFINED.append(os.path.abspath(folder))


def _upload_home(beside) -> Path | None:
    if not beside or not _CONFINED:
        return None
    here = os.path.abspath(beside)
    for root in _CONFINED:
        rel = os.path.relpath(here, root)
        if rel != ".." and not rel.startswith(".." + os.sep) and os.sep in rel:
            return Path(root) / rel.split(os.sep)[0]
    return None


def _find_sent(name: str, beside: str, home: Path) -> Path:
    if Path(name).suffix not in (".yaml", ".yml"):
        return _builtin(name, "or a file sent with this procedure")
    near = Path(os.path.normpath(Path(beside).parent / name))
    if Path(name).is_absolute() or os.path.commonpath([near, home]) != str(home):
        raise ConfigError([Problem(name, None, "a procedure sent to a bench's server calls only built-ins and "
                                   "the files sent with it")])
    if not near.is_file():
        raise ConfigError([Problem(name, None, "not among the files sent with this procedure")])
    return near
