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
        path.parent.mkdir(parents=True, exist_ok=True)
        self.saved_at = time.time()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sim-unit-")
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(self), fh, indent=1)
        os.replace(tmp, path)  # atomic: a crash leaves the old memory or the new, never half

    @classmethod
    def load(cls, path: str | Path) -> "UnitMemory":
        data = json.loads(Path(path).read_text())
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _hash(salt: str, code: str) -> str:
    return hashlib.sha256((salt + code).encode()).hexdigest()
