"""The periodic sender: a wake set's frames at their periods, stopped all at once.

On the real clock each frame is a python-can periodic task: on socketcan a task of
the kernel's broadcast manager (it ends when rig's socket closes, so a ``kill -9``
stops it with the process), elsewhere a thread of this process. A counter's whole
cycle of payloads goes to the task at once, so the kernel sends them in turn.

Each task is also on a **lease**: it is set up to stop by itself after ``LEASE``
seconds and renewed while rig makes progress. A rig that hangs (its process
alive, its main thread stuck) lets the lease run out, and the frames stop about
when the dead-man drops the relays: a wake frame left running keeps a unit awake,
which is a rail left on.

On a VirtualClock each frame is a clock callback in simulated time; when time
jumps over more than a second's worth of periods (an hour's wait) the frame is sent
once, at the first of them, with its counter moved on by the periods that passed,
instead of thousands of times; whatever runs later in the jump (a unit checking that
frames still come) brings the frames up to its own time first.

>>> from rig.bench.clock import VirtualClock
>>> from rig.can.frames import parse_frame
>>> class Bus:                       # anything with python-can's send()
...     sent = []
...     def send(self, msg): self.sent.append((round(clock.now(), 3), msg.data.hex()))
>>> clock = VirtualClock()
>>> s = WakeSender(Bus(), clock)
>>> s.start([parse_frame({"id": 0x575, "data": "03 00 00 00", "period": "100ms"}, "", [])])
>>> clock.sleep(0.25); s.stop(); clock.sleep(1)
>>> Bus.sent, s.running
([(0.0, '03000000'), (0.1, '03000000'), (0.2, '03000000')], False)
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from .frames import Frame

log = logging.getLogger(__name__)
LEASE = 2.0         # seconds a task keeps sending without being renewed
RENEW = LEASE / 4   # how often a healthy rig renews it


class WakeSender:
    """Starts and stops the periodic frames of one bus; :meth:`stop` never raises."""

    def __init__(self, bus, clock, alive: Callable[[], bool] = lambda: True, lease: float = LEASE):
        self.bus, self.clock, self.lease = bus, clock, lease
        self.alive = alive  # renew the lease only while this says the rig makes progress
        self._tasks: dict[tuple[int, bool], object] = {}
        self._started: dict[tuple[int, bool], float] = {}
        self._frames: dict[tuple[int, bool], Frame] = {}
        self._sent: dict[tuple[int, bool], int] = {}
        self._lock = threading.RLock()
        self._renewer: threading.Thread | None = None
        self._stop_renewing = threading.Event()
        self.lapsed = 0  # renewals that found a task had already stopped (the rig stalled)

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    @property
    def frames(self) -> list[Frame]:
        return list(self._frames.values())

    def sent(self) -> int:
        """Frames sent so far (on the real clock: what the periods allow since each task started)."""
        with self._lock:
            total = sum(self._sent.values())
            if not getattr(self.clock, "virtual", False):
                now = time.monotonic()
                total += sum(int((now - t0) / self._frames[k].period) for k, t0 in self._started.items())
            return total

    def start(self, frames: list[Frame]) -> None:
        """Send each of ``frames`` at its period (a frame already being sent is left alone)."""
        for f in frames:
            self.start_cycle(f, f.payloads())

    def start_cycle(self, f: Frame, payloads: list[bytes]) -> None:
        """Send ``f``'s id now and then every ``f.period``, its payloads in turn (a held CAN key's repeats).

        The first frame goes at once (a wake set starts the moment ACC is on, not a period
        later: a 2 s keep-alive would leave the unit dark for 2 s)."""
        import can

        with self._lock:
            key = (f.id, f.extended)
            if key in self._tasks:
                return
            self._frames[key] = f
            later = payloads[1:] + payloads[:1]
            self._tasks[key] = self._start_virtual(f, later) if getattr(self.clock, "virtual", False) \
                else self._start_real(f, later)
            try:
                self.bus.send(can.Message(arbitration_id=f.id, is_extended_id=f.extended, data=payloads[0],
                                          timestamp=self.clock.now()))
                self._sent[key] = self._sent.get(key, 0) + 1
            except Exception:  # noqa: BLE001 - the periodic task goes on; the bus state says why
                log.debug("the first %s failed", f.label, exc_info=True)
            if self._tasks and not getattr(self.clock, "virtual", False) and self._renewer is None:
                self._stop_renewing.clear()
                self._renewer = threading.Thread(target=self._renew_loop, name="rig can lease", daemon=True)
                self._renewer.start()

    def stop(self) -> None:
        """Stop every frame now. Safe to call twice, from a signal's unwind, on a closed bus."""
        with self._lock:
            tasks, self._tasks = self._tasks, {}
            self._stop_renewing.set()
            now = time.monotonic()
            for key, task in tasks.items():
                try:
                    task.stop()
                except Exception:  # noqa: BLE001 - one bad task must not keep the others going
                    log.exception("stopping the periodic frame %s", key)
                if key in self._started:
                    self._sent[key] = self._sent.get(key, 0) + int((now - self._started.pop(key)) /
                                                                  self._frames[key].period)
        renewer, self._renewer = self._renewer, None
        if renewer is not None and renewer is not threading.current_thread():
            renewer.join(timeout=1.0)

    def stop_one(self, ident: int, extended: bool = False) -> None:
        """Stop one frame (a held key let go); the others go on."""
        with self._lock:
            task = self._tasks.pop((ident, extended), None)
            self._started.pop((ident, extended), None)
            if task is not None:
                try:
                    task.stop()
                except Exception:  # noqa: BLE001
                    log.exception("stopping the periodic frame 0x%X", ident)

    # -- the real clock: python-can tasks on a lease -----------------------------------
    def _start_real(self, f: Frame, payloads: list[bytes]):
        import can

        key = (f.id, f.extended)
        messages = [can.Message(arbitration_id=f.id, is_extended_id=f.extended, data=p) for p in payloads]
        task = self.bus.send_periodic(messages, f.period, duration=self.lease, store_task=False)
        self._started[key] = time.monotonic()
        return task

    def _renew_loop(self) -> None:
        while not self._stop_renewing.wait(min(RENEW, self.lease / 4)):
            if not self.alive():
                continue  # no renewal: the lease runs out and the frames stop by themselves
            with self._lock:
                for key, task in list(self._tasks.items()):
                    self._renew(task)

    def _renew(self, task) -> None:
        try:
            thread = getattr(task, "thread", None)
            if thread is not None:  # python-can's thread-based task (virtual, udp_multicast)
                if thread.is_alive():
                    task.end_time = time.perf_counter() + self.lease
                    return
                self.lapsed += 1
            task.start()  # socketcan: TX_SETUP again re-arms the kernel's count; a thread: a new one
        except Exception:  # noqa: BLE001
            log.exception("renewing a periodic frame")

    # -- the virtual clock: callbacks in simulated time ---------------------------------
    def _start_virtual(self, f: Frame, payloads: list[bytes]):
        import can

        key = (f.id, f.extended)
        state = {"n": 0}

        def send(passed: int) -> None:
            if key not in self._tasks:
                return
            state["n"] += passed
            self._sent[key] = self._sent.get(key, 0) + passed
            msg = can.Message(arbitration_id=f.id, is_extended_id=f.extended, data=payloads[(state["n"] - 1) %
                              len(payloads)], timestamp=self.clock.now())
            try:
                self.bus.send(msg)
            except Exception:  # noqa: BLE001 - a closed or failing bus: the frame is lost, as on a wire
                log.debug("sending %s failed", f.label, exc_info=True)

        # frames at their own times over short stretches (a press, a boot); over a jump of more than
        # a second of simulated time, one frame (at the first period) for all the periods that passed
        return _Cancel(self.clock.call_every(f.period, send, coalesce=max(1, int(1.0 / f.period)), first=True))


class _Cancel:
    """A clock callback handle with a python-can task's ``stop()``."""

    def __init__(self, timer):
        self.timer = timer

    def stop(self) -> None:
        self.timer.cancel()
