"""A server's certificate chain in plain words, and what verification would say of it.

Used by ``:tls`` only, so ``cryptography`` is imported here and nowhere on the
start path. Pure functions of DER bytes, a host name, a trust store and a
time: unit-tested with certificates made by ``trustme``.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import warnings
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from smtpshell.net import tls as tlsmod

# Below these a key or a digest is weak by today's rules (CA/B Forum, NIST SP 800-131A).
MIN_RSA_BITS = 2048
WEAK_HASHES = frozenset({"md5", "sha1"})
SOON_DAYS = 14  # "expires soon" (Let's Encrypt renews 30 days before, warns at 20 and 10)


@dataclass(frozen=True, kw_only=True)
class CertDetail(tlsmod.CertInfo):
    """What ``CertInfo`` says of a certificate, and what only ``:tls`` shows."""

    key: str  # "RSA 2048 bits", "EC P-256", "Ed25519"
    signature: str  # "RSA with SHA-256"
    is_ca: bool
    weaknesses: tuple[str, ...] = field(default=())


def _key_words(cert: x509.Certificate) -> tuple[str, list[str]]:
    key = cert.public_key()
    weak: list[str] = []
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            weak.append(f"RSA key of {key.key_size} bits (under {MIN_RSA_BITS}: weak)")
        return f"RSA {key.key_size} bits", weak
    if isinstance(key, ec.EllipticCurvePublicKey):
        names = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        return f"EC {names.get(key.curve.name, key.curve.name)} ({key.key_size} bits)", weak
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", weak
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", weak
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size} bits", ["DSA key (no longer accepted by browsers or most MTAs)"]
    return type(key).__name__, weak


def _signature_words(cert: x509.Certificate) -> tuple[str, list[str]]:
    algorithm = cert.signature_algorithm_oid._name  # e.g. "sha256WithRSAEncryption", "ecdsa-with-SHA384"
    try:
        digest = cert.signature_hash_algorithm
    except Exception:  # unsupported algorithm: show the OID's name only
        digest = None
    name = digest.name if digest is not None else ""
    key_kind = "RSA-PSS" if "PSS" in algorithm.upper() else "RSA" if "rsa" in algorithm.lower() \
        else "ECDSA" if "ecdsa" in algorithm.lower() else "DSA" if "dsa" in algorithm.lower() else algorithm
    shown = f"{key_kind} with {name.upper().replace('SHA', 'SHA-', 1)}" if name else key_kind
    weak = [f"signed with {name.upper()} (weak: rejected by current verifiers)"] if name in WEAK_HASHES else []
    return f"{shown} ({algorithm})", weak


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def describe(cert: x509.Certificate) -> CertDetail:
    key, key_weak = _key_words(cert)
    signature, sig_weak = _signature_words(cert)
    return CertDetail(
        subject=cert.subject.rfc4514_string() or "(empty)",
        issuer=cert.issuer.rfc4514_string() or "(empty)",
        sans=tlsmod.cert_sans(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key=key,
        signature=signature,
        is_ca=_is_ca(cert),
        self_signed=cert.subject == cert.issuer,
        weaknesses=tuple(key_weak + sig_weak),
    )


@dataclass(frozen=True, kw_only=True)
class ChainReport:
    certs: tuple[CertDetail, ...]
    unreadable: int  # certificates that could not be parsed
    name_matches: bool | None  # None: no certificate
    problems: tuple[str, ...]  # what would fail under verification, in plain words
    store: str  # the trust store checked against, in words


def trust_store(cafile: str | None) -> tuple[list[x509.Certificate], str]:
    """The certificates verification trusts, read from where the handshake reads them
    (``tls.make_context``): the system's hashed CA directory when there is one, else its
    bundle file (or SSL_CERT_FILE); plus ``--cafile``."""
    import ssl

    directory = tlsmod._hashed_system_dir()
    if directory is not None:
        files = sorted(os.path.join(directory, e.name) for e in os.scandir(directory) if _HASHED.fullmatch(e.name))
        system = [(path, None) for path in files]
        label = f"system store {directory}"
    else:
        bundle = ssl.get_default_verify_paths().cafile
        system = [(bundle, None)] if bundle else []
        label = f"system store {bundle}"
    certs: list[x509.Certificate] = []
    names = []
    read = _read_pem(system)
    if system:
        certs += read
        names.append(label if read else f"{label} (unreadable)")
    if cafile:
        extra = _read_pem([(cafile, None)])
        certs += extra
        names.append(f"--cafile {cafile}" if extra else f"--cafile {cafile} (unreadable)")
    return certs, " + ".join(names) or "no trust store found"


_HASHED = re.compile(r"[0-9a-f]{8}\.[0-9]+")


def _read_pem(paths) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for path, _ in paths:
        try:
            with open(path, "rb") as f, warnings.catch_warnings():
                warnings.simplefilter("ignore")  # old roots with odd serial numbers: cryptography warns, still loads
                certs += x509.load_pem_x509_certificates(f.read())
        except (OSError, ValueError):
            continue
    return certs


def analyse(chain: tuple[bytes, ...], *, hostname: str, cafile: str | None = None,
            now: _dt.datetime | None = None, store: tuple[list[x509.Certificate], str] | None = None) -> ChainReport:
    """Each certificate's details and what a verifying client would refuse, and why."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    details, parsed, unreadable = [], [], 0
    for der in chain:
        try:
            cert = x509.load_der_x509_certificate(der)
            details.append(describe(cert))
        except ValueError:
            unreadable += 1
            continue
        parsed.append(cert)
    trusted, store_words = store if store is not None else trust_store(cafile)
    if not details:
        return ChainReport(certs=(), unreadable=unreadable, name_matches=None,
                           problems=("the server sent no certificate",), store=store_words)
    leaf = details[0]
    problems: list[str] = []
    matches = tlsmod.name_matches(leaf.sans, hostname)
    if not matches:
        shown = ", ".join(leaf.sans) or "none (no subjectAltName: modern verifiers ignore the CN)"
        problems.append(f"host name {hostname} is not among the certificate's names ({shown})")
    for index, cert in enumerate(details):
        which = "the server certificate" if index == 0 else f"certificate [{index}]"
        if cert.not_after < now:
            problems.append(f"{which} expired on {cert.not_after:%Y-%m-%d} ({-cert.days_left(now)} days ago)")
        elif cert.not_before > now:
            problems.append(f"{which} is not valid before {cert.not_before:%Y-%m-%d %H:%M} UTC (check the clock)")
        problems += [f"{which}: {w}" for w in cert.weaknesses]
    trust = _trust_problem(parsed, hostname, trusted, now)
    if trust:
        problems.append(trust)
    return ChainReport(certs=tuple(details), unreadable=unreadable, name_matches=matches,
                       problems=tuple(dict.fromkeys(problems)), store=store_words)


