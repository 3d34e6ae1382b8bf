"""Several hosts, proven here: the README's lab, set up on hosts of their own, and its CI job run as written.

A lab on loopback cannot show what several hosts need (a bench bound to 127.0.0.1 refuses
a runner on another host; an isolated exporter's SSH forward must reach the bench). So
this test, as root, builds network namespaces joined by veth pairs and bridges: a lab
network (the coordinator, bench A, a CI runner) and a site network behind the coordinator
(bench B, reachable only through it, as a bench behind NAT is). Each bench serves HTTPS
with a certificate from a lab CA; bench B's exporter runs ``--isolated``, so clients reach
it through an SSH forward by a real sshd in the coordinator's namespace. The services run
as the repository's systemd units say (their ExecStart lines, with this machine's paths);
the runner runs the README's CI job text exactly as written (read out of README.md, as
``.ci/run`` reads the quick start), twice, while a lockout wait on bench B goes on through
an exporter crash and a coordinator restart, and the nightly sweep runs as its unit says.

Names carry this process's pid, so concurrent suites never collide; everything made here
(namespaces, links, /etc/netns entries, processes) is removed however the test ends. All
traffic stays inside the namespaces made here. Skipped, saying why, where not root or
where ``ip netns`` is unavailable. Cost: ~27 s of wall time on one worker at a load of 6 on
2 cores (~17 s of CPU), mostly ~30 processes' own start-up (labgrid's import alone is ~0.6 s
of CPU each); the services start at once, the README's jobs run during the 12 s lockout
wait, not after it, and the coordinator crashes (SIGKILL) rather than taking 5 s over a
SIGTERM. It is one test, so xdist never builds the lab twice.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.tlsfiles import lab_ca

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TAG = str(os.getpid() % 100000)
LAB, SITE = "10.77.1.", "10.77.2."   # inside the namespaces made here only
SPEED = 150   # bench B's simulated clock: its unit's 30-minute lockout takes 12 s, long enough for both restarts
HOSTS = {  # namespace role -> {interface: address}
    "coord": {"lab": LAB + "1", "site": SITE + "1"},
    "pia": {"lab": LAB + "11"},
    "pib": {"site": SITE + "12"},
    "runner": {"lab": LAB + "100"},
}
NAMES = {  # what each host resolves (its /etc/hosts inside the namespace)
    "coord": {"coord.lab": LAB + "1", "pi-a.lab": LAB + "11", "pi-b.lab": SITE + "12"},
    "pia": {"coord.lab": LAB + "1", "pi-a.lab": LAB + "11"},
    "pib": {"coord.lab": SITE + "1", "pi-b.lab": SITE + "12"},
    "runner": {"coord.lab": LAB + "1", "pi-a.lab": LAB + "11"},   # no route to pi-b: it is behind coord
}


def _why_not() -> str | None:
    if importlib.util.find_spec("labgrid") is None:
        return "needs labgrid (pip install '.[test]')"
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root: it makes network namespaces (ip netns) to stand in for the lab's hosts"
    for tool in ("ip", "openssl", "jq"):
        if shutil.which(tool) is None:
            return f"needs `{tool}`"
    for tool in ("/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen"):  # the isolated bench's SSH forward
        if not os.access(tool, os.X_OK):
            return f"needs {tool} (Debian's openssh-server and openssh-client): the isolated bench is reached through it"
    probe = f"rlprobe{TAG}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode:
        return f"`ip netns` is not available here: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def sh(*argv, ns=None, check=True, **kw):
    full = (["ip", "netns", "exec", ns] if ns else []) + [str(a) for a in argv]
    r = subprocess.run(full, capture_output=True, text=True, **kw)
    if check and r.returncode:
        raise AssertionError(f"{' '.join(full)}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


class Hosts:
    """The namespaces, their links and names; :meth:`close` removes all of it."""

    def __init__(self):
        self.ns = {role: f"rl{role}{TAG}" for role in (*HOSTS, "hub")}
        self.made: list[str] = []
        self.etc: list[Path] = []

    def build(self):
        for name in self.ns.values():
            sh("ip", "netns", "add", name)
            self.made.append(name)
            sh("ip", "link", "set", "lo", "up", ns=name)
        hub = self.ns["hub"]
        for net in ("lab", "site"):
            sh("ip", "link", "add", f"br{net}", "type", "bridge", ns=hub)
            sh("ip", "link", "set", f"br{net}", "up", ns=hub)
        me = socket.gethostname()
        for i, (role, links) in enumerate(HOSTS.items()):
            for net, addr in links.items():
                outer, inner = f"rv{i}{net[0]}{TAG}", f"rp{i}{net[0]}{TAG}"
                sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
                sh("ip", "link", "set", outer, "netns", hub)
                sh("ip", "link", "set", inner, "netns", self.ns[role])
                sh("ip", "link", "set", outer, "master", f"br{net}", "up", ns=hub)
                sh("ip", "link", "set", inner, "name", net, ns=self.ns[role])
                sh("ip", "addr", "add", f"{addr}/24", "dev", net, ns=self.ns[role])
                sh("ip", "link", "set", net, "up", ns=self.ns[role])
            # names: the lab's, and this machine's own name as each host's (getfqdn must not ask DNS)
            folder = Path("/etc/netns") / self.ns[role]
            folder.mkdir(parents=True, exist_ok=True)
            self.etc.append(folder)
            own = next(iter(links.values()))
            lines = ["127.0.0.1 localhost", f"{own} {me}"] + [f"{a} {n}" for n, a in NAMES[role].items()]
            (folder / "hosts").write_text("\n".join(lines) + "\n")

    def close(self):
        for name in self.made:  # whatever still runs in them goes first
            pids = sh("ip", "netns", "pids", name, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for name in reversed(self.made):
            sh("ip", "netns", "del", name, check=False)
        for folder in self.etc:
            shutil.rmtree(folder, ignore_errors=True)


class Service:
    """A long-running process in a namespace, restarted when it exits (systemd's Restart=always)."""

    def __init__(self, name, ns, argv, env, cwd, log, restart=False):
        from rig.lab.local import _Proc

        self.proc = _Proc(name, ["ip", "netns", "exec", ns, *map(str, argv)], env, cwd, log, restart)

    def __getattr__(self, name):
        return getattr(self.proc, name)


def exec_start(unit: str, subs: dict) -> list[str]:
    """A systemd unit's ExecStart, with this machine's paths for the Pi's."""
    line = next(l for l in (ROOT / "systemd" / unit).read_text().splitlines() if l.startswith("ExecStart="))
    for old, new in subs.items():
        line = line.replace(old, new)
    return line.split("=", 1)[1].split()


def readme_ci_job() -> dict:
    """The README's CI job, as a CI maintainer copies it (the YAML block after the lab-ci-job marker)."""
    text = (ROOT / "README.md").read_text()
    after = text[text.index("<!-- lab-ci-job"):]
    block = re.search(r"```yaml\n(.*?)```", after, re.S).group(1)
    (job,) = yaml.safe_load(block).values()
    return job


def readme_token_lines() -> list[list[str]]:
    """README setting-up step 2's `rig serve token new` lines, as an admin copies them."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n\s*(rig serve token new .*?)```", text, re.S).group(1)  # indented: in a list
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


def readme_bench_serve() -> list[str]:
    """README setting-up step 3's `rig serve` (its rig-serve.service ExecStart=), as an admin copies it."""
    text = " ".join((ROOT / "README.md").read_text().split())
    return re.search(r"`ExecStart=\.\.\. rig (serve --lab [^`]*)`", text).group(1).split()


def job_script(job: dict) -> str:
    """The job as GitLab's shell executor runs it: variables exported, the script under `set -eo pipefail`."""
    lines = ["set -eo pipefail"] + [f"export {k}={v}" for k, v in job["variables"].items()] + job["script"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    why = _why_not()
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("hosts")
    hosts = Hosts()
    services: list[Service] = []
    try:
        hosts.build()
        yield _set_up(tmp, hosts, services)
    finally:
        for s in services:
            s.ask_to_stop()
        for s in services:
            s.wait_stopped(10)
        hosts.close()


class Lab:
    pass


def _set_up(tmp: Path, hosts: Hosts, services: list) -> Lab:
    from tests.rigcli import rig_in_process

    lab = Lab()
    lab.tmp, lab.hosts, lab.services = tmp, hosts, services
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LG_", "RIG_"))}
    base.update(PYTHONUNBUFFERED="1", PATH=f"{BIN}:{os.environ['PATH']}")

    # the lab CA and one certificate per bench, as the README's openssl lines make them
    ca = lab_ca(tmp / "ca")
    lab.ca = str(ca.crt)
    certs = {b: ca.bench(f"pi-{b}.lab", f"pi-{b}.lab", "127.0.0.1") for b in ("a", "b")}

    # the tokens, as README step 2's lines make them: the runner's is bound to this runner's labgrid host
    tokens = tmp / "lab-tokens.json"
    made = {}
    for args in readme_token_lines():  # this runner's host for the README's runner-07
        args = [a.replace("runner-07", socket.gethostname()) for a in args]
        r = rig_in_process([str(tokens) if a == "lab-tokens.json" else a for a in args[1:]], base)
        assert r.returncode == 0, r.stderr
        made[args[args.index("--name") + 1]] = r.stdout.strip().splitlines()[-1]
    lab.tokens = dict(made, runner=made[socket.gethostname()])

    # Every service starts at once and is waited for afterwards (each is ~1 s of Python and labgrid
    # start-up): the coordinator as systemd/labgrid-coordinator.service runs it (on every address of
    # its host), the sshd, and each bench's rig serve as README step 3 says
    (tmp / "coord").mkdir()
    argv = exec_start("labgrid-coordinator.service", {"/opt/labgrid-venv/bin/": f"{BIN}/",
                                                       "10.0.0.2:20408": "0.0.0.0:20408"})
    lab.coord_argv = argv
    lab.coordinator = _service(lab, "coordinator", "coord", argv, base, tmp / "coord")
    _sshd(lab, base)
    lab.benches = {}
    for b, profile, serial, state, extra in (("a", "vw-safe", "VW1", "locked", []),
                                            ("b", "ford", "F1", "lockout", ["--speed", str(SPEED)])):
        home = tmp / f"pi-{b}"
        home.mkdir()
        from rig.sim.backend import reset_unit

        reset_unit(home / "unit.json", profile, "1234", state=state, serial=serial, ideal=True,
                   attempts=3 if state == "lockout" else 0)
        env = dict(base, XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"),
                   XDG_RUNTIME_DIR=str(home / "run"), RIG_LOG_DIR=str(home / "runs"), RIG_CA=lab.ca)
        shutil.copy(tokens, home / "lab-tokens.json")
        os.chmod(home / "lab-tokens.json", 0o600)
        cert, key = certs[b]
        step3 = {"SERIAL": serial, "ID": profile, "/etc/rig/lab-tokens.json": str(home / "lab-tokens.json"),
                 "pi-07.lab": f"pi-{b}.lab", "/etc/rig/pi-07.crt": str(cert), "/etc/rig/pi-07.key": str(key)}
        serve = [f"{BIN}/rig", "--backend", "sim", "--sim-state", home / "unit.json",
                 *[step3.get(a, a) for a in readme_bench_serve()], *extra]
        if state == "lockout":  # it arrived in its lockout: the admin says so first (README: rig units add)
            r = rig_in_process(["units", "add", serial, "--profile", profile, "--attempts-used", "3"], env)
            assert r.returncode == 0, r.stderr
        srv = _service(lab, f"serve-{b}", f"pi{b}", serve, env, home)
        lab.benches[b] = {"home": home, "serve": srv, "serial": serial, "env": env}
    lab.coordinator.wait_for(r"listening on")
    lab.sshd.wait_for(r"Server listening on")
    # then each bench's rig-lg-exporter, as its unit file says
    for b, bench in lab.benches.items():
        home = bench["home"]
        bench["serve"].wait_for(r"page at https://")
        (home / "exporter.token").write_text(made["exporters"])
        os.chmod(home / "exporter.token", 0o600)
        exporter_yaml = (ROOT / "docs/lab/exporter.yaml").read_text().replace("bench-01", f"bench-{b}") \
            .replace("pi-01.lab", f"pi-{b}.lab").replace("/etc/rig/lab-ca.crt", lab.ca).replace("/etc/rig/", f"{home}/")
        (home / "exporter.yaml").write_text(exporter_yaml)
        argv = exec_start("rig-lg-exporter.service", {"/home/rig/rig-venv/bin/": f"{BIN}/", "pi-01": f"pi-{b}",
                                                      "/etc/rig/": f"{home}/"})
        if b == "b":
            argv.insert(1, "--isolated")  # README step 6: a bench behind the coordinator, reached over SSH
        bench["exporter"] = _service(lab, f"exporter-{b}", f"pi{b}", argv, bench["env"], home, restart=True)
    for bench in lab.benches.values():
        bench["exporter"].wait_for(r"connected to coordinator")

    # the places, as README step 4 says (docs/lab/places.yaml, edited), from the coordinator's host
    places = (ROOT / "docs/lab/places.yaml").read_text().replace("bench-01", "bench-a").replace("pi-01", "pi-a") \
        .replace("bench-02", "bench-b").replace("pi-02", "pi-b")
    (tmp / "places.yaml").write_text(places)
    lab.admin_env = dict(base, LG_COORDINATOR="coord.lab:20408", LG_USERNAME="admin", RIG_TOKEN=made["sweep"],
                         RIG_CA=lab.ca, XDG_DATA_HOME=str(tmp / "admin"))
    r = sh(f"{BIN}/rig", "lab", "apply", tmp / "places.yaml", ns=hosts.ns["coord"], env=lab.admin_env)
    deadline = time.monotonic() + 30
    while "family=ford" not in r.stdout + _tags(lab) and time.monotonic() < deadline:
        r = sh(f"{BIN}/rig", "lab", "sync-tags", ns=hosts.ns["coord"], env=lab.admin_env)
    assert "family=vw-safe" in _tags(lab) and "family=ford" in _tags(lab), _tags(lab)
    return lab


def _service(lab, name, role, argv, env, cwd, restart=False) -> Service:
    s = Service(name, lab.hosts.ns[role], argv, env, cwd, lab.tmp / f"{name}.log", restart)
    lab.services.append(s)
    return s


def _tags(lab) -> str:
    """Every place's tags, as the coordinator has them ("family=ford ..."), asked on its own host."""
    ask = ("from rig.lab.places import Lab\nwith Lab() as lab:\n    for p in lab.places():\n"
           "        print(p.place, ' '.join(f'{k}={v}' for k, v in sorted(p.tags.items())))")
    return sh(sys.executable, "-c", ask, ns=lab.hosts.ns["coord"], env=lab.admin_env, check=False).stdout


def _sshd(lab, env):
    """A real sshd in the coordinator's namespace (Debian's openssh-server), for the isolated bench."""
    d = lab.tmp / "ssh"
    d.mkdir()
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d / "host_key")
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d / "client_key")
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    os.chmod(d / "authorized_keys", 0o600)
    (d / "sshd_config").write_text(
        f"ListenAddress {LAB}1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nStrictModes no\nAllowTcpForwarding yes\n")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory (Debian)
    lab.sshd = _service(lab, "sshd", "coord", ["/usr/sbin/sshd", "-D", "-e", "-f", d / "sshd_config"], env, d)
    # the runner's ssh: every host it is sent to (labgrid's proxy names) is the coordinator, which it knows
    (d / "known_hosts").write_text("labhub " + (d / "host_key.pub").read_text())
    (d / "ssh_config").write_text(
        f"Host *\n  HostName {LAB}1\n  HostKeyAlias labhub\n  User root\n  IdentityFile {d}/client_key\n"
        f"  IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n  GlobalKnownHostsFile /dev/null\n")
    shim = lab.tmp / "runner-bin"
    shim.mkdir()
    (shim / "ssh").write_text(f"#!/bin/sh\nexec /usr/bin/ssh -F {d}/ssh_config \"$@\"\n")
    # the runner installed rig already (this checkout, in this venv): the job's own `pip install` is that
    (shim / "pip").write_text(f"#!/bin/sh\n[ \"$1 $2\" = \"install {ROOT}[lab]\" ] && exit 0\n"
                              "echo \"pip shim: unexpected $*\" >&2; exit 1\n")
    for f in ("ssh", "pip"):
        os.chmod(shim / f, 0o755)
    lab.shim = shim


