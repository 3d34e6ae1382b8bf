"""The electrical review's fixes (issue 9), as a technician or CI would notice them.

The interlock, the heartbeat, debounce, the dwell across processes, the
kill -9 detection from /sys, the install markers, and pins that float when
released.
"""

import json
import os
import runpy
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from unittest import mock

import pytest
from packaging.requirements import Requirement

from rig.bench.backends import choose_pin_factory, gpio_outputs_persist, kill9_warnings, mock_backend
from rig.bench.bench import Bench
from rig.bench.benchlock import BenchLock
from rig.errors import BenchBusy, BenchRefused, ConfigError, NoGPIO
from rig.bench.wiring import load_wiring

from .conftest import REPO, pin_durations, pin_states
from .spare_keys import SPARE_WIRING

# -- the interlock: ACC off first, then constant power ---------------------------------


def test_cutting_constant_power_while_acc_is_on_is_refused(bench):
    bench.power("acc", True)
    with pytest.raises(BenchRefused, match="refusing to cut battery while acc is on.*switch acc off first"):
        bench.power("battery", False)
    assert pin_states(bench, 17) == [False]  # K1 never moved: constant power stayed on
    bench.power("acc", False)
    bench.power("battery", False)  # the car's order is fine
    assert not bench.rail("battery").is_on


def test_acc_is_not_switched_on_without_constant_power(bench):
    bench.power("battery", False)
    with pytest.raises(BenchRefused, match="refusing to switch acc on while battery is cut"):
        bench.power("acc", True)
    assert pin_states(bench, 27) == [False]


def test_ignition_follows_the_same_order_as_acc(bench):
    bench.power("ignition", True)
    with pytest.raises(BenchRefused, match="refusing to cut battery while ignition is on"):
        bench.power("battery", False)
    bench.power("ignition", False)
    bench.power("battery", False)
    with pytest.raises(BenchRefused, match="refusing to switch ignition on while battery is cut"):
        bench.power("ignition", True)
    assert pin_states(bench, 22) == [False, True, False]  # K3 only ever moved when constant power was on


def test_constant_power_cut_by_hand_is_put_back_by_hand_and_acc_may_follow(bench):
    """`rig power battery off`, then `on`: putting constant power back is always allowed (the rule
    holds back only a switched rail), so the technician need not release the bench to restore it."""
    bench.power("battery", False)
    bench.power("battery", True)
    bench.power("acc", True)
    assert pin_states(bench, 17) == [False, True, False] and pin_states(bench, 27) == [False, True]


def test_the_release_restores_constant_power_with_acc_left_off(bench):
    bench.power("battery", False)
    bench.release()  # battery back ON is always allowed: that is the safe state
    assert pin_states(bench, 17) == [False, True, False]
    assert pin_states(bench, 27) == [False]


# -- the heartbeat for the hardware dead-man -------------------------------------------


def test_heartbeat_toggles_while_the_bench_is_held_and_stops_when_released(wiring, clock):
    hb = wiring.heartbeat
    assert hb is not None and hb.pin == 26  # the default rig declares one, on a pin no peripheral toggles
    with Bench(wiring, mock_backend(wiring, clock)) as bench:
        for _ in range(10):
            clock.sleep(hb.every)
        bench.press("mode", hold=0.25)
        beats = pin_durations(bench, hb.pin)[1:]
        assert len(beats) >= 10
        # each beat exactly `every` after the one before: the clock drives it, not the presses
        assert {t for t, _ in beats[1:]} == {hb.every}
        assert [s for _, s in beats[:4]] == [True, False, True, False]
        clock.sleep(3600)  # a jump of the virtual clock moves the pin once, not 3,600 times
        assert len(pin_durations(bench, hb.pin)) == len(beats) + 2
    after_release = pin_states(bench, hb.pin)
    clock.sleep(20 * hb.every)
    assert pin_states(bench, hb.pin) == after_release  # no beats after the bench is let go
    assert after_release[-1] is False  # left low: the dead-man times out and drops the relay supply


def test_a_press_is_not_delayed_by_the_heartbeat(wiring, clock):
    with Bench(wiring, mock_backend(wiring, clock)) as bench:
        clock.sleep(0.3)
        bench.press("preset1", hold=3.0)  # several beats fall inside the hold
    assert pin_durations(bench, 19) == [(0.0, False), (0.3, True), (3.0, False)]  # preset1


def test_heartbeat_on_a_pin_pulled_high_at_boot_is_refused(write_yaml):
    path = write_yaml("""
        rails:
          battery: {pin: 17, contact: nc, safe: on}
          acc: {pin: 27, contact: "no", safe: off}
        keys:
          mode: {pin: 13}
        heartbeat: {pin: 5}
    """)
    with pytest.raises(ConfigError, match="heartbeat.pin: GPIO5 is pulled high at boot"):
        load_wiring(path)


