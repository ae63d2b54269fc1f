"""Small helpers for tests that feed a shell the lines a person would type."""

import base64
import re


async def lines(*items):
    """An async iterator of script lines, as run_script takes them."""
    for item in items:
        yield item


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def replied(text: str, *codes: str) -> bool:
    """Whether the shell's output shows a reply line with one of these codes. A bare
    ``"221" in text`` would also match the random port in "connected to 127.0.0.1:42213"."""
    return re.search(rf"(?m)^(?:{'|'.join(codes)})[ -]", text) is not None
