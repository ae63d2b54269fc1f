"""A fresh self-signed certificate for the practice server's STARTTLS.

The certificate is its own issuer, so a client verifies it by trusting exactly this file
(``smtpshell 127.0.0.1 PORT --cafile cert.pem``). ``cryptography`` is imported only when a
certificate is made.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

VALID_DAYS = 90  # a new certificate at every start; 90 days as a public CA issues (under 14 left, :tls warns)
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
ORGANIZATION = "smtpshell practice server"


@dataclass(frozen=True, kw_only=True)
class CertFiles:
    """Where a certificate and its private key were written."""

    certfile: Path
    keyfile: Path


def certificate_names(hostname: str, host: str) -> tuple[str, ...]:
    """The names a client may verify: loopback, *hostname*, and *host* if it is a specific IP."""
    names = [*LOOPBACK_NAMES, hostname]
    ip = _ip(host)
    if ip is not None and not ip.is_unspecified:
        names.append(str(ip))
    return tuple(dict.fromkeys(str(_ip(name) or name) for name in names))


def make_self_signed(
    directory: Path, *, common_name: str, names: tuple[str, ...], days: int = VALID_DAYS
) -> CertFiles:
    """Write ``cert.pem`` and ``key.pem`` (mode 0600) into *directory*, valid for *names*."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name if len(common_name) <= 64 else ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        ]
    )
    alt_names = [
        x509.IPAddress(ip) if (ip := _ip(name)) is not None else x509.DNSName(name) for name in names
    ]
    key_id = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    now = datetime.now(UTC).replace(microsecond=0)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(key_id, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(key_id), critical=False)
        .sign(key, hashes.SHA256())
    )
    certfile = directory / "cert.pem"
    keyfile = directory / "key.pem"
    certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with os.fdopen(os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(key_pem)
    return CertFiles(certfile=certfile, keyfile=keyfile)


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None
