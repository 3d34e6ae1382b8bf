"""The car's network through the `rig` command and the pytest plugin, on the simulated CAN units.

A technician's day: record the simulated car, pick the wake set, run every built-in procedure
through the CLI with it; the same runs refused or failed clearly without the wake frames; a
log written by another tool (candump -l, Vector ASC) becomes a wake set that wakes the unit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.can.logs import read_log
from rig.can.picker import pick
from rig.can.wakeset import load_wake_set

DATA = Path(__file__).parent / "data" / "can"
CODE = {"RIG_CODE": "1234"}


def sim(run_rig, profile, *args, env=None, state="locked"):
    r = run_rig("sim", "reset", "--profile", profile, "--code", "1234", "--state", state)
    assert r.returncode == 0, r.stderr
    return r


PROCEDURES = ("reproduce-safe", "enter-code", "lockout-wait", "unlock")


def arrived_locked_out(run_rig, profile, serial="CAN1"):
    """A fresh simulated unit in its lockout, and the ledger told so (as a technician does at the door)."""
    from .canbench import lockout_attempts

    used = str(lockout_attempts(profile))
    assert run_rig("sim", "reset", "--profile", profile, "--code", "1234", "--state", "lockout", "--attempts",
                   used).returncode == 0
    r = run_rig("units", "add", serial, "--profile", profile, "--attempts-used", used)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("profile,wake", [("vw-rcd310", None), ("ford-6000cd-can", None), ("opel-cd30", "astra")])
def test_every_built_in_procedure_through_the_cli_on_a_can_unit(run_rig, tmp_path, profile, wake):
    arrived_locked_out(run_rig, profile)
    extra = []
    if wake:  # no wake frames are known for it: record the simulated car and pick them, as on a real one
        assert run_rig("--backend", "sim", "can", "record", tmp_path / "car.log", "--for", "3s").returncode == 0
        picked = run_rig("can", "pick", tmp_path / "car.log", "--profile", profile, "-o", tmp_path / "car.yaml")
        assert picked.returncode == 0, picked.stderr
        extra = ["--wake-set", tmp_path / "car.yaml"]
    base = ["--backend", "sim", *extra, "run"]
    # the lockout sat out, the code entered (unlock), SAFE made again, the code entered again
    steps = [("lockout-wait",), ("unlock", "--allow-lockout"), ("reproduce-safe",), ("enter-code", "--allow-lockout")]
    for proc, *flags in steps:
        r = run_rig(*base, proc, "--unit", "CAN1", *flags, env=CODE)
        assert r.returncode == 0, f"{proc}: {r.stdout[-600:]}{r.stderr}"
        assert f"PASSED: {proc}" in r.stderr, r.stderr[-400:]
    assert "  locked: False" in run_rig("--backend", "sim", "sim", "show").stdout


@pytest.mark.parametrize("profile", ["vw-rcd310", "ford-6000cd-can", "opel-cd30"])
def test_without_its_wake_frames_every_procedure_fails_clearly_through_the_cli(run_rig, tmp_path, profile):
    arrived_locked_out(run_rig, profile)
    (tmp_path / "wrong.yaml").write_text("frames: [{id: 0x2C3, data: '07', period: 100ms}]\n")
    for proc in PROCEDURES:
        r = run_rig("--backend", "sim", "--wake-set", tmp_path / "wrong.yaml", "run", proc, "--unit", "CAN1",
                    "--allow-lockout", env=CODE)
        assert r.returncode == 1, f"{proc}: {r.returncode} {r.stdout[-600:]}{r.stderr}"
        said = r.stdout + r.stderr
        assert "FAILED: " in said, said[-600:]
        assert "CAN: the wake frames 0x2C3 (wrong) are going out" in said, f"{proc}: {said[-800:]}"
        assert "record your car (rig can record)" in said
    shown = run_rig("--backend", "sim", "sim", "show").stdout
    assert "  locked: True" in shown, shown  # nothing reached it, no attempt spent
    assert "1 wrong" not in run_rig("units", "show", "CAN1").stdout
    (tmp_path / "none.yaml").write_text("frames: []\n")  # no frames at all
    r = run_rig("--backend", "sim", "--wake-set", tmp_path / "none.yaml", "run", "enter-code", "--unit", "CAN1",
                "--allow-lockout", env=CODE)
    assert r.returncode == 1 and "CAN: no wake frames were given. A unit that needs the car's network stays dark" \
        in r.stderr, r.stderr
    if profile == "opel-cd30":  # and with none known for it: refused before any pin moves
        r = run_rig("--backend", "sim", "run", "reproduce-safe", "--unit", "CAN1")
        assert r.returncode == 2 and "stays dark without its car's wake frames" in r.stderr, r.stderr
        assert "nothing was switched" in r.stderr


def test_a_bench_without_a_can_bus_refuses_a_can_unit_before_any_pin_moves(run_rig, tmp_path):
    sim(run_rig, "vw-rcd310")
    r = run_rig("--backend", "sim", "--wiring", _no_can(tmp_path), "run", "reproduce-safe", "--unit", "V1",
                "--new-unit", "--profile", "vw-rcd310")
    assert r.returncode == 2 and "vw-rcd310 talks on the car's CAN (wake frames) but this bench has none" in r.stderr


@pytest.mark.parametrize("profile,log", [("vw-rcd310", "car.log"), ("ford-6000cd-can", "car.asc"),
                                         ("opel-cd30", "car.blf")])
def test_a_log_recorded_on_the_simulated_car_becomes_a_wake_set_that_wakes_the_unit(run_rig, tmp_path, profile, log):
    """rig can record in each format it writes (candump's .log, Vector's .asc and .blf), rig can pick, a run."""
    sim(run_rig, profile)
    r = run_rig("--backend", "sim", "can", "record", tmp_path / log, "--for", "12s")  # Ford's wake frame: every 2 s
    assert r.returncode == 0 and "pick the wake set: rig can pick" in r.stdout, r.stderr
    r = run_rig("can", "pick", tmp_path / log, "--profile", profile, "-o", tmp_path / "car.yaml")
    assert r.returncode == 0, r.stderr
    ws = load_wake_set(tmp_path / "car.yaml")
    assert ws.frames and "0x7DF" not in [f.label for f in ws.frames]  # the tester's request is never replayed
    r = run_rig("--backend", "sim", "--wake-set", tmp_path / "car.yaml", "run", "reproduce-safe", "--unit", "R1",
                "--new-unit", "--profile", profile)
    assert r.returncode == 0, r.stdout[-800:] + r.stderr


def test_a_recording_and_a_picked_wake_set_are_never_written_over(run_rig, tmp_path):
    """A car's recording may be the only one (the car has gone home); a wake set is often edited by hand.
    A missing folder is made, as the README's `-o wake/golf6.yaml` expects."""
    sim(run_rig, "vw-rcd310")
    assert run_rig("--backend", "sim", "can", "record", tmp_path / "logs" / "golf6.log", "--for", "1s").returncode == 0
    kept = (tmp_path / "logs" / "golf6.log").read_text()
    r = run_rig("--backend", "sim", "can", "record", tmp_path / "logs" / "golf6.log", "--for", "1s")
    assert r.returncode == 2 and "already exists, and rig never writes over a recording" in r.stderr, r.stderr
    assert (tmp_path / "logs" / "golf6.log").read_text() == kept
    pick = ["can", "pick", tmp_path / "logs" / "golf6.log", "--all", "-o", tmp_path / "wake" / "golf6.yaml"]
    assert run_rig(*pick).returncode == 0
    (tmp_path / "wake" / "golf6.yaml").write_text("# my edits\n" + (tmp_path / "wake" / "golf6.yaml").read_text())
    r = run_rig(*pick)
    assert r.returncode == 2 and "already exists (a wake set you may have edited)" in r.stderr, r.stderr
    assert (tmp_path / "wake" / "golf6.yaml").read_text().startswith("# my edits")
    assert run_rig(*pick, "--force").returncode == 0
    assert not (tmp_path / "wake" / "golf6.yaml").read_text().startswith("# my edits")
    r = run_rig("--backend", "mock", "--wiring", _no_can(tmp_path), "can", "record", tmp_path / "none.log")
    assert r.returncode == 2 and "has no can: block" in r.stderr and not (tmp_path / "none.log").exists()


