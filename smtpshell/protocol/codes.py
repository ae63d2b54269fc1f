"""What reply codes, enhanced status codes and EHLO keywords mean.

The knowledge is package data (``tables/*.tsv``), loaded once on first use;
this module only looks things up and phrases them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os

_CLASS_MEANING = {
    2: "success",
    3: "intermediate: the server waits for more",
    4: "temporary failure: try again later",
    5: "permanent failure: do not retry as is",
}
_ENHANCED_CLASS = {"2": "success", "4": "persistent transient failure", "5": "permanent failure"}


@functools.cache
def _table(name: str) -> dict[str, tuple[str, str]]:
    # Plain file access (importlib.resources costs more to import than the tables to read).
    with open(os.path.join(os.path.dirname(__file__), "tables", name), encoding="utf-8") as fh:
        text = fh.read()
    rows = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, meaning, source = (line.split("\t") + ["", ""])[:3]
        rows[key] = (meaning, source)
    return rows


def explain_code(code: int) -> str | None:
    """``550`` -> "mailbox unavailable (...)"; falls back to the class meaning."""
    row = _table("reply_codes.tsv").get(str(code))
    if row:
        return row[0]
    return _CLASS_MEANING.get(code // 100)


def code_source(code: int) -> str | None:
    row = _table("reply_codes.tsv").get(str(code))
    return row[1] if row else None


def explain_enhanced(code: str) -> str | None:
    """``5.7.8`` -> "authentication credentials invalid"."""
    cls, _, rest = code.partition(".")
    row = _table("enhanced_codes.tsv").get(f"X.{rest}")
    if row is None or cls not in _ENHANCED_CLASS:
        return None
    return row[0]


def explain_keyword(keyword: str, params: tuple[str, ...] = ()) -> str | None:
    """What an EHLO keyword means, with its parameters in words."""
    keyword = keyword.upper()
    row = _table("ehlo_keywords.tsv").get(keyword)
    if keyword == "SIZE":
        if params and params[0].isdigit() and int(params[0]):
            return f"maximum message size {human_size(int(params[0]))}"
        return "message size declared with SIZE=, no fixed limit"
    if keyword == "AUTH":
        mechs = " ".join(params) or "none listed"
        return f"SMTP authentication with: {mechs}"
    if row is None:
        if keyword.startswith("X"):
            return "a vendor extension (not registered with IANA)"
        return None
    return row[0]


def human_size(n: int) -> str:
    """10240000 -> "10 MB" (decimal units, as servers mean them)."""
    units = (("bytes", 1), ("kB", 10**3), ("MB", 10**6), ("GB", 10**9), ("TB", 10**12))
    for index, (unit, scale) in enumerate(units):
        value = n / scale
        shown = f"{value:.0f}" if value >= 10 or scale == 1 else f"{value:.1f}".removesuffix(".0")
        if float(shown) < 1000 or index == len(units) - 1:
            return f"{shown} {unit}"
    raise AssertionError("unreachable")


def decode_b64(text: str) -> bytes | None:
    """Strict base64 decoding; None when ``text`` is not base64."""
    text = text.strip()
    if not text or text == "=":
        return b""  # an empty challenge or response (RFC 4954: "=" in an initial response)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