# -- released pins float: the pull-downs are what hold them off ------------------------

MAP = """
rails:
  battery: {pin: 17, contact: nc, safe: on}
  acc: {pin: 27, contact: "no", safe: off}
keys:
  mode: {pin: 13}
  scan: {pin: 18}
  preset1: {pin: 23}
senses:
  unit_on: {pin: 6, pull: up, debounce: 20ms}
"""


def test_an_active_low_output_needs_a_declared_pull_up(write_yaml):
    text = MAP.replace("preset1: {pin: 23}", "preset1: {pin: 5, active_high: false}")
    with pytest.raises(ConfigError) as info:
        load_wiring(write_yaml(text))
    (p,) = info.value.problems
    assert (p.line, p.message) == (7, "keys.preset1: an active-low output is switched on by a released, "
                                      "floating pin unless an external pull-up holds it off; fit a 10k "
                                      "pull-up and declare it (pull: up)")
    load_wiring(write_yaml(text.replace("active_high: false}", "active_high: false, pull: up}")))


def test_a_pull_up_on_an_active_high_output_is_refused(write_yaml):
    with pytest.raises(ConfigError, match="rails.acc: a pull-up on an active-high output"):
        load_wiring(write_yaml(MAP.replace('acc: {pin: 27,', 'acc: {pin: 27, pull: up,')))


def test_a_released_mock_pin_floats_to_its_external_pull_only(wiring, clock):
    backend = mock_backend(wiring, clock)
    bench = Bench(wiring, backend).open()
    bench.power("acc", True)
    bench._close_devices()  # what the pin library does on close, with no release first (a crash)
    acc = backend.pin_factory.pin(27)
    assert acc.pull == "floating"  # the Pi's pull is off, as on real hardware (gpiozero #1146)
    assert acc.state is False  # only the 10k pull-down brings the relay off
    acc.external_pull = None  # a board without the pull-down...
    acc.function = "output"
    acc.state = True
    acc.close()
    assert acc.state is True  # ...leaves a floating line wherever it was: ACC could stay on
    bench.release()


# -- combos on one resistor ladder ------------------------------------------------------


def test_a_combo_on_one_key_line_is_refused_unless_verified(write_yaml):
    from types import SimpleNamespace as Profile

    w = load_wiring(write_yaml(MAP))
    unit = Profile(ladders={"ladder1": ["mode", "scan"], "ladder2": ["preset1"]}, verified_combos=[])
    assert w.combo_problem(["mode", "preset1"], unit, strict=True) is None  # two known lines: no risk
    why = w.combo_problem(["mode", "scan"], unit)
    assert why.startswith("mode+scan: mode and scan are on the same key line 'ladder1'")
    unit.verified_combos = [["scan", "mode"]]
    assert w.combo_problem(["mode", "scan"], unit) is None
    # fail closed on a bench: a line the profile does not give may be shared
    nothing = Profile(ladders={}, verified_combos=[])
    assert w.combo_problem(["mode", "scan"], nothing) is None  # (the simulator decodes any combo)
    assert "does not say which key line mode and scan are on" in w.combo_problem(["mode", "scan"], nothing, strict=True)


def test_a_key_line_in_the_pin_map_points_to_the_profile(write_yaml):
    with pytest.raises(ConfigError, match=r"keys.mode.line: which keys share a key line belongs to the unit"):
        load_wiring(write_yaml(MAP.replace("mode: {pin: 13}", "mode: {pin: 13, line: ladder1}")))


def test_a_staggered_combo_presses_its_keys_in_order_and_holds_from_the_last(write_yaml, clock):
    w = load_wiring(write_yaml(MAP + "combos:\n  scan+mode: {stagger: 30ms}\n"))
    with Bench(w, mock_backend(w, clock)) as bench:
        bench.press("mode+scan", hold=2.0)
    assert pin_durations(bench, 18) == [(0.0, False), (0.0, True), (2.03, False)]    # scan first
    assert pin_durations(bench, 13) == [(0.0, False), (0.03, True), (2.0, False)]    # mode 30 ms later
    # both up together, 2 s after the last one went down


def test_a_staggered_combo_held_until_a_display_shows_is_let_go_whole(write_yaml, clock):
    """Held with hold_until (entry and confirm combos) or down/up, a staggered combo's keys all come
    up together: the stagger is for pressing only; letting go staggered would press them again."""
    w = load_wiring(write_yaml(MAP + "combos:\n  scan+mode: {stagger: 30ms}\n"))
    with Bench(w, mock_backend(w, clock)) as bench:
        t0 = clock.now()
        assert bench.hold_until("mode+scan", lambda: clock.now() >= t0 + 1.0, max_hold=5) is not None
        assert not any(k.is_down for k in bench.keys.values()), "a key was left down after the hold"
        bench.down("mode+scan")
        bench.up("mode+scan")
        assert not any(k.is_down for k in bench.keys.values()), "a key was left down after up()"
    for pin in (13, 18):
        assert [v for _, v in pin_durations(bench, pin)] == [False, True, False, True, False]


