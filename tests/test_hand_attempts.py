"""Attempts entered by hand are attempts: every path that can press a unit's confirm combo counts it.

A code typed in with ``rig shell``, ``rig press``, the page's and the API's bench commands or a
procedure's plain ``press`` step is an attempt on the unit: counted in the ledger before the
press (and read back from the display), or refused as ``rig run enter-code`` refuses the
attempt that would lock the unit out. Each path is checked against the simulated unit's
own attempt counter, the count the unit itself keeps.
"""

from __future__ import annotations

import pytest

from rig.records.ledger import Ledger
from rig.sim.backend import reset_unit
from rig.sim.memory import UnitMemory
from rig.unit.profiles import load_profiles
from tests.browser.served import serving

SIM = ("--backend", "sim")
# a wrong code by hand on a VW: open entry (1000), step digit 1 twice (3000), confirm
WRONG_BY_HAND = "power acc on\nwait 3s\npress mode+scan 3s\nwait 1s\npress preset1 x2\npress mode+scan 3s\nwait 6s\n"


def counts(tmp_path, serial="VW123", profile="vw-safe") -> tuple[int, int, str]:
    """(the unit's own count of wrong codes in its window, the ledger's, where the ledger stands)."""
    unit = UnitMemory.load(tmp_path / "sim-unit.json")
    led = Ledger(tmp_path / "ledger.sqlite")
    try:
        st = led.standing(serial, load_profiles()[profile])
        return unit.wrong_in_window, st.used, st.describe()
    finally:
        led.close()


@pytest.fixture
def vw(run_rig, tmp_path):
    """A locked vw-safe unit on the bench (2 attempts before a lockout), registered as VW123."""
    reset_unit(tmp_path / "sim-unit.json", "vw-safe", "5173", ideal=True)
    assert run_rig("units", "add", "VW123", "--profile", "vw-safe").returncode == 0
    return tmp_path


def test_a_code_piped_into_the_shell_is_counted_before_its_confirm(run_rig, vw):
    r = run_rig(*SIM, "shell", "--unit", "VW123", input=WRONG_BY_HAND)
    assert r.returncode == 0, r.stderr
    assert counts(vw) == (1, 1, "locked: 1 of 2 attempt(s) left before a lockout")
    led = Ledger(vw / "ledger.sqlite")
    assert [(a["outcome"], a["via"]) for a in led.attempts("VW123")] == [("rejected", "by hand (rig shell)")]
    led.close()
    # the story: the next wrong code through `rig run` is the last before a lockout, and refused
    r = run_rig(*SIM, "run", "enter-code", "--unit", "VW123", env={"RIG_CODE": "1111"})
    assert r.returncode == 3 and "last attempt before VW123 locks out" in r.stderr
    assert counts(vw)[:2] == (1, 1)


def test_the_shell_refuses_the_hand_attempt_that_would_lock_the_unit_out(run_rig, vw):
    run_rig(*SIM, "shell", "--unit", "VW123", input=WRONG_BY_HAND)
    r = run_rig(*SIM, "shell", "--unit", "VW123", input=WRONG_BY_HAND)
    assert r.returncode == 3
    assert "not pressing mode+scan" in r.stderr and "--allow-lockout" in r.stderr
    assert counts(vw)[:2] == (1, 1)  # the unit never saw the confirm
    r = run_rig(*SIM, "shell", "--unit", "VW123", "--allow-lockout", input=WRONG_BY_HAND)
    assert r.returncode == 0, r.stderr
    assert "--allow-lockout: this is the last attempt" in r.stderr  # said out loud
    unit_count, used, state = counts(vw)
    assert UnitMemory.load(vw / "sim-unit.json").lockouts == 1 and state.startswith("locked out")
    # locked out: the confirm combo is refused outright, whatever the words
    r = run_rig(*SIM, "shell", "--unit", "VW123", "--allow-lockout", input=WRONG_BY_HAND)
    assert r.returncode == 3 and "VW123 is locked out" in r.stderr


def test_the_shell_guards_the_last_unit_the_ledger_saw_without_being_told(run_rig, vw):
    r = run_rig(*SIM, "shell", input=WRONG_BY_HAND)  # VW123 was only registered: no run yet
    assert "unit on the bench: VW123 (vw-safe)" in r.stderr
    assert counts(vw)[:2] == (1, 1)
    assert "by hand (rig shell)" in run_rig("units", "show", "VW123").stdout


def test_an_unknown_unit_for_the_shell_is_refused_before_anything_moves(run_rig, vw):
    r = run_rig(*SIM, "shell", "--unit", "VW132", input=WRONG_BY_HAND)
    assert r.returncode == 2 and "never seen a unit 'VW132'" in r.stderr and "VW123" in r.stderr
    assert counts(vw)[:2] == (0, 0)


