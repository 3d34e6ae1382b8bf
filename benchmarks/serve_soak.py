"""Soak: rig serve runs many simulated jobs in a row with listeners attached; does anything grow?

Starts a server on 127.0.0.1 (an ephemeral port, never another interface)
holding a simulated honda unit on a paced clock, attaches two SSE clients
(and, when Chromium and Playwright are here, the bench page in a headless
browser), then runs N jobs one after another through the HTTP API: a mix of
reproduce-safe, enter-code, unlock and bench-removal, every fourth one
stopped mid-way. After each job it checks that no pin was left moved (keys
up, rails safe). It prints resident memory, open file descriptors and
threads every so often and the first/last ratios. It asserts nothing.

    python benchmarks/serve_soak.py [--jobs 200] [--no-browser]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from rig.records.ledger import Ledger
from rig.serve.auth import Tokens
from rig.bench.pacedclock import PacedClock
from rig.serve.server import BenchServer
from rig.serve.station import Station
from rig.sim.backend import reset_unit, sim_backend
from rig.bench.wiring import load_wiring

CODE = "61524"
MIX = [
    ({"procedure": "reproduce-safe", "profile": "honda", "unit": "H1"}, False),
    ({"procedure": "enter-code", "profile": "honda", "unit": "H1", "code": CODE}, False),
    ({"procedure": "unlock", "profile": "honda", "unit": "H1", "code": CODE}, False),
    ({"procedure": "reproduce-safe", "profile": "honda", "unit": "H1"}, True),   # stopped mid-wait
    ({"procedure": "bench-removal", "profile": "honda", "unit": "H1", "yes": True,
      "answers": {"model": "CD-R"}}, False),
]


def usage() -> dict:
    status = Path("/proc/self/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return {"rss_kib": rss, "fds": len(os.listdir("/proc/self/fd")), "threads": threading.active_count()}


class SSEClient(threading.Thread):
    def __init__(self, url, token):
        super().__init__(daemon=True)
        self.url, self.token, self.bytes, self.results, self.reconnects = url, token, 0, 0, -1
        self.stop = False
        self.start()

    def run(self):
        while not self.stop:
            self.reconnects += 1
            try:
                with httpx.stream("GET", self.url + "/api/stream", headers={"authorization": f"Bearer {self.token}"},
                                  timeout=30) as r:
                    for chunk in r.iter_bytes():
                        self.bytes += len(chunk)
                        self.results += chunk.count(b"event: result")
                        if self.stop:
                            return
            except httpx.HTTPError:
                time.sleep(0.2)


def browser(url, link):
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not chromium:
        return None
    p = sync_playwright().start()
    b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
    page = b.new_page()
    page.goto(link)
    page.wait_for_selector("#conn:text('live')", timeout=15000)
    return p, b, page


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--speed", type=float, default=2000.0, help="simulated seconds per wall second")
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="rig-soak-"))
    os.environ["XDG_RUNTIME_DIR"] = str(d / "run")
    reset_unit(d / "unit.json", "honda", CODE, state="locked")
    led = Ledger(d / "ledger.sqlite")
    led.add_unit("H1", "honda")  # the unit on the bench, known to the ledger
    led.close()
    station = Station(load_wiring(), lambda w: sim_backend(w, d / "unit.json", clock=PacedClock(args.speed)),
                      str(d / "ledger.sqlite"), str(d / "runs"))
    station.open()
    tokens = Tokens(d / "tokens.json")
    token = tokens.new("operator", "soak")
    server = BenchServer(station, tokens, "127.0.0.1", 0)
    server.run_in_thread()
    listeners = [SSEClient(server.url, token), SSEClient(server.url, token)]
    page = None if args.no_browser else browser(server.url, server.login_link("soak"))
    print(f"server {server.url}; {'a browser page and ' if page else ''}two SSE clients attached")
    c = httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {token}"}, timeout=60)
    outcomes: dict[str, int] = {}
    leaks = 0
    samples = []
    t0 = time.monotonic()
    for i in range(args.jobs):
        spec, stop = MIX[i % len(MIX)]
        r = c.post("/api/runs", json=spec)
        if r.status_code != 202:
            outcomes["refused: " + r.json()["error"][:40]] = outcomes.get("refused", 0) + 1
            continue
        ticket = r.json()["id"]
        if stop:
            while not ((station.current or {}).get("step") or "").startswith("keep it off past"):
                if (station.last or {}).get("id") == ticket:
                    break
                time.sleep(0.005)
            c.post("/api/stop")
        while (station.last or {}).get("id") != ticket:
            time.sleep(0.005)
        key = f"{spec['procedure']} {station.last['outcome']}"
        outcomes[key] = outcomes.get(key, 0) + 1
        snap = station.bench.snapshot()
        if set(snap["keys"].values()) != {"up"} or any(
                (snap["rails"][n] == "on") != r_.spec.safe_on for n, r_ in station.bench.rails.items()):
            leaks += 1
        if i in (9, args.jobs // 2, args.jobs - 1) or i % 50 == 49:
            samples.append((i + 1, usage()))
            u = samples[-1][1]
            print(f"after {i + 1:4d} jobs: rss {u['rss_kib'] / 1024:.1f} MiB, {u['fds']} fds, {u['threads']} threads, "
                  f"{station.hub.count()} listeners, {time.monotonic() - t0:.1f}s")
    wall = time.monotonic() - t0
    end = time.monotonic() + 5
    while any(li.results < args.jobs for li in listeners) and time.monotonic() < end:
        time.sleep(0.05)  # the last result on its way to the listeners
    for li in listeners:
        li.stop = True
    if page:
        p, b, pg = page
        try:
            pg.wait_for_selector(f"#last:has-text('(run {station.last['run_id']})')", timeout=5000)
        except Exception:  # noqa: BLE001  (printed as it is)
            pass
        shown = pg.inner_text("#last")
        b.close()
        p.stop()
        print(f"the page's last line: {shown!r}")
    server.stop()
    first, last = samples[0][1], samples[-1][1]
    print(f"{args.jobs} jobs in {wall:.1f}s; outcomes {outcomes}; jobs that left a pin moved: {leaks}")
    print(f"SSE clients: {[li.bytes // 1024 for li in listeners]} KiB, results seen {[li.results for li in listeners]}, "
          f"reconnects {[li.reconnects for li in listeners]}")
    print(f"from job {samples[0][0]} to job {samples[-1][0]}: rss x{last['rss_kib'] / first['rss_kib']:.2f}, "
          f"fds {first['fds']} -> {last['fds']}, threads {first['threads']} -> {last['threads']}")
    shutil.rmtree(d, ignore_errors=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
