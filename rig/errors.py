"""Errors that carry *where* (file:line) and *what*, collected before any pin moves."""

from __future__ import annotations

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
            problems = [Problem("<input>", None, problems)]
        self.problems = [p for p in problems if p.severity == "error"] or list(problems)
        self.warnings = [p for p in problems if p.severity == "warning"]
        super().__init__("\n".join(str(p) for p in self.problems))


class BenchRefused(RigError):
    """The bench will not do this (dwell, busy lock, closed bench). Exit code 1."""

    exit_code = 1


class BenchBusy(BenchRefused):
    """Another process holds the bench."""


class SafetyRefusal(RigError):
    """The rig refuses because it could harm the unit (e.g. lockout). Exit code 3."""

    exit_code = 3


class NoGPIO(RigError):
    """No GPIO on this machine; the message names the way out (``--backend sim``)."""

    exit_code = 2
