"""CAN logs in the formats python-can reads and writes: candump's ``.log``, Vector ``.asc``/``.blf``,
``.trc`` (PCAN), ``.csv``, ``.mf4``; the format follows the file's suffix.

A technician records on the car with ``rig can record``, ``candump -l`` or SavvyCAN, and
any of those logs becomes a wake set (:mod:`rig.can.picker`).

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "car.log")
>>> with LogWriter(path) as log:
...     log.write(LogFrame(10.0, 0x575, False, b"\\x03\\x00\\x00\\x00"))
...     log.write(LogFrame(10.1, 0x575, False, b"\\x03\\x00\\x00\\x00"))
>>> [(f.t, hex(f.id), f.data.hex()) for f in read_log(path)]
[(10.0, '0x575', '03000000'), (10.1, '0x575', '03000000')]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, NamedTuple

from ..errors import ConfigError, Problem
from .bus import need_python_can

READS = (".asc", ".blf", ".csv", ".db", ".log", ".mf4", ".trc")
WRITES = (".asc", ".blf", ".csv", ".db", ".log", ".trc")
MAX_FRAMES = 5_000_000   # about an hour of a busy 500k bus; a longer log is not a wake-up recording


class LogFrame(NamedTuple):
    """One frame of a log: when (seconds), which id, what payload; error and remote frames marked."""

    t: float
    id: int
    extended: bool
    data: bytes
    error: bool = False
    remote: bool = False


def _suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz" and len(suffixes) > 1:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def iter_log(path) -> Iterator[LogFrame]:
    """Every frame of a log, in file order. A missing file, an unknown suffix or a damaged log is a
    ConfigError naming the file."""
    path = Path(path)
    if _suffix(path) not in READS:
        raise ConfigError([Problem(str(path), None, f"not a CAN log rig reads (the suffix says the format: "
                                   f"{', '.join(READS)}; candump -l writes .log)")])
    if not path.is_file():
        raise ConfigError([Problem(str(path), None, "no such log file")])
    can = need_python_can()
    try:
        reader = can.LogReader(str(path))
    except Exception as exc:  # noqa: BLE001 - every reader has its own exceptions
        raise ConfigError([Problem(str(path), None, f"cannot open as a {_suffix(path)} log: {exc}")]) from None
    count = 0
    try:
        for msg in reader:
            count += 1
            if count > MAX_FRAMES:
                raise ConfigError([Problem(str(path), None, f"more than {MAX_FRAMES:,} frames: record the key-in "
                                           f"state for a minute or so, not a whole drive")])
            yield LogFrame(float(msg.timestamp), int(msg.arbitration_id), bool(msg.is_extended_id),
                           bytes(msg.data), bool(msg.is_error_frame), bool(msg.is_remote_frame))
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise ConfigError([Problem(str(path), None, f"the log is damaged after {count} frame(s): "
                                   f"{type(exc).__name__}: {exc}")]) from None
    finally:
        stop = getattr(reader, "stop", None)
        if stop is not None:
            stop()


def read_log(path) -> list[LogFrame]:
    """The whole log (see :func:`iter_log`); empty is a ConfigError too: nothing to pick from."""
    frames = list(iter_log(path))
    if not frames:
        raise ConfigError([Problem(str(path), None, "the log holds no frames (was the bus connected, the key in?)")])
    return frames


class LogWriter:
    """Writes frames to a log in the format of its suffix (python-can's writers)."""

    def __init__(self, path, channel: str = "can0"):
        self.path = Path(path)
        if _suffix(self.path) not in WRITES:
            raise ConfigError([Problem(str(self.path), None, f"rig writes CAN logs as {', '.join(WRITES)} "
                                       f"(the suffix chooses; .log is candump's format)")])
        can = need_python_can()
        self._can = can
        self.channel = channel
        self.count = 0
        try:  # a recording made on the car may be the only one: never written over
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640))
            self._writer = can.Logger(str(self.path))
        except FileExistsError:
            raise ConfigError([Problem(str(self.path), None, "already exists, and rig never writes over a "
                                       "recording: give another name, or move it away first")]) from None
        except OSError as exc:
            raise ConfigError([Problem(str(self.path), None, f"cannot write: {exc.strerror}")]) from None

    def write(self, f: LogFrame) -> None:
        msg = self._can.Message(timestamp=f.t, arbitration_id=f.id, is_extended_id=f.extended, data=f.data,
                                is_error_frame=f.error, is_remote_frame=f.remote, channel=self.channel)
        self._writer.on_message_received(msg)
        self.count += 1

    def close(self) -> None:
        self._writer.stop()

    def __enter__(self) -> "LogWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
