"""Ford M/V-series (profile ``ford``): the simulator against firmware_notes/ford.md.

Expected displays are written by hand from the notes' "Expected display sequence
(code 1234)" and their sources: ``CODE - - - -`` when locked [9][10][11], presets 1-4
count each digit up from blank, preset 5 enters [9][12], partial entry shown as ``1---``
(assumed in the notes), ``CODE - - - -`` again after a wrong code with tries left
(assumed), ``WAIT`` after the third wrong code [9][10][11], the dashes again after 30 min
with the unit on [9][11][14], ``LOCKED10`` after ten wrong codes in all [9][11].

The simulator writes a zero-length start display (``----``) on the first digit press;
the comparisons use ``Sim.shown`` (lines that stayed on the display), and
``test_first_press_shows_only_the_pressed_digit`` checks the raw history for it.
"""

import pytest

from .conftest import LAG, RADIO, run_twice, unit_clock

PROFILE, CODE = "ford", "1234"
LOCKED = "CODE - - - -"
DIGIT_KEYS = ["preset1", "preset2", "preset3", "preset4"]  # one key per position [9][12]
ENTER = "preset5"                                          # preset 5 enters the code [9][12]
WAIT_30MIN = unit_clock(30 * 60)                           # [9][11][14], on the unit's clock
# code 1111 typed from blank: one press on each preset
TYPING_1111 = ["1---", "11--", "111-", "1111"]
# code 1234: preset1 x1, preset2 x2, preset3 x3, preset4 x4
TYPING_1234 = ["1---", "11--", "12--", "121-", "122-", "123-", "1231", "1232", "1233", "1234"]


def enter(s, code, confirm_hold=1.0):
    """Type ``code`` as the notes say (a blank becomes 1 on the first press, so 0 takes ten)
    and press preset 5; then give the unit its 5 s to answer."""
    s.press_each(DIGIT_KEYS, [int(d) or 10 for d in code])
    s.press(ENTER, hold=confirm_hold)
    s.sleep(5)


def lock(s):
    """Unlocked unit playing; ACC off, constant power off 25 s (> the 20 s arming), back on, ACC on."""
    s.power("acc", True)
    s.sleep(1)
    s.cut_battery(25)
    s.power("acc", True)
    s.sleep(1)


def test_lock_wrong_code_then_right_code(sim):
    with sim(PROFILE, CODE, state="unlocked") as s:
        lock(s)
        assert s.bench.read("unit_on")
        enter(s, "1111")
        enter(s, "1234")
    assert s.shown() == [RADIO, "", LOCKED,
                         *TYPING_1111, LOCKED,
                         *TYPING_1234, RADIO]


def test_short_battery_cut_does_not_lock(sim):
    with sim(PROFILE, CODE, state="unlocked") as s:
        s.power("acc", True)
        s.sleep(1)
        s.cut_battery(5)
        s.power("acc", True)
        s.sleep(1)
    assert s.shown() == [RADIO, "", RADIO]


def test_first_digit_press_works_without_any_combo(sim):
    """Entry is open as soon as the dashes blink; no combination is needed [9][12]."""
    with sim(PROFILE, CODE) as s:
        s.power("acc", True)
        s.sleep(3)
        s.press("preset1")
        s.sleep(1)
    assert s.shown() == [LOCKED, "1---"]


def test_first_press_shows_only_the_pressed_digit(sim):
    with sim(PROFILE, CODE) as s:
        s.power("acc", True)
        s.sleep(3)
        s.press("preset1")
        s.sleep(1)
    assert s.texts() == [LOCKED, "1---"]


def test_digit_wraps_from_9_to_0(sim):
    """Ten presses give 0 (notes: 'a 0 takes ten presses'); code 0234 then unlocks."""
    with sim(PROFILE, "0234") as s:
        s.power("acc", True)
        s.sleep(1)
        enter(s, "0234")
    assert s.shown() == [LOCKED,
                         "1---", "2---", "3---", "4---", "5---", "6---", "7---", "8---", "9---", "0---",
                         "01--", "02--", "021-", "022-", "023-", "0231", "0232", "0233", "0234",
                         RADIO]


def test_three_wrong_codes_wait_30_min_with_unit_on(sim):
    with sim(PROFILE, CODE) as s:
        s.power("acc", True)
        s.sleep(1)
        for _ in range(3):
            enter(s, "1111")
        waiting_since = s.time_of("WAIT")
        # not over early: a digit press 10 s before the half hour does nothing
        s.sleep_until(waiting_since + WAIT_30MIN - 10)
        s.press("preset1")
        s.sleep_until(waiting_since + WAIT_30MIN + 5)
        ready_at = s.time_of(LOCKED, since=s.texts().index("WAIT"))
        # one more try after the wait (assumed in the notes), then the next 30 min
        enter(s, "1111")
        second_wait = s.last_time()
        s.sleep_until(second_wait + WAIT_30MIN + 5)
        second_ready = s.lines()[-1]
        enter(s, CODE)
    assert s.shown() == [LOCKED,
                         *TYPING_1111, LOCKED,
                         *TYPING_1111, LOCKED,
                         *TYPING_1111, "WAIT",
                         LOCKED,
                         *TYPING_1111, "WAIT",
                         LOCKED,
                         *TYPING_1234, RADIO]
    assert ready_at == pytest.approx(waiting_since + WAIT_30MIN, abs=LAG)
    assert second_ready == (pytest.approx(second_wait + WAIT_30MIN, abs=LAG), LOCKED)


