"""The verdict after a confirm reads every display line in its window, not one sample of the display."""

import copy
from types import SimpleNamespace

from rig.bench.clock import VirtualClock
from rig.run.codeentry import _verdict
from rig.unit.display import DisplayTap
from rig.unit.profiles import load_profiles


class ScriptedTap(DisplayTap):
    """A tap that shows ``lines`` at the given clock times (what a unit did after the confirm)."""

    def __init__(self, clock, script):
        super().__init__(clock)
        for t, text in script:
            clock.call_at(t, lambda text=text: self._add(text))

    def wait_for(self, pattern, timeout, not_matching=None):
        raise NotImplementedError


def verdict(profile, script, before="SAFE"):
    clock = VirtualClock()
    tap = ScriptedTap(clock, [(0.0, before)] + script)
    clock.sleep(0.1)                                   # the confirm keys come up at t=0.1
    runner = SimpleNamespace(ctx=SimpleNamespace(profile=profile), clock=clock,
                             bench=SimpleNamespace(display=tap))
    return _verdict(runner, tap, released=0.1)


def test_a_blinking_safe_is_a_rejection_even_when_the_last_sample_is_blank():
    vw = load_profiles()["vw-safe"]
    outcome, shown = verdict(vw, [(0.6, ""), (0.9, "SAFE"), (1.2, ""), (1.5, "SAFE"), (1.8, "")])
    assert outcome == "rejected" and "'SAFE'" in shown


def test_the_radio_text_with_no_lock_text_in_the_window_is_an_acceptance():
    vw = load_profiles()["vw-safe"]
    outcome, shown = verdict(vw, [(0.6, ""), (0.9, "FM1 87.5")])
    assert outcome == "accepted" and "FM1 87.5" in shown


def test_a_lock_text_anywhere_in_the_window_outweighs_the_radio_text():
    vw = load_profiles()["vw-safe"]
    assert verdict(vw, [(0.6, "FM1 87.5"), (1.0, "SAFE")])[0] == "rejected"


def test_the_ready_text_after_a_confirm_is_a_rejection_where_the_profile_says_so():
    gm = load_profiles()["gm-theftlock"]
    script = [(0.6, "----")]                          # GM's own ready text, straight after the confirm
    assert verdict(gm, script, before="0000")[0] == "unknown"
    says_so = copy.deepcopy(gm)
    says_so.confirm.ready_means_wrong = True
    assert verdict(says_so, script, before="0000")[0] == "rejected"


def test_nothing_new_while_it_keeps_its_lock_text_is_a_rejection_and_nothing_readable_is_unknown():
    vw = load_profiles()["vw-safe"]
    assert verdict(vw, [])[0] == "rejected"            # VW holds SAFE after a wrong code: no new line
    assert verdict(vw, [(0.6, "ERR 7")], before="1000")[0] == "unknown"


def test_the_masked_entry_takes_as_long_whatever_the_code(tmp_path):
    """4/1/7/3 presses from 1000 is 5173: the span of an increment entry must not count them."""
    from rig.records.report import read_events

    from .simbench import Bench

    spans = []
    for code in ("1000", "9999"):           # no press at all, and nine presses on every digit
        d = tmp_path / code
        d.mkdir()
        b = Bench(d, "vw-safe", code, ideal=True)
        r = b.run("enter-code", code)
        assert r.outcome == "passed", r.message
        (span,) = [e for e in read_events(r.log) if e["kind"] == "masked" and e["what"] == "code entry"]
        counted = next(e["t"] for e in read_events(r.log) if e["kind"] == "attempt")
        spans.append((span["duration"], round(counted, 3)))
    assert spans[0] == spans[1]
