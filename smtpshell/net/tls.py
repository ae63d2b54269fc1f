"""TLS contexts, certificate descriptions and failure explanations."""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import ssl
from dataclasses import dataclass


class TLSSetupError(ValueError):
    """A TLS option cannot be used (a missing or unreadable file)."""


@dataclass(frozen=True, kw_only=True)
class TLSOptions:
    insecure: bool = False
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    sni: str | None = None
    min_version: str | None = None  # "1.2" | "1.3"


_MIN_VERSIONS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
                 "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def make_context(opts: TLSOptions) -> ssl.SSLContext:
    """A client context: verifying by default, as the options say otherwise."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, capath=_hashed_system_dir())
    if opts.cafile:
        try:
            ctx.load_verify_locations(cafile=opts.cafile)
        except ssl.SSLError:  # (an OSError too: first)
            raise TLSSetupError(f"--cafile {opts.cafile}: no PEM certificate in it (a CA file holds one "
                                "or more -----BEGIN CERTIFICATE----- blocks)") from None
        except OSError as exc:
            raise TLSSetupError(f"--cafile {opts.cafile}: {exc.strerror or exc}") from None
    if opts.certfile:
        try:
            ctx.load_cert_chain(opts.certfile, opts.keyfile)
        except ssl.SSLError as exc:  # (an OSError too: first)
            raise TLSSetupError(_cert_chain_problem(opts, exc)) from None
        except OSError as exc:
            if key_is_encrypted(opts.keyfile or opts.certfile):
                raise TLSSetupError(f"--key {opts.keyfile or opts.certfile}: the key is encrypted and no passphrase "
                                    "was given (run in a terminal to be asked for it, or decrypt it: "
                                    "openssl pkey -in KEY -out PLAIN)") from None
            path = next((p for p in (opts.certfile, opts.keyfile) if p and not os.path.isfile(p)), opts.certfile)
            which = "--cert" if path == opts.certfile else "--key"
            raise TLSSetupError(f"{which} {path}: {exc.strerror or exc}") from None
    if opts.min_version:
        ctx.minimum_version = _MIN_VERSIONS[opts.min_version]
    if opts.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def key_is_encrypted(path: str | None) -> bool:
    """Whether a PEM key file is passphrase-protected (OpenSSL would ask for the passphrase)."""
    try:
        with open(path or "", "rb") as fh:
            return b"ENCRYPTED" in fh.read(1 << 16)
    except OSError:
        return False


def _cert_chain_problem(opts: TLSOptions, exc: ssl.SSLError) -> str:
    """Why --cert/--key did not load, naming the file to look at."""
    reason = (exc.reason or "").upper()
    if "KEY_VALUES_MISMATCH" in reason:
        return f"--cert {opts.certfile} and --key {opts.keyfile}: the key does not belong to the certificate"
    if opts.keyfile is None:
        return (f"--cert {opts.certfile}: no certificate and private key in PEM form in it "
                "(give the key with --key if it is in another file)")
    return f"--cert {opts.certfile} / --key {opts.keyfile}: not a PEM certificate and its private key"


def _hashed_system_dir() -> str | None:
    """The system's CA directory when OpenSSL can look CAs up in it by hash, else None.

    Loading it costs nothing: OpenSSL reads a CA from it only when a chain
    needs it. ``create_default_context()`` without it loads the whole default
    bundle (about 140 CAs, 28 ms on Debian) before every handshake. A system
    with only a bundle file (or SSL_CERT_FILE set) gets the default as before.
    """
    paths = ssl.get_default_verify_paths()
    if not paths.capath or os.environ.get(paths.openssl_cafile_env):
        return None
    try:
        with os.scandir(paths.capath) as entries:
            if any(entry.name.endswith(".0") for entry in entries):
                return paths.capath
    except OSError:
        pass
    return None


def server_hostname(host: str, opts: TLSOptions) -> str:
    """The name to verify (and send as SNI unless it is an address)."""
    return opts.sni or host


@dataclass(frozen=True, kw_only=True)
class CertInfo:
    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: _dt.datetime
    not_after: _dt.datetime
    self_signed: bool

    def days_left(self, now: _dt.datetime | None = None) -> int:
        now = now or _dt.datetime.now(_dt.timezone.utc)
        return (self.not_after - now).days


@dataclass(frozen=True, kw_only=True)
class TLSInfo:
    version: str  # "TLSv1.3"
    cipher: str
    bits: int | None
    cert: CertInfo | None
    verified: bool  # the chain and name were checked and passed
    verification: str  # one line: what was checked and the result
    chain: tuple[bytes, ...] = ()  # the certificates the server sent, leaf first (DER)
    hostname: str = ""  # the name the certificate was (or would have been) checked against

    @property
    def summary(self) -> str:
        return f"{self.version} {self.cipher}"


def cert_sans(cert) -> tuple[str, ...]:
    """A ``cryptography`` certificate's subjectAltNames as ``DNS:name`` and ``IP:address``."""
    from cryptography import x509

    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return ()
    return tuple([f"DNS:{n}" for n in ext.get_values_for_type(x509.DNSName)]
                 + [f"IP:{ip}" for ip in ext.get_values_for_type(x509.IPAddress)])