def runner_env(lab, job_id: int) -> dict:
    """A CI runner's environment: its token and the lab CA in its own configuration, the project's
    masked variable per unit, GitLab's CI_JOB_ID."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LG_", "RIG_", "XDG_"))}
    env.update(PATH=f"{lab.shim}:{BIN}:/usr/bin:/bin", HOME=str(lab.tmp / "runner-home"), PYTHONUNBUFFERED="1",
               CI_JOB_ID=str(job_id), RIG_CHECKOUT=str(ROOT), RIG_TOKEN=lab.tokens["runner"], RIG_CA=lab.ca,
               CODE_VW1="1234", CODE_F1="1234")
    return env


def run_job(lab, script: str, job_id: int, timeout=120, wait=True):
    work = lab.tmp / f"job-{job_id}"  # a fresh checkout per job
    work.mkdir()
    (work / "job.sh").write_text(script)
    p = subprocess.Popen(["ip", "netns", "exec", lab.hosts.ns["runner"], "bash", str(work / "job.sh")], cwd=work,
                         env=runner_env(lab, job_id), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait:
        return p, work
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err, work


def readme_job_green(lab, rc, out, err, work) -> None:
    """The README's CI job passed: its JUnit, its runs' records copied back, no code, the bench let go."""
    assert rc == 0, f"{work.name}:\n{out}\n{err}"
    assert "acquired bench-a as" in err and "PASSED" in err, err
    assert 'name="outcome" value="passed"' in (work / "report.xml").read_text()
    kept = sorted(p.name for p in (work / "rig-runs").rglob("run-*"))
    assert any(n.endswith("-enter-code.jsonl") for n in kept), kept
    assert "1234" not in (out + err) and not any("1234" in p.read_text() for p in (work / "rig-runs").rglob("*.jsonl"))
    assert "released bench-a" in out + err  # the trap let the bench go


def sweep_service(lab) -> subprocess.Popen:
    """systemd/rig-lab-sweep.service on the coordinator's host: its Environment= and ExecStart=, and
    docs/lab/sweep.env as its EnvironmentFile (the sweep's token pasted in, this lab's CA file)."""
    unit = (ROOT / "systemd" / "rig-lab-sweep.service").read_text().splitlines()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LG_", "RIG_", "XDG_"))}
    env.update(PATH=f"{lab.shim}:{BIN}:/usr/bin:/bin", HOME=str(lab.tmp / "coord"), PYTHONUNBUFFERED="1")
    for line in unit:
        if line.startswith("Environment="):
            env.update(kv.split("=", 1) for kv in line.split("=", 1)[1].split())
    env["LG_COORDINATOR"] = "coord.lab:20408"  # this lab's coordinator address for the unit's 10.0.0.2
    sweep_env = (ROOT / "docs/lab/sweep.env").read_text().replace("paste-the-sweep-token-here", lab.tokens["sweep"]) \
        .replace("/etc/rig/", f"{Path(lab.ca).parent}/")
    env.update(line.split("=", 1) for line in sweep_env.splitlines() if line and not line.startswith("#"))
    argv = next(l for l in unit if l.startswith("ExecStart=")).split("=", 1)[1].split()
    argv[0] = f"{BIN}/rig"
    return subprocess.Popen(["ip", "netns", "exec", lab.hosts.ns["coord"], *argv], env=env, cwd=lab.tmp,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_readmes_lab_on_hosts_of_their_own_runs_its_ci_job_green_every_time_and_a_wait_outlives_both_restarts(lab):
    """One lab's afternoon, as its README and unit files set it up (one story, so the README's jobs run
    while the isolated bench sits out its wait):

    - a job sits out a lockout wait on bench B (isolated: behind the coordinator, reached through its
      sshd), while a second job waits for a ford bench in `rig lab reserve`;
    - bench B's exporter crashes and is started again, then the coordinator crashes and is started
      again: the wait goes on (the waiting job reserves again, and leaves bench B to its holder's
      grace), and B goes to the second job once the first lets it go; the nightly sweep, run as its
      unit file and docs/lab/sweep.env say, keeps the place meanwhile;
    - the README's CI job, exactly as written, runs from the runner's host on bench A twice, green
      both times: its first run on the fresh bench before the coordinator's crash, a later run (the
      unit known) after it, while B's wait goes on;
    - afterwards nothing is left held, and every bench answers from the runner's host.
    """
    script = ("set -eo pipefail\nexport LG_COORDINATOR=coord.lab:20408 LG_USERNAME=ci-$CI_JOB_ID RIG_LOG_DIR=rig-runs\n"
              "trap 'rig lab release' EXIT\nrig lab reserve --timeout 5m family=ford\n"
              "rig --place + run lockout-wait --junit report.xml\n")
    waiting, waiting_work = run_job(lab, script, 201, wait=False)
    # the README's CI job, as a CI maintainer copies it, from the runner's host: its first run, on bench A
    ci = job_script(readme_ci_job())
    first_ci = run_job(lab, ci, 101, wait=False)
    bench = lab.benches["b"]

    def log_of_run():
        logs = sorted((bench["home"] / "runs").glob("run-*-lockout-wait.jsonl"))
        return logs[-1].read_text() if logs else ""

    deadline = time.monotonic() + 60
    while '"wait"' not in log_of_run() and time.monotonic() < deadline and waiting.poll() is None:
        time.sleep(0.2)
    assert waiting.poll() is None, waiting.communicate()
    assert '"wait"' in log_of_run(), log_of_run()[-2000:]
    # a second job wants a ford bench too: it waits in `rig lab reserve`, through the restarts below,
    # and never takes bench B while B's bench keeps the first job in its grace
    asks_its_unit = script.replace("run lockout-wait --junit report.xml", "status --json | jq -r .unit.serial")
    second, _ = run_job(lab, asks_its_unit, 301, wait=False)

    # the exporter crashes; systemd starts it again
    exporter = bench["exporter"]
    mark = exporter.since()
    exporter.p.send_signal(signal.SIGKILL)
    exporter.wait_for(r"connected to coordinator", after=mark)

    # the coordinator restarts (its places saved in places.yaml, as it does every 15 s); both exporters
    # come back to it (labgrid's exporter exits when its coordinator goes; systemd starts it again)
    deadline = time.monotonic() + 20
    while "bench-b" not in _read(lab.tmp / "coord" / "places.yaml") and time.monotonic() < deadline:
        time.sleep(0.5)
    readme_job_green(lab, first_ci[0].wait(120), *first_ci[0].communicate(), first_ci[1])  # before the crash
    marks = {b: x["exporter"].since() for b, x in lab.benches.items()}
    lab.coordinator.p.send_signal(signal.SIGKILL)  # a crash (SIGTERM: labgrid's coordinator takes 5 s and more)
    lab.coordinator.wait_stopped(5)
    lab.services.remove(lab.coordinator)
    lab.coordinator = _service(lab, "coordinator-2", "coord", lab.coord_argv, lab.coordinator.env, lab.tmp / "coord")
    lab.coordinator.wait_for(r"listening on")
    for b, x in lab.benches.items():
        x["exporter"].wait_for(r"connected to coordinator", after=marks[b])
    assert waiting.poll() is None, "B's wait ended before both restarts were over: lower SPEED on a machine this slow"

    # once the first job has bench B back, the nightly sweep, as its unit runs it, asks B (through the SSH
    # forward, with the viewer token and the lab CA of docs/lab/sweep.env) and keeps the place
    swept: dict = {}

    def sweep_once_held_again():
        # the holder takes B back within the grace: the bench logs the loss first, or (when the re-acquire
        # reaches the coordinator before the exporter tells the bench) never sees one. Swept until it keeps B.
        end = time.monotonic() + 45
        while time.monotonic() < end:
            log = log_of_run()
            if log.rfind("labgrid lost place") < log.rfind("holds the bench for") or "labgrid lost place" not in log:
                swept["out"], swept["err"] = sweep_service(lab).communicate(timeout=60)
                if "bench-b: kept: held by" in swept["out"]:
                    return
            time.sleep(0.5)

    sweeper = threading.Thread(target=sweep_once_held_again)
    sweeper.start()

    # the README's CI job again, a later run with the unit known, while B's wait goes on
    readme_job_green(lab, *run_job(lab, ci, 102))

    sweeper.join(60)
    assert "bench-b: kept: held by" in swept.get("out", ""), swept or "bench B was never acquired again"
    assert "does not answer" not in swept["out"], swept

    # the wait went on through both restarts, on the bench only the coordinator's sshd reaches
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, f"{out}\n{err}"
    assert "PASSED" in err and 'name="outcome" value="passed"' in (waiting_work / "report.xml").read_text()
    log = log_of_run()
    # taken back after the loss (the bench sees none when the re-acquire reaches labgrid first)
    assert log.rfind("labgrid lost place bench-b") < log.rfind("holds the bench for"), log[-2000:]
    assert "let go of the bench" not in log and "interrupted" not in log
    assert "Accepted publickey for root" in "\n".join(lab.sshd.lines)
    r = sh(sys.executable, "-c", f"import socket; socket.create_connection(('{SITE}12', 8470), 2)",
           ns=lab.hosts.ns["runner"], check=False)
    assert r.returncode != 0 and "unreachable" in r.stderr.lower(), r.stderr
    out, err = second.communicate(timeout=60)  # it got bench B once the first job let it go
    assert second.returncode == 0 and "F1" in out.split(), f"{out}\n{err}"
    assert "acquired bench-b as" in err and "released bench-b" in out + err, err

    # nothing is left held for the next job, and every bench answers from the runner's host
    env = dict(runner_env(lab, 103), LG_COORDINATOR="coord.lab:20408", LG_USERNAME="look")
    r = sh(f"{BIN}/rig", "lab", "status", "--json", ns=lab.hosts.ns["runner"], env=env)
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(row["place"], row["acquired"], row["avail"]) for row in rows] == [
        ("bench-a", None, True), ("bench-b", None, True)], r.stdout
    assert all("error" not in (row["job"] or {}) for row in rows), r.stdout  # bench-b through the SSH forward


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
