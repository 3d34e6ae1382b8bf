"""Fault campaign, the server and its client: signals to `rig run` following a job on `rig serve`,
and to `rig serve` under a job a client follows.

Each trial has a sandbox of its own with a `rig serve --backend sim` on a paced simulated
unit (honda, registered, a wrong code in RIG_CODE so every finished job spends an attempt) and
the client found through the sandbox's discovery file, as on the bench's own machine.

  client trials  `rig run enter-code` in a forked child traced as tools/fault_campaign.py traces
                 a command: SIGINT or SIGTERM at a random one of rig's own lines (and, for some, a
                 second signal later), handled where CPython next checks for one
  server trials  SIGTERM, SIGINT or SIGKILL to `rig serve` at a random moment of the client's job

A trial is judged on:
  traceback  "Traceback" on the client's stderr, or on the server's (but after SIGKILL)
  ending     not exactly one line saying how the client ended
  exit       the client's code: 130 after a signal to it; after a signal to the server, the
             job's own (1: the wrong code) or 130, never 2 or 3; undisturbed, the job's own
  record     a run without an outcome in the ledger once a server that was stopped (not killed)
             has ended
  count      the simulated unit was given more codes than the ledger counted
  hang       the client or the server did not end within the timeout

    python tools/fault_campaign_serve.py --client-trials 60 --server-trials 60
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fault_campaign as fc  # noqa: E402

WRONG = "12345"
ENDS = re.compile(r"^(PASSED|FAILED|ERROR|REFUSED|INTERRUPTED): |^(rig: )?error|^interrupted \(", re.M)
fc.JOBS["run-served"] = (["run", "enter-code", "--unit", "H1"],
                         {"RIG_CODE": WRONG, "XDG_RUNTIME_DIR": "{sandbox}/run", "XDG_CONFIG_HOME": "{sandbox}/cfg"})


def sandbox_env(sandbox: Path) -> dict:
    return dict(os.environ, XDG_RUNTIME_DIR=str(sandbox / "run"), XDG_CONFIG_HOME=str(sandbox / "cfg"),
                XDG_DATA_HOME=str(sandbox / "data"), RIG_LEDGER=str(sandbox / "ledger.sqlite"),
                RIG_LOG_DIR=str(sandbox / "runs"), RIG_SIM_STATE=str(sandbox / "unit.json"),
                RIG_LOCK=str(sandbox / "bench.lock"), RIG_BACKEND="sim", COLUMNS="200")


def start_server(sandbox: Path, speed: float) -> subprocess.Popen:
    """The sandbox's bench: a fresh simulated honda, registered, and `rig serve` holding it."""
    from rig.records.ledger import Ledger
    from rig.sim.backend import reset_unit
    from rig.unit.profiles import load_profiles

    env = sandbox_env(sandbox)
    reset_unit(sandbox / "unit.json", "honda", "61524", state="locked")
    ledger = Ledger(sandbox / "ledger.sqlite")  # `rig units add H1 --profile honda`, without a process of its own
    try:
        ledger.register("H1", load_profiles()["honda"], who="fault campaign", why="rig units add", new=True)
    finally:
        ledger.close()
    err = open(sandbox / "server.stderr", "w")
    server = subprocess.Popen([sys.executable, "-m", "rig", "serve", "--port", "0", "--speed", str(speed)], env=env,
                              stderr=err, stdout=subprocess.DEVNULL)
    err.close()
    disc = sandbox / "run" / "rig" / "server.json"
    end = time.monotonic() + 30
    while not disc.exists():
        if server.poll() is not None or time.monotonic() > end:
            raise SystemExit(f"rig serve did not start: {(sandbox / 'server.stderr').read_text()}")
        time.sleep(0.01)
    return server


