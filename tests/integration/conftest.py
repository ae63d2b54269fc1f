import ssl

import pytest
import trustme

from smtpshell.settings import Settings
from smtpshell.shell.core import Shell, Target
from tests.support.servers import AioSmtpd


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
async def smtpd_tls(server_ctx):
    server = await AioSmtpd(server_ctx=server_ctx, implicit_tls=True).start()
    yield server
    await server.stop()


class Capture:
    """An Output that keeps the lines (as plain text and as fragments)."""

    def __init__(self):
        self.lines = []

    def emit(self, lines):
        self.lines.extend(lines)

    @property
    def text(self) -> str:
        return "\n".join("".join(t for _, t in line) for line in self.lines)


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
