"""A signal never lands inside a clock callback: the wait's own loop takes it.

On a unit whose lockout wait starts over after a power loss, the first Ctrl-C is asked
about, not obeyed. A Ctrl-C is delivered wherever Python happens to be; on the virtual
clock that is often inside a callback the clock is running - the simulated unit's boot,
its lockout timer's start. Raised there, it cut the callback short: the unit's own
countdown never started, the rig served the whole wait, and the unit still showed its
lockout afterwards. The unit's own memory says whether its wait ran.
"""

from __future__ import annotations

import signal

from rig.sim.unit import SimUnit

from .safety_support import SimBench


def test_the_first_ctrl_c_landing_in_the_units_timer_start_is_asked_about_and_the_unit_still_counts(
        tmp_path, monkeypatch):
    # a realistic unit: the amp-remote rises at boot (the rig counts from there), the splash
    # ends a little later and only then does the unit start its own lockout timer
    b = SimBench(tmp_path, "ford", "2580", state="lockout", ideal=False,
                 knobs={"boot_delay": 1.0, "splash": "FORD", "splash_for": 2.0, "amp_remote_delay": 0.0,
                        "display_lag": 0.0, "timer_drift": 0.0})
    led = b.ledger()
    try:  # the ledger knows the lockout (the rig would otherwise read it off the display first)
        led.add_unit(b.SERIAL, "ford")
        led.start_lockout(b.SERIAL, 1800, None)
    finally:
        led.close()
    ready, fired = SimUnit._ready, []

    def ready_with_ctrl_c(self):
        if not fired:
            fired.append(self.clock.now())
            signal.raise_signal(signal.SIGINT)  # the technician's first Ctrl-C, handled in here
        ready(self)

    monkeypatch.setattr(SimUnit, "_ready", ready_with_ctrl_c)
    r = b.run("lockout-wait")
    assert fired, "the unit's timer start never ran"
    assert "press ctrl-c again" in b.screen.text().lower()  # asked, not obeyed
    assert r.outcome == "passed", r.message
    mem = b.unit
    assert mem.lockout_left is None and mem.ready, (mem.lockout_left, mem.ready)  # the unit's own wait ran out