def _no_can(tmp_path):
    from .canbench import without_can
    from .conftest import REPO

    (tmp_path / "no-hat.yaml").write_text(without_can((REPO / "wiring" / "bench.yaml").read_text()))
    return tmp_path / "no-hat.yaml"


def test_a_blf_written_by_another_tool_becomes_a_wake_set_that_wakes_the_unit(run_rig, tmp_path):
    """A Vector BLF (CANalyzer, SavvyCAN, python-can write them): here python-can's own writer, from the Golf's
    ASC, timestamps and all."""
    can = pytest.importorskip("can")
    with can.BLFWriter(str(tmp_path / "golf6.blf")) as blf:
        for msg in can.ASCReader(str(DATA / "golf6-key-in.asc")):
            blf.on_message_received(msg)
    r = run_rig("can", "pick", tmp_path / "golf6.blf", "--profile", "vw-rcd310", "-o", tmp_path / "w.yaml")
    assert r.returncode == 0, r.stderr
    assert [f.describe() for f in load_wake_set(tmp_path / "w.yaml").frames] == ["0x575 02 00 00 00 every 100ms "
                                                                                 "(sourced)"]
    sim(run_rig, "vw-rcd310")
    r = run_rig("--backend", "sim", "--wake-set", tmp_path / "w.yaml", "run", "reproduce-safe", "--unit", "B1",
                "--new-unit", "--profile", "vw-rcd310")
    assert r.returncode == 0, r.stdout[-800:] + r.stderr


