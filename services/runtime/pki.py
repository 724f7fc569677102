"""Service identities: a private CA and one certificate per process identity, for mutual TLS on gRPC.

`make run` and the test stacks create them under `<VAR_DIR>/pki` on first start; the compose
deployment creates its own in a one-shot container (see docker-compose.yml). In production nothing is
created: missing files are an error.
"""

from __future__ import annotations

import fcntl
import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.runtime.config import SERVICES, Settings

# Every process identity: the five services, the gateway, Kong's edge plugins, and the bank's
# tools (demo-data loader, bench seeding, the supervisor's health checks).
IDENTITIES = (*SERVICES, "gateway", "edge", "tools")
CA_DAYS = 3650
LEAF_DAYS = 30
RENEW_BEFORE = timedelta(days=7)


@dataclass(frozen=True)
class ServiceIdentity:
    """One process identity's certificate, key and the CA that vouches for its peers."""

    name: str
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @functools.cached_property
    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_pem, private_key=self.key_pem, certificate_chain=self.cert_pem
        )

    def server_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key_pem, self.cert_pem)], root_certificates=self.ca_pem, require_client_auth=True
        )

    @functools.cached_property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    @functools.cached_property
    def ca_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.ca_pem)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lattice"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, *, secret: bool) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o600 if secret else 0o644)
    tmp.replace(path)


def _issue_ca(pki_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Lattice service CA"))
        .issuer_name(_name("Lattice service CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    _write(pki_dir / "ca.key", _key_pem(key), secret=True)
    _write(pki_dir / "ca.pem", cert.public_bytes(serialization.Encoding.PEM), secret=False)
    return cert, key


def _issue_leaf(
    pki_dir: Path, name: str, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> None:
    key = _new_key()
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=LEAF_DAYS))
        # the DNS name is what clients expect of a server (ssl_target_name_override = service name)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(pki_dir / f"{name}.key", _key_pem(key), secret=True)
    _write(pki_dir / f"{name}.pem", cert.public_bytes(serialization.Encoding.PEM), secret=False)


def _needs_issue(path: Path) -> bool:
    if not path.exists():
        return True
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.not_valid_after_utc - datetime.now(UTC) < RENEW_BEFORE


def ensure_pki(pki_dir: Path, identities: tuple[str, ...] = IDENTITIES) -> Path:
    """Create the CA and every identity's certificate that is missing or about to expire."""
    pki_dir.mkdir(parents=True, exist_ok=True)
    pki_dir.chmod(0o700)
    with open(pki_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # several processes may start at once
        if (pki_dir / "ca.pem").exists() and (pki_dir / "ca.key").exists():
            ca_cert = x509.load_pem_x509_certificate((pki_dir / "ca.pem").read_bytes())
            ca_key = serialization.load_pem_private_key((pki_dir / "ca.key").read_bytes(), password=None)
            assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        else:
            ca_cert, ca_key = _issue_ca(pki_dir)
        for name in identities:
            if _needs_issue(pki_dir / f"{name}.pem"):
                _issue_leaf(pki_dir, name, ca_cert, ca_key)
    return pki_dir


@functools.lru_cache(maxsize=32)
def load_identity(name: str, pki_dir: Path) -> ServiceIdentity:
    """The identity's certificate and key (read once per process)."""
    if name not in IDENTITIES:
        raise ValueError(f"unknown service identity {name!r}")
    files = [pki_dir / "ca.pem", pki_dir / f"{name}.pem", pki_dir / f"{name}.key"]
    missing = [str(p) for p in files if not p.exists()]
    if missing:
        raise FileNotFoundError(f"service identity {name!r}: missing {', '.join(missing)}")
    ca, cert, key = (p.read_bytes() for p in files)
    return ServiceIdentity(name=name, ca_pem=ca, cert_pem=cert, key_pem=key)


def identity_for(name: str, *, pki_dir: Path, create: bool) -> ServiceIdentity:
    """`name`'s identity from `pki_dir`, creating the development PKI first when allowed and missing."""
    pki_dir = pki_dir.resolve()
    try:
        return load_identity(name, pki_dir)
    except FileNotFoundError:
        if not create:
            raise
    ensure_pki(pki_dir)
    return load_identity(name, pki_dir)


def own_identity(settings: Settings, name: str) -> ServiceIdentity:
    """This process's identity under the settings' PKI directory (never created in production)."""
    return identity_for(name, pki_dir=settings.pki_path, create=settings.environment != "production")


if __name__ == "__main__":
    # `python -m services.runtime.pki [DIR]`: the compose deployment's one-shot certificate job.
    import os
    import sys

    target = ensure_pki(Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PKI_DIR", "var/pki")))
    # The containers run as other users (lattice, kong) and mount this volume read-only; the CA key
    # stays readable by this job only.
    target.chmod(0o755)
    for path in target.glob("*.key"):
        path.chmod(0o600 if path.name == "ca.key" else 0o644)
    print(f"service CA and certificates in {target}")