def test_a_stagger_a_person_would_not_use_is_refused(write_yaml):
    with pytest.raises(ConfigError, match=r"combos.mode\+scan.stagger: 0.2s; .* past ~100 ms"):
        load_wiring(write_yaml(MAP + "combos:\n  mode+scan: {stagger: 200ms}\n"))


# -- sense debounce ----------------------------------------------------------------------


def test_a_sense_level_counts_only_once_it_has_held_for_the_debounce(write_yaml, clock):
    w = load_wiring(write_yaml(MAP))
    with Bench(w, mock_backend(w, clock)) as bench:
        events = []
        bench.events.subscribe(lambda e: e.kind == "sense" and events.append((round(e.t, 3), e.new)))
        pin = bench.backend.pin_factory.pin(6)
        pin.drive_low()                      # a 5 ms glitch...
        clock.sleep(0.005)
        pin.drive_high()
        clock.sleep(0.1)
        assert bench.read("unit_on") is False and events == []   # ...is not the unit coming on
        pin.drive_low()                      # a real edge, bouncing twice
        clock.sleep(0.003)
        pin.drive_high()
        clock.sleep(0.003)
        pin.drive_low()                      # at 0.111: from here it holds
        clock.sleep(0.019)
        assert bench.read("unit_on") is False
        clock.sleep(0.002)
        assert bench.read("unit_on") is True
    assert events == [(0.131, True)]         # 20 ms after the last bounce, told once


def test_on_the_real_clock_a_debounced_level_counts_once_it_has_held(write_yaml):
    """A real bench has no clock callbacks: the debounce runs on a timer thread (60 ms, real)."""
    from rig.bench.clock import RealClock

    w = load_wiring(write_yaml(MAP))
    clock = RealClock()
    with Bench(w, mock_backend(w, clock)) as bench:
        bench.backend.pin_factory.pin(6).drive_low()
        assert bench.read("unit_on") is False      # not before the 20 ms debounce
        deadline = clock.now() + 2.0
        while not bench.read("unit_on") and clock.now() < deadline:
            clock.sleep(0.01)
        assert bench.read("unit_on") is True, "the level never counted: the unit never came on"


def test_a_rail_dropout_shorter_than_the_debounce_is_latched_and_told(clock):
    from .spare_keys import spare_wiring_text

    import tempfile

    text = spare_wiring_text({}).replace("    rail: battery\n", "    rail: battery\n    debounce: 20ms\n")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d, "b.yaml")
        path.write_text(text)
        w = load_wiring(path)
    backend = mock_backend(w, clock, circuit={})
    with Bench(w, backend) as bench:
        told = []
        bench.events.subscribe(lambda e: e.kind in ("dropout", "sense") and told.append((e.kind, e.what)))
        clock.sleep(0.1)
        pin = backend.pin_factory.pin(5)     # battery_v: the opto lets go for 10 ms (A4 dipped)
        pin.drive_high()
        clock.sleep(0.010)
        pin.drive_low()
        clock.sleep(0.1)
        assert bench.read("battery_v") is True      # the debounce says nothing changed...
        assert bench.senses["battery_v"].dropouts == 1  # ...and the dip is on the record all the same
    assert told == [("dropout", "battery_v")]


def test_the_pin_maps_rail_settle_is_what_the_welded_check_waits(clock, write_yaml):
    from rig.bench.power import rail_faults

    text = (REPO / "wiring" / "bench.yaml").read_text().replace("rail_settle: 0.5s", "rail_settle: 4s")
    w = load_wiring(write_yaml(text))
    backend = mock_backend(w, clock, circuit={"slow": {"acc": 3.0}})  # A7 takes 3 s to decay
    with Bench(w, backend) as bench:
        bench.power("acc", True)
        clock.sleep(1)
        bench.power("acc", False)
        clock.sleep(2.5)
        assert rail_faults(bench) == []  # still decaying: not "welded, replace the relay"
        clock.sleep(2)
        assert rail_faults(bench) == []


# -- the dwell holds across processes ---------------------------------------------------


