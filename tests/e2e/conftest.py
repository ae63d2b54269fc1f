import pytest

from tests.support.terminal import terminal_factory


@pytest.fixture
def terminal(tmp_path):
    spawn, close_all = terminal_factory(tmp_path)
    yield spawn
    close_all()
