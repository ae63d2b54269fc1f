"""Line classifiers, one per notation: who spoke on each line, and what they said.

Each ``feed_*`` function takes the text's lines (``(t, text)`` pairs, a
``[  1.234] `` timestamp already taken off) and an
:class:`~smtpshell.transcript.assemble.Assembler`, and returns what it learnt
about the connection (host, port) for the header.

Bare telnet text has no marks, so its session must first be found among the
chatter and prose around it (:func:`text_sessions`): the part between the
terminal's ``Connected to``/``Escape character`` lines and ``Connection
closed``, or else the longest run of SMTP-looking lines that starts with a
220 greeting.
"""

from __future__ import annotations

import re

from smtpshell.transcript.assemble import Assembler, is_reply, reply_code

Lines = list[tuple[float | None, str]]

_TOOLS = r"telnet|nc|ncat|netcat|openssl|gnutls-cli|socat|swaks|smtpshell|posttls-finger"
_START = re.compile(
    r"(?:Trying \S+\.\.\.|Connected to \S|Escape character is "
    rf"|(?:\[[^\]]{{0,200}}\])?[^\s$#%>]{{0,200}}[$#%>] ?(?:{_TOOLS})\b)"
)
_END = re.compile(r"(?:Connection closed\b|Connection to \S+ closed|\S+: Connection closed by foreign host)")
_CHATTER = re.compile(
    r"(?:telnet[:>] |Ncat: |nc: |CONNECTED\(\w*\)|(?:\[[^\]]{0,200}\])?[$#%] )"
)
# Either of them (one match instead of two or three, where only that counts).
_START_OR_END = re.compile(f"(?:{_START.pattern}|{_END.pattern})")
_ANY_CHATTER = re.compile(f"(?:{_START.pattern}|{_END.pattern}|{_CHATTER.pattern})")
_HINT = re.compile(r"[ \t]+\u21b3")
_COLON_COMMAND = re.compile(r":[a-z]")
_SHELL_LINE = re.compile(r"(?:[*!] |:[a-z])")  # the shell's notes and errors, a typed :command
_CONNECT_CMD = re.compile(rf"\b(?:{_TOOLS})\s+(?:-\S+\s+)*\[?([A-Za-z0-9.:-]+?)\]?(?:\s+|:)([0-9]{{1,5}})\b")
_CONNECTED_TO = re.compile(r"Connected to (\S+?)\.?$")

# Commands a run of session lines may hold (the heuristic that separates a
# session from prose around it; anything answered by a reply counts too).
VERBS = frozenset(
    "HELO EHLO LHLO MAIL RCPT DATA BDAT RSET VRFY EXPN HELP NOOP QUIT STARTTLS AUTH ETRN "
    "TURN ATRN SEND SOML SAML XCLIENT XFORWARD BURL VERB ONEX XUSR".split()
)


def _is_hint(text: str) -> bool:
    """The shell's hint under a line (``    ↳ ...``)."""
    return (text[:1] == " " or text[:1] == "\t") and _HINT.match(text) is not None


def _chatter(text: str) -> bool:
    return _ANY_CHATTER.match(text) is not None


def _looks_command(text: str) -> bool:
    words = text.split(None, 1)
    return bool(words) and words[0].upper().rstrip(":") in VERBS


# ----- bare telnet text -----------------------------------------------------


def _next_nonblank(lines: Lines, k: int) -> int | None:
    while k < len(lines):
        if lines[k][1].strip():
            return k
        k += 1
    return None


def _answered(lines: Lines, k: int) -> bool:
    nxt = _next_nonblank(lines, k + 1)
    return nxt is not None and is_reply(lines[nxt][1].lstrip())


