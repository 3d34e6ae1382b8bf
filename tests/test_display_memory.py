"""A chatty tap for an hour: memory stays flat, the recent lines stay at hand."""

from rig.bench.clock import VirtualClock
from rig.unit.display import HISTORY, KEPT, SerialTap


def _rss_kib() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


def test_two_hundred_thousand_tap_lines_keep_memory_flat():
    clock = VirtualClock()
    tap = SerialTap("loop://", 115200, clock)
    logged = []
    tap.subscribe(lambda new, old: logged.append(1) if len(logged) < 1 else None)  # a listener, as the bench has
    lines = [b"DBG %06d tuner 87.50 MHz rds ok" % i for i in range(1000)]
    lines[7], lines[8] = b"\xff\xfe noise", b"#tap v1 ok"  # garbage and tap status lines too
    take = tap._take
    try:
        for _ in range(20):  # 20,000 lines: the ring (1,000) is full twenty times over, the process at its steady size
            for raw in lines:
                take(raw, clock._now)
        before = _rss_kib()
        for _ in range(180):  # 180,000 more: keeping each line would grow ~36 MiB, 9 times the allowance
            clock._now += 1.0
            for raw in lines:
                take(raw, clock._now)
        grown = _rss_kib() - before
    finally:
        tap.close()
    assert grown < 4096, f"memory grew {grown} KiB over 180,000 lines"  # a list of every line: ~36 MiB
    assert tap.count == 199_600  # every display line counted (two in each thousand are not display)
    assert tap.garbage_count == 200 and len(tap.garbage) == KEPT and len(tap.status) == KEPT
    recent = tap.history()
    assert len(recent) == HISTORY and recent[-1].text == "DBG 000999 tuner 87.50 MHz rds ok"


def test_lines_since_reads_the_recent_window():
    clock = VirtualClock()
    tap = SerialTap("loop://", 115200, clock)
    try:
        for i in range(5):
            clock._now = float(i)
            tap._take(b"LINE %d" % i)
    finally:
        tap.close()
    assert [l.text for l in tap.lines_since(3.0)] == ["LINE 3", "LINE 4"]
    assert tap.lines_since(9.0) == [] and len(tap.lines_since(0.0)) == 5


def test_waits_work_once_the_ring_has_wrapped():
    clock = VirtualClock()
    tap = SerialTap("loop://", 115200, clock)
    try:
        for i in range(HISTORY + 500):
            tap._take(b"LINE %d" % i)
        assert tap.wait_for(f"^LINE {HISTORY + 499}$", timeout=1).text == f"LINE {HISTORY + 499}"  # the current one
        clock.call_later(5, lambda: [tap._take(b"LINE x%d" % i) for i in range(3 * HISTORY)])  # a burst
        assert tap.wait_for("^LINE x2999$", timeout=10).t == 5.0
    finally:
        tap.close()
