"""``smtpshell explain TEXT`` and ``:explain TEXT``: what a code, reply or keyword means."""

from __future__ import annotations

import re

from smtpshell.protocol import codes
from smtpshell.protocol.replies import split_enhanced

_BASIC = re.compile(r"^([1-5][0-9]{2})(?:[ -](.*))?$", re.S)
_ENHANCED = re.compile(r"^[245]\.[0-9]{1,3}\.[0-9]{1,3}$")


def explain(text: str) -> list[str]:
    """Lines of explanation for a code (550), enhanced code (5.7.1), reply line or keyword."""
    text = text.strip()
    m = _BASIC.match(text)
    if m:
        code = int(m.group(1))
        out = [f"{code}: {codes.explain_code(code) or 'not a code RFC 5321 defines'}"
               + (f" ({codes.code_source(code)})" if codes.code_source(code) else "")]
        out.append(f"  class {code // 100}xx: {_class(code)}")
        enhanced, _rest = split_enhanced(m.group(2) or "")
        if enhanced:
            out.extend(explain(enhanced))
        return out
    if _ENHANCED.match(text):
        meaning = codes.explain_enhanced(text)
        cls = {"2": "success", "4": "persistent transient failure (retry later)", "5": "permanent failure"}[text[0]]
        if meaning is None:
            return [f"{text}: not in the registry; class {text[0]}: {cls}"]
        return [f"{text}: {meaning}", f"  class {text[0]}: {cls}"]
    word = text.split()[0] if text.split() else ""
    meaning = codes.explain_keyword(word, tuple(text.split()[1:]))
    if meaning:
        return [f"{word.upper()}: {meaning}"]
    return [f"{text!r}: not a reply code, enhanced status code or EHLO keyword I know"]


def _class(code: int) -> str:
    return {
        2: "positive completion",
        3: "positive intermediate: send more",
        4: "transient negative: try again later",
        5: "permanent negative: do not retry as is",
    }.get(code // 100, "not a valid reply class")
