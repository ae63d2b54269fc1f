"""The certificate summary after a verified handshake comes from OpenSSL's own decoding (no cryptography
import on the start path); it must read exactly as the cryptography-based one used without verification."""

import ssl
import subprocess

import pytest
import trustme

from smtpshell.net import tls


def handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, hostname: str) -> ssl.SSLObject:
    """A TLS handshake in memory (no sockets): returns the client's SSLObject."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for side in (client, server):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        try:
            client.do_handshake()
            server.do_handshake()
            return client
        except ssl.SSLWantReadError:
            continue
    raise AssertionError("handshake did not finish")


@pytest.mark.parametrize("identities, org", [
    (("localhost", "127.0.0.1", "::1"), "Plain Org"),
    (("mail.example.com", "*.example.net", "2001:db8::25"), 'Comma, "Quote" + Plus; Org'),
])
def test_verified_summary_equals_the_cryptography_one(identities, org):
    ca = trustme.CA(organization_name=org)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*identities, organization_name=org).configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    client = handshake(server_ctx, client_ctx, identities[0])
    from_openssl = tls._from_verified(client.getpeercert())
    from_der = tls.describe_cert(client.getpeercert(binary_form=True))
    assert from_openssl is not None
    assert from_openssl == from_der
    assert from_openssl.sans[-1] == f"IP:{identities[-1]}"


def test_unverified_handshake_has_no_decoded_certificate():
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    client = handshake(server_ctx, client_ctx, "localhost")
    assert tls._from_verified(client.getpeercert()) is None  # so describe_session falls back to the DER
    info = tls.describe_session(client, hostname="localhost", opts=tls.TLSOptions(insecure=True))
    assert info.cert is not None and info.cert.sans == ("DNS:localhost",)
    assert len(info.chain) == 1  # a leaf issued by the root itself: the root is not sent


def _verifies(client_ctx: ssl.SSLContext, ca: trustme.CA) -> bool:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    try:
        handshake(server_ctx, client_ctx, "localhost")
    except ssl.SSLCertVerificationError:
        return False
    return True


def system_store(directory, monkeypatch, ca: trustme.CA) -> None:
    """A hashed CA directory holding ``ca``, named by SSL_CERT_DIR (as /etc/ssl/certs is on Debian)."""
    directory.mkdir(exist_ok=True)
    ca.cert_pem.write_to_path(str(directory / "system-ca.pem"))
    subprocess.run(["openssl", "rehash", str(directory)], check=True)
    monkeypatch.setenv("SSL_CERT_DIR", str(directory))
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)


def test_system_cas_are_found_in_a_hashed_directory(tmp_path, monkeypatch):
    """SSL_CERT_DIR names a hashed directory: its CAs are trusted, others not."""
    ca, stranger = trustme.CA(), trustme.CA()
    system_store(tmp_path / "certs", monkeypatch, ca)
    assert tls._hashed_system_dir() == str(tmp_path / "certs")
    ctx = tls.make_context(tls.TLSOptions())
    assert _verifies(ctx, ca)
    assert not _verifies(tls.make_context(tls.TLSOptions()), stranger)


def test_ssl_cert_file_is_honoured(tmp_path, monkeypatch):
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "bundle.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "bundle.pem"))
    assert tls._hashed_system_dir() is None
    assert _verifies(tls.make_context(tls.TLSOptions()), ca)


def test_cafile_adds_to_the_system_store(tmp_path, monkeypatch):
    system, private = trustme.CA(), trustme.CA()
    system_store(tmp_path / "certs", monkeypatch, system)
    private.cert_pem.write_to_path(str(tmp_path / "private.pem"))
    opts = tls.TLSOptions(cafile=str(tmp_path / "private.pem"))
    assert _verifies(tls.make_context(opts), private)
    assert _verifies(tls.make_context(opts), system)
