"""Errors that carry *where* (file:line) and *what*, collected before any pin moves."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in an input file.

    >>> str(Problem("bench.yaml", 12, "rails.acc.pin: GPIO 14 is reserved"))
    'bench.yaml:12: error: rails.acc.pin: GPIO 14 is reserved'
    """

    file: str
    line: int | None
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        if not self.file:  # not from a file: a command-line value; the CLI adds "rig: error:"
            return self.message if self.severity == "error" else f"{self.severity}: {self.message}"
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.severity}: {self.message}"


class RigError(Exception):
    """Base of every error the rig raises on purpose; the CLI maps it to an exit code."""

    exit_code = 1


class ConfigError(RigError):
    """Bad input: a pin map, profile or procedure with problems. Exit code 2."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem("", None, problems)]
        self.problems = [p for p in problems if p.severity == "error"] or list(problems)
        self.warnings = [p for p in problems if p.severity == "warning"]
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def from_files(self) -> bool:
        """True when a file is to blame (so "fix the file(s) above" makes sense)."""
        return any(p.file and not p.file.startswith("-") for p in self.problems)


class UsageError(ConfigError):
    """A command-line mistake: an unknown name, a value out of range. Exit code 2.

    >>> str(UsageError("--hold 0s: a hold is 20ms to 1min"))
    '--hold 0s: a hold is 20ms to 1min'
    """


class BenchRefused(RigError):
    """The bench will not do this (dwell, closed bench). Exit code 1."""

    exit_code = 1


class BenchBusy(BenchRefused):
    """Another process holds the bench: refused so the two cannot fight over the pins. Exit code 3."""

    exit_code = 3


class SafetyRefusal(RigError):
    """The rig refuses because it could harm the unit (e.g. lockout). Exit code 3."""

    exit_code = 3


class NoGPIO(RigError):
    """No GPIO on this machine; the message names the way out (``--backend sim``)."""

    exit_code = 2


def did_you_mean(name, choices) -> str:
    """`` (did you mean vw-safe?)`` for a near miss, else ``""``.

    >>> did_you_mean("vw-safee", ["vw-safe", "ford"])
    ' (did you mean vw-safe?)'
    """
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def unknown(what: str, name, choices, where: str = "") -> str:
    """One wording for an unknown name: what it is, the near misses, and what there is.

    >>> unknown("profile", "vw-safee", ["ford", "vw-safe"], "rig profiles list shows them")
    "no profile 'vw-safee' (did you mean vw-safe?); rig profiles list shows them"
    """
    choices = list(choices)
    hint = did_you_mean(name, choices)
    tail = where or (f"known: {', '.join(map(str, choices))}" if choices else "there are none")
    return f"no {what} {str(name)!r}{hint}; {tail}"


class StepFailed(RigError):
    """A step's expectation was not met (a display, a sense, a wrong code). Exit code 1."""

    exit_code = 1


def shown(value) -> str:
    """A value in the words it was written in: ``'abc'``, ``SAFE, x``, never a Python list or object."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37] + "...")
    if isinstance(value, list):
        return "[" + ", ".join(shown(v) for v in value[:6]) + (", ..." if len(value) > 6 else "") + "]"
    if isinstance(value, dict):
        return "a mapping {" + ", ".join(str(k) for k in list(value)[:6]) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, (int, float)):
        text = f"{value:g}" if isinstance(value, float) else str(value)
        return text if len(text) <= 24 else text[:21] + "..."
    return "a section of the profile" if type(value).__name__ == "Section" else type(value).__name__
