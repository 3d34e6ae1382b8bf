"""The fault campaign, small and seeded: whole `rig` commands in sandboxed children.

tools/fault_campaign.py (the same code, larger counts) prints the one-line summary;
here a handful of trials check what only a whole process shows: the exit code, one
line instead of a traceback, the run on record, and the pins at the very end
(traced from inside the child, through atexit).
"""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_signals_at_bench_and_job_lines_of_whole_commands(tmp_path):
    cmd = [sys.executable, str(REPO / "tools" / "fault_campaign.py"), "--jobs", "press,enter-code",
           "--bench-sample", "4", "--job-trials", "4", "--double", "2", "--seed", "3", "--timeout", "60", "-v"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    summary = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 0, done.stdout + done.stderr
    assert "14 trials" in summary and "14 delivered" in summary, summary
    assert "0 unsafe, 0 hang, 0 log, 0 record, 0 exit, 0 traceback, 0 early" in summary, summary


def test_signals_to_a_client_following_a_job_and_to_its_server(tmp_path):
    """tools/fault_campaign_serve.py, small and seeded: `rig run` through `rig serve`, a signal at a
    line of the client's, and SIGTERM or SIGKILL to the server mid-job, judged by the client's one
    line and exit code, the ledger and the simulated unit's own count of the codes it was given."""
    cmd = [sys.executable, str(REPO / "tools" / "fault_campaign_serve.py"), "--client-trials", "2",
           "--server-trials", "2", "--server-signals", "TERM,KILL", "--seed", "4", "-v"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    summary = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 trials (2 signals to the client, 2 to the server)" in summary, summary
    assert "0 traceback, 0 ending, 0 exit, 0 record, 0 count, 0 hang" in summary, summary