def test_rig_press_on_a_ford_counts_the_confirm_of_its_open_entry(run_rig, tmp_path):
    reset_unit(tmp_path / "sim-unit.json", "ford", "2580", ideal=True)
    run_rig("units", "add", "M1", "--profile", "ford")
    r = run_rig(*SIM, "press", "--unit", "M1", "--acc", "preset5")  # a Ford's entry is open: this confirms 1000
    assert r.returncode == 0, r.stderr
    assert counts(tmp_path, "M1", "ford")[:2] == (1, 1)
    run_rig(*SIM, "press", "--unit", "M1", "--acc", "preset5")
    r = run_rig(*SIM, "press", "--unit", "M1", "--acc", "preset5")  # the third of three: the lockout
    assert r.returncode == 3 and "--allow-lockout" in r.stderr
    assert counts(tmp_path, "M1", "ford")[:2] == (2, 2)


def test_a_direct_entry_unit_counts_its_last_digit_and_never_names_it(run_rig, tmp_path):
    reset_unit(tmp_path / "sim-unit.json", "becker-mercedes", "1234", ideal=True)
    run_rig("units", "add", "B1", "--profile", "becker-mercedes")
    script = "power acc on\nwait 2s\npress preset4\npress preset3\npress preset2\npress preset1\nwait 6s\n"
    r = run_rig(*SIM, "shell", "--unit", "B1", input=script)
    assert r.returncode == 0, r.stderr
    assert counts(tmp_path, "B1", "becker-mercedes")[:2] == (1, 1)
    assert "a digit key that may be the last" in r.stderr and "preset1" not in r.stderr


def test_a_procedures_own_press_steps_are_counted(run_rig, vw):
    proc = vw / "by-hand.yaml"
    proc.write_text("""\
name: by-hand
needs: [profile, unit]
steps:
  - power: {acc: on}
  - wait: 3s
  - press: {keys: [mode, scan], hold: 3s}
  - press: {keys: preset1, times: 2}
  - press: {keys: [mode, scan], hold: 3s}
  - wait: 6s
""")
    r = run_rig(*SIM, "run", str(proc), "--unit", "VW123")
    assert r.returncode == 0, r.stderr
    assert counts(vw)[:2] == (1, 1)
    led = Ledger(vw / "ledger.sqlite")
    assert led.attempts("VW123")[0]["run_id"] is not None
    led.close()
    r = run_rig(*SIM, "run", str(proc), "--unit", "VW123")
    assert r.returncode == 3 and "last attempt before VW123 locks out" in r.stderr
    assert counts(vw)[:2] == (1, 1)


def test_rig_power_cutting_constant_power_past_arming_locks_the_unit_again_in_the_ledger(run_rig, vw):
    # README: "rig power battery off --for ..." records the unit as locked again; a ledger still
    # saying unlocked would let the next code typed by hand through uncounted
    assert run_rig(*SIM, "run", "enter-code", "--unit", "VW123", env={"RIG_CODE": "5173"}).returncode == 0
    r = run_rig(*SIM, "power", "battery", "off", "--for", "30min")
    assert r.returncode == 0, r.stderr
    assert "unit on the bench: VW123 (vw-safe)" in r.stderr
    assert UnitMemory.load(vw / "sim-unit.json").locked
    assert counts(vw)[2] == "locked: 2 of 2 attempt(s) left before a lockout"
    run_rig(*SIM, "shell", input=WRONG_BY_HAND)
    assert counts(vw)[:2] == (1, 1)


def test_reproduce_safe_puts_an_unlocked_unit_back_to_locked_in_the_ledger(run_rig, vw):
    r = run_rig(*SIM, "run", "enter-code", "--unit", "VW123", env={"RIG_CODE": "5173"})
    assert r.returncode == 0 and "VW123: unlocked" in r.stderr
    r = run_rig(*SIM, "run", "reproduce-safe", "--unit", "VW123")
    assert r.returncode == 0, r.stderr
    assert UnitMemory.load(vw / "sim-unit.json").locked
    assert counts(vw)[2] == "locked: 2 of 2 attempt(s) left before a lockout"
    assert "locked again in the ledger" in r.stderr or "VW123: locked" in r.stderr


served = serving(profile="vw-safe", code="5173", state="locked", attempts=0)


