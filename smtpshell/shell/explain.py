"""``smtpshell explain TEXT`` and ``:explain TEXT``: what a code, reply or keyword means.

TEXT may be a basic reply code (``550``), an enhanced status code (``5.7.8``, or ``X.7.8``),
a whole reply as a server wrote it (``550 5.7.1 Relay access denied``, one line or several),
or an EHLO keyword with its parameters (``PIPELINING``, ``SIZE 10240000``, ``AUTH PLAIN LOGIN``).
The answer says what the RFC says and, for the common failures, what is likely wrong and
what to try.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from smtpshell.protocol import codes
from smtpshell.protocol.replies import split_enhanced

_BASIC = re.compile(r"^([0-9]{3})(?:[ -](.*))?$", re.S)
_ENHANCED = re.compile(r"^([245X])\.([0-9]{1,3})\.([0-9]{1,3})$", re.I)
_REPLY_LINE = re.compile(r"^([0-9]{3})(?:[ -]|$)")
# An EHLO keyword (RFC 5321 4.1.1.1: ALPHA / DIGIT, then "-" too) starting with X.
_LOCAL_KEYWORD = re.compile(r"^[Xx][A-Za-z0-9-]*=?$", re.A)


@dataclass(frozen=True, kw_only=True)
class Explanation:
    """What ``explain`` says, and whether it recognised TEXT at all."""

    lines: list[str]
    known: bool  # False: not a code, an enhanced code or a keyword (a usage error on the command line)


def explain(text: str) -> list[str]:
    """Lines of explanation for a code (550), enhanced code (5.7.1), reply or keyword."""
    return explain_text(text).lines


def explain_text(text: str) -> Explanation:
    """``explain`` with the verdict: did TEXT match anything smtpshell knows?"""
    text = text.strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and _REPLY_LINE.match(lines[0]):
        return Explanation(lines=_explain_reply(lines), known=True)
    m = _ENHANCED.match(text)
    if m:
        return Explanation(lines=_explain_enhanced(text.upper() if text[0] in "xX" else text), known=True)
    words = text.split()
    if words:
        keyword, eq, first = words[0].partition("=")  # "AUTH=PLAIN LOGIN", the old form
        params = ([first] if eq and first else []) + words[1:]
        shown = _explain_keyword(keyword + eq, tuple(params))
        if shown:
            return Explanation(lines=shown, known=True)
    out = [f"{text!r}: not a reply code, enhanced status code or EHLO keyword I know"]
    if len(words) == 1 and _LOCAL_KEYWORD.match(words[0]):
        # RFC 5321 2.2.2: a keyword starting with X is a local extension; but any word may
        # start with X, so say what such a keyword would be, not that this one is one.
        out.append("  (in a server's EHLO reply, a keyword starting with X is a local extension, "
                   "agreed between client and server and not registered with IANA: RFC 5321 2.2.2)")
    return Explanation(lines=out, known=False)


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
    info = codes.keyword_info(keyword)
    if info is None and keyword[:1] in "xX":
        return None  # not one smtpshell knows: "a vendor extension" would be a guess (xyz)
    meaning = codes.explain_keyword(keyword, params)
    if meaning is None:
        return None
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


# ----- colour ------------------------------------------------------------------------------------------


def styled(explanation: Explanation) -> list[list[tuple[object, str]]]:
    """The explanation as styled lines: each heading's code by its reply class, keywords as verbs."""
    from smtpshell.highlight import tokens as t

    if not explanation.known:
        return [[(t.ERROR, line)] for line in explanation.lines]
    out = []
    for line in explanation.lines:
        head, colon, rest = line.partition(": ")
        if line[:1].isspace() or not colon:
            out.append([(t.PLAIN, line)])
            continue
        if head == "common failure":
            token = t.WARNING
        elif head[:1].isdigit():  # 550, 5.7.1
            token = t.code_token(int(head[0]) * 100)
        elif _ENHANCED.match(head):  # X.7.1: any class
            token = t.CODE_OTHER
        else:  # an EHLO keyword
            token = t.VERB
        out.append([(token, head), (t.PLAIN, colon + rest)])
    return out
