"""What the unit shows: a serial display tap, or the technician's eyes.

Both taps answer the same questions: ``current()``, ``history()``,
``lines_since(t)`` and ``wait_for(pattern, timeout, not_matching=...)``. A wait
goes through the clock, so it works on the VirtualClock too.

A tap keeps only its most recent lines (``HISTORY`` of them) in memory: a
chatty debug UART sends a thousand lines a second for an hour. Every line
still reaches the run's event log on disk as it arrives, through the bench's
subscription to the tap.

>>> from rig.bench.clock import VirtualClock
>>> tap = SerialTap("loop://", 115200, VirtualClock())
>>> sent = tap.port.write(b"SAFE\\r\\n1000\\n")
>>> tap.wait_until_seen(sent)    # virtual time must not jump past bytes in flight
True
>>> tap.wait_for("^1000$", timeout=1).text
'1000'
>>> [line.text for line in tap.history()]
['SAFE', '1000']
>>> tap.close()
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections import deque
from itertools import islice
from typing import Callable, NamedTuple

import serial

from ..bench.clock import hush, ordinary
from ..errors import RigError

MAX_LINE = 256  # bytes; longer means noise or a wrong baud rate, not a display
HISTORY = 1000  # display lines kept in memory (the event log keeps them all)
KEPT = 100      # unreadable and '#' status lines kept in memory (each is counted)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f]")  # no display shows these (a tab is padding)


class DisplayError(RigError):
    """The display did not show what was expected (exit code 1)."""

    exit_code = 1


class DisplayTimeout(DisplayError):
    pass


class ForbiddenDisplay(DisplayError):
    """A ``not_matching`` pattern showed: fail at once rather than wait out the timeout."""


class TapError(DisplayError):
    """The tap itself failed: could not open, unplugged."""


class DisplayLine(NamedTuple):
    """What the display showed, and when (clock time). A tuple: a chatty tap makes many."""

    t: float
    text: str


def _regex(pattern) -> re.Pattern:
    return pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)


def normalise(text: str) -> str:
    """Whitespace collapsed: a tap may pad a 12-character display with spaces."""
    return " ".join(text.split())


class DisplayTap(ABC):
    """The interface every display source offers."""

    def __init__(self, clock, history: int = HISTORY):
        self.clock = clock
        self._lines: deque[DisplayLine] = deque(maxlen=history)
        self.count = 0  # lines shown since the tap opened (the ring holds the last ``history``)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str, str | None], None]] = []

    def subscribe(self, fn: Callable[[str, str | None], None]) -> None:
        """``fn(new_text, old_text)`` is called for each display change."""
        self._listeners.append(fn)

    def _add(self, text: str, t: float | None = None) -> None:
        with self._lock:
            old = self._lines[-1].text if self._lines else None
            self._lines.append(DisplayLine(self.clock.now() if t is None else t, text))
            self.count += 1
        for fn in list(self._listeners):
            try:
                fn(text, old)
            except Exception:
                pass

    def current(self) -> str | None:
        with self._lock:
            return self._lines[-1].text if self._lines else None

    def history(self) -> list[DisplayLine]:
        """The most recent lines, oldest first (at most ``HISTORY``; the event log has every one)."""
        with self._lock:
            return list(self._lines)

    def lines_since(self, t: float) -> list[DisplayLine]:
        """The lines shown at or after clock time ``t``, oldest first (those still in memory)."""
        newest = []
        with self._lock:
            for line in reversed(self._lines):  # the recent end first: a wait looks back a little
                if line.t < t:
                    break
                newest.append(line)
        return newest[::-1]

    def lines_after(self, number: int) -> list[DisplayLine]:
        """The lines shown after the first ``number`` (``tap.count`` read before a key: what answered it,
        even a line stamped in the key's own instant)."""
        return self._after(number)[0]

    def _after(self, number: int) -> tuple[list[DisplayLine], int]:
        """Lines numbered ``number`` and on (0 = the first line ever shown), and the next number."""
        with self._lock:
            new = min(len(self._lines), max(0, self.count - number))
            return list(islice(reversed(self._lines), new))[::-1], self.count

    @abstractmethod
    def wait_for(self, pattern, timeout: float, not_matching=None) -> DisplayLine:
        """Wait until the display shows ``pattern`` (a regex, searched in the
        whitespace-collapsed text). The current display counts. Raises
        ForbiddenDisplay as soon as ``not_matching`` shows, DisplayTimeout
        after ``timeout``, TapError if the tap fails."""

    def close(self) -> None:
        pass


class LineTap(DisplayTap):
    """A tap that takes display lines in as they come (a serial line, CAN frames) and waits on them."""

    error: str | None = None      # set when the tap itself failed: every wait fails at once
    garbage_count = 0

    def wait_for(self, pattern, timeout, not_matching=None):
        rx = _regex(pattern)
        bad = _regex(not_matching) if not_matching is not None else None
        with self._lock:
            upto = max(0, self.count - 1)  # the current display counts
        found: list[DisplayLine] = []

        def check() -> bool:
            nonlocal upto
            lines, upto = self._after(upto)  # each line is looked at once
            for line in lines:
                text = normalise(line.text)
                if bad is not None and bad.search(text):
                    raise ForbiddenDisplay(f"the display showed {line.text!r} (forbidden: {bad.pattern}) "
                                           f"while waiting for {rx.pattern}")
                if rx.search(text):
                    found.append(line)
                    return True
            if self.error:
                raise TapError(self.error)
            return False

        if self.clock.wait_for(check, timeout, poll=0.05 if not self.clock.virtual else None):
            return found[0]
        raise DisplayTimeout(self._timeout_message(rx, timeout))

    def _timeout_message(self, rx, timeout) -> str:
        msg = f"the display did not show {rx.pattern} within {timeout:g}s (it shows {self.current()!r})"
        if self.garbage_count and not self.count:
            msg += f"; {self.garbage_count} unreadable line(s) from {self.url}: wrong baud rate?"
        return msg + self.hint()

    def hint(self) -> str:
        """What might explain a display that stayed silent (a tap with more to say overrides it)."""
        return ""


class SerialTap(LineTap):
    """Reads display lines from any pyserial URL in a background thread.

    Garbage (bytes that are not UTF-8 text, over-long lines) is skipped and
    counted; an unplugged adapter ends the reader and makes every wait fail
    at once with a clear message. Neither hangs nor raises a traceback.
    """

    def __init__(self, url: str, baud: int, clock, pattern: str | None = None, read_timeout: float = 0.05):
        super().__init__(clock)
        self.url = url
        self.pattern = re.compile(pattern) if pattern else None  # for a unit's own debug UART
        self.garbage: deque[tuple[float, bytes]] = deque(maxlen=KEPT)  # the most recent unreadable lines
        self.garbage_count = 0
        self.status: deque[DisplayLine] = deque(maxlen=KEPT)  # '#' lines from the tap board
        self.error: str | None = None
        self.bytes_seen = 0
        self._activity = threading.Condition()
        try:
            # DTR/RTS low before the port opens: asserted, they reset an Arduino-class tap board
            # (pyserial raises both on open by default). Linux still pulses them briefly as the
            # tty opens (pyserial #124), so a tap resends its current text on start anyway.
            self.port = serial.serial_for_url(url, baudrate=baud, timeout=read_timeout, do_not_open=True)
            self.port.dtr = False
            self.port.rts = False
            self.port.open()
        except (serial.SerialException, ValueError, OSError) as exc:
            raise TapError(f"cannot open the display tap {url}: {exc}. Check the USB adapter and the "
                           f"display port in the pin map, or remove the display block to work without a tap") from None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._reader, name=f"display-tap {url}", daemon=True)
        self._thread.start()

    def _reader(self) -> None:
        ordinary()
        buf = b""
        while not self._stop.is_set():
            try:
                chunk = self.port.read(max(1, self.port.in_waiting))
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                if not self._stop.is_set():
                    self.error = f"the display tap {self.url} stopped: {exc} (unplugged?)"
                    with self._activity:
                        self._activity.notify_all()
                return
            if not chunk:
                continue
            t = self.clock.now()  # when it arrived, before waiting out a press's last moments
            hush()
            buf += chunk
            *lines, buf = buf.split(b"\n")
            if len(buf) > MAX_LINE:  # no newline in sight: noise, drop it
                self._garbage(t, buf)
                buf = b""
            for raw in lines:
                self._take(raw.rstrip(b"\r"), t)
            with self._activity:
                self.bytes_seen += len(chunk)
                self._activity.notify_all()

    def _garbage(self, t: float, raw: bytes) -> None:
        self.garbage.append((t, raw[:64]))
        self.garbage_count += 1

    def _take(self, raw: bytes, t: float | None = None) -> None:
        t = self.clock.now() if t is None else t
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is None or len(raw) > MAX_LINE or _CONTROL.search(text):
            self._garbage(t, raw)
            return
        if text.startswith("#"):
            self.status.append(DisplayLine(t, text))
            return
        if self.pattern is not None:
            m = self.pattern.search(text)
            if not m:
                return
            text = m.group("display") if "display" in self.pattern.groupindex else m.group(0)
        self._add(text.strip(), t)

    def wait_until_seen(self, count: int, timeout: float = 2.0) -> bool:
        """Block (in wall time) until the reader has taken in ``count`` bytes.

        The simulator calls this before virtual time moves on, so the clock
        never jumps past a line still in flight.
        """
        with self._activity:
            return self._activity.wait_for(lambda: self.bytes_seen >= count or self.error is not None
                                           or self._stop.is_set(), timeout)  # closed: nobody reads any more

    def close(self) -> None:
        self._stop.set()
        try:
            self.port.close()
        except Exception:
            pass
        self._thread.join(timeout=1.0)