def describe_cert(der: bytes | None) -> CertInfo | None:
    """The parts of a certificate a person checks, from its DER bytes."""
    if not der:
        return None
    from cryptography import x509  # lazy: only when TLS is used

    cert = x509.load_der_x509_certificate(der)
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=cert_sans(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        self_signed=cert.subject == cert.issuer,
    )


def _name(rdns) -> str:
    """An X.509 name from ``getpeercert()`` in RFC 4514 order and form (as cryptography writes it)."""
    labels = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU", "countryName": "C",
              "stateOrProvinceName": "ST", "localityName": "L", "domainComponent": "DC", "streetAddress": "STREET",
              "userId": "UID"}
    parts = []
    for rdn in reversed(rdns or ()):
        parts.append("+".join(f"{labels.get(k, k)}={_escape(v)}" for k, v in rdn))
    return ",".join(parts)


def _escape(value: str) -> str:
    out = "".join("\\" + ch if ch in ',+"\\<>;=' else ch for ch in value)
    if out[:1] in ("#", " "):
        out = "\\" + out
    if out.endswith(" "):
        out = out[:-1] + "\\ "
    return out


def _from_verified(peer: dict | None) -> CertInfo | None:
    """The certificate as OpenSSL decoded it (only after verification): no cryptography import needed."""
    if not peer or "notAfter" not in peer:
        return None
    sans = tuple([f"DNS:{value}" for kind, value in peer.get("subjectAltName", ()) if kind == "DNS"]
                 + [f"IP:{ipaddress.ip_address(value.strip())}" for kind, value in peer.get("subjectAltName", ())
                    if kind == "IP Address"])
    when = lambda key: _dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(peer[key]), _dt.timezone.utc)  # noqa: E731
    subject, issuer = _name(peer.get("subject")), _name(peer.get("issuer"))
    return CertInfo(subject=subject, issuer=issuer, sans=sans, not_before=when("notBefore"),
                    not_after=when("notAfter"), self_signed=peer.get("subject") == peer.get("issuer"))


def name_matches(sans: tuple[str, ...], hostname: str) -> bool:
    """Does ``hostname`` match a SAN (RFC 6125: wildcards in the left-most label only)?"""
    try:
        ip = ipaddress.ip_address(hostname.strip("[]"))
    except ValueError:
        ip = None
    for san in sans:
        kind, _, value = san.partition(":")
        if ip is not None:
            if kind == "IP" and ipaddress.ip_address(value) == ip:
                return True
            continue
        if kind != "DNS":
            continue
        value, host = value.lower().rstrip("."), hostname.lower().rstrip(".")
        if value == host:
            return True
        if value.startswith("*.") and "." in host and host.split(".", 1)[1] == value[2:]:
            return True
    return False


def peer_chain(ssl_object: ssl.SSLObject) -> tuple[bytes, ...]:
    """The certificates the server sent, leaf first, as DER; () when unknown.

    Python 3.13 made ``get_unverified_chain`` public; 3.10 to 3.12 have it
    on the private ``_sslobj`` only, returning certificate objects.
    """
    getter = getattr(ssl_object, "get_unverified_chain", None) \
        or getattr(getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None)
    if getter is None:
        return ()
    try:
        certs = getter() or ()
        import _ssl

        return tuple(c if isinstance(c, bytes) else c.public_bytes(_ssl.ENCODING_DER) for c in certs)
    except (ssl.SSLError, ValueError, AttributeError, TypeError):
        return ()


