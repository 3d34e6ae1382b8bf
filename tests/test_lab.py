"""A lab of benches on labgrid, on loopback: a real coordinator, real exporters, real rig serve.

Jobs are what a CI job does: labgrid-client to reserve and acquire, `rig --place +` to run,
release and cancel at the end. Nothing here is mocked; each test starts its own lab.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.rigcli import environment, rig_in_process

if importlib.util.find_spec("labgrid") is None:  # found, not imported: a worker that runs none of these pays nothing
    pytest.skip("the lab's tests need labgrid (pip install '.[test]')", allow_module_level=True)

BIN = Path(sys.executable).parent
SAFE_RAILS = {"battery": "on", "acc": "off", "ignition": "off"}  # wiring/bench.yaml's safe states


def lg(env, *args, timeout=30, check=True):
    r = subprocess.run([str(BIN / "labgrid-client"), *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode:
        raise AssertionError(f"labgrid-client {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def rig(env, *args):
    """`rig ARGS` as the CI job runs it, in this process (a child's start-up is ~0.4 s with labgrid)."""
    return rig_in_process(args, env)


def acquire(env, place):
    """What `labgrid-client -p PLACE acquire` does, in this process, where taking the place is only the
    test's set-up (the first test acquires with labgrid-client itself, as a CI job does)."""
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

    from rig.lab.places import Lab

    with environment(env), Lab() as lab:  # the session is LG_USERNAME's, as labgrid-client's would be
        lab.loop.run_until_complete(lab.session.stub.AcquirePlace(pb2.AcquirePlaceRequest(placename=place)))


def reservations(env) -> list[tuple[str, str]]:
    """The coordinator's reservations still allocated: (owner, place)."""
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

    from rig.lab.places import Lab

    with environment(env), Lab() as lab:
        got = lab.loop.run_until_complete(lab.session.stub.GetReservations(pb2.GetReservationsRequest()))
    return [(r.owner, r.allocations.get("main")) for r in got.reservations if r.allocations.get("main")]


def reserve_and_acquire(env, **tags) -> None:
    """`labgrid-client reserve --wait` then `labgrid-client -p + acquire`, in this process: the
    reservation stays (labgrid's own client never cancels it)."""
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

    from rig.lab.places import Lab

    with environment(env), Lab() as lab:
        run = lab.loop.run_until_complete
        token = run(lab.session.stub.CreateReservation(pb2.CreateReservationRequest(
            filters={"main": pb2.Reservation.Filter(filter=tags)}, prio=0.0))).reservation.token
        deadline = time.monotonic() + 30
        while not (res := run(lab.session.stub.PollReservation(pb2.PollReservationRequest(token=token)))
                   .reservation).allocations.get("main"):
            assert time.monotonic() < deadline, "the reservation was never allocated"
            time.sleep(0.2)
        run(lab.session.stub.AcquirePlace(pb2.AcquirePlaceRequest(placename=res.allocations["main"])))


def reserve(env, **tags) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "labgrid-client"), "reserve", "--wait", "--shell",
                             *[f"{k}={v}" for k, v in tags.items()]], env=env, stdout=subprocess.PIPE, text=True)


def token_of(proc: subprocess.Popen, timeout=30) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out.strip().split("LG_TOKEN=")[1].split()[0]


def with_token(env, token) -> dict:
    return dict(env, LG_TOKEN=token)


