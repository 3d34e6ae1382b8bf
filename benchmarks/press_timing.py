"""How precisely does a commanded hold end, and how cheap is an hour of virtual time?

Presses a key on the mock backend with RealClock (sleep, then spin to the
deadline) and, for comparison, with a plain time.sleep hold; measures each
hold from the pin's own state history. Then times a one-hour VirtualClock
wait. Prints figures measured in this one run; asserts nothing.

    python benchmarks/press_timing.py [--n 50] [--hold 0.2]
"""

import argparse
import statistics
import time

from rig.backends import mock_backend
from rig.bench import Bench
from rig.clock import RealClock, VirtualClock
from rig.wiring import load_wiring


class SleepClock(RealClock):
    """The naive way: time.sleep to the deadline, no spin."""

    def sleep_until(self, deadline):
        left = deadline - self.now()
        if left > 0:
            time.sleep(left)


def measure(clock, n, hold):
    wiring = load_wiring()
    with Bench(wiring, mock_backend(wiring, clock)) as bench:
        pin = bench.backend.pin_factory.pin(wiring.keys["preset1"].pin)
        errors = []
        for _ in range(n):
            pin.clear_states()
            bench.press("preset1", hold=hold)
            held = pin.states[-1].timestamp  # time from down to up, by the pin's own clock
            errors.append(abs(held - hold) * 1000)
    return errors


def summary(name, errors):
    errors = sorted(errors)
    p99 = errors[min(len(errors) - 1, int(len(errors) * 0.99))]
    print(f"{name:<28} median {statistics.median(errors):8.4f} ms   p99 {p99:8.4f} ms   max {max(errors):8.4f} ms")
    return statistics.median(errors), max(errors)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--hold", type=float, default=0.2)
    args = ap.parse_args()
    print(f"{args.n} presses of {args.hold * 1000:.0f} ms on the mock backend; error of the hold as the pin saw it")
    real_med, real_max = summary("RealClock (sleep + spin)", measure(RealClock(), args.n, args.hold))
    naive_med, _ = summary("time.sleep only", measure(SleepClock(), args.n, args.hold))
    print(f"spin-to-deadline is {naive_med / max(real_med, 1e-9):.0f}x closer (median); "
          f"worst RealClock hold error {real_max:.4f} ms ({'within' if real_max < 1 else 'OVER'} the 1 ms budget)")

    clock = VirtualClock()
    start = time.perf_counter()
    clock.wait_for(lambda: False, timeout=3600)
    wall = time.perf_counter() - start
    print(f"one-hour VirtualClock wait (re-checking its condition every simulated second): "
          f"{wall * 1000:.1f} ms of wall time, {3600 / wall:,.0f}x faster than real time")


if __name__ == "__main__":
    main()
