""":caps and :tls against a real aiosmtpd on 127.0.0.1, what the user reads."""

import ssl

import pytest
import trustme

from tests.support.servers import AioSmtpd


@pytest.fixture(scope="module")
def root():
    return trustme.CA(organization_name="Inspect Root")


@pytest.fixture
async def chained_smtpd(root):
    """A server whose certificate comes through an intermediate CA, sent with the leaf."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    root.create_child_ca().issue_cert("localhost", "127.0.0.1").configure_cert(ctx)
    server = await AioSmtpd(server_ctx=ctx).start()
    yield server
    await server.stop()


@pytest.fixture
def root_file(root, tmp_path):
    path = tmp_path / "root.pem"
    root.cert_pem.write_to_path(str(path))
    return str(path)


async def test_caps_explains_each_keyword_then_what_changed_after_starttls(smtpd, make_shell, target, cafile):
    shell, out = make_shell(cafile=cafile, interactive=True)
    await shell.connect(target(smtpd))
    await shell.handle(":caps")
    assert "no EHLO reply yet: send EHLO first" in out.text
    await shell.handle(":caps SIZE")
    assert ":caps takes no arguments (:explain KEYWORD explains one keyword)" in out.text
    await shell.handle("EHLO me")
    await shell.handle(":caps")
    before = out.text
    assert "advertised in plain text" in before
    assert "  STARTTLS" in before and "TLS can be started on this connection" in before
    assert "after STARTTLS and a new EHLO, :caps shows what changed" in before
    await shell.handle("STARTTLS")
    await shell.handle(":caps")
    assert "no EHLO reply since TLS started: send EHLO" in out.text
    await shell.handle("EHLO me")
    mark = len(out.lines)
    await shell.handle(":caps")
    after = out.since(mark)
    assert "advertised over TLS" in after
    assert "changed since the plain-text EHLO (before STARTTLS):" in after
    assert "  - STARTTLS   TLS is up" in after
    await shell.quit()


async def test_tls_shows_every_certificate_of_a_verified_chain(chained_smtpd, make_shell, target, root_file):
    shell, out = make_shell(cafile=root_file, interactive=True)
    await shell.connect(target(chained_smtpd))
    await shell.handle(":tls")
    assert "TLS is not active: STARTTLS (or :starttls) first" in out.text
    await shell.handle(":tls chain")
    assert ":tls takes no arguments" in out.text
    assert await shell.starttls()
    mark = len(out.lines)
    await shell.handle(":tls")
    text = out.since(mark)
    assert "certificate chain as the server sent it (2 certificates):" in text
    assert "[0] server certificate" in text and "[1] intermediate CA" in text
    assert "names      DNS:localhost, IP:127.0.0.1" in text
    assert "host name  127.0.0.1 matches" in text
    assert "key        EC P-256 (256 bits)" in text
    assert "signature  ECDSA with SHA-256" in text
    assert "days left)" in text
    assert f"--cafile {root_file}" in text
    assert "verified: trusted issuer, name 127.0.0.1 matches (OpenSSL, during the handshake)" in text
    assert "would fail" not in text and "stricter check" not in text
    await shell.quit()


async def test_tls_with_insecure_says_what_verification_would_refuse(chained_smtpd, make_shell, target):
    shell, out = make_shell(insecure=True, sni="mail.example.org", interactive=True)
    await shell.connect(target(chained_smtpd))
    assert await shell.starttls()
    mark = len(out.lines)
    await shell.handle(":tls")
    text = out.since(mark)
    assert "mail.example.org does NOT match" in text
    assert "not verified (--insecure); with verification on the handshake would fail:" in text
    assert "host name mail.example.org is not among the certificate's names (DNS:localhost, IP:127.0.0.1)" in text
    assert "unknown issuer: " in text and "Inspect Root" in text
    assert shell.connected  # looking does not disturb the session
    await shell.handle("NOOP")
    assert shell.last_reply.code == 250
    await shell.quit()