def _trust_problem(parsed: list[x509.Certificate], hostname: str, trusted: list[x509.Certificate],
                   now: _dt.datetime) -> str | None:
    """Whether the chain leads to a trusted certificate, in one line; None if it does.

    Walks the chain as OpenSSL does: each certificate's issuer is the next one
    sent with that subject, or one in the trust store; every signature is
    checked and every issuer must be a CA. (Expiry and the name are checked
    by the caller, in words a person can act on.)
    """
    if not trusted:
        return "no trust store to check the issuer against"
    by_subject: dict[x509.Name, list[x509.Certificate]] = {}
    for cert in trusted:
        by_subject.setdefault(cert.subject, []).append(cert)
    sent = list(parsed)
    cert, index = sent[0], 0
    for _ in range(len(sent) + 1):
        if cert in trusted:
            return None
        anchors = by_subject.get(cert.issuer, [])
        issuers = [(c, "store") for c in anchors] + \
            [(c, i) for i, c in enumerate(sent) if i > index and c.subject == cert.issuer]
        if not issuers:
            if cert.subject == cert.issuer:
                which = "the server certificate is" if index == 0 else f"the chain ends in certificate [{index}], which is"
                return (f"self-signed: {which} not in the trust store "
                        "(verifying clients refuse it unless told to trust it: --cafile)")
            return (f"unknown issuer: {cert.issuer.rfc4514_string() or '(empty name)'} is not in the trust store "
                    "(a private CA? --cafile with its certificate; or the server omits an intermediate)")
        failure = None
        for issuer, where in issuers:
            try:
                cert.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature) as exc:
                failure = f"the signature on certificate [{index}] does not verify with its issuer's key ({exc or 'bad signature'})"
                continue
            if not _is_ca(issuer) and not (where == "store"):
                return f"certificate [{where}] issued certificate [{index}] but is not a CA (basicConstraints)"
            if where == "store":
                return None
            cert, index = issuer, where
            break
        else:
            return failure
    return "the chain loops (a certificate issues itself through others)"
