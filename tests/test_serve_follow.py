"""Following a job on a rig server (rig run --server/--place, RigDriver, --rig-place): one loop for all.

A scripted server stands in for the real one, so each way a stream can end is played exactly:
it drops mid-job and the job is still running, it drops and the job ended meanwhile, the server
is going away, a Ctrl-C at the client.
"""

from __future__ import annotations

import pytest

from rig.errors import ConfigError
from rig.serve.client import ServerGone
from rig.serve.follow import follow_run


class ScriptedServer:
    """What a rig server answers: each ``stream()`` plays the next list of events, then ends."""

    url = "http://bench"

    def __init__(self, streams, states=(), interrupt_after=None):
        self.streams, self.states = list(streams), list(states)
        self.posted: list[tuple[str, dict | None]] = []
        self.interrupt_after = interrupt_after  # raise Ctrl-C after this many events of the first stream

    def stream(self, timeout=60.0):
        events = self.streams.pop(0)
        if isinstance(events, BaseException):
            raise events  # it does not answer a new stream
        interrupt = self.interrupt_after
        self.interrupt_after = None

        def gen():
            yield "state", {}  # the subscription
            for i, event in enumerate(events):
                if interrupt is not None and i == interrupt:
                    raise KeyboardInterrupt
                if isinstance(event, BaseException):
                    raise event  # the stream breaks
                yield event

        return gen()

    def post(self, path, body=None):
        self.posted.append((path, dict(body) if body else None))
        return {"id": 7, "queued": False} if path == "/api/runs" else {}

    def get(self, path):
        if path.startswith("/api/runs/"):
            return {"log": "/var/lib/rig/runs/run-3.jsonl"}
        assert path == "/api/state"
        return self.states.pop(0)


def running(step):
    return "state", {"job": {"id": 7, "step": step}, "last": None}


def result(outcome, run_id=3):
    return "result", {"id": 7, "outcome": outcome, "message": outcome, "run_id": run_id}


def test_a_stream_that_drops_mid_job_is_listened_to_again_until_the_result():
    server = ScriptedServer(streams=[[running("sit out the lockout first")],  # a proxy's idle timeout
                                     [running("enter the code"), result("passed")]],
                            states=[{"job": {"id": 7}, "last": None}])
    steps = []
    r = follow_run(server, {"procedure": "unlock", "code": "1234"}, on_job=lambda j: steps.append(j["step"]))
    assert r["outcome"] == "passed" and r["exit_code"] == 0
    assert steps == ["sit out the lockout first", "enter the code"]  # every step, across the reconnect


def test_a_job_that_ended_while_the_stream_was_down_is_read_from_the_next_streams_state():
    ended = {"id": 7, "outcome": "failed", "message": "wrong code", "run_id": 4}
    server = ScriptedServer(streams=[[running("enter the code")], [("state", {"job": None, "last": ended})]])
    r = follow_run(server, {"procedure": "enter-code"})
    assert r["outcome"] == "failed" and r["exit_code"] == 1 and r["run_id"] == 4


def test_a_stalled_stream_after_the_job_ended_gives_its_result_not_a_timeout():
    """A connection that stalls (TimeoutError after 60 s) is a broken stream, not a traceback."""
    ended = {"id": 7, "outcome": "passed", "message": "unlocked", "run_id": 4}
    server = ScriptedServer(streams=[[running("enter the code"), ServerGone("http://bench", TimeoutError())],
                                     [("state", {"job": None, "last": ended})]])
    r = follow_run(server, {"procedure": "enter-code"})
    assert (r["outcome"], r["exit_code"]) == ("passed", 0)


def test_a_server_stopping_mid_job_is_an_interrupted_job_not_a_usage_error():
    server = ScriptedServer(streams=[[running("enter the code"), ("closing", {"by": "SIGTERM to the server"})]])
    r = follow_run(server, {"procedure": "enter-code"})
    assert (r["outcome"], r["exit_code"]) == ("interrupted", 130)
    assert "stopped (SIGTERM to the server) mid-job" in r["message"] and "at 'enter the code'" in r["message"]


def test_a_server_dying_mid_job_is_one_interrupted_result_saying_so():
    died = ServerGone("http://bench", ConnectionResetError(104, "Connection reset by peer"))
    refused = ServerGone("http://bench", ConnectionRefusedError(111, "refused"), "does not answer")
    server = ScriptedServer(streams=[[running("enter the code"), died], refused])
    r = follow_run(server, {"procedure": "enter-code"})
    assert (r["outcome"], r["exit_code"], r["followed"]) == ("interrupted", 130, False)
    assert "went away" in r["message"] and "mid-job" in r["message"] and "drops every relay" in r["message"]