@pytest.mark.parametrize("log,profile", [("golf6-key-in.asc", "vw-rcd310"), ("astra-h-key-in.log", "opel-cd30")])
def test_a_log_written_by_another_tool_becomes_a_wake_set_that_wakes_the_unit(run_rig, tmp_path, log, profile):
    r = run_rig("can", "pick", DATA / log, "--profile", profile, "-o", tmp_path / "w.yaml")
    assert r.returncode == 0, r.stderr
    ws = load_wake_set(tmp_path / "w.yaml")
    assert "0x7DF" not in [f.label for f in ws.frames]  # the tester's request is never replayed
    sim(run_rig, profile)
    r = run_rig("--backend", "sim", "--wake-set", tmp_path / "w.yaml", "run", "reproduce-safe", "--unit", "L1",
                "--new-unit", "--profile", profile)
    assert r.returncode == 0, r.stdout[-800:] + r.stderr


def test_the_picker_reads_candump_and_vector_logs_and_recognises_counters_and_checksums():
    golf = pick(read_log(DATA / "golf6-key-in.asc"))
    frames = {f.label: f for f in golf.wake_set.frames}
    assert frames["0x575"].data.hex() == "02000000" and frames["0x575"].period == 0.1
    assert frames["0x5C1"].counter is not None and frames["0x5C1"].checksum.kind == "xor"
    assert frames["0x65F"].period == 0.2
    assert frames["0x351"].note.startswith("byte 1 varied")
    why = {r.label: r.verdict for r in golf.rows if not r.picked}
    assert why == {"0x470": "left out: seen once (an event, not a periodic frame)",
                   "0x7DF": "left out: 0x7DF is the OBD/UDS functional request id"}
    astra = pick(read_log(DATA / "astra-h-key-in.log"), unit_ids=[0x6C1])
    assert {f.label for f in astra.wake_set.frames} == {"0x180", "0x4E8", "0x4EC", "0x4ED"}


def test_can_status_shows_the_interface_the_bus_and_the_wake_set(run_rig):
    sim(run_rig, "vw-rcd310")
    r = run_rig("--backend", "sim", "--wake-set", "vw-pq", "can", "status")
    assert r.returncode == 0, r.stderr
    assert "can: can0 (socketcan), error-active" in r.stdout
    assert "wake set: vw-pq: 0x575 every 100ms - off (sent while acc is on)" in r.stdout
    r = run_rig("--backend", "sim", "--wake-set", "vw-pq", "status")
    assert "can: can0 (socketcan), error-active; wake set vw-pq: 0x575 every 100ms, off" in r.stdout, r.stdout


def test_can_watch_shows_frames_and_what_a_wake_set_would_pick(run_rig):
    sim(run_rig, "vw-rcd310")
    r = run_rig("--backend", "sim", "can", "watch", "--for", "2s", "--id", "0x575")
    assert r.returncode == 0, r.stderr
    assert "0x575  [4]  02 00 00 00" in r.stdout
    assert "0x575 02 00 00 00 every 100ms" in r.stdout and "0x351" not in r.stdout


