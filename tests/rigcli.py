"""Running the ``rig`` command from a test: in this process (fast) or as a real child process."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys


def rig_in_process(args, env: dict, cwd=None, input: str | None = None) -> subprocess.CompletedProcess:
    """``rig ARGS`` through :func:`rig.cli.main` in this process, as a child would see it: exactly
    ``env`` as its environment, ``cwd``, ``input`` on a stdin that is not a terminal, stdout and
    stderr captured as text. ~20 ms instead of a child's ~120 ms of Python start-up and imports.

    What only a process can show (signals, exit through the interpreter, a terminal, stdin's
    file descriptor, ``-v`` logging) stays with :func:`rig_child`.
    """
    from rig.cli import main, render

    saved_cwd, saved_stdin = os.getcwd(), sys.stdin
    widths = render.out._width, render.err._width  # rich fixed COLUMNS at import; put back after
    out, err = io.StringIO(), io.StringIO()
    with environment(env):
        try:
            os.chdir(cwd or saved_cwd)
            sys.stdin = io.TextIOWrapper(io.BytesIO((input or "").encode()), encoding="utf-8")
            render.out.width = render.err.width = int(env.get("COLUMNS") or 80)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main([str(a) for a in args])
        finally:
            sys.stdin = saved_stdin
            render.out._width, render.err._width = widths
            os.chdir(saved_cwd)
    return subprocess.CompletedProcess(["rig", *args], code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def environment(env: dict):
    """This process's environment is exactly ``env`` inside the block, and as before after it."""
    saved = dict(os.environ)
    _become(os.environ, {k: str(v) for k, v in env.items()})
    try:
        yield
    finally:
        _become(os.environ, saved)


def _become(environ, env: dict) -> None:
    # key by key, never cleared: a server thread of the same test reads the environment meanwhile
    for k in [k for k in environ if k not in env]:
        del environ[k]
    for k, v in env.items():
        if environ.get(k) != v:
            environ[k] = v


def rig_child(args, env: dict, cwd=None, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """``rig ARGS`` as a real child process (``python -m rig``)."""
    return subprocess.run([sys.executable, "-m", "rig", *map(str, args)], input=input, capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=cwd)