def test_a_server_that_goes_away_as_the_client_subscribes_is_exit_2_nothing_sent():
    """Reset, or a stream ended at once, before the job was posted: a configuration error saying
    nothing was sent (it raised 'went away ... is rig serve running?' before, or escaped as is)."""
    died = ServerGone("http://bench", ConnectionResetError(104, "Connection reset by peer"))
    for streams in ([died], [[]]):
        server = ScriptedServer(streams=streams)
        if streams == [[]]:
            server.stream = lambda timeout=60.0: iter(())  # it ended the stream before any state
        with pytest.raises(ConfigError, match="does not answer .*the job was not sent, nothing was switched"):
            follow_run(server, {"procedure": "enter-code", "code": "1234"})
        assert server.posted == []


def test_a_server_already_stopping_when_the_client_subscribes_is_given_no_job():
    server = ScriptedServer(streams=[[]])
    server.stream = lambda timeout=60.0: iter([("state", {"closing": "SIGTERM to the server"})])
    r = follow_run(server, {"procedure": "enter-code", "code": "1234"})
    assert (r["outcome"], r["exit_code"]) == ("interrupted", 130) and server.posted == []
    assert "stopped (SIGTERM to the server) before the job started" in r["message"]


def test_ctrl_c_stops_the_job_on_the_bench_and_follows_it_to_interrupted():
    server = ScriptedServer(streams=[[running("sit out the lockout first"), result("passed")],
                                     [result("interrupted")]],
                            states=[{"job": {"id": 7}, "last": None}], interrupt_after=1)
    told = []
    r = follow_run(server, {"procedure": "lockout-wait"}, on_stop=lambda: told.append("stopping"))
    assert told == ["stopping"] and ("/api/stop", None) in server.posted
    assert r["outcome"] == "interrupted" and r["exit_code"] == 130


def test_the_code_is_sent_once_and_not_kept():
    server = ScriptedServer(streams=[[result("passed")]])
    body = {"procedure": "enter-code", "code": "1234"}
    follow_run(server, body)
    assert server.posted[0] == ("/api/runs", {"procedure": "enter-code", "code": "1234"})
    assert "code" not in body  # nothing left to log or to send again


def test_rig_run_through_a_server_rides_out_a_dropped_stream(capsys):
    """The CLI's own path (rig run --server/--place): before, a dropped stream ended it with "went away"
    while the job ran on."""
    from types import SimpleNamespace

    from rig.cli.serve_cmds import remote_run

    server = ScriptedServer(streams=[[running("sit out the lockout first")], [result("passed")]],
                            states=[{"job": {"id": 7}, "last": None}])
    job = SimpleNamespace(procedure="lockout-wait", profile_id="vw-safe", serial="VW1", params={}, answers={},
                          yes=False, allow_lockout=False, allow_permanent=False, new_unit=False, code=None,
                          junit=None)
    r = remote_run(server, job)
    assert r.outcome == "passed" and r.exit_code == 0 and r.run_id == 3
    said = capsys.readouterr()
    assert "via the rig server at http://bench" in said.err  # the run's story on stdout, as a local run's
    assert "> sit out the lockout first" in said.out and "> sit out" not in said.err


def test_a_second_ctrl_c_leaves_the_job_stopping_on_the_server_and_is_130_not_a_refusal():
    class StopsOnce(ScriptedServer):
        def post(self, path, body=None):
            if path == "/api/stop" and ("/api/stop", None) in self.posted:
                from rig.errors import BenchBusy

                raise BenchBusy("no job is running")  # what the server answers a second stop
            return super().post(path, body)

    server = StopsOnce(streams=[[running("sit out the lockout first"), KeyboardInterrupt()],
                                [running("sit out the lockout first"), KeyboardInterrupt()]])
    r = follow_run(server, {"procedure": "lockout-wait"})
    assert (r["outcome"], r["exit_code"]) == ("interrupted", 130)
    assert "second Ctrl-C" in r["message"] and "rig status" in r["message"]
    assert server.posted.count(("/api/stop", None)) == 1


def test_ctrl_c_while_the_server_takes_the_job_stops_it_there_and_follows_it_to_its_end():
    """The POST sat outside the interrupt handling: the client said 'interrupted' and exited while
    the server ran the whole job."""
    import signal

    from rig.bench import signals

    class CtrlCInPost(ScriptedServer):
        def post(self, path, body=None):
            if path == "/api/runs":
                signal.raise_signal(signal.SIGINT)  # the technician's Ctrl-C, as the request is answered
            return super().post(path, body)

    server = CtrlCInPost(streams=[[running("enter the code"), result("interrupted")]])
    stopping = []
    assert signals.install()
    try:
        r = follow_run(server, {"procedure": "enter-code", "code": "1234"}, on_stop=lambda: stopping.append(1))
    finally:
        signals.uninstall()
    assert [p for p, _ in server.posted] == ["/api/runs", "/api/stop"] and stopping == [1]
    assert (r["outcome"], r["exit_code"]) == ("interrupted", 130)