def run_end(lines: Lines, start: int) -> int:
    """Where a run of session lines beginning at ``start`` ends (exclusive)."""
    in_data = after_334 = False
    bdat_left = 0  # bytes of BDAT content still to come (each line counted with its CRLF)
    end = k = start
    while k < len(lines):
        text = lines[k][1]
        stripped = text.strip()
        if bdat_left > 0:
            bdat_left -= len(text.encode("utf-8", "surrogateescape")) + 2
            k += 1
            end = k
            continue
        if in_data:
            if _END.match(text):
                break
            in_data = text != "."
            k += 1
            end = k
            continue
        if not stripped:
            nxt = _next_nonblank(lines, k)
            if nxt is None or not is_reply(lines[nxt][1].lstrip()):
                break
            k = nxt  # blank lines, then the server: still the session
            continue
        if _START_OR_END.match(text):
            break
        if _chatter(text) or _HINT.match(text) or _SHELL_LINE.match(text):
            k += 1
            continue
        code, final = reply_code(stripped)
        if code is not None:
            if final:
                in_data, after_334 = code == 354, code == 334
            k += 1
            end = k
            if final and code == 221:
                break
            continue
        if after_334 and len(stripped.split()) == 1 or _looks_command(stripped) or _answered(lines, k):
            after_334 = False
            words = stripped.split()
            if len(words) > 1 and words[0].upper() == "BDAT" and re.fullmatch(r"[0-9]{1,12}", words[1]):
                bdat_left = int(words[1])
            k += 1
            end = k
            continue
        break
    return end


def text_sessions(lines: Lines) -> list[tuple[int, int]]:
    """The ranges of lines that hold the session(s), chatter and prose left out."""
    n = len(lines)
    regions: list[tuple[int, int]] = []
    i = 0
    while i < n:
        if not _START.match(lines[i][1]) or _END.match(lines[i][1]):
            i += 1
            continue
        j = i
        while j < n and (not lines[j][1].strip() or _chatter(lines[j][1])) and not _END.match(lines[j][1]):
            j += 1
        k = j
        while k < n and not _START_OR_END.match(lines[k][1]):
            k += 1
        if k < n and _END.match(lines[k][1]):
            regions.append((j, k))
            i = k + 1
        else:
            end = run_end(lines, j)
            if end > j:
                regions.append((j, end))
            i = max(end, j + 1)
    regions = [r for r in regions if any(is_reply(lines[x][1].lstrip()) for x in range(*r))]
    if regions:
        return regions
    # No terminal chatter: the longest run, preferring one that starts with a greeting.
    runs: list[tuple[int, int]] = []
    i = 0
    while i < n:
        stripped = lines[i][1].strip()
        if is_reply(stripped) or _looks_command(stripped):
            end = run_end(lines, i)
            if end > i:
                runs.append((i, end))
            i = max(end, i + 1)
        else:
            i += 1
    greeted = [r for r in runs if reply_code(lines[r[0]][1].strip())[0] == 220]
    answered = [r for r in runs if any(is_reply(lines[x][1].lstrip()) for x in range(*r))]
    for candidates in (greeted, answered):
        if candidates:
            start, end = max(candidates, key=lambda r: r[1] - r[0])
            while start > 0 and lines[start - 1][1].startswith("* "):
                start -= 1  # the shell's notes before it ("* connected to ...")
            while end < n and lines[end][1].startswith(("* ", "! ")):
                end += 1  # and after it ("* connection closed")
            return [(start, end)]
    return []


def _shell_voice(asm: Assembler, t, text: str) -> bool:
    """The shell's own lines: ``* note``, ``! error``, ``    ↳ hint``, a typed ``:command``."""
    first = text[:1]
    if first == " " or first == "\t":
        return _HINT.match(text) is not None
    if first == ":":
        return _COLON_COMMAND.match(text) is not None
    if text.startswith("* "):
        body = text[2:]
        asm.note("tls" if body.startswith(("TLS", "  subject:", "  issuer:", "  names:", "  expires:", "  verified"))
                 else "info", body, t)
        return True
    if text.startswith("! "):
        asm.note("error", text[2:], t)
        return True
    return False


def feed_text(lines: Lines, asm: Assembler) -> dict:
    info: dict = {}
    regions = text_sessions(lines)
    if regions:
        _host_from_chatter(lines[: regions[0][1]], info)
    hint = _is_hint
    for start, end in regions:
        k = start
        while k < end:
            if asm.in_data:  # message content: a run of lines at once
                k = asm.content_lines(lines, k, end, hint)
                if k >= end:
                    break
            t, text = lines[k]
            k += 1
            if hint(text):
                continue  # the shell's hints (even after 354: "type the message ...")
            if asm.in_content:
                asm.client(text, t)
            elif not text.strip() or _chatter(text) or _shell_voice(asm, t, text):
                continue
            else:
                asm.either(text, t)
    return info


