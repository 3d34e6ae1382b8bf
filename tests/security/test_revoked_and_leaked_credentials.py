"""Threat: a token that was taken away (a lost tablet, a CI secret rotated) still works, or a viewer
learns more about the bench machine than the runs.

A session opened with a token, and every event stream, end with the token
(revoked with ``rig serve token revoke``) or with logout; viewers see runs by
file name, with no absolute path, pid or host name.
"""

from __future__ import annotations

import threading

from tests.browser.served import serving

served = serving(state="locked", attempts=0)


def _token_session(served, token):
    c = served.client()
    r = c.post("/api/login", json={"token": token}, headers={"origin": served.url})
    assert r.status_code == 200, r.text
    return c


def _stream_ends(served, client) -> threading.Event:
    ended, connected = threading.Event(), threading.Event()

    def read():
        with client.stream("GET", "/api/stream", timeout=20) as r:
            assert r.status_code == 200
            for _ in r.iter_bytes():
                connected.set()
        ended.set()

    threading.Thread(target=read, daemon=True).start()
    assert connected.wait(10)
    return ended


def test_revoking_a_token_ends_its_sessions_and_streams(served, run_rig):
    tablet = served.tokens.new("viewer", "shop-tablet")
    page = _token_session(served, tablet)
    bearer = served.client(tablet)
    streams = [_stream_ends(served, page), _stream_ends(served, bearer)]
    r = run_rig("serve", "token", "list", "--tokens", str(served.tokens.path))
    assert r.returncode == 0 and "shop-tablet" in r.stdout and tablet not in r.stdout
    r = run_rig("serve", "token", "revoke", "shop-tablet", "--tokens", str(served.tokens.path))
    assert r.returncode == 0 and "revoked viewer token shop-tablet" in r.stdout, r.stderr
    for ended in streams:
        assert ended.wait(5), "an event stream outlived its revoked token"
    assert page.get("/api/state").status_code == 401
    assert bearer.get("/api/state").status_code == 401
    assert served.client(served.viewer).get("/api/state").status_code == 200  # the others are untouched
    r = run_rig("serve", "token", "revoke", "shop-tablet", "--tokens", str(served.tokens.path))
    assert r.returncode == 2 and "token list" in r.stderr


def test_logout_ends_the_sessions_event_stream(served):
    c, csrf = served.page()
    ended = _stream_ends(served, c)
    assert c.post("/api/logout", headers={"x-csrf-token": csrf, "origin": served.url}).status_code == 200
    assert ended.wait(5), "the stream outlived its logout"


def test_viewers_see_no_absolute_path_pid_or_host_name(served):
    import socket

    op = served.client(served.operator)
    assert op.post("/api/runs", json={"procedure": "read-serial", "profile": "honda", "unit": "H1",
                                      "answers": {"model": "x", "vin": "y"}, "yes": True}).status_code == 202
    served.wait(lambda s: s["last"] is not None)
    viewer = served.client(served.viewer)
    texts = [viewer.get(p).text for p in ("/api/runs", "/api/runs/1", "/api/units/H1", "/api/state", "/api/lab")]
    for text in texts:
        assert str(served.tmp) not in text and socket.gethostname() not in text and '"pid"' not in text, text[:300]
    assert viewer.get("/api/runs/1").json()["log"].startswith("run-00001")