def test_acc_off_during_the_wait_restarts_it(sim):
    """The wait counts with the unit on and ignition at I [14]; the notes assume a drop restarts it."""
    with sim(PROFILE, CODE) as s:
        s.power("acc", True)
        s.sleep(1)
        for _ in range(3):
            enter(s, "1111")
        waiting_since = s.time_of("WAIT")
        s.sleep_until(waiting_since + 20 * 60)
        s.power("acc", False)
        s.sleep(60)
        s.power("acc", True)
        back_on = s.now
        s.sleep_until(waiting_since + WAIT_30MIN + 120)   # the first 20 min are lost: still waiting
        still = s.lines()[-1]
        s.sleep_until(back_on + WAIT_30MIN + 1)
        mark = s.texts().index("WAIT")
    assert still == (pytest.approx(back_on, abs=LAG), "WAIT")
    assert s.shown(since=mark) == ["WAIT", "", "WAIT", LOCKED]
    assert s.time_of(LOCKED, since=mark) == pytest.approx(back_on + WAIT_30MIN, abs=LAG)


def test_battery_only_does_not_count_towards_the_wait(sim):
    with sim(PROFILE, CODE) as s:
        s.power("acc", True)
        s.sleep(1)
        for _ in range(3):
            enter(s, "1111")
        s.power("acc", False)
        s.sleep(3 * 3600)           # constant power only, three hours
        s.power("acc", True)
        back_on = s.now
        s.sleep(WAIT_30MIN + 1)
        mark = s.texts().index("WAIT")
    assert s.shown(since=mark) == ["WAIT", "", "WAIT", LOCKED]
    assert s.time_of(LOCKED, since=mark) == pytest.approx(back_on + WAIT_30MIN, abs=LAG)


def test_counter_survives_a_battery_cut(sim):
    """The counter is kept through power loss [11]: two wrong, a battery cut, one more -> WAIT."""
    with sim(PROFILE, CODE) as s:
        s.power("acc", True)
        s.sleep(1)
        enter(s, "1111")
        enter(s, "1111")
        s.cut_battery(25)
        s.power("acc", True)
        s.sleep(1)
        enter(s, "1111")
    assert s.shown() == [LOCKED,
                         *TYPING_1111, LOCKED,
                         *TYPING_1111, LOCKED,
                         "", LOCKED,
                         *TYPING_1111, "WAIT"]


def test_tenth_wrong_code_locks_for_good(sim):
    with sim(PROFILE, CODE) as s:
        s.power("acc", True)
        s.sleep(1)
        for i in range(10):
            if i >= 3:
                s.sleep(WAIT_30MIN + 1)
            enter(s, "1111")
        s.power("acc", False)
        s.sleep(1)
        s.power("acc", True)
        s.sleep(1)
        s.cut_battery(25)           # a battery pull gives no tries back [11]
        s.power("acc", True)
        s.sleep(24 * 3600)
        enter(s, CODE)              # ignored
    after_a_wait = [LOCKED, *TYPING_1111, "WAIT"]
    assert s.shown() == [LOCKED,
                         *TYPING_1111, LOCKED,
                         *TYPING_1111, LOCKED,
                         *TYPING_1111, "WAIT",
                         *after_a_wait * 6,                  # wrong codes 4..9, one per wait
                         LOCKED, *TYPING_1111, "LOCKED10",   # the tenth
                         "", "LOCKED10", "", "LOCKED10"]


def test_a_normal_press_of_preset5_enters(sim):
    with sim(PROFILE, CODE) as s:
        s.power("acc", True)
        s.sleep(1)
        enter(s, CODE, confirm_hold=0.25)
    assert s.shown() == [LOCKED, *TYPING_1234, RADIO]


def _script(s):
    lock(s)
    for _ in range(3):
        enter(s, "1111")
    s.sleep(600)
    s.power("acc", False)
    s.sleep(30)
    s.power("acc", True)
    s.sleep(WAIT_30MIN + 3)
    enter(s, CODE)


def test_deterministic(sim):
    a, b = run_twice(lambda: sim(PROFILE, CODE, state="unlocked"), _script)
    assert a.lines() == b.lines()
    assert "WAIT" in a.texts() and a.texts()[-1] == RADIO
