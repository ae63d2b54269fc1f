"""Small helpers for tests that feed a shell the lines a person would type."""

import base64


async def lines(*items):
    """An async iterator of script lines, as run_script takes them."""
    for item in items:
        yield item


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
