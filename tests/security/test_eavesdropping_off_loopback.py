"""Threat: someone on the lab network reads codes, tokens and cookies, or poses as a bench.

A bench off loopback serves HTTPS with a certificate from the lab's CA; every
client (rig --server, the local CLI, --place/RigDriver through bench_address,
the exporter's watch, rig lab status) checks it; plain HTTP off loopback is
refused unless the admin says, in words that name the risk, that it is wanted.
"""

from __future__ import annotations

import httpx
import pytest

from rig.lab.places import bench_address
from tests.browser.served import serving
from tests.tlsfiles import lab_ca

CODE = "61524"
https = serving(code=CODE, state="locked", attempts=0, tls=True)


def test_listening_off_loopback_without_tls_is_refused_naming_the_risk(run_rig):
    r = run_rig("--backend", "sim", "serve", "--host", "0.0.0.0", "--port", "0")
    assert r.returncode == 2, r.stderr
    assert "in clear" in r.stderr and "--tls-cert" in r.stderr
    assert "--unencrypted-codes-and-tokens-on-the-network" in r.stderr


def test_a_half_given_or_world_readable_key_is_refused_before_the_bench_opens(run_rig, tmp_path):
    cert, key = lab_ca(tmp_path / "ca").bench("bench", "127.0.0.1")
    r = run_rig("--backend", "sim", "serve", "--tls-cert", str(cert))
    assert r.returncode == 2 and "go together" in r.stderr
    key.chmod(0o644)
    r = run_rig("--backend", "sim", "serve", "--tls-cert", str(cert), "--tls-key", str(key))
    assert r.returncode == 2 and "chmod 600" in r.stderr


def test_the_session_cookie_is_secure_under_tls(https):
    assert https.url.startswith("https://")
    c = https.client()
    once = https.server.login_link("alice").split("#once=")[1]
    r = c.post("/api/login", json={"once": once}, headers={"origin": https.url})
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_a_client_trusts_the_bench_only_through_the_lab_ca(https, run_rig, tmp_path):
    env = {"RIG_TOKEN": https.operator}
    r = run_rig("--server", https.url, "--ca", str(https.ca.crt), "status", env=env)
    assert r.returncode == 0, r.stderr
    assert "rail battery: on" in r.stdout
    r = run_rig("--server", https.url, "status", env=dict(env, RIG_CA=str(https.ca.crt)))
    assert r.returncode == 0, r.stderr
    r = run_rig("--server", https.url, "status", env=env)  # the system store does not know the lab's CA
    assert r.returncode == 2 and "does not verify" in r.stderr and "--ca" in r.stderr
    other = lab_ca(tmp_path / "other", "someone else's CA")
    r = run_rig("--server", https.url, "--ca", str(other.crt), "status", env=env)  # an impostor's CA
    assert r.returncode == 2 and "is not the bench it claims to be" in r.stderr
    with pytest.raises(httpx.HTTPError):  # and nobody talks plain HTTP to it
        httpx.get(https.url.replace("https:", "http:") + "/api/state", timeout=5)


def test_the_cli_on_the_bench_itself_pins_the_servers_own_certificate(https, run_rig):
    r = run_rig("--backend", "sim", "status")  # found through the 0600 discovery file, no --ca needed
    assert r.returncode == 0, r.stderr
    assert f"server: {https.server.local_url}" in r.stdout


def test_lab_clients_reach_a_tls_bench_by_https_and_check_it(https, tmp_path):
    from rig.serve.client import Client

    assert bench_address("pi-07.lab", 8470, tls=True) == "https://pi-07.lab:8470"
    assert bench_address("pi-07.lab", 8470) == "http://pi-07.lab:8470"
    good = Client(https.url, https.viewer, ca=str(https.ca.crt)).call("GET", "/api/lab")
    assert good["healthy"] is True
    with pytest.raises(Exception, match="does not verify"):
        Client(https.url, https.viewer, ca=str(lab_ca(tmp_path / "x").crt)).call("GET", "/api/lab")


def test_the_exporters_watch_marks_a_bench_with_a_wrong_certificate_unavailable(https, tmp_path):
    pytest.importorskip("labgrid")
    from rig.lab.exporter import BenchWatch

    watch = BenchWatch(https.url, https.viewer, str(https.ca.crt))
    wrong = BenchWatch(https.url, https.viewer, str(lab_ca(tmp_path / "x").crt))
    try:
        watch._check()
        wrong.avail, wrong.misses = True, 2
        wrong._check()
        assert watch.avail is True and wrong.avail is False
    finally:
        watch.close()
        wrong.close()

