"""A throwaway lab CA and bench certificates for tests, made with the openssl commands the README shows.

    from tests.tlsfiles import lab_ca
    ca = lab_ca(tmp_path)                                  # lab-ca.crt, lab-ca.key
    cert, key = ca.bench("bench", "127.0.0.1", "localhost")   # names: DNS names and IP addresses
    # rig serve --tls-cert cert --tls-key key ; clients: RIG_CA=ca.crt (or rig --ca ca.crt)

EC keys (P-256): each certificate takes a few milliseconds, not an RSA key's hundreds.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@dataclass
class LabCA:
    folder: Path
    crt: Path
    key: Path

    def bench(self, name: str, *names: str) -> tuple[Path, Path]:
        """A certificate for the bench ``name`` (its CN) valid for ``names`` (default: ``name``);
        returns ``(cert, key)``, the key mode 600 as rig serve wants it."""
        sans = ",".join(("IP:" if _is_ip(n) else "DNS:") + n for n in (names or (name,)))
        crt, key, csr, ext = (self.folder / f"{name}.{x}" for x in ("crt", "key", "csr", "ext"))
        _openssl("req", *EC, "-subj", f"/CN={name}", "-keyout", key.name, "-out", csr.name, cwd=self.folder)
        ext.write_text(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
                       "keyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\n"
                       "authorityKeyIdentifier=keyid\n")
        _openssl("x509", "-req", "-in", csr.name, "-CA", self.crt.name, "-CAkey", self.key.name,
                 "-CAcreateserial", "-days", "30", "-extfile", ext.name, "-out", crt.name, cwd=self.folder)
        os.chmod(key, 0o600)
        return crt, key


def lab_ca(folder: Path, name: str = "rig test lab CA") -> LabCA:
    """A new CA in ``folder`` (lab-ca.crt and lab-ca.key)."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", *EC, "-days", "30", "-subj", f"/CN={name}", "-keyout", "lab-ca.key",
             "-out", "lab-ca.crt", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    return LabCA(folder, folder / "lab-ca.crt", folder / "lab-ca.key")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False