@pytest.mark.parametrize("text,said", [
    ("frames:\n  - {id: 575, data: '02 00', period: 100ms}\n",
     "{file}:2: error: wake set.frames[0]: id 575 is written in decimal"),
    ("bitrate: 500k\nframes: [{id: 0x575, data: '02 00 00 00', period: 100ms}]\n",  # recorded on an MQB's bus
     "{file}: error: the wake set w was recorded on a 500000 bit/s bus; this run's is 100000 (--wake-set {file})")])
def test_a_wake_set_a_run_cannot_use_says_where_before_any_pin_moves(run_rig, tmp_path, text, said):
    sim(run_rig, "vw-rcd310")
    (tmp_path / "w.yaml").write_text(text)
    r = run_rig("--backend", "sim", "--wake-set", tmp_path / "w.yaml", "run", "reproduce-safe", "--unit", "V1",
                "--new-unit", "--profile", "vw-rcd310")
    assert r.returncode == 2
    assert said.format(file=tmp_path / "w.yaml") in r.stderr, r.stderr
    assert "nothing was switched" in r.stderr


# -- the pytest plugin -----------------------------------------------------------------------
def plugin_unit(rig_sim_unit, rig_ledger_path, tmp_path, profile):
    """A simulated unit in its lockout, the plugin's ledger told so; the wake set a technician would
    have picked where the profile ships none (Opel)."""
    from rig.records.ledger import Ledger
    from rig.unit.profiles import load_profiles

    from .canbench import lockout_attempts, opel_wake_set

    used = lockout_attempts(profile)
    rig_sim_unit(profile, code="1234", state="lockout", attempts=used)
    led = Ledger(rig_ledger_path)
    led.add_unit("P1", profile)
    led.set_attempts_used("P1", used, load_profiles()[profile], "arrived locked out")
    led.close()
    return str(opel_wake_set(tmp_path / "astra.yaml")) if profile == "opel-cd30" else None


@pytest.mark.parametrize("profile", ["vw-rcd310", "ford-6000cd-can", "opel-cd30"])
def test_the_plugin_runs_every_built_in_procedure_on_a_can_unit(rig_sim_unit, rig_run, rig_ledger_path, tmp_path,
                                                                profile):
    wake = plugin_unit(rig_sim_unit, rig_ledger_path, tmp_path, profile)
    for proc in ("lockout-wait", "unlock", "reproduce-safe", "enter-code"):
        r = rig_run(proc, profile=profile, unit="P1", code="1234", allow_lockout=True, wake_set=wake)
        assert r.outcome == "passed", f"{proc}: {r.message}"


@pytest.mark.parametrize("profile", ["vw-rcd310", "ford-6000cd-can", "opel-cd30"])
def test_the_plugin_fails_clearly_without_the_wake_frames(rig_sim_unit, rig_run, rig_ledger_path, tmp_path, profile):
    plugin_unit(rig_sim_unit, rig_ledger_path, tmp_path, profile)
    (tmp_path / "wrong.yaml").write_text("frames: [{id: 0x271, data: '03', period: 100ms}]\n")
    for proc in PROCEDURES:
        r = rig_run(proc, profile=profile, unit="P1", code="1234", allow_lockout=True,
                    wake_set=str(tmp_path / "wrong.yaml"))
        assert (r.outcome, r.exit_code) == ("failed", 1), f"{proc}: {r.message}"
        assert "CAN: the wake frames 0x271 (wrong) are going out" in r.message, f"{proc}: {r.message}"


def test_the_timeline_has_a_can_lane_with_the_wake_frames_and_the_bus_errors():
    from rig.records.timeline import render_svg

    events = [{"t": 0.0, "kind": "rail", "what": "acc", "from": "off", "to": "on"},
              {"t": 0.0, "kind": "can", "what": "wake", "from": "off", "to": "on"},
              {"t": 300.0, "kind": "can", "what": "bus", "from": "error-active", "to": "bus-off"},
              {"t": 420.0, "kind": "can", "what": "bus", "from": "bus-off", "to": "error-active"},
              {"t": 600.0, "kind": "can", "what": "wake", "from": "on", "to": "off"},
              {"t": 600.0, "kind": "rail", "what": "acc", "from": "on", "to": "off"}]
    svg = render_svg(events, "t")
    assert ">can wake</text>" in svg and 'stroke="#7d3c98"' in svg
    assert ">bus-off</text>" in svg and ">error-active</text>" not in svg


