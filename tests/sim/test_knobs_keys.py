"""The simulated unit's key scan and display knobs: debounce, step on release, auto-repeat,
combo window, display lag, boot splash, and the tap's duplicated and blank lines.

Expected behaviour comes from the knob table in rig/sim/knobs.py; the texts are Ford's
(``CODE - - - -``, ``1---`` ...) and VW's (``SAFE``, ``1000``) from their notes. Each test
starts from ``ideal`` and turns on only the knob it is about.
"""

import pytest

from rig.sim import knobs as knobs_mod

from .conftest import run_twice

FORD_LOCKED = "CODE - - - -"


def ford(sim, **knobs):
    return sim("ford", "1234", ideal=True, knobs=knobs)


# -- debounce, release, repeat --------------------------------------------------------------
def test_a_press_shorter_than_the_debounce_is_not_seen(sim):
    with ford(sim, debounce=0.05) as s:
        s.power("acc", True, wait_boot=False)
        s.sleep(1)
        s.press("preset1", hold=0.03)
        s.sleep(1)
        assert s.shown() == [FORD_LOCKED]
        s.press("preset1", hold=0.08)
        s.sleep(1)
    assert s.shown() == [FORD_LOCKED, "1---"]


def test_a_digit_steps_when_its_key_is_let_go(sim):
    with ford(sim, step_on="release") as s:
        s.power("acc", True, wait_boot=False)
        s.sleep(1)
        s.bench.down("preset1")
        s.sleep(0.5)
        assert s.bench.display.current() == FORD_LOCKED   # held: nothing yet
        s.bench.up("preset1")
        released = s.now
        s.sleep(1)
    assert s.lines()[-1] == (released, "1---")


@pytest.mark.parametrize("step_on,steps", [("release", 6), ("press", 7)])
def test_a_held_digit_key_repeats(sim, step_on, steps):
    """Held 2.3 s: repeats at 1.0, 1.25 ... 2.25 s (six); on press there is the first step too."""
    with ford(sim, step_on=step_on, repeat_after=1.0, repeat_every=0.25) as s:
        s.power("acc", True, wait_boot=False)
        s.sleep(1)
        s.press("preset1", hold=0.3)                       # opens entry: 1---
        s.sleep(0.5)
        s.press("preset2", hold=2.3)
        s.sleep(1)
    assert s.shown()[-1] == f"1{steps % 10}--"


def test_a_short_press_never_repeats(sim):
    with ford(sim, repeat_after=1.0, repeat_every=0.25, step_on="release") as s:
        s.power("acc", True, wait_boot=False)
        s.sleep(1)
        s.press_each(["preset1", "preset2"], [1, 3], hold=0.3, gap=0.3)
        s.sleep(1)
    assert s.shown()[-1] == "13--"


def test_gm_repeats_once_a_second_as_its_notes_say():
    """gm-theftlock.md: a held button repeats once a second (first steps)."""
    knobs_mod.REALISTIC_BY_DEFAULT, saved = True, knobs_mod.REALISTIC_BY_DEFAULT
    try:
        gm, other = knobs_mod.defaults_for("gm-theftlock"), knobs_mod.defaults_for("ford")
    finally:
        knobs_mod.REALISTIC_BY_DEFAULT = saved
    assert (gm["repeat_after"], gm["repeat_every"]) == (1.0, 1.0)
    assert (other["repeat_after"], other["repeat_every"]) == (1.0, 0.25)


# -- combos -----------------------------------------------------------------------------------
@pytest.mark.parametrize("stagger,opens", [(0.1, True), (0.5, False)])
def test_a_combo_needs_both_keys_down_within_the_window(sim, stagger, opens):
    with sim("vw-safe", "1234", ideal=True, knobs={"combo_window": 0.25}) as s:
        s.power("acc", True, wait_boot=False)
        s.sleep(1)
        s.bench.down("mode")
        s.sleep(stagger)
        s.bench.down("scan")
        s.sleep(3)
        s.bench.up("mode+scan")
        s.sleep(1)
    assert s.shown() == (["SAFE", "1000"] if opens else ["SAFE"])