def test_the_relay_dwell_holds_across_two_processes(write_yaml, tmp_path, clock):
    path = write_yaml(MAP + "timing: {relay_dwell: 60s}\n")
    lock = tmp_path / "bench.lock"
    env = dict(os.environ, RIG_LOCK=str(lock), RIG_CLOCK="virtual", RIG_WIRING=str(path))
    started = time.monotonic()  # the first process switches ACC after this (the dwell counts real time)
    first = subprocess.run([sys.executable, "-m", "rig", "--backend", "mock", "power", "acc", "on",
                            "--for", "1s"],
                           env=env, capture_output=True, text=True, timeout=30)
    assert first.returncode == 0, first.stderr
    w = load_wiring(path)
    with Bench(w, mock_backend(w, clock, lock_path=str(lock))) as bench:
        waits = []
        bench.events.subscribe(lambda e: e.kind == "dwell" and waits.append(e.data["wait"]))
        since = time.monotonic() - started  # at most this long since the first process switched ACC off
        bench.power("acc", True)  # another process, moments after the first switched ACC
        bench.power("acc", False)
    # the first process switched ACC off moments ago: this one waits out the rest of its 60 s (the
    # bound was 50 s: a starting `rig` and its exit took over 10 s once, under a loaded suite)
    assert len(waits) == 2 and 60 - since <= waits[0] < 60 and waits[1] == 60, (waits, since)


def _refuse(monkeypatch, modes):
    """Make opening the lock file fail with EACCES for these open modes, as for another user's file."""
    real_open = os.open

    def fake_open(path, flags, *a):
        if Path(path).name == "bench.lock" and flags & 3 in modes:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *a)

    monkeypatch.setattr("rig.bench.benchlock.os.open", fake_open)


def test_a_lock_file_another_user_may_not_open_says_busy_not_a_traceback(tmp_path, monkeypatch):
    lock = tmp_path / "bench.lock"
    lock.write_text("{}")
    _refuse(monkeypatch, {os.O_RDWR, os.O_RDONLY})
    with pytest.raises(BenchBusy, match="belongs to .* and this user may not open it, so the bench may be in use"
                                        ".*chmod 664"):
        BenchLock(lock).acquire()


def test_a_lock_file_another_user_may_only_read_still_locks(tmp_path, monkeypatch):
    lock = tmp_path / "bench.lock"
    holder = BenchLock(lock)
    holder.acquire()  # the other user's rig, holding the bench
    _refuse(monkeypatch, {os.O_RDWR})
    with pytest.raises(BenchBusy, match=f"in use by pid {os.getpid()}"):
        BenchLock(lock).acquire()
    holder.release()
    mine = BenchLock(lock)
    mine.acquire()  # read-only, flock works all the same
    assert mine.held
    mine.release()


def test_a_new_lock_file_is_group_writable_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        lock = BenchLock(tmp_path / "bench.lock")
        lock.acquire()
        lock.release()
    finally:
        os.umask(old)
    assert (tmp_path / "bench.lock").stat().st_mode & 0o777 == 0o664


# -- kill -9 and the kernel: persist_gpio_outputs from /sys -----------------------------


def fake_sys(root: Path, **params):
    for module, value in params.items():
        d = root / "module" / module
        d.mkdir(parents=True)
        if value is not None:
            (d / "parameters").mkdir()
            (d / "parameters" / "persist_gpio_outputs").write_text(value + "\n")
    return str(root)


def test_persist_gpio_outputs_on_a_pi4_kernel(tmp_path):
    assert gpio_outputs_persist(fake_sys(tmp_path / "a", pinctrl_bcm2835="Y")) == (
        True, "pinctrl_bcm2835.persist_gpio_outputs=Y")
    assert gpio_outputs_persist(fake_sys(tmp_path / "b", pinctrl_bcm2835="N"))[0] is False  # strict_gpiod


def test_persist_gpio_outputs_on_a_pi5_kernel_reads_rp1(tmp_path):
    # the Pi 5's header is on RP1; the SoC's own pinctrl_bcm2835 says nothing about it
    root = fake_sys(tmp_path, pinctrl_rp1="Y", pinctrl_bcm2835="N")
    assert gpio_outputs_persist(root) == (True, "pinctrl_rp1.persist_gpio_outputs=Y")


def test_persist_gpio_outputs_on_a_non_pi_kernel(tmp_path):
    (tmp_path / "module" / "usbcore").mkdir(parents=True)
    keeps, why = gpio_outputs_persist(str(tmp_path))
    assert keeps is None and why.startswith("not a Raspberry Pi kernel")
    assert kill9_warnings(type("LGPIOFactory", (), {})(), str(tmp_path)) == []  # nothing to nag about


def test_persist_gpio_outputs_missing_parameter_is_unknown_and_said(tmp_path):
    root = fake_sys(tmp_path, pinctrl_bcm2835=None)
    keeps, why = gpio_outputs_persist(root)
    assert keeps is None and "no persist_gpio_outputs parameter" in why
    (w,) = kill9_warnings(type("LGPIOFactory", (), {})(), root)
    assert "cannot tell" in w and "wiring/README.md, section 11" in w