def describe_session(ssl_object: ssl.SSLObject, *, hostname: str, opts: TLSOptions) -> TLSInfo:
    cipher_name, _proto, bits = ssl_object.cipher() or ("?", "?", None)
    cert = _from_verified(ssl_object.getpeercert()) or describe_cert(ssl_object.getpeercert(binary_form=True))
    if opts.insecure:
        problems = []
        if cert is None:
            problems.append("no certificate")
        else:
            if not name_matches(cert.sans, hostname):
                problems.append(f"name {hostname} not in the certificate")
            if cert.days_left() < 0:
                problems.append("expired")
            if cert.self_signed:
                problems.append("self-signed")
        found = "; would fail: " + ", ".join(problems) if problems else ""
        verification = f"NOT verified (--insecure){found}"
        verified = False
    else:
        verification = f"verified: trusted issuer, name {hostname} matches"
        verified = True
    return TLSInfo(
        version=ssl_object.version() or "?",
        cipher=cipher_name,
        bits=bits,
        cert=cert,
        verified=verified,
        verification=verification,
        chain=peer_chain(ssl_object),
        hostname=hostname,
    )


# OpenSSL X509_V_ERR_* codes a person meets, in plain words.
_VERIFY_REASONS = {
    9: "the certificate is not yet valid",
    10: "the certificate has expired",
    18: "the certificate is self-signed",
    19: "a self-signed certificate is in the chain (unknown issuer)",
    20: "unknown issuer (unable to get local issuer certificate)",
    21: "unable to verify the first certificate (incomplete chain?)",
    62: "the host name does not match the certificate",
    64: "the IP address does not match the certificate",
}


def explain_failure(exc: BaseException, *, hostname: str, min_version: str | None = None) -> str:
    """One line: why the handshake failed, and how to go on (``min_version``: --tls-min's value)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = _VERIFY_REASONS.get(exc.verify_code, exc.verify_message or str(exc))
        if exc.verify_code in (62, 64):
            reason += f" ({hostname})"
            advice = "connect by a name the certificate has, or --sni NAME, or --insecure to go on without checking"
        elif exc.verify_code in (9, 10):
            advice = "check the server's clock and certificate renewal, or --insecure to go on without checking"
        else:
            advice = "use --cafile FILE to trust its issuer, or --insecure to go on without checking"
        return f"certificate verification failed: {reason}; {advice}"
    if isinstance(exc, ssl.SSLError):
        detail = exc.reason or exc.strerror or str(exc)
        meaning = _SSL_REASONS.get(exc.reason or "")
        if min_version and meaning == _OLD_VERSION:
            meaning = (f"protocol version: the server offers no TLS version from {min_version} up, which "
                       f"--tls-min {min_version} asks for; without --tls-min, see which it speaks (:tls)")
        return f"TLS handshake failed: {meaning} ({detail})" if meaning else f"TLS handshake failed: {detail}"
    if isinstance(exc, TimeoutError):
        return "TLS handshake timed out"
    if isinstance(exc, ConnectionError):
        return f"TLS handshake failed: the server closed the connection during the handshake ({exc.__class__.__name__})"
    return f"TLS handshake failed: {exc or exc.__class__.__name__}"


# OpenSSL's reasons for a failed handshake a person meets, in plain words.
_OLD_VERSION = "protocol version: the server offers no TLS version this client accepts; an old TLS 1.0/1.1-only server?"
_SSL_REASONS = {
    "TLSV1_ALERT_PROTOCOL_VERSION": _OLD_VERSION,
    "UNSUPPORTED_PROTOCOL": _OLD_VERSION,
    "WRONG_VERSION_NUMBER": "the server did not answer in TLS (a plain-text port? try STARTTLS instead of --tls)",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "the server refused the handshake (no cipher or option in common)",
    "NO_PROTOCOLS_AVAILABLE": "protocol version: no TLS version is allowed by the options given (--tls-min?)",
    "UNEXPECTED_EOF_WHILE_READING": "the server closed the connection during the handshake",
}