def stop_server(server: subprocess.Popen, timeout: float) -> int | None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
    try:
        return server.wait(timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
        return None


def judge(sandbox: Path, client_rc, client_err: str, expect: set, server_rc, server_killed: bool,
          delivered: bool = True) -> dict:
    faults = []
    if client_rc is None or server_rc is None:
        faults.append("hang")
    if "Traceback" in client_err:
        faults.append("traceback: client")
    server_err = (sandbox / "server.stderr").read_text(errors="replace")
    if not server_killed and "Traceback" in server_err:
        faults.append("traceback: server")
    ends = [m.group(0) for m in ENDS.finditer(client_err)]
    if len(ends) != 1:
        faults.append(f"ending: {len(ends)} lines say how it ended")
    if client_rc is not None and client_rc not in expect:
        faults.append(f"exit {client_rc} (expected {sorted(expect)})")
    db = sqlite3.connect(sandbox / "ledger.sqlite")
    try:
        open_runs = db.execute("SELECT COUNT(*) FROM runs WHERE outcome IS NULL").fetchone()[0]
        counted = db.execute("SELECT COUNT(*) FROM attempts WHERE outcome != 'cleared'").fetchone()[0]
    finally:
        db.close()
    if open_runs and not server_killed:
        faults.append("record: run without an outcome")
    given = json.loads((sandbox / "unit.json").read_text()).get("wrong_total", 0)
    if given > counted:
        faults.append(f"count: the unit was given {given} code(s), the ledger counted {counted}")
    return {"faults": faults, "rc": client_rc, "delivered": delivered,
            "said": (ends or [""])[0]}


def client_trial(trial: fc.Trial, sandbox: Path, baseline_rc, speed: float, timeout: float) -> dict:
    server = start_server(sandbox, speed)
    try:
        pid = os.fork()
        if pid == 0:
            try:
                fc._child(trial, sandbox)
            finally:
                os._exit(98)
        end, rc = time.monotonic() + timeout, None
        while time.monotonic() < end:
            got, status = os.waitpid(pid, os.WNOHANG)
            if got:
                rc = os.waitstatus_to_exitcode(status)
                break
            time.sleep(0.005)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    finally:
        server_rc = stop_server(server, timeout)
    delivered = (sandbox / "delivered").exists()
    expect = {130} if delivered else {baseline_rc}
    err = (sandbox / "stderr").read_text(errors="replace")
    r = judge(sandbox, rc, err, expect, server_rc, False, delivered)
    if delivered:  # the job's own result may come first (it ended before the stop reached it), then one line
        r["faults"] = [f for f in r["faults"] if not f.startswith("ending")]
        said = err.count("interrupted (") + err.count("INTERRUPTED: ")
        if said != 1:
            r["faults"].append(f"ending: {said} lines say it was interrupted")
    return r


def server_trial(sig: int, delay: float, sandbox: Path, speed: float, timeout: float) -> dict:
    server = start_server(sandbox, speed)
    client = subprocess.Popen([sys.executable, "-m", "rig", "run", "enter-code", "--unit", "H1"],
                              env=dict(sandbox_env(sandbox), RIG_CODE=WRONG), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    if server.poll() is None:
        server.send_signal(sig)
    server_rc = stop_server(server, timeout) if sig != signal.SIGKILL else server.wait()
    try:
        _, err = client.communicate(timeout=timeout)
        rc = client.returncode
    except subprocess.TimeoutExpired:
        client.kill()
        _, err = client.communicate()
        rc = None
    # the job's own end (the wrong code: 1), or interrupted (130); a server gone before the client
    # sent anything: 2, saying it does not answer, with no run in its ledger
    r = judge(sandbox, rc, err, {1, 2, 130}, server_rc, sig == signal.SIGKILL)
    if rc == 2 and ("does not answer" not in err or _runs(sandbox)):
        r["faults"].append("exit 2 (usage error) although the job had been sent")
    return r


def _runs(sandbox: Path) -> int:
    db = sqlite3.connect(sandbox / "ledger.sqlite")
    try:
        return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    finally:
        db.close()


def baseline(root: Path, speed: float, timeout: float) -> tuple[int, int, float]:
    t0 = time.monotonic()
    sandbox = fc.prepare_sandbox(root, 0, "run-served", root / "unit.json")
    r = client_trial(fc.Trial("run-served", "job", 0), sandbox, 1, speed, timeout)
    if r["faults"] or r["rc"] != 1:
        raise SystemExit(f"the undisturbed run is already faulty: {r}")
    lines = int((sandbox / "lines").read_text())
    return r["rc"], lines, time.monotonic() - t0


SERVER_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGKILL)


def campaign(client_trials: int, server_trials: int, seed: int, root: Path, speed: float = 40.0,
             timeout: float = 60.0, double: float = 0.25, progress: bool = False,
             server_signals=SERVER_SIGNALS) -> list[dict]:
    os.environ.pop("RIG_CODE", None)
    from rig.sim.backend import reset_unit

    reset_unit(root / "unit.json", "honda", "61524", state="locked")
    fc._preload()
    rng = random.Random(seed)
    rc, lines, took = baseline(root / "base", speed, timeout)
    results = []
    for i in range(client_trials):
        trial = fc.Trial("run-served", "job", rng.randint(1, lines), rng.choice([signal.SIGINT, signal.SIGTERM]))
        if rng.random() < double:
            trial.second, trial.second_sig = rng.randint(1, 2000), rng.choice([signal.SIGINT, signal.SIGTERM])
        sandbox = fc.prepare_sandbox(root / "client", i, "run-served", root / "unit.json")
        r = client_trial(trial, sandbox, rc, speed, timeout)
        results.append(dict(r, kind="client", at=trial.line, sig=signal.Signals(trial.sig).name,
                            second=trial.second))
        if progress and len(results) % 20 == 0:
            print(f"  {summary(results)}", file=sys.stderr, flush=True)
    for i in range(server_trials):
        sig = rng.choice(list(server_signals))
        delay = rng.uniform(0, took)
        sandbox = root / "server" / f"t{i:05d}"
        sandbox.mkdir(parents=True)
        r = server_trial(sig, delay, sandbox, speed, timeout)
        results.append(dict(r, kind="server", sig=signal.Signals(sig).name, at=round(delay, 3)))
        if progress and len(results) % 20 == 0:
            print(f"  {summary(results)}", file=sys.stderr, flush=True)
    return results


def summary(results: list[dict]) -> str:
    count = {k: 0 for k in ("traceback", "ending", "exit", "record", "count", "hang")}
    for r in results:
        for f in r["faults"]:
            key = f.split(":")[0].split(" ")[0]
            count[key] = count.get(key, 0) + 1
    kinds = {k: sum(r["kind"] == k for r in results) for k in ("client", "server")}
    return (f"{len(results)} trials ({kinds['client']} signals to the client, {kinds['server']} to the server): "
            + ", ".join(f"{v} {k}" for k, v in count.items()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--client-trials", type=int, default=40)
    ap.add_argument("--server-trials", type=int, default=40)
    ap.add_argument("--server-signals", default="TERM,INT,KILL", help="which signals the server gets")
    ap.add_argument("--speed", type=float, default=40.0, help="the paced simulated unit's speed")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--keep", help="keep the sandboxes in this directory")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every faulty trial")
    args = ap.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="rig-faults-serve-"))
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        sigs = [getattr(signal, "SIG" + name.strip().upper()) for name in args.server_signals.split(",")]
        results = campaign(args.client_trials, args.server_trials, args.seed, root, args.speed, args.timeout,
                           progress=True, server_signals=sigs)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    bad = [r for r in results if r["faults"]]
    if args.verbose:
        for r in bad:
            print(r)
    print(summary(results) + f"  [{time.monotonic() - t0:.0f} s]")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