# -- display ----------------------------------------------------------------------------------
def test_display_lags_each_key_event(sim):
    with ford(sim, display_lag=[0.15, 0.4]) as s:
        s.power("acc", True, wait_boot=False)
        on = s.now
        s.sleep(1)
        presses = []
        for _ in range(5):
            s.press("preset1", hold=0.2)
            presses.append(s.edges("key", "preset1")[-2][0])
            s.sleep(1)
    lines = s.lines()
    assert lines[0] == (on, FORD_LOCKED)                    # the boot line is not a key event
    lags = [t - p for (t, _), p in zip(lines[1:], presses)]
    assert all(0.15 <= lag <= 0.4 for lag in lags) and len(set(lags)) > 1, lags


def test_display_lag_is_seeded(sim):
    def script(s):
        s.power("acc", True, wait_boot=False)
        s.sleep(1)
        s.press_each(["preset1", "preset2"], [2, 2])
        s.sleep(1)

    a, b = run_twice(lambda: ford(sim, display_lag=[0.15, 0.4], seed=7), script)
    with ford(sim, display_lag=[0.15, 0.4], seed=8) as c:
        script(c)
    assert a.lines() == b.lines() and a.log() == b.log()
    assert a.texts() == c.texts() and a.lines() != c.lines()


def test_splash_before_the_lock_text(sim):
    with ford(sim, boot_delay=1, splash="FORD", splash_for=2) as s:
        s.power("acc", True, wait_boot=False)
        on = s.now
        s.sleep(1.5)
        s.press("preset1", hold=0.2)                        # during the splash: not seen
        s.sleep(3)
    assert s.lines() == [(on + 1, "FORD"), (on + 3, FORD_LOCKED)]


def test_tap_duplicates_and_blank_lines(sim):
    with ford(sim, tap_duplicates=1.0, tap_blanks=1.0) as s:
        s.power("acc", True, wait_boot=False)
        s.sleep(1)
        s.press("preset1")
        s.sleep(1)
    assert s.texts() == ["", FORD_LOCKED, FORD_LOCKED, "", "1---", "1---"]
    assert s.shown() == [FORD_LOCKED, "1---"]               # all at the same instant: the display is clean


def test_tap_noise_repeats_with_the_seed(sim):
    def script(s):
        s.power("acc", True, wait_boot=False)
        s.sleep(1)
        s.press("preset1", hold=0.2, times=9, gap=0.2)
        s.sleep(1)

    a, b = run_twice(lambda: ford(sim, tap_duplicates=0.5, tap_blanks=0.5, seed=3), script)
    assert a.texts() == b.texts()
    assert a.texts() != a.shown()                         # some noise did happen at 0.5


def test_a_realistic_unit_boots_with_its_splash_and_a_late_amp_remote(sim):
    # the family tests drop the splash (their notes say nothing of it); here it is, as shipped
    with sim("ford", "1234", knobs={"splash": knobs_mod.REALISTIC["splash"]}) as s:
        s.power("acc", True, wait_boot=False)
        on = s.now
        s.sleep(5)
    assert s.lines() == [(pytest.approx(on + 1.2), "HELLO"), (pytest.approx(on + 2.7), FORD_LOCKED)]
    assert s.edges("sense", "unit_on") == [(pytest.approx(on + 1.7), True)]


def test_a_fresh_unit_is_realistic_by_default(tmp_path):
    from rig.sim.backend import reset_unit

    assert reset_unit(tmp_path / "u.json", "ford", "1234").knobs == knobs_mod.REALISTIC
    assert reset_unit(tmp_path / "g.json", "gm-theftlock", "1234").knobs["repeat_every"] == 1.0
    assert reset_unit(tmp_path / "i.json", "ford", "1234", ideal=True).knobs == knobs_mod.IDEAL
