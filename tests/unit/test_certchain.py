"""certchain.analyse: each certificate in words and what verification would refuse (trustme certificates)."""

import datetime as dt
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from smtpshell.net import certchain

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.timezone.utc)


def der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def store_of(*cas: trustme.CA):
    return [x509.load_pem_x509_certificate(ca.cert_pem.bytes()) for ca in cas], "test store"


def chain_of(leaf: trustme.LeafCert) -> tuple[bytes, ...]:
    return tuple(der(blob.bytes()) for blob in leaf.cert_chain_pems)


@pytest.fixture(scope="module")
def ca():
    return trustme.CA(organization_name="Test Root")


def test_a_good_chain_through_an_intermediate_has_no_problems(ca):
    child = ca.create_child_ca()
    leaf = child.issue_cert("mail.example.com", not_before=NOW - dt.timedelta(days=1),
                            not_after=NOW + dt.timedelta(days=90))
    report = certchain.analyse(chain_of(leaf), hostname="mail.example.com", now=NOW, store=store_of(ca))
    assert report.problems == ()
    assert report.name_matches is True
    assert len(report.certs) == 2
    server, intermediate = report.certs
    assert server.sans == ("DNS:mail.example.com",)
    assert server.key == "EC P-256 (256 bits)"
    assert server.signature.startswith("ECDSA with SHA-256")
    assert server.days_left(NOW) == 90
    assert intermediate.is_ca and not intermediate.self_signed
    assert server.issuer == intermediate.subject


def test_a_wrong_name_is_said_with_the_names_the_certificate_has(ca):
    leaf = ca.issue_cert("mail.example.com", "127.0.0.1")
    report = certchain.analyse(chain_of(leaf), hostname="mx.other.example", now=NOW, store=store_of(ca))
    assert report.name_matches is False
    assert report.problems == (
        "host name mx.other.example is not among the certificate's names (DNS:mail.example.com, IP:127.0.0.1)",)


def test_wildcards_match_one_label_only(ca):
    leaf = ca.issue_cert("*.example.com")
    assert certchain.analyse(chain_of(leaf), hostname="mx.example.com", now=NOW, store=store_of(ca)).problems == ()
    deep = certchain.analyse(chain_of(leaf), hostname="a.mx.example.com", now=NOW, store=store_of(ca))
    assert deep.name_matches is False


def test_an_expired_certificate_says_when(ca):
    leaf = ca.issue_cert("mail.example.com", not_before=NOW - dt.timedelta(days=400),
                         not_after=NOW - dt.timedelta(days=3))
    report = certchain.analyse(chain_of(leaf), hostname="mail.example.com", now=NOW, store=store_of(ca))
    assert report.problems == (
        f"the server certificate expired on {(NOW - dt.timedelta(days=3)):%Y-%m-%d} (3 days ago)",)


def test_an_unknown_issuer_is_named(ca):
    other = trustme.CA(organization_name="Somebody Else")
    leaf = ca.issue_cert("mail.example.com")
    report = certchain.analyse(chain_of(leaf), hostname="mail.example.com", now=NOW, store=store_of(other))
    [problem] = report.problems
    assert problem.startswith("unknown issuer: ") and "Test Root" in problem and "--cafile" in problem


SAMPLES = Path(__file__).parent / "samples"


def self_signed(name: str = "mail.example.com") -> bytes:
    key = ec.generate_private_key(ec.SECP384R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(1234).not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA384()))
    return cert.public_bytes(serialization.Encoding.DER)


def test_weak_key_and_sha1_signature_are_each_named():
    """An old self-signed certificate (RSA 1024, SHA-1; made with openssl req -x509 -sha1, kept as a sample)."""
    weak = der((SAMPLES / "weak-sha1-rsa1024.pem").read_bytes())
    report = certchain.analyse((weak,), hostname="mail.example.com", now=NOW, store=([], "empty store"))
    [cert] = report.certs
    assert (cert.key, cert.signature, cert.self_signed) == ("RSA 1024 bits", "RSA with SHA-1 (sha1WithRSAEncryption)", True)
    assert report.problems == (
        "the server certificate: RSA key of 1024 bits (under 2048: weak)",
        "the server certificate: signed with SHA1 (weak: rejected by current verifiers)",
        "no trust store to check the issuer against",
    )


