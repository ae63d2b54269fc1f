"""``smtpshell explain TEXT`` and ``:explain TEXT``: what a code, reply or keyword means.

TEXT may be a basic reply code (``550``), an enhanced status code (``5.7.8``, or ``X.7.8``),
a whole reply as a server wrote it (``550 5.7.1 Relay access denied``, one line or several),
or an EHLO keyword with its parameters (``PIPELINING``, ``SIZE 10240000``, ``AUTH PLAIN LOGIN``).
The answer says what the RFC says and, for the common failures, what is likely wrong and
what to try.
"""

from __future__ import annotations

import re

from smtpshell.protocol import codes
from smtpshell.protocol.replies import split_enhanced

_BASIC = re.compile(r"^([0-9]{3})(?:[ -](.*))?$", re.S)
_ENHANCED = re.compile(r"^([245X])\.([0-9]{1,3})\.([0-9]{1,3})$", re.I)
_REPLY_LINE = re.compile(r"^([0-9]{3})(?:[ -]|$)")


def explain(text: str) -> list[str]:
    """Lines of explanation for a code (550), enhanced code (5.7.1), reply or keyword."""
    text = text.strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and _REPLY_LINE.match(lines[0]):
        return _explain_reply(lines)
    m = _ENHANCED.match(text)
    if m:
        return _explain_enhanced(text.upper() if text[0] in "xX" else text)
    words = text.split()
    if words:
        keyword, eq, first = words[0].partition("=")  # "AUTH=PLAIN LOGIN", the old form
        params = ([first] if eq and first else []) + words[1:]
        shown = _explain_keyword(keyword + eq, tuple(params))
        if shown:
            return shown
    return [f"{text!r}: not a reply code, enhanced status code or EHLO keyword I know"]


# ----- replies and basic codes -----------------------------------------------------------------------


def _explain_reply(lines: list[str]) -> list[str]:
    code = int(lines[0][:3])
    texts = []
    for line in lines:  # a pasted multi-line reply: "550-5.7.26 ...", "550 5.7.26 ..."
        m = _BASIC.match(line)
        texts.append((m.group(2) or "") if m and int(m.group(1)) == code else line)
    enhanced = None
    rest = []
    for index, line_text in enumerate(texts):
        found, remainder = split_enhanced(line_text)
        if index == 0:
            enhanced = found
        rest.append(remainder if found and found == enhanced else line_text)
    reply_text = " ".join(part for part in rest if part)

    out = _explain_code(code)
    if enhanced:
        out.extend(_explain_enhanced(enhanced, with_failure=False))
    elif code == 250 and reply_text:  # a pasted EHLO line: "250-PIPELINING"
        words = reply_text.split()
        keyword, eq, first = words[0].partition("=")
        if codes.keyword_info(keyword + eq) is not None:
            params = ([first] if eq and first else []) + words[1:]
            out.extend(_explain_keyword(keyword + eq, tuple(params)) or [])
            return out
    if not 200 <= code < 600:
        return out
    failure = codes.match_failure(code, enhanced, reply_text)
    if failure is not None:
        out.extend(_failure_lines(failure))
    return out


def _explain_code(code: int) -> list[str]:
    info = codes.code_info(code)
    cls = codes.class_meaning(code)
    if cls is None:
        return [f"{code}: not a reply code: SMTP codes run from 2xx to 5xx"]
    if info is None:
        return [f"{code}: not a code the RFCs define; class {code // 100}xx: {cls}"]
    return [
        f"{code}: {info.meaning} ({info.source})",
        f"  class {code // 100}xx: {_CLASS[code // 100]}",
        f"  {info.detail}",
    ]


_CLASS = {
    2: "positive completion: it worked",
    3: "positive intermediate: the server waits for more from you",
    4: "transient negative: it did not work now; the same may work later",
    5: "permanent negative: it will not work as is; something must change",
}


# ----- enhanced status codes --------------------------------------------------------------------------


def _explain_enhanced(code: str, *, with_failure: bool = True) -> list[str]:
    generic = code[0] in "xX"
    lookup = "5" + code[1:] if generic else code  # the class does not matter for the registry row
    info = codes.enhanced_info(lookup)
    subject = codes.enhanced_subject(lookup)
    cls = None if generic else codes.enhanced_class(code)
    out = []
    if info is None:
        out.append(f"{code}: not in the IANA registry of enhanced status codes")
    else:
        out.append(f"{code}: {info.meaning} ({info.source})")
    parts = []
    if cls is not None:
        parts.append(f"class {code[0]}: {cls.meaning}")
    if subject is not None:
        parts.append(f"subject {code.split('.')[1]}: {subject.meaning}")
    if parts:
        out.append("  " + " · ".join(parts))
    if info is not None:
        out.append(f"  detail {code.split('.')[2]}: {info.detail}")
    if cls is not None and code[0] != "2":
        out.append(f"  {cls.detail}")
    if with_failure and info is not None:
        failure = codes.match_failure(None, lookup)
        if failure is not None:
            out.extend(_failure_lines(failure))
    return out


# ----- failures ----------------------------------------------------------------------------------------


def _failure_lines(failure: codes.Failure) -> list[str]:
    out = [f"common failure: {failure.title}", "  likely causes:"]
    out.extend(f"    - {cause}" for cause in failure.causes)
    out.append("  try:")
    out.extend(f"    - {attempt}" for attempt in failure.tries)
    seen = [f"{example.server}: {example.reply}" for example in failure.examples[:2]
            if example.server != "any"]
    if seen:
        out.append("  as servers write it: " + seen[0])
        out.extend(f"                       {line}" for line in seen[1:])
    return out


# ----- EHLO keywords -----------------------------------------------------------------------------------


def _explain_keyword(keyword: str, params: tuple[str, ...]) -> list[str] | None:
    meaning = codes.explain_keyword(keyword, params)
    if meaning is None:
        return None
    info = codes.keyword_info(keyword)
    name = keyword.upper()
    if info is None:
        return [f"{name}: {meaning}"]
    registry = "IANA-registered" if info.registry == "IANA" else "not in the IANA registry"
    source = f"{info.source}; " if info.source not in info.meaning else ""  # "(Postfix)" is said
    out = [f"{name}: {info.meaning} ({source}{registry})", f"  {info.detail}"]
    shown = f"{name.rstrip('=')} {' '.join(params)}" if params else ""
    if params and meaning != info.meaning:
        out.append(f"  {shown}: {meaning}")
    out.extend(f"  {line}" for line in codes.keyword_details(keyword, params))
    return out
