"""TLS for ``rig serve`` off loopback: the server's certificate files, and how clients verify them.

The server side is uvicorn's own (``--tls-cert``/``--tls-key`` become its
``ssl_certfile``/``ssl_keyfile``); here they are only checked before the bench
opens, so a typo is a clear error, not a traceback after the pins moved.

A client verifies the bench's certificate against the lab's CA (``--ca FILE`` or
``RIG_CA``), or the system's trust store when none is named. The CLI on the
bench's own machine finds the server through its 0600 discovery file, which
names the server's certificate: that exact certificate is trusted (pinned), so
``rig status`` works on the Pi whatever names the certificate carries.

>>> client_context(None).verify_mode == ssl.CERT_REQUIRED
True
"""

from __future__ import annotations

import functools
import os
import ssl

from ..errors import ConfigError


def check_files(cert: str | None, key: str | None) -> tuple[str, str] | None:
    """``(cert, key)`` when both are given and load as a pair; None for neither; ConfigError otherwise."""
    if not cert and not key:
        return None
    if not (cert and key):
        raise ConfigError("--tls-cert and --tls-key go together: the bench's certificate and its private key")
    for what, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not os.path.isfile(path):
            raise ConfigError(f"{what} {path}: no such file")
    mode = os.stat(key).st_mode & 0o077
    if mode:
        raise ConfigError(f"--tls-key {key} can be read by other users (mode {oct(mode | 0o600)}): chmod 600 it")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"--tls-cert {cert} / --tls-key {key}: not a certificate and its key ({exc})") from None
    return os.path.abspath(cert), os.path.abspath(key)


@functools.lru_cache(maxsize=8)
def client_context(ca: str | None) -> ssl.SSLContext:
    """Verifies a server against ``ca`` (a PEM file of the lab's CA), else the system's store.

    One per CA file for the process: loading certificates costs ~20 ms a time.
    """
    try:
        return ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"--ca {ca}: not a CA certificate file ({exc})") from None


@functools.lru_cache(maxsize=8)
def pinned_context(cert: str) -> ssl.SSLContext:
    """Trusts exactly ``cert`` (the local server's own certificate, named by its discovery file)."""
    ctx = ssl.create_default_context(cafile=cert)
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # a leaf as its own anchor: this certificate, no other
    ctx.check_hostname = False  # the identity is the certificate itself, whatever names it carries
    return ctx


class _Named(ssl.SSLContext):
    """Checks the certificate against a name of its own, whatever host the socket went to."""

    server_name = ""

    def wrap_socket(self, sock, *args, server_hostname=None, **kw):
        return super().wrap_socket(sock, *args, server_hostname=self.server_name, **kw)


@functools.lru_cache(maxsize=32)
def named_context(ca: str | None, name: str) -> ssl.SSLContext:
    """Verifies against ``ca`` that the server is ``name``, though reached at another address:
    a bench behind an SSH forward (an isolated exporter) answers on 127.0.0.1 here, and must still
    prove it is the bench labgrid named, not whatever the forward happens to reach."""
    ctx = _Named(ssl.PROTOCOL_TLS_CLIENT)  # hostname checked, certificate required
    try:
        ctx.load_verify_locations(cafile=ca) if ca else ctx.load_default_certs()
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"--ca {ca}: not a CA certificate file ({exc})") from None
    ctx.server_name = name
    return ctx


__all__ = ["check_files", "client_context", "named_context", "pinned_context"]