class OperatorTap(DisplayTap):
    """For a bench with no tap: the technician reads the display.

    ``ask(question) -> answer`` is how it asks (the CLI passes a prompt; tests
    pass canned answers). It asks only when a step must decide on what the
    unit shows: what the operator last said stands until the rig presses a
    key or switches a rail (:meth:`touched`), or :data:`FRESH` seconds pass.
    ``current()`` never asks, so a live panel can show it as often as it likes.
    """

    FRESH = 30.0

    def __init__(self, clock, ask: Callable[[str], str]):
        super().__init__(clock)
        self.ask = ask
        self.questions = 0
        self._answered_at: float | None = None

    def _question(self, text: str) -> str:
        self.questions += 1
        with self.clock.outside("the operator"):  # the technician reads the display: not a hang
            return self.ask(text).strip()

    def touched(self) -> None:
        """The rig just changed something the unit answers: the last answer is stale."""
        self._answered_at = None

    @property
    def fresh(self) -> bool:
        return self._answered_at is not None and self.clock.now() - self._answered_at <= self.FRESH

    def read(self, hint: str = "") -> str:
        """What the display shows: the operator's last answer if fresh, else ask."""
        if self.fresh and self.current() is not None:
            return self.current()
        text = self._question(f"What does the display show{' (' + hint + ')' if hint else ''}? ")
        self._add(text)
        self._answered_at = self.clock.now()
        return text

    def confirm(self, expected: str) -> bool:
        answer = self._question(f"Does the display show {expected}? [y/n] ").lower()
        return answer in ("y", "yes")

    def wait_for(self, pattern, timeout, not_matching=None, expected: str | None = None):
        rx = _regex(pattern)
        bad = _regex(not_matching) if not_matching is not None else None
        text = self.read(expected or "")
        if bad is not None and bad.search(normalise(text)):
            raise ForbiddenDisplay(f"the operator saw {text!r}, which it must not show here")
        if rx.search(normalise(text)):
            return DisplayLine(self.clock.now(), text)
        raise DisplayTimeout(f"the operator saw {text!r}, not {expected or 'what was expected'}")
