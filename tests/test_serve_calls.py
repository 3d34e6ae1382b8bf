"""A procedure file sent to a bench's server (rig --place/--server, RigDriver, --rig-place) goes with
the files it calls, each where its caller's `call:` finds it: beside the caller.

The server here runs in this process with its own working directory (the repository's), not the
folder the procedure files are in, as a bench on another machine would.
"""

from __future__ import annotations

import json

import httpx
import pytest

from rig.errors import ConfigError
from rig.run.procedure import load_procedure
from rig.serve.client import Client
from rig.serve.follow import follow_run, procedure_fields
from tests.browser.served import serving

served = serving(profile="honda", code="12345", state="locked", attempts=0)

MINE = "name: mine\nsteps:\n  - call: lib/reset.yaml\n"
RESET = "name: reset\nsteps:\n  - power: {acc: on}\n  - call: mode.yaml\n"
MODE = "name: mode\nsteps:\n  - press: {keys: mode, hold: 0.2}\n"


@pytest.fixture
def library(tmp_path):
    """A CI repository's procedures: ci/mine.yaml calls ci/lib/reset.yaml, which calls ci/lib/mode.yaml
    (found beside it)."""
    (tmp_path / "ci" / "lib").mkdir(parents=True)
    (tmp_path / "ci" / "mine.yaml").write_text(MINE)
    (tmp_path / "ci" / "lib" / "reset.yaml").write_text(RESET)
    (tmp_path / "ci" / "lib" / "mode.yaml").write_text(MODE)
    return tmp_path / "ci"


def test_the_files_a_procedure_calls_are_sent_with_it_and_built_ins_are_not(library):
    mine = MINE + "  - call: lockout-wait\n    if: {display: lockout}\n"
    (library / "mine.yaml").write_text(mine)
    upload = procedure_fields(str(library / "mine.yaml"))["procedure_file"]
    assert upload["name"] == "mine.yaml" and upload["text"] == mine
    assert upload["calls"] == [{"path": "lib/reset.yaml", "text": RESET}, {"path": "lib/mode.yaml", "text": MODE}]


def test_a_call_beside_the_calling_file_is_found_from_any_working_directory(library):
    proc = load_procedure(str(library / "lib" / "reset.yaml"))  # the test runs from the repository, not ci/lib
    assert load_procedure("mode.yaml", beside=proc.source).name == "mode"


def test_a_bench_runs_a_procedure_whose_calls_it_only_has_from_the_upload(served, library):
    result = follow_run(Client(served.url, served.operator), procedure_fields(str(library / "mine.yaml")))
    assert result["outcome"] == "passed", result
    log = [json.loads(line) for line in httpx.get(f"{served.url}/api/runs/{result['run_id']}/log.jsonl",
                                                   headers={"authorization": f"Bearer {served.operator}"}).text.splitlines()]
    assert {"kind": "key", "what": "mode", "to": "down"}.items() <= next(
        e for e in log if e["kind"] == "key").items()  # mode.yaml's press ran, two calls deep


def test_an_error_in_a_called_file_names_it_as_the_user_has_it(served, library):
    (library / "lib" / "mode.yaml").write_text(MODE.replace("mode,", "mdoe,"))
    with pytest.raises(ConfigError) as e:
        follow_run(Client(served.url, served.operator), procedure_fields(str(library / "mine.yaml")))
    assert str(e.value).startswith("lib/mode.yaml:3: error: press: key 'mdoe' is not on this bench"), str(e.value)


def test_a_called_file_outside_the_procedures_folder_is_refused_before_anything_is_sent(library):
    (library.parent / "shared.yaml").write_text(MODE)
    (library / "mine.yaml").write_text("name: mine\nsteps:\n  - call: ../shared.yaml\n")
    with pytest.raises(ConfigError) as e:
        procedure_fields(str(library / "mine.yaml"))
    assert f"{library / 'mine.yaml'}:3" in str(e.value.problems[0]) and "in or below mine.yaml's folder" in str(e.value)


@pytest.mark.parametrize("path", ["../evil.yaml", "/etc/evil.yaml", "lib/../../evil.yaml", "evil.sh", "a b.yaml", ""])
def test_the_server_keeps_an_uploaded_file_only_below_its_own_folder(served, path):
    c, csrf = served.page()
    r = c.post("/api/runs", headers={"x-csrf-token": csrf, "origin": served.url},
               json={"procedure": "mine.yaml", "procedure_file": {"name": "mine.yaml", "text": MINE,
                                                                  "calls": [{"path": path, "text": MODE}]}})
    assert r.status_code == 400 and "relative path to a .yaml file" in r.json()["error"], r.text
    assert not list(served.logs.rglob("evil*"))


def test_a_call_loop_spelled_through_its_parent_folder_is_one_clear_error(run_rig, tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.yaml").write_text("name: a\nsteps:\n  - call: ../dir/a.yaml\n")
    r = run_rig("--backend", "mock", "run", "dir/a.yaml")
    assert r.returncode == 2 and "dir/a.yaml:3: error: call: a calls itself" in r.stderr, r.stderr