def _host_from_chatter(lines: Lines, info: dict) -> None:
    for _t, text in lines:
        m = _CONNECT_CMD.search(text) if _START.match(text) else None
        if m and "host" not in info:
            info["host"], info["port"] = m.group(1), int(m.group(2))
        m = _CONNECTED_TO.match(text)
        if m and "host" not in info:
            info["host"] = m.group(1)


# ----- marked notations -----------------------------------------------------

_SC = re.compile(r"[ \t]*([SCR]):(?:[ \t]|$)(.*)")


def feed_sc(lines: Lines, asm: Assembler, *, rfc821: bool = False) -> dict:
    """RFC 5321 ``S:`` server / ``C:`` client; RFC 821 ``R:`` server / ``S:`` client (by content)."""
    for t, text in lines:
        m = _SC.match(text)
        if m is None:
            if not asm.in_content:
                _shell_voice(asm, t, text)
            continue
        mark, payload = m.groups()
        if rfc821:
            if mark == "R":
                asm.server(payload, t)
            elif mark == "S":
                asm.either(payload, t)
            else:
                asm.client(payload, t)
        elif mark == "S":
            asm.server(payload, t)
        elif mark == "C":
            asm.client(payload, t)
        else:
            asm.server(payload, t)  # an "R:" among "S:"/"C:": the receiver
    return {}


_SWAKS = re.compile(r"([ \t]*)(<~\*|<\*\*|<~|<-|\*\*>|~\*>|->|~>|===|\*\*\*)(.*)")
_SWAKS_SERVER = ("<~*", "<**", "<~", "<-")
_SWAKS_CLIENT = ("**>", "~*>", "->", "~>")
_SWAKS_CONNECTED = re.compile(r"Connected to (\S+?)\.?$")
_SWAKS_TRYING = re.compile(r"Trying (\S+?):([0-9]{1,5})\.\.\.")


def feed_swaks(lines: Lines, asm: Assembler) -> dict:
    """swaks: ``<-``/``<~`` server (``<**`` an error reply), ``->``/``~>`` client, ``===`` notes."""
    info: dict = {}
    for t, text in lines:
        m = _SWAKS.match(text)
        if m is None:
            continue
        lead, mark, rest = m.groups()
        if mark in ("===", "***"):
            body = rest.strip()
            if mark == "***":
                asm.note("error", body, t)
            else:
                if (c := _SWAKS_TRYING.match(body)) and "host" not in info:
                    info["host"], info["port"] = c.group(1), int(c.group(2))
                if (c := _SWAKS_CONNECTED.match(body)) and "host" not in info:
                    info["host"] = c.group(1)
                asm.note("tls" if body.startswith("TLS started") else "info", body, t)
            continue
        pad = max(1, 4 - len(lead) - len(mark))
        payload = rest[min(pad, len(rest) - len(rest.lstrip(" "))):]
        if mark in _SWAKS_SERVER:
            asm.server(payload, t)
        else:
            asm.client(payload, t)
    return info


_EXIM = re.compile(r"[ \t]*SMTP(?:\([^)\n]{0,40}\))?(<<|>>|\|>|\+>)[ \t]?(.*)")
_EXIM_WRITING = re.compile(r"writing message and terminating")
_EXIM_CONNECTING = re.compile(r"Connecting to (\S+) \[[^\]]*\]:([0-9]{1,5})")


def feed_exim(lines: Lines, asm: Assembler) -> dict:
    """Exim ``-v``/``-d``: ``SMTP<<`` server, ``SMTP>>`` (``|>`` pipelined) client."""
    info: dict = {}
    for t, text in lines:
        m = _EXIM.match(text)
        if m is None:
            stripped = text.strip()
            if asm.reply_open and stripped and is_reply(stripped):
                asm.server(stripped, t)  # the indented lines of a multi-line reply
            elif (c := _EXIM_CONNECTING.match(stripped)) and "host" not in info:
                info["host"], info["port"] = c.group(1), int(c.group(2))
            continue
        direction, payload = m.groups()
        if direction == "<<":
            asm.server(payload, t)
        elif _EXIM_WRITING.match(payload):
            asm.end_data_unseen(payload, t)  # the content is not shown; the dot went out
        elif payload:
            asm.client(payload, t)
    return info


_SENDMAIL = re.compile(r"(>>>|<<<)(?:[ \t]|$)(.*)")


