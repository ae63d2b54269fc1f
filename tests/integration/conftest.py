import ssl
import tempfile
from pathlib import Path

import pytest
import trustme

from smtpshell.settings import Settings
from smtpshell.shell.core import Shell, Target
from tests.support.esmtpd import ExtendedAioSmtpd
from tests.support.servers import AioSmtpd
from tests.support.capture import Capture


@pytest.fixture(scope="session")
def ca():
    return trustme.CA()


@pytest.fixture(scope="session")
def server_ctx(ca):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(ctx)
    return ctx


@pytest.fixture
def cafile(ca, tmp_path):
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
async def smtpd(server_ctx):
    server = await AioSmtpd(server_ctx=server_ctx).start()
    yield server
    await server.stop()


@pytest.fixture
async def esmtpd(server_ctx):
    """aiosmtpd with BDAT and DSN added (tests/support/esmtpd.py)."""
    server = await ExtendedAioSmtpd(server_ctx=server_ctx).start()
    yield server
    await server.stop()


@pytest.fixture
def private_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The practice server's own temporary directory (certificate, default Maildir) under tmp_path;
    modules that start it use it for every test (``pytestmark = pytest.mark.usefixtures(...)``)."""
    tempdir = tmp_path / "tmp"
    tempdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tempdir))
    return tempdir


@pytest.fixture
async def smtpd_tls(server_ctx):
    server = await AioSmtpd(server_ctx=server_ctx, implicit_tls=True).start()
    yield server
    await server.stop()


@pytest.fixture
def make_shell(tmp_path):
    """make_shell(**settings) -> (shell, capture); interactive=False (script semantics) unless told."""

    def make(*, interactive=False, **kw):
        kw.setdefault("env", {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")})
        kw.setdefault("timeout", 5.0)
        capture = Capture()
        return Shell(Settings(**kw), capture, interactive=interactive), capture

    return make


@pytest.fixture
def target():
    def make(server, implicit_tls=False):
        return Target(host=server.host, port=server.port, implicit_tls=implicit_tls)

    return make
