"""A bench held for the length of a ``with`` block: what the pytest plugin's ``rig_bench``
fixture does around a test, usable from any harness.

>>> from rig.bench.backends import mock_backend
>>> from rig.bench.clock import VirtualClock
>>> from rig.bench.wiring import load_wiring
>>> w = load_wiring()
>>> with held_bench(w, lambda w: mock_backend(w, VirtualClock())) as bench:
...     bench.power("acc", True)    # released at the end of the block: keys up, rails safe
"""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def held_bench(wiring, backend_factory, log_path=None):
    """Open a bench for a test; release it (keys up, rails safe) and close the backend after.

    With ``log_path`` the bench's events go to that JSON-lines log, and its
    timeline picture is drawn next to it when the bench is released.
    """
    from ..bench.bench import Bench
    from ..records.events import EventBus

    backend = backend_factory(wiring)
    log = None
    events = EventBus(backend.clock)
    if log_path is not None:
        from ..records.report import EventLog

        log = EventLog(log_path)
        events.subscribe(log.write)
    bench = Bench(wiring, backend, events=events)
    try:
        bench.open()
        yield bench
    finally:
        bench.release("test teardown")
        backend.close()
        if log is not None:
            log.close()
            draw_timeline(log_path, "rig_bench")


def draw_timeline(log_path, title: str) -> None:
    from .job import timeline_path
    from ..records.files import write_new
    from ..records.report import read_events
    from ..records.timeline import render_svg

    write_new(timeline_path(log_path), render_svg(read_events(log_path), title))