def bench_get(bench, token, path):
    req = urllib.request.Request(bench.url + path, headers={"authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_jobs_reserving_by_family_get_the_right_bench_and_a_third_waits_its_turn(rig_lab, tmp_path):
    rig_lab.add_sim_bench("bench-01", "vw-safe", code="1234", serial="VW1")
    rig_lab.add_sim_bench("bench-02", "ford", code="1234", serial="F1")
    a, b, c, d = (rig_lab.env(u) for u in ("ci-a", "ci-b", "ci-c", "ci-d"))

    # the places carry the benches' units as tags, so reservations can find them
    status = [json.loads(line) for line in rig(a, "lab", "status", "--json").stdout.splitlines()]
    assert {(s["place"], s["tags"]["family"], s["tags"]["unit"]) for s in status} == {
        ("bench-01", "vw-safe", "VW1"), ("bench-02", "ford", "F1")}
    # without a token the benches cannot be asked what they run: the table says why, once
    r = rig({k: v for k, v in a.items() if k != "RIG_TOKEN"}, "lab", "status")
    assert r.returncode == 0 and r.stdout.count(" ?") == 2, r.stdout
    assert r.stderr.count("?: no RIG_TOKEN: the benches answer only with a token") == 1, r.stderr

    # two jobs at once, each by family
    ra, rb = reserve(a, family="vw-safe"), reserve(b, family="ford")
    a, b = with_token(a, token_of(ra)), with_token(b, token_of(rb))
    lg(a, "-p", "+", "acquire")
    lg(b, "-p", "+", "acquire")
    table = rig(a, "lab", "status").stdout  # whose bench is whose: each "+" went to its own family's
    rows = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert "VW1" in rows["bench-01"] and "localhost/ci-a (you)" in rows["bench-01"]
    assert "F1" in rows["bench-02"] and "localhost/ci-b" in rows["bench-02"] and "(you)" not in rows["bench-02"]

    # a third asks for a vw-safe bench while the only one is held: it waits
    rc = reserve(c, family="vw-safe")
    time.sleep(0.8)  # its reserve has polled the coordinator at least once
    assert rc.poll() is None, "the third job was given a bench that is held"

    # the holder runs a procedure through --place + and gets its JUnit here
    (tmp_path / "code").write_text("1234")
    junit = tmp_path / "a.xml"
    r = rig(a, "--place", "+", "run", "enter-code", "--code-file", str(tmp_path / "code"), "--junit", str(junit))
    assert r.returncode == 0, r.stderr
    assert "place bench-01" in r.stderr and "with VW1 (vw-safe)" in r.stderr
    assert 'name="outcome" value="passed"' in junit.read_text()
    local_log = Path(r.stderr.split("log: ")[1].split()[0])
    assert local_log.is_file() and local_log.with_suffix(".svg").is_file()
    assert str(local_log).startswith(str(rig_lab.root / "client-ci-a"))
    assert "1234" not in local_log.read_text()

    # which unit did the job get, what the bench's ledger says, and a job naming another unit
    unit = json.loads(rig(a, "--place", "+", "status", "--json").stdout)["unit"]
    assert (unit["serial"], unit["family"], unit["known"]) == ("VW1", "vw-safe", True)
    r = rig(a, "--place", "+", "run", "enter-code", "--unit", "VW2", "--code-file", str(tmp_path / "code"))
    assert r.returncode == 3 and "holds unit VW1 (vw-safe), not VW2" in r.stderr, r.stderr
    listed = rig(a, "--place", "+", "units", "list", "--json").stdout
    assert [u["serial"] for u in json.loads(listed)] == ["VW1"], listed  # the bench's ledger, not this machine's
    shown = rig(a, "--place", "+", "units", "show", "VW1").stdout  # registered when put on the bench
    assert "put on the bench (rig serve --unit VW1 --profile vw-safe)" in shown and "enter-code" in shown, shown
    run_id = json.loads(rig(a, "--place", "+", "runs", "list", "--json").stdout)[0]["id"]
    shown = rig(a, "--place", "+", "runs", "show", str(run_id)).stdout
    assert "place bench-01  labgrid user localhost/ci-a" in shown and "events" in shown, shown
    r = rig(a, "--place", "+", "units", "add", "X1", "--profile", "ford")
    assert r.returncode == 2 and "changed on the bench" in r.stderr, r.stderr
    assert "no units" in rig(a, "units", "list").stdout  # the job's own machine has no ledger of the bench's
    report = tmp_path / "run.html"
    assert rig(a, "--place", "+", "report", str(run_id), "-o", str(report)).returncode == 0
    assert "enter-code" in report.read_text() and "1234" not in report.read_text()

    # a job that holds no place is refused, before anything moves on either bench
    r = rig(d, "--place", "bench-02", "run", "enter-code", "--code-file", str(tmp_path / "code"))
    assert r.returncode == 3, r.stderr
    assert "not acquired by your user" in r.stderr and "acquire it first" in r.stderr
    # and going round labgrid, straight to the bench's server, is refused there too
    r = rig(d, "--server", rig_lab.benches["bench-02"].url, "press", "mode")
    assert r.returncode == 3 and "held by lab place bench-02" in r.stderr, r.stderr

    # the first job ends (its trap runs `rig lab release`); the third gets the bench within seconds,
    # not after the coordinator's next 15 s pass
    released = time.monotonic()
    r = rig(a, "lab", "release")
    assert r.returncode == 0 and "released bench-01" in r.stdout, r.stdout + r.stderr
    c = with_token(c, token_of(rc, timeout=40))
    handover = time.monotonic() - released
    lg(c, "-p", "+", "acquire")
    assert handover < 5, f"handover took {handover:.1f} s"
    assert rig(a, "lab", "release").returncode == 0  # a trap may run it twice
    r = rig(c, "--place", "+", "status")
    assert r.returncode == 0 and f"server: {rig_lab.benches['bench-01'].url} " in r.stdout, r.stdout + r.stderr
    assert bench_get(rig_lab.benches["bench-01"], rig_lab.token, "/api/lab")["place"]["place"] == "bench-01"


def test_a_forced_unlock_mid_wait_stops_the_run_safely_and_records_it_interrupted(rig_lab):
    # a unit in its first lockout (vw-safe: one hour), simulated 600x faster than the wall clock
    bench = rig_lab.add_sim_bench("bench-01", "vw-safe", code="1234", serial="VW9", state="lockout", speed=600)
    job, admin = rig_lab.env("ci-a"), rig_lab.env("admin")
    acquire(job, "bench-01")
    run = subprocess.Popen([sys.executable, "-m", "rig", "--place", "bench-01", "run", "lockout-wait"], env=job,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        state = bench_get(bench, rig_lab.token, "/api/state")
        if (state.get("job") or {}).get("progress"):
            break
        time.sleep(0.1)
    else:
        run.kill()
        pytest.fail("the lockout wait never started:\n" + run.communicate()[1])
    assert run.poll() is None
    # the nightly sweep never takes a bench that is mid-wait, however short its idle allowance
    r = rig(admin, "lab", "sweep", "--idle", "0s")
    assert r.returncode == 0 and "bench-01: kept: held by localhost/ci-a; running lockout-wait" in r.stdout, r.stdout

    lg(admin, "-p", "bench-01", "release", "--kick")  # the lab admin takes the bench back
    out, errs = run.communicate(timeout=30)
    assert run.returncode == 130, errs
    assert "INTERRUPTED" in errs

    deadline = time.monotonic() + 10
    while (state := bench_get(bench, rig_lab.token, "/api/state"))["job"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert state["job"] is None and state["place"] is None
    b = state["bench"]
    assert set(b["keys"].values()) == {"up"}, b["keys"]
    assert b["rails"] == SAFE_RAILS, b["rails"]  # the declared safe state: constant power on, ACC off
    run_id = state["last"]["run_id"]
    assert bench_get(bench, rig_lab.token, f"/api/runs/{run_id}")["outcome"] == "interrupted"
    # and the bench takes no job from the one who lost it
    r = rig(job, "--place", "bench-01", "status")
    assert r.returncode == 3 and "not acquired" in r.stderr, r.stderr

    # a job that reserves and acquires as labgrid-client does, then vanishes: kept while young, swept
    # once idle past the allowance, its reservation cancelled too (left, it kept the next job waiting 84 s)
    reserve_and_acquire(job, family="vw-safe")
    assert reservations(admin) == [("localhost/ci-a", "bench-01")]
    assert "kept: held by localhost/ci-a; idle" in rig(admin, "lab", "sweep", "--idle", "1h").stdout
    assert "would release" in rig(admin, "lab", "sweep", "--idle", "0s", "--dry-run").stdout
    assert "released: held by localhost/ci-a" in rig(admin, "lab", "sweep", "--idle", "0s").stdout
    assert "no place is acquired" in rig(admin, "lab", "sweep").stdout
    assert reservations(admin) == []

    # the admin's kick is final: a job still following its run never acquires the place back (only a
    # place the bench says labgrid *lost*, in a coordinator restart, is); here it looks every 50 ms
    from rig.lab.reserve import KeepAcquired
    from rig.serve.client import Client

    acquire(job, "bench-01")
    with environment(job), KeepAcquired("bench-01", Client(bench.url, job["RIG_TOKEN"], place="bench-01"),
                                        every=0.05) as keep:
        lg(admin, "-p", "bench-01", "release", "--kick")
        deadline = time.monotonic() + 10
        while keep.given_up is None and time.monotonic() < deadline:
            time.sleep(0.05)
    assert (keep.taken_back, keep.given_up) == (0, "place bench-01 was released in labgrid")
    assert "no place is acquired" in rig(admin, "lab", "sweep").stdout

    # a coordinator restart drops ci-a's lock: the bench keeps the place for ci-a (its grace), and a job
    # waiting in `rig lab reserve` never takes it meanwhile (that would stop ci-a's job)
    acquire(job, "bench-01")
    rig_lab.stop_coordinator()
    rig_lab.start_coordinator()
    deadline = time.monotonic() + 20
    while not (bench_get(bench, rig_lab.token, "/api/lab")["place"] or {}).get("lost"):
        assert time.monotonic() < deadline, "the bench never heard that labgrid lost its place"
        time.sleep(0.1)
    r = rig(rig_lab.env("ci-b"), "lab", "reserve", "--timeout", "2s", "family=vw-safe")
    assert r.returncode == 3 and "bench-01 is free in labgrid, but its bench keeps it for the labgrid user" in r.stderr
    assert r.stderr.count("its bench keeps it") == 1, r.stderr  # said once, not once a second
    assert reservations(admin) == []
    acquire(job, "bench-01")  # as rig --place does by itself while it follows a job: the grace is over
    deadline = time.monotonic() + 10
    while (held := bench_get(bench, rig_lab.token, "/api/lab")["place"])["lost"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert held["user"] == "localhost/ci-a" and held["lost"] is None, held


def test_a_labgrid_test_drives_the_bench_through_rig_driver(rig_lab, tmp_path, monkeypatch):
    from labgrid import Environment

    rig_lab.add_sim_bench("bench-01", "ford", code="2580", serial="M1")
    env = rig_lab.env("ci-lg")
    for k in ("LG_COORDINATOR", "LG_USERNAME", "LG_HOSTNAME", "RIG_TOKEN"):
        monkeypatch.setenv(k, env[k])
    acquire(env, "bench-01")
    # the environment file the README points labgrid users to, as shipped
    target = Environment(str(Path(__file__).resolve().parents[1] / "docs" / "lab" / "env.yaml")).get_target("main")
    rig_driver = target.get_driver("RigDriver")
    assert rig_driver.bench.serial == "M1" and rig_driver.bench.family == "ford"

    from labgrid.step import steps

    told = []  # what labgrid's step log (and any reporter on it) is given: never the code
    def listen(event):
        told.append(f"{event} {event.step.args!r} {event.data!r}")

    steps.subscribe(listen)
    try:
        result = rig_driver.run("enter-code", code="2580")
    finally:
        steps.unsubscribe(listen)
    assert result["outcome"] == "passed" and result["exit_code"] == 0, result
    assert told and "enter-code" in " ".join(told) and "2580" not in " ".join(told)
    files = rig_driver.fetch_artifacts(result["run_id"], tmp_path / "artifacts")
    assert [f.suffix for f in files] == [".jsonl", ".svg", ".xml"] and all(f.stat().st_size for f in files)
    assert "2580" not in files[0].read_text()
    assert rig_driver.status()["place"]["place"] == "bench-01"
    assert rig_driver.stop() == {}  # nothing runs: a teardown may call it anyway
    target.deactivate_all_drivers()


def test_pytest_with_rig_place_runs_rig_run_on_the_places_bench_and_never_a_sim_only_test(rig_lab, tmp_path):
    bench = rig_lab.add_sim_bench("bench-01", "vw-safe", code="1234", serial="VW1")
    env = rig_lab.env("ci-py")
    acquire(env, "bench-01")
    (tmp_path / "mine.yaml").write_text(  # the CI repository's own procedure, not on the bench
        "name: mine\nneeds: [unit]\nsteps:\n  - power: {acc: on}\n  - press: {keys: mode, hold: 0.2}\n")
    (tmp_path / "test_hil.py").write_text(  # the sim-only tests first: run, each would spend one of the
        "import pytest\n"                   # locked real unit's attempts before the unlock
        "@pytest.mark.rig_unit('vw-safe', code='5173')\n"   # the README's sim-only tests: a wrong code each
        "def test_a_wrong_code_on_a_unit_of_its_own(rig_run):\n"
        "    rig_run('enter-code', profile='vw-safe', unit='VW1', code='6284')\n"
        "def test_a_wrong_code_on_a_sim_unit(rig_sim_unit, rig_run):\n"
        "    rig_sim_unit('vw-safe', code='5173')\n"
        "    rig_run('enter-code', profile='vw-safe', unit='VW1', code='6284')\n"
        "def test_unlock(rig_run):\n"
        "    r = rig_run('enter-code', code='1234', junit='unlock.xml')\n"
        "    assert r.outcome == 'passed', r.message\n"
        "def test_my_procedure(rig_run):\n"
        "    r = rig_run('mine.yaml')\n"
        "    assert r.outcome == 'passed', r.message\n")

    def attempts():
        return [a["outcome"] for a in bench_get(bench, rig_lab.token, "/api/units/VW1")["attempts"]]

    before = attempts()
    # only rig's plugins in the child (labgrid's, xdist's and hypothesis's cost a second of start-up each)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    plugins = ["-p", "no:cacheprovider", "-p", "rig.pytest_plugin", "-p", "rig.pytest_plugin_lab"]
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", *plugins, "--rig-place", "bench-01",
                        "--rig-artifacts", str(tmp_path / "art"), "--junitxml", str(tmp_path / "j.xml"),
                        str(tmp_path / "test_hil.py")], env=env, capture_output=True, text=True, timeout=120,
                       cwd=tmp_path)
    assert attempts() == before + ["accepted"]  # the unlock's one; the sim-only tests spent none of the real unit's
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed, 2 skipped" in r.stdout and r.stdout.count("runs on a lab bench's real unit") == 2, r.stdout
    junit = (tmp_path / "j.xml").read_text()
    for name, value in (("rig_place", "bench-01"), ("rig_unit", "VW1"), ("rig_procedure", "enter-code"),
                        ("rig_backend", "sim"), ("rig_outcome", "passed"), ("rig_attempts_used", "1")):
        assert f'name="{name}" value="{value}"' in junit, (name, junit)
    for name in ("rig_profile", "rig_wiring_hash", "rig_version", "rig_log"):
        assert f'name="{name}"' in junit
    assert 'name="outcome" value="passed"' in (tmp_path / "unlock.xml").read_text()
    kept = sorted(p.name for p in (tmp_path / "art").rglob("run-*"))
    assert any(n.endswith("-enter-code.jsonl") for n in kept) and any(n.endswith("-enter-code.svg") for n in kept)
    assert any(p.name == "properties.json" for p in (tmp_path / "art").rglob("*.json"))
    # without the place acquired, the session says so plainly instead of running on a bench it does not hold
    assert "released bench-01" in rig(env, "lab", "release", "--place", "bench-01").stdout
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", *plugins, "--rig-place", "bench-01",
                        str(tmp_path / "test_hil.py")], env=env, capture_output=True, text=True, timeout=120,
                       cwd=tmp_path)
    assert r.returncode == 1 and "not acquired" in r.stdout, r.stdout


def test_the_shipped_places_file_reads_and_a_bad_one_names_file_and_line(tmp_path):
    from rig.errors import ConfigError
    from rig.lab.admin import read_places_file

    root = Path(__file__).resolve().parents[1]
    places = read_places_file(root / "docs" / "lab" / "places.yaml")
    assert [p["name"] for p in places] == ["bench-01", "bench-02"]
    assert places[0]["match"] == ["pi-01/bench-01/RigBench"] and places[0]["tags"] == {"shop": "north"}

    bad = tmp_path / "places.yaml"
    bad.write_text("places:\n  bench-01:\n    match: pi-01\n    colour: red\n")
    with pytest.raises(ConfigError) as e:
        read_places_file(bad)
    text = "\n".join(str(p) for p in e.value.problems)
    assert f"{bad}:3" in text and "match is EXPORTER/GROUP/CLASS" in text
    assert f"{bad}:4" in text and "unknown field 'colour'" in text


def test_a_procedure_file_sent_to_the_bench_is_checked_there_and_the_error_names_the_users_file(tmp_path):
    from rig.errors import ConfigError
    from rig.serve.follow import follow_run, procedure_fields

    bad = tmp_path / "mine.yaml"
    bad.write_text("name: mine\nsteps:\n  - power: {acc: maybe}\n")
    fields = procedure_fields(str(bad))
    assert fields["procedure_file"] == {"name": "mine.yaml", "text": bad.read_text()}
    assert procedure_fields("enter-code") == {"procedure": "enter-code"}

    class Bench:  # what a bench's server answers to a file it checked
        url = "http://bench"

        def stream(self, timeout):
            yield "state", {}

        def post(self, path, body):
            raise ConfigError("/var/lib/rig/runs/procedures/0123456789ab/mine.yaml:3: error: power: acc: 'maybe' ...")

    with pytest.raises(ConfigError) as e:
        follow_run(Bench(), dict(fields, code="1234"))
    assert str(e.value).startswith("mine.yaml:3: error: power")


def test_no_coordinator_is_one_clear_line_and_exit_2(tmp_path):
    import os

    env = dict(os.environ, LG_COORDINATOR="127.0.0.1:9", XDG_DATA_HOME=str(tmp_path))
    r = rig(env, "lab", "status")
    assert r.returncode == 2
    assert r.stderr.strip() == ("rig: error: no labgrid coordinator answers at 127.0.0.1:9 (Could not connect to "
                                "coordinator); set LG_COORDINATOR=HOST:PORT")


def test_rig_lab_apply_makes_the_places_once_and_then_changes_only_what_differs(rig_lab, tmp_path):
    env = rig_lab.env("admin")
    places = tmp_path / "places.yaml"
    places.write_text("places:\n  bench-09:\n    match: pi-09/bench-09/RigBench\n    tags: {shop: north}\n"
                      "    comment: far bench\n")
    r = rig(env, "lab", "apply", str(places))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "bench-09: created, match pi-09/bench-09/RigBench, tags shop=north, comment"
    assert rig(env, "lab", "apply", str(places)).stdout.strip() == "bench-09: as it should be"
    places.write_text(places.read_text().replace("north", "south"))
    assert rig(env, "lab", "apply", str(places)).stdout.strip() == "bench-09: tags shop=south"
    shown = lg(env, "-p", "bench-09", "show").stdout
    assert "shop=south" in shown and "pi-09/bench-09/RigBench" in shown and "far bench" in shown


def _hosts_test_runs() -> bool:
    from tests.test_lab_hosts import _why_not

    return _why_not() is None


# ~20 s saved where tests/test_lab_hosts.py runs: the same restarts, across hosts, through the isolated SSH path
@pytest.mark.skipif(_hosts_test_runs(), reason="tests/test_lab_hosts.py covers these restarts across real hosts here")
def test_a_lockout_wait_goes_on_through_an_exporter_crash_and_a_coordinator_restart(rig_lab):
    # a unit in its first lockout (vw-safe: one hour), simulated 300x faster than the wall clock: 12 s
    bench = rig_lab.add_sim_bench("bench-01", "vw-safe", code="1234", serial="VW9", state="lockout", speed=300)
    job = rig_lab.env("ci-a")
    r = rig(job, "lab", "reserve", "family=vw-safe")  # waits for a free bench and acquires it
    assert r.returncode == 0 and r.stdout.strip() == "bench-01", r.stderr
    run = subprocess.Popen([sys.executable, "-m", "rig", "--place", "+", "run", "lockout-wait"], env=job,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def state():
        return bench_get(bench, rig_lab.token, "/api/state")

    def served():
        return ((state().get("job") or {}).get("progress") or {}).get("served", 0)

    deadline = time.monotonic() + 20
    while not served() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert served() and run.poll() is None, run.communicate()[1] if run.poll() is not None else "no wait"

    # the exporter crashes and systemd starts it again: nobody else ever holds the bench
    run_id = state()["job"]["run_id"]
    rig_lab.restart_exporter("bench-01", kill=True)
    s = state()
    assert s["place"]["place"] == "bench-01" and s["place"]["user"] == "localhost/ci-a" and not s["place"]["lost"]
    assert s["job"]["run_id"] == run_id

    # the coordinator restarts: labgrid forgets the lock; the bench keeps the wait while the job's own
    # `rig --place` acquires the place again (as localhost/ci-a) once the exporter is back
    rig_lab.stop_coordinator()
    rig_lab.start_coordinator()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with_lab = rig(rig_lab.env("admin"), "lab", "status", "--json")
        rows = [json.loads(line) for line in with_lab.stdout.splitlines()] if with_lab.returncode == 0 else []
        if rows and rows[0]["acquired"] == "localhost/ci-a" and not (state()["place"] or {}).get("lost"):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the place was not acquired again: {with_lab.stdout} {with_lab.stderr} {state()['place']}")
    out, errs = run.communicate(timeout=60)
    assert run.returncode == 0 and "PASSED" in errs, errs
    assert state()["last"]["run_id"] == run_id
    log = Path(errs.split("log: ")[1].split()[0]).read_text()  # the loss and the return happened mid-wait
    assert "labgrid lost place bench-01" in log and "holds the bench for localhost/ci-a" in log
    assert "let go of the bench" not in log and "interrupted" not in log
    r = rig(job, "lab", "release")
    assert r.returncode == 0 and "released bench-01" in r.stdout, r.stdout + r.stderr