def test_can_watch_decodes_with_a_dbc(run_rig, tmp_path):
    pytest.importorskip("cantools")
    (tmp_path / "pq.dbc").write_text('VERSION ""\n\nNS_ :\n\nBS_:\n\nBU_:\n\n'
                                     'BO_ 1397 mKlemmen: 4 Vector__XXX\n'
                                     ' SG_ Kl_15 : 1|1@1+ (1,0) [0|1] "" Vector__XXX\n'
                                     ' SG_ Kl_S : 0|1@1+ (1,0) [0|1] "" Vector__XXX\n')
    sim(run_rig, "vw-rcd310")
    r = run_rig("--backend", "sim", "can", "watch", "--for", "0.5s", "--id", "0x575", "--dbc", tmp_path / "pq.dbc")
    assert r.returncode == 0, r.stderr
    assert "mKlemmen: Kl_S=0, Kl_15=1" in r.stdout


def test_a_unit_on_another_bus_speed_than_the_bench_is_refused(run_rig, tmp_path):
    from .canbench import can_pin_map

    sim(run_rig, "ford-6000cd-can")
    pin_map = can_pin_map(tmp_path / "vw-bench.yaml", bitrate="100k")
    r = run_rig("--backend", "sim", "--wiring", pin_map, "run", "reproduce-safe", "--unit", "F1", "--new-unit",
                "--profile", "ford-6000cd-can")
    assert r.returncode == 2
    assert "ford-6000cd-can is on a 125000 bit/s bus; this bench's rig-test is set to 100000" in r.stderr
    assert "sudo ip link set rig-test up type can bitrate 125000 restart-ms 100" in r.stderr


def test_rig_profiles_show_lists_the_can_section_with_its_confidence(run_rig):
    r = run_rig("profiles", "show", "vw-rcd310", env={"COLUMNS": "160"})
    assert "can.wake.set" in r.stdout and "vw-pq" in r.stdout and "[70][71]" in r.stdout


def test_frames_go_only_from_the_process_holding_the_bench(run_rig, tmp_path, monkeypatch):
    """rig serve holds the bench and its bus: a command names no wake set of its own to it (a request over
    the network never names a file), `rig status` and `rig can status` show the server's bus and wake set,
    and the frames that go out are the server's own."""
    from tests.browser.served import Served

    from .canbench import can_wiring

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    served = Served(tmp_path, profile="vw-rcd310", code="1234", state="locked", attempts=0,
                    wiring=can_wiring(tmp_path, wake="vw-pq"))
    env = {"XDG_RUNTIME_DIR": str(tmp_path / "run")}
    try:
        (tmp_path / "mine.yaml").write_text("frames: [{id: 0x575, data: '03 00 00 00', period: 100ms}]\n")
        r = run_rig("--backend", "sim", "--wake-set", tmp_path / "mine.yaml", "run", "reproduce-safe", "--unit", "H1",
                    env=env)
        assert r.returncode == 2 and "holds the bench and sends its own wake set" in r.stderr, r.stderr
        r = run_rig("--backend", "sim", "--wake-set", tmp_path / "mine.yaml", "power", "acc", "on", env=env)
        assert r.returncode == 2 and "leave --wake-set out" in r.stderr, r.stderr
        assert served.client(served.operator).post("/api/bench/power", json={"rail": "acc", "on": True}).status_code == 200
        r = run_rig("--backend", "sim", "status", env=env)
        assert "can: rig-test (virtual), error-active; wake set vw-pq: 0x575 every 100ms, on" in r.stdout, r.stdout
        r = run_rig("--backend", "sim", "can", "status", env=env)
        assert "wake set: vw-pq: 0x575 every 100ms - on (sent while acc is on)" in r.stdout, r.stdout
        assert served.station.bench.can.wake_sender.running  # the server's own sender sends them
    finally:
        served.close()