def test_a_self_signed_certificate_not_in_the_store_says_so():
    report = certchain.analyse((self_signed(),), hostname="mail.example.com", now=NOW, store=store_of(trustme.CA()))
    assert report.certs[0].key == "EC P-384 (384 bits)"
    assert report.problems == ("self-signed: the server certificate is not in the trust store "
                               "(verifying clients refuse it unless told to trust it: --cafile)",)


def test_a_self_signed_certificate_given_with_cafile_is_trusted():
    cert = self_signed()
    trusted = [x509.load_der_x509_certificate(cert)]
    assert certchain.analyse((cert,), hostname="mail.example.com", now=NOW, store=(trusted, "x")).problems == ()


def test_an_intermediate_that_is_not_a_ca_is_refused(ca):
    """A leaf used to sign another certificate: OpenSSL refuses the chain (basicConstraints)."""
    middle = ca.issue_cert("middle.example.com")
    middle_cert = x509.load_pem_x509_certificate(middle.cert_chain_pems[0].bytes())
    middle_key = serialization.load_pem_private_key(middle.private_key_pem.bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.example.com")]))
            .issuer_name(middle_cert.subject).public_key(key.public_key()).serial_number(99)
            .not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("mail.example.com")]), critical=False)
            .sign(middle_key, hashes.SHA256()))
    chain = (leaf.public_bytes(serialization.Encoding.DER), middle_cert.public_bytes(serialization.Encoding.DER))
    report = certchain.analyse(chain, hostname="mail.example.com", now=NOW, store=store_of(ca))
    assert report.problems == ("certificate [1] issued certificate [0] but is not a CA (basicConstraints)",)


def test_a_forged_signature_is_caught():
    """The store has a CA of the issuer's name but another key: the names chain, the signature does not."""
    issuer = trustme.CA()
    leaf = issuer.issue_cert("mail.example.com")
    store = ([_same_name_other_key(x509.load_pem_x509_certificate(issuer.cert_pem.bytes()))], "x")
    report = certchain.analyse(chain_of(leaf), hostname="mail.example.com", now=NOW, store=store)
    [problem] = report.problems
    assert problem.startswith("the signature on certificate [0] does not verify with its issuer's key")


def _same_name_other_key(ca: x509.Certificate) -> x509.Certificate:
    """A self-signed CA with ``ca``'s subject but a key of its own."""
    key = ec.generate_private_key(ec.SECP256R1())
    return (x509.CertificateBuilder().subject_name(ca.subject).issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(7).not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


def test_garbage_in_the_chain_is_counted_not_fatal(ca):
    leaf = ca.issue_cert("mail.example.com")
    report = certchain.analyse(chain_of(leaf) + (b"\x30\x03junk",), hostname="mail.example.com", now=NOW,
                               store=store_of(ca))
    assert report.unreadable == 1 and len(report.certs) == 1


def test_no_certificate_at_all():
    report = certchain.analyse((), hostname="mail.example.com", now=NOW, store=([], "x"))
    assert report.problems == ("the server sent no certificate",) and report.name_matches is None


def test_the_trust_store_is_read_where_the_handshake_reads_it(tmp_path, monkeypatch):
    """A hashed CA directory (SSL_CERT_DIR, /etc/ssl/certs on Debian) is what make_context trusts,
    so :tls checks against the same certificates; --cafile comes on top."""
    import subprocess

    system, private = trustme.CA(organization_name="System CA"), trustme.CA(organization_name="Private CA")
    (tmp_path / "certs").mkdir()
    system.cert_pem.write_to_path(str(tmp_path / "certs" / "system.pem"))
    subprocess.run(["openssl", "rehash", str(tmp_path / "certs")], check=True)
    private.cert_pem.write_to_path(str(tmp_path / "private.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "certs"))
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    certs, words = certchain.trust_store(str(tmp_path / "private.pem"))
    assert words == f"system store {tmp_path / 'certs'} + --cafile {tmp_path / 'private.pem'}"
    orgs = sorted(c.subject.rfc4514_string().split("O=")[-1].split(",")[0] for c in certs)
    assert orgs == ["Private CA", "System CA"]
    leaf = system.issue_cert("mail.example.com")
    assert certchain.analyse(chain_of(leaf), hostname="mail.example.com", now=NOW).problems == ()