def _by_api(client, **words):
    """The same wrong code through the bench API; returns the first refusal (or None)."""
    steps = [("power", {"rail": "acc", "on": True}), ("wait", {"seconds": 3}),
             ("press", {"combo": "mode+scan", "hold": 3}), ("wait", {"seconds": 1}),
             ("press", {"combo": "preset1", "times": 2}), ("press", {"combo": "mode+scan", "hold": 3, **words}),
             ("wait", {"seconds": 6})]
    try:
        for what, body in steps:
            r = client.post(f"/api/bench/{what}", json=body)
            if r.status_code != 200:
                return r
        return None
    finally:
        client.post("/api/bench/safe", json={})


def test_the_pages_and_the_apis_bench_commands_count_the_attempt(served, tmp_path):
    served.station.set_unit("H1", "vw-safe")
    c, csrf = served.page()
    c.headers.update({"x-csrf-token": csrf, "origin": served.url})
    assert _by_api(c) is None  # from the page: the first wrong code goes in, counted
    assert counts(tmp_path, "H1")[:2] == (1, 1)
    led = Ledger(tmp_path / "ledger.sqlite")
    assert led.attempts("H1")[0]["via"] == "by hand (alice via page)"
    led.close()
    api = served.client(served.operator)
    refused = _by_api(api)  # through the API: the last one before a lockout needs the words
    assert refused is not None and refused.status_code == 409
    assert "--allow-lockout" in refused.json()["error"] and "not pressing mode+scan" in refused.json()["error"]
    assert counts(tmp_path, "H1")[:2] == (1, 1)
    refused = _by_api(api, unit="H2")
    assert refused.status_code == 409 and "the bench holds H1, not H2" in refused.json()["error"]
    assert _by_api(api, allow_lockout=True) is None
    assert counts(tmp_path, "H1")[:2] == (2, 2)


def test_a_server_with_no_unit_on_its_bench_guards_the_last_unit_the_ledger_saw(served, tmp_path):
    # rig serve started without --unit, before any job (restarted overnight, say): a code typed in
    # by hand through the page or the API is still an attempt on the unit the ledger knows
    assert served.station.unit is None
    api = served.client(served.operator)
    assert _by_api(api) is None
    assert counts(tmp_path, "H1")[:2] == (1, 1)
    refused = _by_api(api)
    assert refused is not None and refused.status_code == 409 and "--allow-lockout" in refused.json()["error"]
    assert counts(tmp_path, "H1")[:2] == (1, 1)
    r = api.post("/api/bench/press", json={"combo": "preset1", "unit": "H9"})  # a typo names no fresh unit
    assert r.status_code == 400 and "never seen a unit 'H9'" in r.json()["error"]


# a code by hand up to its last digit on a VW: entry opened (1000), digit 1 stepped twice (3000)
DIGITS_BY_HAND = [("power", {"rail": "acc", "on": True}), ("wait", {"seconds": 3}),
                  ("press", {"combo": "mode+scan", "hold": 3}), ("press", {"combo": "preset1", "times": 2}),
                  ("wait", {"seconds": 1})]


def test_a_code_typed_by_hand_never_shows_in_clear_on_the_pages_display(served):
    # the unit put on the bench, no job run yet: nothing else told the page what its entry looks like
    served.station.set_unit("H1", "vw-safe")
    op, viewer = served.client(served.operator), served.client(served.viewer)
    try:
        for what, body in DIGITS_BY_HAND:
            assert op.post(f"/api/bench/{what}", json=body).status_code == 200
        bench = viewer.get("/api/state").json()["bench"]
    finally:
        op.post("/api/bench/safe", json={})
    assert bench["display"] == "####"
    assert set(bench["keys"].values()) == {"masked"}  # on a VW the presses are the digits: nobody counts them
    assert set(viewer.get("/api/state").json()["bench"]["keys"].values()) == {"up"}  # switched off: entry gone


def test_a_code_typed_by_hand_into_the_shell_is_masked_on_screen_and_in_its_event_log(run_rig, vw):
    script = "".join(f"{what} {args}\n" for what, args in
                     (("power", "acc on"), ("wait", "3s"), ("press", "mode+scan 3s"), ("press", "preset1 x2"),
                      ("wait", "1s"), ("status", "")))
    log = vw / "hand.jsonl"
    r = run_rig(*SIM, "--events", str(log), "shell", "--unit", "VW123", input=script)
    assert r.returncode == 0, r.stderr
    assert "display: ####" in r.stdout and "3000" not in r.stdout
    text = log.read_text()
    assert '"to": "SAFE"' in text  # the display is logged ...
    assert not any(d in text for d in ("1000", "2000", "3000"))  # ... never the digits being entered
    assert '"what": "preset1"' not in text  # nor the presses that step them