def feed_sendmail(lines: Lines, asm: Assembler) -> dict:
    """sendmail ``-v``: ``>>>`` client, server lines bare (or ``<<<``)."""
    for t, text in lines:
        m = _SENDMAIL.match(text)
        if m is not None:
            mark, payload = m.groups()
            (asm.client if mark == ">>>" else asm.server)(payload, t)
        elif is_reply(text) or asm.reply_open and text[:1].isdigit():
            asm.server(text, t)
    return {}


# ----- detection --------------------------------------------------------------

# (server marks, client marks) per notation: both must occur.
_DETECT = {
    "swaks": (r"[ \t]*(?:<~\*|<\*\*|<~|<-)[ \t]", r"[ \t]*(?:\*\*>|~\*>|->|~>)(?:[ \t]|$)"),
    "exim": (r"[ \t]*SMTP(?:\([^)\n]{0,40}\))?<<", r"[ \t]*SMTP(?:\([^)\n]{0,40}\))?(?:>>|\|>)"),
    "sendmail": (r"(?:<<<[ \t]|[0-9]{3}(?:[ -]|$))", r">>>(?:[ \t]|$)"),
    "rfc821": (r"[ \t]*R:(?:[ \t]|$)", r"[ \t]*S:(?:[ \t]|$)"),
    "sc": (r"[ \t]*S:(?:[ \t]|$)", r"[ \t]*C:(?:[ \t]|$)"),
}
# The same marks at the start of any line of the lines joined by LF, with an LF in front: one
# scan at C speed over the whole text finds (and counts) them all. No mark spans an LF, and
# "$" (MULTILINE) is a line's end.
_DETECT_LINES = {
    name: tuple(re.compile("\n(?:" + pattern + ")", re.MULTILINE) for pattern in pair)
    for name, pair in _DETECT.items()
}


def _count(pattern: re.Pattern, joined: str) -> int:
    return sum(1 for _ in pattern.finditer(joined))


def detect(lines: Lines, texts: list[str] | None = None) -> str:
    """The notation of these lines (not jsonl: that is told by its header).

    Each notation's marks are counted over all lines (both kinds must occur); the most marked
    lines win. A client count of none settles a notation without counting its server lines.
    ``texts``: the lines' texts alone, when the caller has them.
    """
    joined = "\n" + "\n".join(texts if texts is not None else [text for _t, text in lines])
    if joined.count("\n") != len(lines):  # an LF inside a line: each line on its own
        return _detect_line_by_line(lines)
    best, best_count = "text", 0
    for name, (server_re, client_re) in _DETECT_LINES.items():
        clients = _count(client_re, joined)
        if not clients or name == "sendmail" and clients < 2:
            continue
        servers = _count(server_re, joined)
        if not servers or servers + clients <= best_count:
            continue
        if name == "sendmail":
            # Its server lines are bare, as in telnet text: its client lines must
            # be ">>>" lines, not bare commands (a quoted ">>> " in a message).
            bare_commands = sum(1 for _t, text in lines if _looks_command(text))
            if clients <= bare_commands:
                continue
        best, best_count = name, servers + clients
    if best == "sc" and _DETECT_LINES["rfc821"][0].search(joined):
        best = "rfc821"  # "R:" lines: RFC 821, where "S:" is the sender (the client)
    return best


def _detect_line_by_line(lines: Lines) -> str:
    """:func:`detect`, one line at a time (lines that may hold an LF)."""
    marks = {name: tuple(re.compile(pattern) for pattern in pair) for name, pair in _DETECT.items()}
    best, best_count = "text", 0
    for name, (server_re, client_re) in marks.items():
        servers = sum(1 for _t, text in lines if server_re.match(text))
        clients = sum(1 for _t, text in lines if client_re.match(text))
        if name == "sendmail":
            bare_commands = sum(1 for _t, text in lines if _looks_command(text))
            if clients < 2 or clients <= bare_commands:
                continue
        if servers and clients and servers + clients > best_count:
            best, best_count = name, servers + clients
    if best == "sc" and any(marks["rfc821"][0].match(text) for _t, text in lines):
        best = "rfc821"
    return best


FEEDERS = {
    "text": feed_text,
    "sc": feed_sc,
    "rfc821": lambda lines, asm: feed_sc(lines, asm, rfc821=True),
    "swaks": feed_swaks,
    "exim": feed_exim,
    "sendmail": feed_sendmail,
}
