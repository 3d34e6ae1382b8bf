"""The display tap over a real pty: partial lines, garbage, unplug, forbidden text, timeouts."""

import os
import threading
import time
import tty

import pytest

from rig.bench.clock import RealClock, VirtualClock
from rig.unit.display import DisplayTimeout, ForbiddenDisplay, OperatorTap, SerialTap, TapError


@pytest.fixture
def pty_tap():
    """A SerialTap on a pty slave; yields (tap, write-to-master, master fd)."""
    taps = []

    def make(clock, **kw):
        master, slave = os.openpty()
        tty.setraw(slave)
        tap = SerialTap(os.ttyname(slave), 115200, clock, **kw)
        os.close(slave)
        sent = [0]

        def write(data: bytes, wait=True):
            sent[0] += os.write(master, data)
            if wait:
                assert tap.wait_until_seen(sent[0], timeout=5)

        taps.append((tap, master))
        return tap, write, master

    yield make
    for tap, master in taps:
        tap.close()
        try:
            os.close(master)
        except OSError:
            pass


def test_lines_arrive_whole_even_when_split(pty_tap):
    tap, write, _ = pty_tap(VirtualClock())
    write(b"SA")
    assert tap.current() is None  # half a line is not a display
    write(b"FE\r\n10")
    write(b"00\n")
    assert [l.text for l in tap.history()] == ["SAFE", "1000"]


def test_garbage_is_skipped_and_recorded(pty_tap):
    tap, write, _ = pty_tap(VirtualClock())
    write(b"\xff\xfe\x80garbage\n" + b"x" * 300 + b"\n" + b"SAFE\n" + b"\x01\x02\n")
    assert [l.text for l in tap.history()] == ["SAFE"]
    assert len(tap.garbage) == 3


def test_wrong_baud_rate_is_named_on_timeout(pty_tap):
    tap, write, _ = pty_tap(VirtualClock())
    write(b"\xf8\x80\xfe\n\x9c\xe0\n")  # what 9600 baud read at 115200 looks like: no text at all
    with pytest.raises(DisplayTimeout, match="unreadable line.*wrong baud rate"):
        tap.wait_for("SAFE", timeout=5)


def test_tap_status_lines_are_not_display(pty_tap):
    tap, write, _ = pty_tap(VirtualClock())
    write(b"#tap v1\nCODE - - - -\n")
    assert tap.current() == "CODE - - - -"
    assert [s.text for s in tap.status] == ["#tap v1"]


def test_unplugging_fails_waits_at_once_without_a_traceback(pty_tap):
    tap, write, master = pty_tap(RealClock())
    write(b"SAFE\n")
    os.close(master)  # the USB adapter is pulled
    start = time.monotonic()
    with pytest.raises(TapError, match="unplugged"):
        tap.wait_for("1000", timeout=10)
    assert time.monotonic() - start < 2
    assert tap.current() == "SAFE"  # what was read is kept


def test_not_matching_fails_fast(pty_tap):
    clock = VirtualClock()
    tap, write, _ = pty_tap(clock)
    write(b"1000\n")
    clock.call_at(2.0, lambda: write(b"WAIT\n"))
    with pytest.raises(ForbiddenDisplay, match="'WAIT'"):
        tap.wait_for("^SAFE$", timeout=3600, not_matching="^WAIT")
    assert clock.now() == 2.0  # it did not sit out the hour


def test_wait_for_counts_the_current_display(pty_tap):
    tap, write, _ = pty_tap(VirtualClock())
    write(b"SAFE\n")
    assert tap.wait_for("^SAFE$", timeout=0).text == "SAFE"


def test_timeout_on_the_virtual_clock_costs_no_wall_time(pty_tap):
    clock = VirtualClock()
    tap, write, _ = pty_tap(clock)
    write(b"SAFE\n")
    start = time.monotonic()
    with pytest.raises(DisplayTimeout, match="did not show \\^1000\\$ within 3600s \\(it shows 'SAFE'\\)"):
        tap.wait_for("^1000$", timeout=3600)
    assert clock.now() == 3600
    assert time.monotonic() - start < 1


def test_timeout_and_late_line_on_the_real_clock(pty_tap):
    clock = RealClock()
    tap, write, _ = pty_tap(clock)
    with pytest.raises(DisplayTimeout):
        tap.wait_for("SAFE", timeout=0.1)
    threading.Timer(0.05, lambda: write(b"SAFE\n", wait=False)).start()
    assert tap.wait_for("SAFE", timeout=2).text == "SAFE"


def test_debug_uart_pattern_extracts_the_display(pty_tap):
    tap, write, _ = pty_tap(VirtualClock(), pattern=r"LCD: (?P<display>.*)")
    write(b"boot ok\nLCD: SAFE\nI2C err\nLCD: 1000\n")
    assert [l.text for l in tap.history()] == ["SAFE", "1000"]


def test_cannot_open_names_the_port():
    with pytest.raises(TapError, match="cannot open the display tap /dev/ttyNOPE"):
        SerialTap("/dev/ttyNOPE", 115200, VirtualClock())


def test_operator_tap_asks_only_when_its_answer_is_stale():
    clock = VirtualClock()
    answers = iter(["SAFE", "WAIT"])
    tap = OperatorTap(clock, lambda q: next(answers))
    assert tap.current() is None                  # a panel refresh never asks
    assert tap.wait_for("^SAFE$", timeout=5, expected="SAFE").text == "SAFE"
    assert tap.read() == "SAFE" and tap.current() == "SAFE" and tap.questions == 1  # still fresh: not asked again
    tap.touched()                                 # the rig pressed a key: the unit may show something else
    with pytest.raises(ForbiddenDisplay):
        tap.wait_for("^1000$", timeout=5, not_matching="^WAIT")
    assert tap.questions == 2
    assert [l.text for l in tap.history()] == ["SAFE", "WAIT"]
    clock.sleep(OperatorTap.FRESH + 1)            # an old answer is stale too
    assert not tap.fresh


