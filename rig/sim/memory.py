"""The simulated unit's own memory, kept in a small JSON file between commands.

A real unit on the bench keeps its lock state and counters while the rig is
between commands (constant power stays on, ACC goes off). So does this one:
each command loads the memory, ages it by the real time that passed under
that power state, and saves every change at once, as an EEPROM would.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConfigError, Problem
from ..records.files import folder

MAX_BYTES = 1024 * 1024  # the memory file is ~1 KB


@dataclass
class UnitMemory:
    """What survives between commands (and, where the profile says so, power loss)."""

    profile: str
    code_hash: str                # the unit knows its code; even the simulator's file keeps no clear copy
    salt: str = ""
    serial: str = "SIM0000001"
    locked: bool = True
    wrong_in_window: int = 0      # wrong codes since the last lockout (or unlock)
    wrong_total: int = 0
    lockouts: int = 0             # lockouts so far (the wait may grow with each)
    lockout_left: float | None = None
    off_after_wait: bool = False  # ends=power_off: it switched itself off; shows locked at the next power-on
    ready: bool = False           # a lockout wait just ended: it shows its ready display until entry opens
    permanent: bool = False
    saved_at: float = field(default_factory=time.time)
    drop_presses: list = field(default_factory=list)  # fault injection: digit presses (1-based) the unit misses
    knobs: dict = field(default_factory=dict)  # realism knobs (rig.sim.knobs); {} = a unit from before them: ideal
    bench: dict = field(default_factory=dict)  # what a rail fault left behind: {"blown": [...], "welded": [...]}

    @classmethod
    def new(cls, profile: str, code: str, **kw) -> "UnitMemory":
        salt = secrets.token_hex(8)
        return cls(profile=profile, code_hash=_hash(salt, code), salt=salt, **kw)

    def is_code(self, digits: str) -> bool:
        return secrets.compare_digest(_hash(self.salt, digits), self.code_hash)

    @property
    def locked_out(self) -> bool:
        return self.lockout_left is not None and self.lockout_left > 0

    def save(self, path: str | Path) -> None:
        path = Path(path)
        folder(path.parent, "the simulated unit's folder (--sim-state)")
        self.saved_at = time.time()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sim-unit-")
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(self), fh, indent=1)
        os.replace(tmp, path)  # atomic: a crash leaves the old memory or the new, never half

    @classmethod
    def load(cls, path: str | Path) -> "UnitMemory":
        """The memory in ``path``; a missing or unreadable file is a ConfigError naming it."""
        path = Path(path)
        fix = "start a simulated unit with e.g. `rig sim reset --profile vw-safe --code 1234`"
        try:
            with open(path, "rb") as fh:  # a few hundred bytes; a wrong path to something huge is not read whole
                text = fh.read(MAX_BYTES + 1).decode("utf-8")
        except FileNotFoundError:
            raise ConfigError([Problem(str(path), None, f"no simulated unit yet; {fix}")]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([Problem(str(path), None, f"cannot read the simulated unit's memory ({exc}); "
                                       f"{fix}")]) from None
        try:
            if len(text) > MAX_BYTES:
                raise ValueError(f"over {MAX_BYTES // 1024} KiB")
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError([Problem(str(path), exc.lineno, f"the simulated unit's memory is not valid JSON "
                                       f"({exc.msg}); {fix} (that replaces it)")]) from None
        except (ValueError, RecursionError) as exc:  # too big, or nested past Python's stack
            raise ConfigError([Problem(str(path), None, f"not a simulated unit's memory "
                                       f"({exc if isinstance(exc, ValueError) else 'nested too deep'}); "
                                       f"{fix} (that replaces it)")]) from None
        missing = [k for k in ("profile", "code_hash") if not isinstance(data, dict) or k not in data]
        if missing:
            raise ConfigError([Problem(str(path), None, f"not a simulated unit's memory (no {', '.join(missing)}); "
                                       f"{fix}")])
        wrong = [f"{k}={v!r}" for k, v in data.items() if k in _TYPES and not _TYPES[k](v)]
        knobs = data.get("knobs") if isinstance(data.get("knobs"), dict) else {}
        for name, value in knobs.items():
            from .knobs import check

            try:
                check(name, value)
            except ConfigError as exc:
                wrong.append(exc.problems[0].message)
        if wrong:
            raise ConfigError([Problem(str(path), None, f"the simulated unit's memory is damaged "
                                       f"({'; '.join(wrong)}); {fix}")])
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_TYPES = {
    "profile": lambda v: isinstance(v, str), "code_hash": lambda v: isinstance(v, str),
    "salt": lambda v: isinstance(v, str), "serial": lambda v: isinstance(v, str),
    "locked": lambda v: isinstance(v, bool), "off_after_wait": lambda v: isinstance(v, bool),
    "ready": lambda v: isinstance(v, bool), "permanent": lambda v: isinstance(v, bool),
    "wrong_in_window": _is_int, "wrong_total": _is_int, "lockouts": _is_int,
    "lockout_left": lambda v: v is None or _is_number(v), "saved_at": _is_number,
    "drop_presses": lambda v: isinstance(v, list) and all(_is_int(x) for x in v),
    "knobs": lambda v: isinstance(v, dict), "bench": lambda v: isinstance(v, dict),
}


def _hash(salt: str, code: str) -> str:
    return hashlib.sha256((salt + code).encode()).hexdigest()