def _losing(served=600.0):
    """A lockout wait on a unit whose wait starts over: a stop would lose what was served."""
    return "state", {"job": {"id": 7, "step": "lockout wait", "progress": {
        "label": "lockout wait", "served": served, "total": 1866.0, "left": 1866.0 - served, "keeps": False,
        "running": True}}, "last": None}


def test_one_ctrl_c_on_a_wait_that_would_lose_its_time_asks_and_the_job_goes_on_to_its_own_end():
    server = ScriptedServer(streams=[[_losing(), KeyboardInterrupt()], [result("passed")]])
    said = []
    r = follow_run(server, {"procedure": "lockout-wait"}, on_warn=said.append)
    assert ("/api/stop", None) not in server.posted and not any(p == "/api/stop" for p, _ in server.posted)
    assert said and "throws away 10:00 of powered time" in said[0] and "Ctrl-C again" in said[0]
    assert (r["outcome"], r["exit_code"]) == ("passed", 0) and "signal" not in r  # let be: its own end


def test_a_first_ctrl_c_the_server_refuses_for_its_served_time_leaves_the_jobs_own_end_and_code():
    """The client had no figure yet (no progress seen), so it asked the server to stop; the server
    refused (served time would be lost) and the client asked the technician. Left alone, the job
    ended its own way: exit 0, not 130 from the Ctrl-C that was asked about and not obeyed."""
    from rig.errors import BenchBusy

    class Refuses(ScriptedServer):
        def post(self, path, body=None):
            if path == "/api/stop" and not (body or {}).get("discard_served"):
                self.posted.append((path, body))
                raise BenchBusy("stopping now throws away 10:00 of powered time: this unit's lockout wait starts "
                                "over after a power loss. Stop anyway with `rig stop --discard-served`")
            return super().post(path, body)

    server = Refuses(streams=[[running("lockout wait"), KeyboardInterrupt()], [result("passed")]])
    said = []
    r = follow_run(server, {"procedure": "lockout-wait"}, on_warn=said.append)
    assert said and "throws away 10:00" in said[0] and "Ctrl-C again" in said[0]
    assert (r["outcome"], r["exit_code"]) == ("passed", 0) and "signal" not in r, r


def test_a_second_ctrl_c_soon_after_the_question_stops_it_saying_to_discard_the_time():
    server = ScriptedServer(streams=[[_losing(), KeyboardInterrupt()], [_losing(), KeyboardInterrupt()],
                                     [result("interrupted")]])
    r = follow_run(server, {"procedure": "lockout-wait"}, on_warn=lambda text: None)
    assert ("/api/stop", {"discard_served": True}) in server.posted
    assert (r["outcome"], r["exit_code"]) == ("interrupted", 130)


def test_sigterm_stops_a_wait_that_would_lose_its_time_at_once():
    from rig.bench.signals import Terminated

    server = ScriptedServer(streams=[[_losing(), Terminated("SIGTERM")], [result("interrupted")]])
    r = follow_run(server, {"procedure": "lockout-wait"}, on_warn=lambda text: pytest.fail(text))
    assert ("/api/stop", {"discard_served": True}) in server.posted and r["exit_code"] == 130


def test_a_server_stopping_as_the_job_arrives_is_told_as_interrupted_not_a_refusal():
    """SIGTERM to rig serve just as a client posts: the job is dropped (nothing switched), as a queued
    one is; the client says so and exits 130 (tools/fault_campaign_serve.py found exit 3 and no line)."""
    from rig.errors import BenchBusy

    class Stopping(ScriptedServer):
        def post(self, path, body=None):
            raise BenchBusy("the server is stopping")

    r = follow_run(Stopping(streams=[[]]), {"procedure": "enter-code", "code": "1234"})
    assert r["outcome"] == "interrupted" and r["exit_code"] == 130
    assert "stopped (the server stopping) before the job started" in r["message"] and "nothing was switched" in r["message"]


def test_a_stop_nobody_can_be_asked_about_refuses_to_throw_served_time_away_unless_told():
    """RigDriver.stop() swallowed the server's refusal (a restarting unit's served time would be
    lost) and answered {} - 'nothing runs' - while the lockout wait went on."""
    from rig.errors import BenchBusy
    from rig.serve.follow import stop_job

    class Waiting(ScriptedServer):
        def post(self, path, body=None):
            self.posted.append((path, body))
            if not (body or {}).get("discard_served"):
                raise BenchBusy("stopping now throws away 20:00 of powered time: this unit's lockout wait starts over")
            return {"stopped": "lockout-wait", "run_id": 3}

    server = Waiting(streams=[])
    with pytest.raises(BenchBusy, match="throws away 20:00"):
        stop_job(server)
    assert stop_job(server, discard_served=True) == {"stopped": "lockout-wait", "run_id": 3}
    assert server.posted == [("/api/stop", {}), ("/api/stop", {"discard_served": True})]
