"""Fault campaign: signals at chosen lines of the rig, judged by the pins themselves.

Each trial is one `rig` command run in a forked child with its own sandbox (ledger,
run logs, simulated unit, bench lock). A trace function counts the lines the child
executes and, at the Nth, raises SIGINT or SIGTERM in the process itself
(``signal.raise_signal``) at the next point CPython checks for signals (a function
entry, a return from C), where the real handler runs; ``--at-line`` raises it at
the line event itself, which is stricter than any real signal can be. Lines are counted either inside the bench's open and release
(every line they execute, library code included) or anywhere in rig's own code
during a whole job. The mock pins are traced from inside the child (every level
and every claim/release, stamped by the bench's clock) and written out when it
ends, however it ends.

A trial is judged on:
  unsafe     - a rail not in its safe state or a key down when its pin was let go
               (or when the process ended with the pin still driven)
  hang       - the child did not end within the timeout (then SIGKILL)
  log        - the event log's rail and key edges are not exactly what the pins did
  record     - a run left in the ledger without an outcome
  exit       - exit code not 130 after a signal (or not the undisturbed run's code)
  traceback  - "Traceback" on stderr, or not exactly one "interrupted (...)" line

    python tools/fault_campaign.py                   # every line of open/release, + 300 job lines
    python tools/fault_campaign.py --job-trials 2000 --seed 7
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PROC_SOAK = "name: soak\nsteps:\n  - power: {acc: on}\n  - press: {keys: mode, hold: 2s}\n  - press: {keys: [mode, scan], hold: 1s}\n"

# name -> (argv after `rig`, extra environment); the simulated unit is reset per trial
JOBS = {
    "press": (["--backend", "mock", "--events", "{sandbox}/events.jsonl", "press", "mode+scan", "--hold", "2",
               "--acc"], {"RIG_CLOCK": "virtual"}),
    "soak": (["--backend", "mock", "run", "{sandbox}/soak.yaml"], {"RIG_CLOCK": "virtual"}),
    # the real clock: a hold sleeps, then spins out its last moments (end_hold's own window)
    "press-real": (["--backend", "mock", "--events", "{sandbox}/events.jsonl", "press", "preset1+preset2+preset3",
                    "--hold", "300ms", "--times", "2", "--acc"], {}),
    "reproduce-safe": (["--backend", "sim", "run", "reproduce-safe", "--profile", "vw-safe", "--unit", "SIM0000001", "--new-unit"],
                       {}),
    "enter-code": (["--backend", "sim", "run", "enter-code", "--profile", "vw-safe", "--unit", "SIM0000001", "--new-unit"],
                   {"RIG_CODE": "5173"}),
}
BENCH_FUNCS = ("open", "_open_now", "release", "__enter__", "__exit__")
AT_LINE = False  # --at-line: handle the signal at the line event itself (points CPython never checks at, too)


@dataclass
class Trial:
    job: str
    scope: str            # "bench" (lines under Bench.open/release) or "job" (rig's own lines)
    line: int             # raise at this line event; 0: no signal (the undisturbed run)
    sig: int = signal.SIGINT
    second: int = 0       # then a second signal this many of rig's lines later
    second_sig: int = signal.SIGINT  # a second Ctrl-C, or a second SIGTERM (a CI runner that asks twice)
    result: dict = field(default_factory=dict)


# -- the child ------------------------------------------------------------------------
def _child(trial: Trial, sandbox: Path) -> None:
    """Runs in the forked child: set up the sandbox, trace, run `rig`, dump the pins."""
    import atexit

    from gpiozero.pins.mock import MockPin

    import rig.bench.bench
    import rig.cli
    from rig.bench.backends import ClockedMockPin

    # as a process started from a shell prompt begins, whatever this campaign was started under
    # (a background job inherits SIGINT ignored, and Python then leaves it ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    argv, env = JOBS[trial.job]
    os.environ.update({k: v.format(sandbox=sandbox) for k, v in env.items()})
    os.environ.update(XDG_DATA_HOME=str(sandbox / "data"), RIG_LEDGER=str(sandbox / "ledger.sqlite"),
                      RIG_LOG_DIR=str(sandbox / "runs"), RIG_SIM_STATE=str(sandbox / "unit.json"),
                      RIG_LOCK=str(sandbox / "bench.lock"))
    out = os.open(sandbox / "stdout", os.O_WRONLY | os.O_CREAT, 0o600)
    err = os.open(sandbox / "stderr", os.O_WRONLY | os.O_CREAT, 0o600)
    os.dup2(out, 1)
    os.dup2(err, 2)
    sys.argv = ["rig"] + [a.format(sandbox=sandbox) for a in argv]

    pins: list = []  # (t, pin, what, value), in order

    def now(pin):
        clock = getattr(pin.factory, "clock", None)
        return clock.now() if clock is not None else 0.0

    orig_change, orig_function = ClockedMockPin._change_state, MockPin._set_function

    def change_state(self, value):
        changed = orig_change(self, value)
        if changed:
            pins.append((now(self), self.info.name, "level", bool(value)))
        return changed

    def set_function(self, value):
        pins.append((now(self), self.info.name, "function", value))
        orig_function(self, value)
        pins.append((now(self), self.info.name, "level", bool(self._state)))

    ClockedMockPin._change_state, MockPin._set_function = change_state, set_function

    count = [0]
    first: dict = {}  # (file, line) -> the event index at which it first ran

    def dump():
        sys.settrace(None)
        (sandbox / "pins.json").write_text(json.dumps(pins))
        (sandbox / "lines").write_text(str(count[0]))
        if trial.line == 0:
            (sandbox / "first.json").write_text(json.dumps(sorted(first.values())))

    real_exit = os._exit

    def exit_(code):  # rig's own way out (it leaves before the interpreter's finalisation), and ours
        dump()
        real_exit(code)

    os._exit = exit_

    bench_codes = {getattr(rig.bench.bench.Bench, n).__code__ for n in BENCH_FUNCS if hasattr(rig.bench.bench.Bench, n)}
    rig_dir = str(Path(rig.__file__).parent)
    depth = [0]  # bench frames (open/release...) on the stack

    def tracer(frame, event, arg):
        if event == "call":
            if trial.scope == "bench":
                if frame.f_code in bench_codes:
                    depth[0] += 1
                    return tracer
                return tracer if depth[0] else None  # only what open/release run is traced
            return tracer if frame.f_code.co_filename.startswith(rig_dir) else None
        if event == "return":
            if frame.f_code in bench_codes:
                depth[0] -= 1
            return tracer
        if event != "line":
            return tracer
        if trial.scope == "bench" and not depth[0]:
            return tracer
        count[0] += 1
        if trial.line == 0:
            first.setdefault((frame.f_code.co_filename, frame.f_lineno), count[0])
        if count[0] == trial.line:
            sys.settrace(again if trial.second else None)
            if AT_LINE:
                (sandbox / "delivered").write_text(f"{frame.f_code.co_filename}:{frame.f_lineno}")
                signal.raise_signal(trial.sig)
            else:
                sys.setprofile(deliver)
            return again if trial.second else None
        return tracer

    def deliver(frame, event, arg):
        # CPython runs a signal's handler where it checks for one: on entering a function and
        # after a call into C returns. The signal "arrives" during line N and is handled at the
        # next such point, as a real one would be.
        if event in ("call", "c_return"):
            sys.setprofile(None)
            (sandbox / "delivered").write_text(f"{frame.f_code.co_filename}:{frame.f_lineno} ({event})")
            delivered[0] = True
            signal.raise_signal(trial.sig)

    later = [0]
    delivered = [AT_LINE]  # the second signal's lines count from the first one's delivery

    def again(frame, event, arg):  # after the first signal: rig's lines, for the second one
        if event == "call":
            return again if frame.f_code.co_filename.startswith(rig_dir) else None
        if event == "line" and delivered[0]:
            later[0] += 1
            if later[0] == trial.second:
                sys.settrace(None)
                if AT_LINE:
                    signal.raise_signal(trial.second_sig)
                else:  # like the first: handled where CPython next checks for a signal
                    sys.setprofile(deliver_again)
                return None
        return again

    def deliver_again(frame, event, arg):
        if event in ("call", "c_return"):
            sys.setprofile(None)
            (sandbox / "delivered-again").write_text(f"{frame.f_code.co_filename}:{frame.f_lineno} ({event})")
            signal.raise_signal(trial.second_sig)

    code = 99
    try:
        sys.settrace(tracer)
        code = rig.cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.settrace(None)
    atexit._run_exitfuncs()  # what the interpreter does next, signals and all (rig.cli.main did it already)
    os._exit(code)


# -- judging ----------------------------------------------------------------------------
def _wiring():
    from rig.bench.wiring import load_wiring

    return load_wiring()


def judge(trial: Trial, sandbox: Path, rc: int | None, baseline_rc: int | None) -> dict:
    w = _wiring()
    faults: list[str] = []
    delivered = (sandbox / "delivered").exists()
    if rc is None:
        return {"faults": ["hang"], "delivered": delivered, "rc": None}
    if rc == -signal.SIGTERM and not (sandbox / "pins.json").exists() and not (sandbox / "ledger.sqlite").exists():
        # SIGTERM before main()'s first call had set its handler: Python's default kills outright.
        # Nothing was opened or recorded yet; counted apart, as what it is.
        return {"faults": ["early: SIGTERM before the handler was set"], "delivered": delivered, "rc": rc}
    err = (sandbox / "stderr").read_text(errors="replace")
    if "Traceback" in err or "Exception ignored" in err:
        faults.append("traceback")
    expected = 130 if delivered else baseline_rc
    if expected is not None and rc != expected:
        faults.append(f"exit {rc} (expected {expected})")
    if delivered and err.count("interrupted (") + err.count("INTERRUPTED") < 1:
        faults.append("traceback: no interrupted line")
    pins = json.loads((sandbox / "pins.json").read_text()) if (sandbox / "pins.json").exists() else None
    if pins is None:
        faults.append("no pin trace")
    else:
        faults += _check_pins(w, pins, sandbox)
    ledger = sandbox / "ledger.sqlite"
    if ledger.exists():
        db = sqlite3.connect(ledger)
        try:
            open_runs = db.execute("SELECT COUNT(*) FROM runs WHERE outcome IS NULL").fetchone()[0]
        except sqlite3.Error:
            open_runs = 0
        db.close()
        if open_runs:
            faults.append("record: run without an outcome")
    return {"faults": faults, "delivered": delivered, "rc": rc,
            "where": (sandbox / "delivered").read_text() if delivered else ""}


def _outputs(w):
    out = {}
    for r in w.rails.values():
        safe_level = r.energised_for(r.safe_on) == r.active_high
        out[f"GPIO{r.pin}"] = ("rail", r.name, safe_level,
                               lambda level, r=r: "on" if (level == r.active_high) == r.energised_for(True) else "off")
    for k in w.keys.values():
        out[f"GPIO{k.pin}"] = ("key", k.name, not k.active_high,
                               lambda level, k=k: "down" if level == k.active_high else "up")
    return out


def _check_pins(w, pins, sandbox: Path) -> list[str]:
    faults = []
    outputs = _outputs(w)
    state = {}  # pin -> [function, level]
    edges = {name: [] for _, name, _, _ in outputs.values()}
    last_output_level = {}
    for t, pin, what, value in pins:
        if pin not in outputs:
            continue
        s = state.setdefault(pin, ["input", None])
        if what == "function":
            if s[0] == "output" and value == "input":
                last_output_level[pin] = s[1]
            s[0] = value
            continue
        if s[0] == "output" and s[1] is not None and value != s[1]:
            kind, name, _, word = outputs[pin]
            edges[name].append((round(t, 6), word(value)))
        s[1] = value
    for pin, (kind, name, safe_level, _) in outputs.items():
        s = state.get(pin)
        if s is None:
            continue
        level = s[1] if s[0] == "output" else last_output_level.get(pin)
        if level is not None and level != safe_level:
            faults.append(f"unsafe: {kind} {name} left {'driven' if s[0] == 'output' else 'released'} at the "
                          f"unsafe level")
    logged = {name: [] for name in edges}
    spans = []
    logs = list((sandbox / "runs").glob("*.jsonl")) if (sandbox / "runs").exists() else []
    logs += [sandbox / "events.jsonl"] if (sandbox / "events.jsonl").exists() else []
    for path in logs[:1]:
        for line in path.read_text().splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("kind") in ("rail", "key") and e.get("what") in logged:
                logged[e["what"]].append((round(e["t"], 6), e.get("to")))
            elif e.get("kind") == "masked":
                # rounded as the edges are: a span's end is its start plus a rounded duration
                spans.append((round(e["t"], 6), round(e["t"] + e.get("duration", 0), 6)))
    if logs:
        for name in edges:
            # inside a masked span (code entry) no key is logged; at its very edges only what was logged
            pin_edges = [x for x in edges[name] if not any(a < x[0] < b for a, b in spans)
                         and (x in logged[name] or not any(x[0] in (a, b) for a, b in spans))]
            if not _same_edges(pin_edges, logged[name]):
                faults.append(f"log: {name} logged {logged[name][-3:]} but the pin did {pin_edges[-3:]}")
    return faults


def _same_edges(pins, logged, within: float = 0.005) -> bool:
    """The same edges in the same order; on the real clock the log's stamp and the pin trace's
    are two readings of the clock microseconds apart."""
    return len(pins) == len(logged) and all(v1 == v2 and abs(t1 - t2) <= within
                                            for (t1, v1), (t2, v2) in zip(pins, logged))


# -- the campaign -------------------------------------------------------------------------
def prepare_sandbox(root: Path, i: int, job: str, unit: Path) -> Path:
    sandbox = root / f"t{i:05d}"
    sandbox.mkdir(parents=True)
    (sandbox / "soak.yaml").write_text(PROC_SOAK)
    if "--backend" in JOBS[job][0] and JOBS[job][0][JOBS[job][0].index("--backend") + 1] == "sim":
        shutil.copy(unit, sandbox / "unit.json")
    return sandbox


def run_trials(trials: list[Trial], root: Path, unit: Path, timeout: float = 30.0, parallel: int | None = None,
               baseline: dict | None = None, progress: bool = False) -> list[Trial]:
    parallel = parallel or max(1, os.cpu_count() or 1)
    running: dict[int, tuple[Trial, Path, float]] = {}
    queue = list(enumerate(trials))
    done = []
    while queue or running:
        while queue and len(running) < parallel:
            i, trial = queue.pop(0)
            sandbox = prepare_sandbox(root, i, trial.job, unit)
            pid = os.fork()
            if pid == 0:
                try:
                    _child(trial, sandbox)
                finally:
                    os._exit(98)
            running[pid] = (trial, sandbox, time.monotonic() + timeout)
        time.sleep(0.005)
        for pid in list(running):
            trial, sandbox, deadline = running[pid]
            got, status = os.waitpid(pid, os.WNOHANG)
            rc = None
            if got == 0:
                if time.monotonic() < deadline:
                    continue
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            else:
                rc = os.waitstatus_to_exitcode(status)
            del running[pid]
            base = (baseline or {}).get(trial.job, {}).get("rc")
            trial.result = judge(trial, sandbox, rc, base)
            trial.result["lines"] = int((sandbox / "lines").read_text()) if (sandbox / "lines").exists() else 0
            if (sandbox / "first.json").exists():
                trial.result["first"] = json.loads((sandbox / "first.json").read_text())
            done.append(trial)
            if progress and len(done) % 100 == 0:
                print(f"  {summary(done)}", file=sys.stderr, flush=True)
    return done


def _preload() -> None:
    """Import what the jobs use once, before forking (no thread is started by importing)."""
    import importlib

    import rig.cli
    from rig.unit.profiles import load_profiles

    for name in set(m for m, _ in rig.cli.COMMANDS.values()):
        importlib.import_module(f"rig.cli.{name}")
    for name in ("rig.run.job", "rig.run.runner", "rig.run.codeentry", "rig.sim.backend", "rig.records.timeline", "rig.cli.ui"):
        importlib.import_module(name)
    load_profiles()


def campaign(jobs, bench_every: bool, bench_sample: int, job_trials: int, seed: int, root: Path,
             timeout: float = 30.0, progress: bool = False, double: int = 0) -> tuple[list[Trial], dict]:
    """Returns the trials (with results) and the undisturbed runs per job."""
    os.environ.pop("RIG_CODE", None)
    from rig.sim.backend import reset_unit

    reset_unit(root / "unit.json", "vw-safe", "5173", state="locked")
    _preload()
    rng = random.Random(seed)
    baseline = {}
    for scope in ("bench", "job"):
        for t in run_trials([Trial(j, scope, 0) for j in jobs], root / f"base-{scope}", root / "unit.json", timeout):
            base = baseline.setdefault(t.job, {"rc": t.result["rc"], "faults": t.result["faults"]})
            base[scope] = t.result["lines"]
            base[scope + "-first"] = t.result.get("first", [])
    for name, base in baseline.items():
        if base["faults"]:
            raise SystemExit(f"the undisturbed {name} run is already faulty: {base['faults']}")
    trials = []
    for job in jobs:
        every = baseline[job]["bench-first"]  # each line open/release execute, where it first runs
        lines = every if bench_every else sorted(rng.sample(every, min(bench_sample, len(every))))
        for line in lines:
            trials.append(Trial(job, "bench", line, rng.choice([signal.SIGINT, signal.SIGTERM])))
    for _ in range(job_trials):
        job = rng.choice(jobs)
        trials.append(Trial(job, "job", rng.randint(1, baseline[job]["job"]),
                            rng.choice([signal.SIGINT, signal.SIGTERM])))
    for _ in range(double):
        job = rng.choice(jobs)
        first = rng.choice(baseline[job]["bench-first"])
        trials.append(Trial(job, "bench", first, rng.choice([signal.SIGINT, signal.SIGTERM]),
                            second=rng.randint(1, 400)))
    return run_trials(trials, root / "trials", root / "unit.json", timeout, baseline=baseline,
                      progress=progress), baseline


def summary(trials: list[Trial]) -> str:
    count = {k: 0 for k in ("unsafe", "hang", "log", "record", "exit", "traceback", "early")}
    for t in trials:
        for f in t.result["faults"]:
            count[f.split(":")[0].split(" ")[0]] = count.get(f.split(":")[0].split(" ")[0], 0) + 1
    delivered = sum(t.result["delivered"] for t in trials)
    bench = sum(t.scope == "bench" for t in trials)
    double = sum(bool(t.second) for t in trials)
    return (f"{len(trials)} trials ({bench} at bench open/release lines, {len(trials) - bench} at job "
            f"lines, {double} of them with a second signal; "
            f"{delivered} delivered): " + ", ".join(f"{v} {k}" for k, v in count.items()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", default=",".join(JOBS), help="comma-separated: " + ", ".join(JOBS))
    ap.add_argument("--bench-sample", type=int, default=0,
                    help="signal this many sampled lines of open/release per job (default: every line)")
    ap.add_argument("--job-trials", type=int, default=300, help="signals at random lines of whole jobs")
    ap.add_argument("--double", type=int, default=0, help="trials with a second Ctrl-C soon after the first")
    ap.add_argument("--at-line", action="store_true",
                    help="raise at the line event itself rather than at the next point CPython checks for signals "
                         "(stricter than reality: e.g. a `try:` line, where no real signal is ever handled)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds before a trial counts as a hang")
    ap.add_argument("--keep", help="keep the sandboxes in this directory")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every faulty trial")
    args = ap.parse_args()
    global AT_LINE
    AT_LINE = args.at_line
    root = Path(args.keep or tempfile.mkdtemp(prefix="rig-faults-"))
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        trials, _ = campaign(args.jobs.split(","), not args.bench_sample, args.bench_sample, args.job_trials,
                             args.seed, root, args.timeout, progress=True, double=args.double)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    bad = [t for t in trials if t.result["faults"]]
    if args.verbose:
        for t in bad:
            print(f"{t.job} {t.scope} line {t.line} {signal.Signals(t.sig).name}: {t.result}")
    print(summary(trials) + f"  [{time.monotonic() - t0:.0f} s]")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
