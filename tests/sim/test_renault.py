"""Renault Philips / Tuner List (profiles ``renault``, ``renault-preset5``): the simulator
against firmware_notes/renault.md.

Expected displays are written by hand from the notes' "Expected display sequence (code
1234, profile renault)" and their sources: ``CODE``, then ``0000`` blinking [22][23];
presets 1-4 step each digit up by one [23]; preset 6 (preset 5 on some units) held up to
~10 s stores the code [23]; right code -> radio; wrong code -> a wait (display ``CODE``
assumed); when the wait is over -> ``0000`` (assumed), each wait twice the one before
[23]; first wait 5 min (the notes' long-side guess). Pre-code: presets 1 and 6 held 2 s
[24].

``test_code_then_0000_at_switch_on`` checks that ``0000`` comes up by itself after
``CODE`` (``entry.opens_after``); the other tests compare (with ``Sim.shown``) what follows
the switch-on.
"""

import pytest

from .conftest import LAG, RADIO, run_twice, unit_clock

CODE = "1234"
FIRST_WAIT = unit_clock(5 * 60)  # on the unit's own (slow) clock
DIGIT_KEYS = ["preset1", "preset2", "preset3", "preset4"]
STORE = {"renault": "preset6", "renault-preset5": "preset5"}
TYPING_1111 = ["1000", "1100", "1110", "1111"]
TYPING_1234 = ["1000", "1100", "1200", "1210", "1220", "1230", "1231", "1232", "1233", "1234"]


def enter(s, code, store="preset6"):
    s.press_each(DIGIT_KEYS, [int(d) for d in code])   # from 0000: d presses
    s.press(store, hold=10.5)                          # up to ~10 s [23]
    s.sleep(5)


def switch_on(s):
    s.power("acc", True)
    s.sleep(30)


def test_code_then_0000_at_switch_on(sim):
    with sim("renault", CODE) as s:
        switch_on(s)
    assert s.texts() == ["CODE", "0000"]


@pytest.mark.parametrize("profile", ["renault", "renault-preset5"])
def test_lock_wrong_code_then_right_code(sim, profile):
    store = STORE[profile]
    with sim(profile, CODE, state="unlocked") as s:
        s.power("acc", True)
        s.sleep(1)
        s.cut_battery(25)
        switch_on(s)
        mark = s.mark()
        enter(s, "1111", store)
        verdict, after = s.last_time(), s.mark()
        s.sleep(FIRST_WAIT + 5)
        enter(s, CODE, store)
    assert s.shown()[:3] == [RADIO, "", "CODE"]
    assert s.shown(since=mark) == [*TYPING_1111, "CODE", "0000", *TYPING_1234, RADIO]
    assert s.time_of("0000", since=after) == pytest.approx(verdict + FIRST_WAIT, abs=LAG)


def test_other_store_key_does_nothing(sim):
    """renault stores with preset 6: a long press of preset 5 does not send the code."""
    with sim("renault", CODE) as s:
        switch_on(s)
        mark = s.mark()
        enter(s, CODE, store="preset5")
        s.sleep(60)
    assert s.shown(since=mark) == TYPING_1234


def test_short_battery_cut_does_not_lock(sim):
    with sim("renault", CODE, state="unlocked") as s:
        s.power("acc", True)
        s.sleep(1)
        s.cut_battery(5)
        s.power("acc", True)
        s.sleep(1)
    assert s.shown() == [RADIO, "", RADIO]


def test_digit_wraps_from_9_to_0(sim):
    with sim("renault", "0234") as s:
        switch_on(s)
        mark = s.mark()
        s.press("preset1", times=10)
        s.sleep(0.3)
        enter(s, "0234")
    assert s.shown(since=mark) == ["1000", "2000", "3000", "4000", "5000", "6000", "7000", "8000", "9000", "0000",
                                   "0100", "0200", "0210", "0220", "0230", "0231", "0232", "0233", "0234",
                                   RADIO]


def test_each_wait_twice_the_one_before(sim):
    with sim("renault", CODE) as s:
        switch_on(s)
        mark = s.mark()
        waits = []
        for _ in range(3):
            enter(s, "1111")
            verdict, after = s.last_time(), s.mark()
            s.press("preset1")                     # locked out: nothing
            s.sleep(4 * 3600)
            waits.append(s.time_of("0000", since=after) - verdict)
    assert waits == [pytest.approx(unit_clock(w), abs=LAG) for w in (300, 600, 1200)]
    assert s.shown(since=mark) == [*TYPING_1111, "CODE", "0000"] * 3


def test_acc_off_during_the_wait_restarts_it(sim):
    with sim("renault", CODE) as s:
        switch_on(s)
        mark = s.mark()
        enter(s, "1111")
        verdict, after = s.last_time(), s.mark()
        s.sleep_until(verdict + 200)
        s.power("acc", False)
        s.sleep(60)
        s.power("acc", True)
        back = s.now
        s.sleep(FIRST_WAIT + 5)
    assert s.shown(since=mark) == [*TYPING_1111, "CODE", "", "CODE", "0000"]
    assert s.time_of("0000", since=after) == pytest.approx(back + FIRST_WAIT, abs=LAG)


def test_counter_survives_a_battery_cut(sim):
    """Assumed in the notes: the second wait after a battery cut is still the doubled one."""
    with sim("renault", CODE) as s:
        switch_on(s)
        enter(s, "1111")
        s.sleep(FIRST_WAIT + 5)
        s.cut_battery(25)
        switch_on(s)
        mark = s.mark()
        enter(s, "1111")
        verdict, after = s.last_time(), s.mark()
        s.sleep(2 * FIRST_WAIT + 5)
    assert s.shown(since=mark) == [*TYPING_1111, "CODE", "0000"]
    assert s.time_of("0000", since=after) == pytest.approx(verdict + 2 * FIRST_WAIT, abs=LAG)


def test_relocked_after_a_lockout_shows_code_again(sim):
    with sim("renault", CODE) as s:
        switch_on(s)
        enter(s, "1111")
        s.sleep(FIRST_WAIT + 5)
        enter(s, CODE)
        s.cut_battery(25)
        s.power("acc", True)
        s.sleep(1)
        mark = s.texts().index(RADIO)
    assert s.shown(since=mark)[:3] == [RADIO, "", "CODE"]


# -- pre-code: presets 1 and 6 held 2 s, unit on [24] ---------------------------------------

def test_precode_shown_when_1_and_6_held_2s(sim):
    with sim("renault", CODE, state="unlocked", serial="T123") as s:
        s.power("acc", True)
        s.sleep(1)
        s.press("preset1+preset6", hold=1.0)    # too short
        s.sleep(5)
        short = s.shown()
        s.press("preset1+preset6", hold=2.5)
        held_at = s.now - 2.5
        s.sleep(1)
    assert short == [RADIO]
    assert s.shown() == [RADIO, "T123"]
    assert s.time_of("T123") == pytest.approx(held_at + 2.0, abs=LAG)


def _script(s):
    s.power("acc", True)
    s.sleep(1)
    s.cut_battery(25)
    switch_on(s)
    enter(s, "1111")
    s.sleep(100)
    s.power("acc", False)
    s.sleep(10)
    s.power("acc", True)
    s.sleep(FIRST_WAIT + 1)
    enter(s, "1111")
    s.sleep(2 * FIRST_WAIT + 1)
    enter(s, CODE)


def test_deterministic(sim):
    a, b = run_twice(lambda: sim("renault", CODE, state="unlocked"), _script)
    assert a.lines() == b.lines()
    assert a.texts().count("0000") >= 2 and a.texts()[-1] == RADIO