def test_kill9_warning_per_pin_library(tmp_path):
    kept = fake_sys(tmp_path / "kept", pinctrl_bcm2835="Y")
    released = fake_sys(tmp_path / "released", pinctrl_bcm2835="N")
    lgpio = type("LGPIOFactory", (), {})()
    (w,) = kill9_warnings(lgpio, kept)
    assert "Add dtparam=strict_gpiod" in w and "section 11" in w
    assert kill9_warnings(lgpio, released) == []
    (w,) = kill9_warnings(type("RPiGPIOFactory", (), {})(), released)  # registers: the kernel cannot help
    assert "RPi.GPIO writes the GPIO registers directly" in w and "python3-lgpio" in w


def test_no_gpio_says_why_each_pin_library_failed(monkeypatch):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    with pytest.raises(NoGPIO) as info:
        choose_pin_factory()  # this machine has no Pi: every library fails, each for its reason
    assert "not lgpio:" in str(info.value) and "python3-lgpio" in str(info.value)


def test_the_pin_library_is_named_in_status(monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    factory, library = choose_pin_factory()
    assert library == "mock, chosen by GPIOZERO_PIN_FACTORY=mock"
    factory.close()


def test_rig_status_shows_the_pin_library(run_rig):
    r = run_rig("--backend", "mock", "status", env={"RIG_CLOCK": "virtual"})
    assert r.returncode == 0, r.stderr
    assert "pins: mock (gpiozero MockFactory, no hardware)" in r.stdout


# -- setup.py: a working pin library on every Pi, nothing to build on x86 ----------------


def setup_kwargs() -> dict:
    import setuptools  # here, not at the top: 0.2 s of imports for the workers that never run these

    captured = {}
    with mock.patch.object(setuptools, "setup", lambda **kw: captured.update(kw)):
        runpy.run_path(str(REPO / "setup.py"))
    return captured


@pytest.mark.parametrize("machine, wanted", [("armv6l", {"lgpio"}), ("armv7l", {"lgpio"}), ("armv8l", {"lgpio"}),
                                             ("aarch64", {"lgpio"}), ("x86_64", set())])
def test_the_pi_extra_installs_lgpio_on_every_pi_and_nothing_on_x86(machine, wanted):
    env = {"platform_machine": machine, "platform_system": "Linux", "extra": "pi"}
    reqs = [Requirement(r) for r in setup_kwargs()["extras_require"]["pi"]]
    assert {r.name for r in reqs if r.marker is None or r.marker.evaluate(env)} == wanted


def test_gpiozero_without_the_two_pi5_defects_is_required():
    (gz,) = [Requirement(r) for r in setup_kwargs()["install_requires"] if r.startswith("gpiozero")]
    for broken in ("2.0.1", "2.0.1.post1", "2.0.1.post2"):  # gpiochip4 (#1166); no `import os` (#1229)
        assert not gz.specifier.contains(broken)
    assert gz.specifier.contains("2.0.1.post3")


# -- the validator refuses an unverified same-line combo before any pin moves -----------


def test_a_profile_combo_on_one_key_line_is_refused_until_the_profile_verifies_it(tmp_path):
    import dataclasses

    from rig.run.procedure import check, load_procedure
    from rig.unit.profiles import load_profiles

    from .test_profiles import GOOD

    w = load_wiring(SPARE_WIRING)  # t2 presses tp+rds
    notes = tmp_path / "notes"
    notes.mkdir()
    ladder = "    name: one\n    ladders: {ladder1: [mode, scan], ladder2: [preset1, preset2, preset3, preset4]}\n"
    (notes / "t.md").write_text(GOOD.replace("    name: one\n", ladder))
    got = [p.message for p in check(load_procedure("enter-code"), w, load_profiles([notes])["t1"])]
    assert [m for m in got if "same key line" in m] == [  # entry and confirm are both mode+scan: told once
        "enter_code: mode+scan: mode and scan are on the same key line 'ladder1', where pressed together they "
        "can read as another key; check it by hand on the unit (rig press mode+scan, wiring/README.md section 10) "
        "and list it under the profile's verified_combos"], got
    (notes / "t.md").write_text(GOOD.replace("    name: one\n", ladder + "    verified_combos: [mode+scan]\n"))
    assert check(load_procedure("enter-code"), w, load_profiles([notes])["t1"]) == []
    # t2 presses tp+rds on no line the profile gives: the simulator decodes it, a bench may not
    assert check(load_procedure("enter-code"), w, load_profiles([notes])["t2"]) == []
    strict = dataclasses.replace(w, strict_combos=True)
    (msg,) = {p.message for p in check(load_procedure("enter-code"), strict, load_profiles([notes])["t2"])}
    assert "tp+rds: the profile does not say which key line tp and rds are on" in msg


def test_a_pc817_key_on_a_ladder_is_refused(tmp_path, write_yaml):
    from rig.run.procedure import check, load_procedure
    from rig.unit.profiles import load_profiles

    from .test_profiles import GOOD

    text = (REPO / "wiring" / "bench.yaml").read_text().replace("preset1: {pin: 19}", "preset1: {pin: 19, switch: pc817}")
    (tmp_path / "t.md").write_text(GOOD.replace("    name: one\n", "    name: one\n    ladders: {l1: [preset1, preset2]}\n"))
    got = [p.message for p in check(load_procedure("enter-code"), load_wiring(write_yaml(text)),
                                    load_profiles([tmp_path])["t1"])]
    assert any("key 'preset1' is a PC817 (switch: pc817) and the profile puts it on a key ladder" in m for m in got)


def test_a_bad_verified_combo_says_where(tmp_path):
    from rig.unit.profiles import load_profiles

    from .test_profiles import GOOD

    (tmp_path / "t.md").write_text(GOOD.replace("    name: one\n", "    name: one\n    verified_combos: [mode]\n"))
    with pytest.raises(ConfigError) as info:
        load_profiles([tmp_path])
    assert [(p.line, p.message) for p in info.value.problems][0] == (
        7, "t1: verified_combos: 'mode' is not a combo (write e.g. mode+scan)")


# -- the wiring picture -----------------------------------------------------------------


def test_the_committed_wiring_picture_matches_bench_yaml():
    from rig.bench.diagram import render_svg

    committed = (REPO / "wiring" / "bench.svg").read_text(encoding="utf-8")
    assert render_svg(load_wiring()) == committed, "re-draw it: rig wiring diagram wiring/bench.yaml -o wiring/bench.svg"


def test_wiring_diagram_command_draws_lines_switches_and_safe_states(run_rig, write_yaml, tmp_path):
    path = write_yaml(MAP.replace("preset1: {pin: 23}", "preset1: {pin: 23, switch: pc817}"))
    out = tmp_path / "mine.svg"
    r = run_rig("wiring", "diagram", str(path), "-o", str(out))
    assert r.returncode == 0, r.stderr
    svg = out.read_text()
    assert "PC817 (one way only)" in svg  # what the technician wires
    assert "K1 relay, NC contact" in svg and "battery ON" in svg and "acc OFF" in svg  # the safe states
    assert "retriggerable monostable" not in svg  # this map has no heartbeat
    bad = run_rig("wiring", "diagram", str(write_yaml(MAP.replace("pin: 27", "pin: 14"), "bad.yaml")))
    assert bad.returncode == 1 and "GPIO14 is reserved" in bad.stderr


def test_the_display_tap_opens_without_asserting_dtr_or_rts(clock):
    from rig.unit.display import SerialTap

    tap = SerialTap("loop://", 115200, clock)
    try:
        # asserted, DTR resets an Arduino-class tap board at every rig command
        assert tap.port.is_open and tap.port.dtr is False and tap.port.rts is False
    finally:
        tap.close()


# -- the dead-man as a safety function: latched trips, progress, the read-back ---------


def test_a_trip_seen_on_the_read_back_latches_until_the_bench_is_opened_again(wiring, clock):
    backend = mock_backend(wiring, clock)
    deadman = backend.pin_factory.deadman
    hb = wiring.heartbeat
    with pytest.raises(BenchRefused, match="dead-man has cut the relay and key supply"):
        with Bench(wiring, backend) as bench:
            bench.power("acc", True)
            assert deadman.on()
            deadman.stuck_on, deadman.timeout = False, 0.0  # the supply drops (a glitch, a stall the rig missed)
            beats = len(pin_states(bench, hb.pin))
            clock.sleep(5 * hb.every)
            bench.press("preset1")  # the first energising move after the trip is refused...
    assert len(pin_states(backend, hb.pin)) <= beats + 1  # ...and no beat re-armed it meanwhile
    assert pin_states(backend, 19) == [False]  # preset1 never went down
    assert pin_states(backend, 27)[-1] is False  # ACC released all the same
    deadman.timeout = hb.timeout  # a fresh open re-arms, with everything safe
    with Bench(wiring, mock_backend(wiring, clock)) as bench:
        bench.press("preset1")


def test_a_tripped_dead_man_is_re_armed_only_with_everything_safe_and_then_beats_again(wiring, clock):
    """bench.rearm() after a trip: refused while ACC is still driven (the supply would come back on
    under it); once it is off, the beat starts again and holds the supply on, and keys work."""
    from rig.bench.heartbeat import DeadmanTripped

    backend = mock_backend(wiring, clock)
    deadman, hb = backend.pin_factory.deadman, wiring.heartbeat
    with Bench(wiring, backend) as bench:
        bench.power("acc", True)
        bench.rearm()  # nothing tripped: nothing to do (rig serve asks between jobs), whatever is driven
        deadman.timeout = 0.0  # the supply drops
        clock.sleep(5 * hb.every)
        with pytest.raises(BenchRefused, match="dead-man has cut"):
            bench.press("preset1")
        with pytest.raises(DeadmanTripped, match="not re-arming the dead-man while acc is driven"):
            bench.rearm()
        bench.power("acc", False)
        deadman.timeout = hb.timeout
        told = []
        bench.events.subscribe(lambda e: told.append((e.kind, e.what)))
        bench.rearm()
        assert bench.deadman_tripped is None and ("bench", "rearmed") in told  # and the log says so
        beats = len(pin_states(bench, hb.pin))
        for _ in range(10):
            clock.sleep(hb.every)
        assert len(pin_states(bench, hb.pin)) >= beats + 10 and deadman.on()  # beating, and holding it on
        bench.press("preset1")
    assert pin_states(backend, 19) == [False, True, False]


def test_a_heartbeat_pin_that_fails_at_its_first_beat_is_given_back_and_its_error_told(clock):
    """A GPIO write that fails (the kernel refuses the line) on a dead-man with no read-back: the
    technician sees that error, not one of rig's own, and the pin is given back."""
    from gpiozero import DigitalInputDevice
    from gpiozero.pins.mock import MockFactory

    from rig.bench.channels import _HeldOutput
    from rig.bench.heartbeat import open_heartbeat
    from rig.bench.wiring import HeartbeatSpec

    class Refused(_HeldOutput):  # as the bench's own: never closed by the garbage collector
        def toggle(self):
            raise OSError(5, "Input/output error")

    factory = MockFactory()
    with pytest.raises(OSError, match="Input/output error"):
        open_heartbeat(HeartbeatSpec(26, every=0.5), factory, clock, Refused, DigitalInputDevice)
    assert factory.pin(26).function == "input"  # given back, not left claimed as an output


def test_a_bench_with_no_dead_man_has_nothing_to_re_arm(write_yaml, clock):
    w = load_wiring(write_yaml(MAP))
    assert w.heartbeat is None
    with Bench(w, mock_backend(w, clock)) as bench:
        bench.power("acc", True)
        bench.rearm()
        assert bench.deadman_tripped is None


def test_a_dead_man_stuck_on_is_refused_at_open(wiring, clock):
    backend = mock_backend(wiring, clock)
    backend.pin_factory.deadman.stuck_on = True
    with pytest.raises(BenchRefused, match="stuck on"):
        Bench(wiring, backend).open()
    assert pin_states(backend, 27) == [False]  # and released: nothing was switched


def test_a_dead_man_that_never_switches_on_is_refused_at_open(wiring, clock):
    backend = mock_backend(wiring, clock)
    backend.pin_factory.deadman.timeout = 0.0  # no supply whatever the beat does
    with pytest.raises(BenchRefused, match="did not switch the relay and key supply on"):
        Bench(wiring, backend).open()


def test_the_beat_stops_when_the_run_makes_no_progress(wiring):
    from rig.bench.clock import RealClock
    from rig.bench.heartbeat import Heartbeat

    clock = RealClock()
    spec = wiring.heartbeat
    backend = mock_backend(wiring, clock)
    out = backend.pin_factory.pin(spec.pin)
    from gpiozero import OutputDevice

    hb = Heartbeat(spec, OutputDevice(spec.pin, pin_factory=backend.pin_factory), clock, start=False)
    hb._thread = object()  # the real clock's beating thread, driven here by hand with made-up times
    hb._toggle()
    t0 = clock.now()
    clock.progress()
    assert hb.tick(t0 + spec.every)  # progress is fresh: it beats
    clock._stamp -= spec.timeout  # the main thread hung for T, inside nothing the clock knows
    assert not hb.tick(t0 + 2 * spec.every)
    assert "no progress" in hb.tripped
    clock.progress()  # it comes back: the trip stays latched
    assert not hb.tick(t0 + 3 * spec.every)
    with clock.outside("the operator"):  # waiting on purpose is not a hang...
        hb.tripped = None
        clock._stamp -= spec.timeout
        assert hb.tick(t0 + 3 * spec.every)
    hb.tripped = None
    clock.progress()
    assert not hb.tick(hb._last_rise + spec.timeout)  # ...but a beat that comes this late (SIGSTOP) latches
    assert "stalled" in hb.tripped
    assert len(out.states) == 4


def test_beats_against_a_dead_man_time_they_cannot_hold_are_refused(write_yaml):
    base = textwrap.dedent("""
        rails:
          battery: {pin: 17, contact: nc, safe: on}
          acc: {pin: 27, contact: "no", safe: off}
        keys:
          mode: {pin: 13}
    """)
    with pytest.raises(ConfigError, match="heartbeat.every: 5s against a dead-man time of 4.7s"):
        load_wiring(write_yaml(base + "heartbeat: {pin: 26, every: 5s, timeout: 4.7s}\n"))
    with pytest.raises(ConfigError, match="missing field 'timeout'"):
        load_wiring(write_yaml(base + "heartbeat: {pin: 26, every: 1s}\n"))
    with pytest.raises(ConfigError, match="GPIO10 is also SPI0 MOSI, which can toggle it by itself"):
        load_wiring(write_yaml(base + "heartbeat: {pin: 10, every: 1s, timeout: 4.7s}\n"))
    assert load_wiring(write_yaml(base + "heartbeat: {pin: 26, every: 1s, timeout: 4.7s}\n")).heartbeat.timeout == 4.7


def test_the_committed_schematic_sheets_match_bench_yaml():
    pytest.importorskip("schemdraw")  # the docs extra; the test extra brings it
    from rig.bench.schematic import render_all

    sheets = render_all(load_wiring())
    assert sorted(sheets) == sorted(p.name for p in (REPO / "wiring" / "schematic").glob("sheet*.svg"))
    for name, svg in sheets.items():
        assert (REPO / "wiring" / "schematic" / name).read_text(encoding="utf-8") == svg, \
            f"re-draw them: rig wiring schematic -o wiring/schematic ({name})"
    assert "GPIO26 (J1-37)" in sheets["sheet6-deadman.svg"] and "GPIO2 (J1-3)" in sheets["sheet6-deadman.svg"]
    assert "preset1 GPIO19 (J1-35)" in sheets["sheet3-keys.svg"]  # drawn from the map, not by hand


def test_every_channel_of_a_changed_pin_map_is_on_its_sheet(write_yaml):
    """The sheets follow the map: a rail moved, a key added, a sense without its rail. Each
    channel is drawn (relays, senses) or listed (keys) with its GPIO and header pin, each
    sense opto gets its own drawn 1N4148, and the harness labels follow the rails."""
    pytest.importorskip("schemdraw")
    from rig.bench.harness import harness
    from rig.bench.schematic import keys, relays, senses

    text = (REPO / "wiring" / "bench.yaml").read_text(encoding="utf-8")
    text = text.replace("pin: 17", "pin: 23")  # battery onto the pin a 2-channel CAN HAT would take
    text = text.replace("  scan:    {pin: 18}", "  scan:    {pin: 18}\n  eject: {pin: 17}")
    w = load_wiring(write_yaml(text))
    sheets = {"sheet2-relays.svg": relays(w), "sheet3-keys.svg": keys(w), "sheet4-senses.svg": senses(w),
              "sheet7-harness.svg": harness(w)}  # (the sheets that draw channels: 5 and 6 draw no GPIO of a channel)
    assert "battery: GPIO23 (J1-16)" in sheets["sheet2-relays.svg"] and "GPIO17" not in sheets["sheet2-relays.svg"]
    assert sheets["sheet2-relays.svg"].count("SRD-05VDC-SL-C  (") == len(w.rails) == 3  # one drawn per rail
    assert "eject GPIO17 (J1-11)" in sheets["sheet3-keys.svg"]
    for s in w.senses.values():
        assert f"{s.name}: GPIO{s.pin} (J1-" in sheets["sheet4-senses.svg"]
    assert sheets["sheet4-senses.svg"].count(">1N4148<") == len(w.senses)  # drawn, not only named
    assert sheets["sheet3-keys.svg"].count("NFet") == 0 and "PhotoMOS" in sheets["sheet3-keys.svg"]
    harness = sheets["sheet7-harness.svg"]
    assert "A4 BATT (K1)" in harness and "A7 ACC (K2)" in harness and "IGN (K3)" in harness


def test_a_channel_the_dead_man_cannot_cut_is_refused(write_yaml):
    hb = "heartbeat: {pin: 26, every: 0.5s, timeout: 4.7s}\n"
    low = MAP.replace("preset1: {pin: 23}", "preset1: {pin: 7, active_high: false, pull: up}")  # GPIO7: boot-high
    with pytest.raises(ConfigError, match="keys.preset1: an active-low output sinks into its GPIO, not through the "
                                          "dead-man's switched 0 V"):
        load_wiring(write_yaml(low + hb))
    load_wiring(write_yaml(low))  # no dead-man: nothing to bypass
    load_wiring(write_yaml(low + hb.replace("}", ", switches: high}")))  # the dead-man cuts the supply instead


def test_more_keys_down_than_the_header_can_feed_is_refused(bench, write_yaml):
    from rig.run.procedure import check, load_procedure

    with pytest.raises(BenchRefused, match="refusing to hold 4 keys down at once"):
        bench.press("preset1+preset2+preset3+preset4")
    assert pin_states(bench, 19) == [False]  # nothing went down
    with bench.holding("preset1+preset2+preset3"):  # three is the default's limit
        pass
    path = write_yaml("name: x\nsteps:\n  - press: preset1+preset2+preset3+preset4\n", "p.yaml")
    (p,) = check(load_procedure(str(path)), bench.wiring)
    assert "4 keys at once, and the pin map allows 3 (max_keys_down)" in p.message
