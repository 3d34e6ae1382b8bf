"""A signal in a command's last milliseconds still gives the promised line and exit 130.

Python puts the default handlers back once atexit has run, then spends 40-200 ms tearing
its modules down: a Ctrl-C or SIGTERM there killed rig outright, with no message and no
130 (47 of 401 random signals in the fault campaign). rig leaves before that teardown,
through atexit with its own handlers still in place. Real processes, real signals: what
the shell sees is the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

# rig as its console script runs it, with one more thing to do at the very end
_WITH_TRAP = r"""
import os, signal, sys
WHEN, SIG = os.environ["TRAP_WHEN"], getattr(signal, os.environ["TRAP_SIG"])

class Trap:
    def __del__(self):  # runs while Python tears its modules down, if it ever gets there
        os.kill(os.getpid(), SIG)

if WHEN == "teardown":
    sys.modules["rig_trap"] = type(sys)("rig_trap")
    sys.modules["rig_trap"].trap = Trap()
from rig.cli import main
if WHEN == "atexit":
    import atexit
    atexit.register(lambda: os.kill(os.getpid(), SIG))  # registered last: the first to run
if WHEN == "release":  # as the bench's release at exit does, signals held back while it runs
    import atexit
    from rig.bench import signals

    def in_the_release():
        with signals.shielded():
            os.kill(os.getpid(), SIG)
    atexit.register(in_the_release)
sys.exit(main())
"""


def _env(tmp_path, **more):
    return dict(os.environ, RIG_LEDGER=str(tmp_path / "ledger.sqlite"), RIG_CLOCK="virtual",
                RIG_LOG_DIR=str(tmp_path / "runs"), RIG_LOCK=str(tmp_path / "bench.lock"), **more)


def _judge(p: subprocess.CompletedProcess, ended_normally_ok: bool) -> None:
    assert p.returncode >= 0, f"killed by {signal.Signals(-p.returncode).name}, with no word: {p.stderr!r}"
    assert "Traceback" not in p.stderr and "Exception ignored" not in p.stderr, p.stderr
    said = p.stderr.count("interrupted (")
    if p.returncode == 130:
        assert said == 1, p.stderr
        assert "keys released, rails safe" in p.stderr
    else:
        assert ended_normally_ok and p.returncode == 0 and said == 0, (p.returncode, p.stderr)


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("when", ["atexit", "teardown"])
def test_a_signal_at_the_interpreters_exit_gives_one_line_and_130_and_never_kills_rig_outright(tmp_path, when, sig):
    """While atexit runs: 130 and one line. While Python would tear its modules down: rig is
    gone before that teardown begins, so the signal finds nothing to kill."""
    p = subprocess.run([sys.executable, "-c", _WITH_TRAP, "--backend", "mock", "press", "mode"],
                       env=_env(tmp_path, TRAP_WHEN=when, TRAP_SIG=sig), capture_output=True, text=True,
                       timeout=60)
    _judge(p, ended_normally_ok=when == "teardown")
    assert p.stdout.startswith("pressed mode for ")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_just_after_the_last_line_gives_130_or_finds_rig_gone(tmp_path, sig):
    """The technician's Ctrl-C as the result appears: whatever rig was doing then (its release,
    atexit, its way out), the shell sees 130 and one line, or a command that had ended."""
    for _ in range(3):
        p = subprocess.Popen([sys.executable, "-m", "rig", "--backend", "mock", "press", "mode"],
                             env=_env(tmp_path, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        p.send_signal(sig)
        out, err = p.communicate(timeout=60)
        assert line.startswith("pressed mode for "), (line, err)
        _judge(subprocess.CompletedProcess(p.args, p.returncode, line + out, err), ended_normally_ok=True)


def test_a_signal_held_back_by_a_release_at_exit_still_gives_one_line_and_130(tmp_path):
    """A Ctrl-C that lands while rig's last release holds signals back (atexit, the program's end):
    not held for a raise that would come after the last line, as a traceback and exit 0."""
    p = subprocess.run([sys.executable, "-c", _WITH_TRAP, "--backend", "mock", "press", "mode"],
                       env=_env(tmp_path, TRAP_WHEN="release", TRAP_SIG="SIGINT"), capture_output=True, text=True,
                       timeout=60)
    _judge(p, ended_normally_ok=False)
    assert p.returncode == 130
