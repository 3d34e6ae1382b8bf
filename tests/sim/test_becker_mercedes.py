"""Mercedes-Benz / Becker (profiles ``becker-mercedes``, ``becker-mercedes-long``): the
simulator against firmware_notes/becker-mercedes.md.

Expected displays are written by hand from the notes' "Expected display sequence (code
1234)" and their sources: ``CODE ****`` when locked [34]; each digit typed removes one
star [34] (so ``CODE ***``, ``CODE **``, ``CODE *``, and ``CODE`` once the fourth is in);
the unit checks by itself after the fourth digit, no confirm key [34][35]; right code ->
radio; wrong -> ``CODE ****`` again [34]; third wrong -> ``WAIT`` [34]; after about 60 min
switched on -> ``CODE ****`` (assumed end display); the countdown only runs while the radio
is switched on (pause, not restart) [34]. ``becker-mercedes-long``: a wait after every
wrong try, 20 min, 20 min, then 24 h, the last repeating (the notes' reading of [36][37]).
"""

import pytest

from .conftest import LAG, RADIO, run_twice, unit_clock

CODE = "1234"
LOCKED = "CODE ****"
TYPING = ["CODE ***", "CODE **", "CODE *", "CODE"]   # any four digits
KEY = {str(d): f"preset{d}" for d in range(1, 7)}    # presets 1-6 carry digits 1-6 (assumed)
HOUR = unit_clock(3600)  # on the unit's own (slow) clock


def type_digits(s, digits):
    for d in digits:
        s.press(KEY[d])
        s.sleep(0.5)


def enter(s, code):
    type_digits(s, code)
    s.sleep(5)


def switch_on(s):
    s.power("acc", True)
    s.sleep(1)


def test_lock_wrong_code_then_right_code(sim):
    with sim("becker-mercedes", CODE, state="unlocked") as s:
        switch_on(s)
        s.cut_battery(25)
        switch_on(s)
        enter(s, "1111")
        enter(s, CODE)
    assert s.texts() == [RADIO, "", LOCKED,
                         *TYPING, LOCKED,
                         *TYPING, RADIO]


def test_short_battery_cut_does_not_lock(sim):
    with sim("becker-mercedes", CODE, state="unlocked") as s:
        switch_on(s)
        s.cut_battery(5)
        switch_on(s)
    assert s.texts() == [RADIO, "", RADIO]


def test_checks_itself_after_the_fourth_digit_only(sim):
    with sim("becker-mercedes", CODE) as s:
        switch_on(s)
        type_digits(s, "123")
        s.sleep(HOUR)                       # three digits: no verdict, however long
        three = s.texts()
        s.press("preset4")
        fourth_down = s.now - 0.3
        s.sleep(10)
    assert three == [LOCKED, *TYPING[:3]]
    assert s.texts() == [LOCKED, *TYPING, RADIO]
    assert fourth_down < s.time_of(RADIO) <= fourth_down + 5   # decided by itself, within 5 s


def test_three_wrong_codes_wait_60_min_switched_on(sim):
    with sim("becker-mercedes", CODE) as s:
        switch_on(s)
        for _ in range(3):
            enter(s, "1111")
        waiting = s.last_time()
        s.sleep_until(waiting + HOUR - 10)
        s.press("preset1")                 # still WAIT: nothing
        s.sleep_until(waiting + HOUR + 5)
        ready = s.last_time()
        enter(s, "1111")                   # one try after the wait (assumed)
        second = s.last_time()
        s.sleep_until(second + HOUR + 5)
        second_ready = s.last_time()
        enter(s, CODE)
    assert s.texts() == [LOCKED,
                         *TYPING, LOCKED,
                         *TYPING, LOCKED,
                         *TYPING, "WAIT",
                         LOCKED,
                         *TYPING, "WAIT",
                         LOCKED,
                         *TYPING, RADIO]
    assert ready == pytest.approx(waiting + HOUR, abs=LAG)
    assert second_ready == pytest.approx(second + HOUR, abs=LAG)


def test_wait_pauses_while_switched_off(sim):
    """Only time switched on counts; time off is not lost either (pause) [34]."""
    with sim("becker-mercedes", CODE) as s:
        switch_on(s)
        for _ in range(3):
            enter(s, "1111")
        waiting = s.last_time()
        s.sleep_until(waiting + 40 * 60)
        s.power("acc", False)              # constant power only: does not count
        s.sleep(2 * HOUR)
        s.power("acc", True)
        back = s.now
        s.sleep(25 * 60)
        mark = s.texts().index("WAIT")
    assert s.texts(since=mark) == ["WAIT", "", "WAIT", LOCKED]
    # 40 min of the hour were served before ACC went off; the rest, on the unit's clock
    assert s.time_of(LOCKED, since=mark) == pytest.approx(back + HOUR - 40 * 60, abs=LAG)


def test_counter_survives_a_battery_cut(sim):
    """Assumed in the notes: two wrong, a battery cut, one more -> WAIT."""
    with sim("becker-mercedes", CODE) as s:
        switch_on(s)
        enter(s, "1111")
        enter(s, "1111")
        s.cut_battery(25)
        switch_on(s)
        enter(s, "1111")
    assert s.texts() == [LOCKED, *TYPING, LOCKED, *TYPING, LOCKED, "", LOCKED, *TYPING, "WAIT"]


def test_long_variant_waits_20min_20min_then_24h(sim):
    with sim("becker-mercedes-long", CODE) as s:
        switch_on(s)
        waits = []
        for _ in range(4):
            enter(s, "1111")
            start, after = s.last_time(), s.mark()
            s.sleep(25 * HOUR)
            waits.append(s.time_of(LOCKED, since=after) - start)
        enter(s, CODE)
    assert s.texts() == [LOCKED, *[*TYPING, "WAIT", LOCKED] * 4, *TYPING, RADIO]
    assert waits == [pytest.approx(unit_clock(20 * 60), abs=LAG), pytest.approx(unit_clock(20 * 60), abs=LAG),
                     pytest.approx(24 * HOUR, abs=LAG), pytest.approx(24 * HOUR, abs=LAG)]


def _script(s):
    switch_on(s)
    s.cut_battery(25)
    switch_on(s)
    for _ in range(3):
        enter(s, "1111")
    s.sleep(1000)
    s.power("acc", False)
    s.sleep(500)
    s.power("acc", True)
    s.sleep(HOUR)
    enter(s, CODE)


def test_deterministic(sim):
    a, b = run_twice(lambda: sim("becker-mercedes", CODE, state="unlocked"), _script)
    assert a.lines() == b.lines()
    assert "WAIT" in a.texts() and a.texts()[-1] == RADIO
