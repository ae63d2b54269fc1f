"""What the shell shows, as pure functions: events in, styled lines out.

A *line* is a list of ``(token, text)`` fragments (pygments token types from
``smtpshell.highlight.tokens``). The REPL and the script runner render lines
the same way; tests look at them directly.
"""

from __future__ import annotations

import enum
import functools
import re
import unicodedata
from dataclasses import dataclass

from smtpshell.highlight import tokens as tok
from smtpshell.protocol import codes
from smtpshell.protocol.replies import Reply
from smtpshell.protocol.session import Command

Fragment = tuple[object, str]
Line = list[Fragment]


class Marks(enum.Enum):
    BARE = "bare"  # as in telnet: server lines start with their code
    SC = "sc"  # "S: " / "C: " (RFC 5321 style)
    SWAKS = "swaks"  # "<- " / " -> " ("<~ " / " ~> " under TLS)


@dataclass(frozen=True, kw_only=True)
class View:
    """How to show things (the parts of the settings that matter here)."""

    marks: Marks = Marks.BARE
    hints: bool = True
    timestamps: bool = False
    echo_client: bool = True  # scripts echo client lines; the REPL's prompt already shows them


_SERVER_MARKS = {(Marks.BARE, False): "", (Marks.SC, False): "S: ", (Marks.SWAKS, False): "<- ",
                 (Marks.BARE, True): "", (Marks.SC, True): "S: ", (Marks.SWAKS, True): "<~ "}
_CLIENT_MARKS = {(Marks.BARE, False): "", (Marks.SC, False): "C: ", (Marks.SWAKS, False): " -> ",
                 (Marks.BARE, True): "", (Marks.SC, True): "C: ", (Marks.SWAKS, True): " ~> "}


def server_mark(view: View, tls: bool) -> str:
    marks = view.marks
    return "" if marks is Marks.BARE else _SERVER_MARKS[marks, bool(tls)]


def client_mark(view: View, tls: bool) -> str:
    marks = view.marks
    return "" if marks is Marks.BARE else _CLIENT_MARKS[marks, bool(tls)]


# ----- bytes made visible -------------------------------------------------

# Format characters (bidi overrides, zero-width) and line/paragraph separators
# can reorder or hide what is shown: drawn as \uXXXX like the C1 controls.
_HIDDEN_CATEGORIES = {"Cf", "Zl", "Zp", "Cc", "Co", "Cn"}

_PICTURES = {0x0D: "␍", 0x0A: "␊", 0x00: "␀", 0x1B: "␛", 0x7F: "␡"}
_NOT_PLAIN_ASCII = re.compile(r"[^\t\x20-\x7e]")


def escaped(o: int) -> str:
    """How a character that is not shown as it is gets drawn: a byte that was not UTF-8 as \\xHH,
    a control as its picture (␍ ␊ ␀ …), anything else hidden (bidi marks, …) as \\uHHHH."""
    if 0xDC80 <= o <= 0xDCFF:
        return f"\\x{o - 0xDC00:02x}"
    if o in _PICTURES:
        return _PICTURES[o]
    if o < 0x20:
        return chr(0x2400 + o)
    return f"\\u{o:04x}"


def visible(text: str, token) -> Line:
    """``text`` with every non-printable character drawn visibly (ESCAPE token).

    Text decoded with ``surrogateescape`` shows its undecodable bytes as
    ``\\xHH``; control characters as Unicode control pictures (``␍ ␀ ␛``);
    C1 controls as ``\\u0085``. Nothing in the result can move the cursor or
    change the terminal.
    """
    # The common case, nothing to draw: str.isprintable() is False for every character drawn
    # here (Cc, Cf, Cs, Co, Cn, Zl, Zp; it is also False for TAB and Zs spaces, which the loop
    # below keeps as they are).
    if text.isprintable():
        return [(token, text)] if text else []
    out: Line = []
    plain_start = 0
    for m in _NOT_PLAIN_ASCII.finditer(text):  # printable ASCII and TAB are shown as they are
        i = m.start()
        ch = text[i]
        o = ord(ch)
        if o > 0x9F and not 0xDC80 <= o <= 0xDCFF and unicodedata.category(ch) not in _HIDDEN_CATEGORIES:
            continue
        if plain_start < i:
            out.append((token, text[plain_start:i]))
        out.append((tok.ESCAPE, escaped(o)))
        plain_start = i + 1
    if plain_start < len(text):
        out.append((token, text[plain_start:]))
    return out


def _prefix(view: View, t: float | None) -> Line:
    if view.timestamps and t is not None:
        return [(tok.TIME, f"[{t:8.3f}] ")]
    return []


def _hint(view: View, text: str) -> Line:
    return [*_prefix(view, None), (tok.HINT, "    ↳ "), *visible(text, tok.HINT)]


# ----- server replies -----------------------------------------------------

# A hostile server can send a reply of many megabytes: the screen shows this much of it (the
# recording keeps all of it), and says what it left out.
SHOW_REPLY_LINES = 100  # lines of one reply (the first ones, and the last)
SHOW_LINE_CHARS = 1024  # characters of one reply line


def _shown_lines(reply: Reply) -> tuple[tuple, tuple]:
    """(the lines to show, the lines left out before the last one)."""
    lines = reply.lines
    if len(lines) <= SHOW_REPLY_LINES:
        return lines, ()
    return lines[: SHOW_REPLY_LINES - 1] + lines[-1:], lines[SHOW_REPLY_LINES - 1: -1]


def _elided_text(hidden: tuple) -> str:
    nbytes = sum(len(line.raw) + len(line.ending) for line in hidden)
    return f"… {len(hidden):,} more lines of this reply ({nbytes:,} bytes) not shown …"


def _clipped(text: str) -> tuple[str, int]:
    """``text`` cut to SHOW_LINE_CHARS, and how many characters were cut."""
    if len(text) <= SHOW_LINE_CHARS:
        return text, 0
    return text[:SHOW_LINE_CHARS], len(text) - SHOW_LINE_CHARS



def reply_lines(
    reply: Reply,
    view: View,
    *,
    command: Command | None = None,
    tls: bool = False,
    t: float | None = None,
    latency: float | None = None,
    shell_answers: bool = False,
) -> list[Line]:
    """A whole reply: each line coloured by the reply's class, then its hints.

    ``shell_answers``: the shell itself answers this 334 (``:auth``), so the hint that
    tells the user how to answer is left out.
    """
    mark = server_mark(view, tls)
    code_token = tok.code_token(reply.code)
    text_token = tok.reply_text_token(reply.code)
    is_ehlo = command is not None and command.verb in ("EHLO", "LHLO") and reply.code == 250
    out: list[Line] = []
    shown, hidden = _shown_lines(reply)
    timestamps = view.timestamps
    for index, line in enumerate(shown):
        if hidden and index == len(shown) - 1:  # before the last line: what was left out
            out.append([*([(tok.MARK, mark)] if mark else []), (tok.HINT, _elided_text(hidden))])
        frags: Line = _prefix(view, t if index == 0 else None) if timestamps else []
        if mark:
            frags.append((tok.MARK, mark))
        text = line.text
        cut = 0
        if len(text) > SHOW_LINE_CHARS:
            text, cut = _clipped(text)
        if line.fragment:  # the rest of a line the parser split for length
            frags.extend(visible(text, text_token))
        elif line.code is not None:
            head = line.raw[:4].decode("ascii", "replace")
            frags.append((code_token if line.code == reply.code else tok.CODE_OTHER, head[:3]))
            if len(head) > 3:
                frags.append((text_token, head[3]))
            frags.extend(visible(text, text_token))
        else:
            frags.extend(visible(text, tok.REPLY_TEXT_OTHER))
        if cut:
            frags.append((tok.HINT, f" … {cut:,} more characters not shown"))
        if line.ending == b"\n":
            frags.append((tok.ESCAPE, "␊"))
        took = ""
        if latency is not None and timestamps and index == len(shown) - 1:
            took = f"  ({latency * 1000:.1f} ms)"
            frags.append((tok.TIME, took))  # with the reply, before any hint
        if view.hints and is_ehlo and index > 0:
            meaning = keyword_hint(line.text, tls=tls)
            if meaning:
                pad = max(1, 28 - len(line.text) - len(took))  # the hints stay in their column
                frags.append((tok.HINT, " " * pad + "↳ "))
                frags.extend(visible(meaning, tok.HINT))
        out.append(frags)
    if view.hints:
        hints = reply_hints(reply, command, shell_answers=shell_answers)[:SHOW_REPLY_LINES]
        out.extend(_hint(view, _clipped(h)[0]) for h in hints)
    for problem in reply.problems:
        out.append(warning_line(f"server: {problem}{problem_detail(reply, problem)}"))
    return out


# What the pictures of the controls a server may send stand for (problem_detail says it).
_CONTROL_NAMES = {0x0D: "␍ is a bare CR (0x0D)", 0x00: "␀ is a NUL byte (0x00)", 0x1B: "␛ is ESC (0x1B)",
                  0x7F: "␡ is DEL (0x7F)"}


def problem_detail(reply: Reply, problem: str) -> str:
    """What a reply problem's markers mean: which control bytes the ␍ ␀ … in it are, and that
    ␊ marks a bare LF; empty for other problems."""
    from smtpshell.protocol.replies import BARE_LF, CONTROL

    if problem == BARE_LF:
        return " (drawn ␊ at the line's end)"
    if problem != CONTROL:
        return ""
    named: dict[int, str] = {}
    for line in reply.lines:
        for ch in line.raw.decode("latin-1"):
            o = ord(ch)
            if (o < 0x20 and ch not in "\t\n") or o == 0x7F:
                named.setdefault(o, _CONTROL_NAMES.get(o) or f"{chr(0x2400 + o)} is 0x{o:02X}")
    return (": " + ", ".join(named.values())) if named else ""


_QUIET_CODES = {220, 221, 250}


@functools.lru_cache(maxsize=1024)  # the same EHLO lines come in every session
def keyword_hint(text: str, *, tls: bool | None = None) -> str | None:
    """The hint after one line of an EHLO reply: ``SIZE 10240000`` -> max message size 10 MB."""
    words = text.split()
    if not words:
        return None
    keyword, eq, first = words[0].partition("=")  # "AUTH=PLAIN LOGIN", the old form
    params = ([first] if eq and first else []) + words[1:]
    return codes.explain_keyword(keyword + eq, tuple(params), tls=tls)


def hint_verb(command: Command | None) -> str | None:
    """The command a reply's hints depend on: its verb, or "BDAT LAST" for the last chunk."""
    if command is None:
        return None
    if command.verb == "BDAT" and command.line.rstrip().upper().endswith(" LAST"):
        return "BDAT LAST"
    if command.verb == "GREETING" and command.line == "LMTP":
        return "GREETING LMTP"  # LHLO, not EHLO
    return command.verb


def reply_hints(reply: Reply, command: Command | None, *, shell_answers: bool = False) -> list[str]:
    """The hints shown under a reply (without the ↳).

    One line: the meaning of the basic code and of the enhanced code, and when the reply is
    a common failure, what to try. Routine replies (220, 221 to QUIT, 250) get what happened
    and what comes next instead (``MAIL`` 250: sender accepted · next: RCPT TO), with the
    queue id after the message; an EHLO's 250 is explained line by line elsewhere.
    """
    hints: list[str] = []
    code = reply.code
    if code is None:
        return hints
    if code == 334:
        for line in reply.lines:
            decoded = codes.decode_b64(line.text)
            if decoded is None:
                hints.append("challenge is not base64")
            elif not decoded:
                hints.append("empty challenge: send your (initial) response, base64-encoded")
            else:
                hints.append("challenge decodes to: " + decoded.decode("utf-8", "surrogateescape"))
        if not shell_answers:
            hints.append("answer with a base64 line (a lone * cancels)")
        return hints
    failure, text = _failure_for(reply, command)
    if code in _QUIET_CODES and failure is None:
        routine = codes.routine_hint(hint_verb(command), code, " ".join(reply.texts)[:_MATCH_CHARS]) \
            if command is not None else None
        return [routine] if routine else hints
    parts = []
    if failure is not None and failure.overrides_codes(text):
        parts.append(f"{code}: {failure.title}")  # the text says more than the codes (see failures.json)
    else:
        if code not in _QUIET_CODES or failure is not None:
            meaning = codes.explain_code(code)
            if meaning:
                parts.append(f"{code}: {meaning}")
        if reply.enhanced and (code // 100 != 2 or failure is not None):
            meaning = codes.explain_enhanced(reply.enhanced)
            if meaning and not any(meaning in part for part in parts):
                parts.append(f"{reply.enhanced}: {meaning}")
    if failure is not None:
        parts.append(f"try: {failure.hint}")
    if parts:
        hints.append(" · ".join(parts))
    return hints


_MATCH_CHARS = 4096  # what a failure is recognised by comes first; a huge reply is not scanned whole


def _failure_for(reply: Reply, command: Command | None) -> tuple[codes.Failure | None, str]:
    """The common failure a reply shows, if any (the table is loaded on the first failure), and
    the text it was matched on ("" when the code cannot be a failure: no text is made for a 250)."""
    code = reply.code
    if code is None or code < 400 and not (code == 221 and (command is None or command.verb != "QUIT")):
        return None, ""  # a 221 the client did not ask for is the server hanging up on it
    text = _match_text(reply)
    return codes.match_failure(code, reply.enhanced, text), text


def _match_text(reply: Reply) -> str:
    """The reply's text as failures are matched against it: enhanced codes off, the start only."""
    texts: list[str] = []
    size = 0
    for line in reply.lines:
        text = line.text.removeprefix(reply.enhanced).lstrip(" ") if reply.enhanced else line.text
        texts.append(text[:_MATCH_CHARS])
        size += len(texts[-1]) + 1
        if size >= _MATCH_CHARS:
            break
    return " ".join(texts)[:_MATCH_CHARS]


# ----- client lines ---------------------------------------------------------


def client_line(command: Command, view: View, *, tls: bool = False, t: float | None = None) -> Line:
    """A command as sent, credentials masked."""
    frags: Line = [*_prefix(view, t)]
    mark = client_mark(view, tls)
    if mark:
        frags.append((tok.MARK, mark))
    shown = command.display_line
    if command.verb in ("SASL",):
        frags.append((tok.SECRET, shown))
        return frags
    verb, sep, rest = shown.partition(" ")
    frags.extend(visible(verb, tok.VERB))
    if sep:
        frags.append((tok.PLAIN, sep))
        for word_frag in _argument_fragments(rest):
            frags.append(word_frag)
    return frags


def _argument_fragments(rest: str) -> Line:
    out: Line = []
    for i, word in enumerate(rest.split(" ")):
        if i:
            out.append((tok.PLAIN, " "))
        if word == "***":
            out.append((tok.SECRET, word))
        elif "<" in word and ">" in word:
            out.extend(visible(word, tok.ADDRESS))
        elif "=" in word:
            out.extend(visible(word, tok.PARAMETER))
        else:
            out.extend(visible(word, tok.ARGUMENT))
    return out


def data_line(line: bytes, view: View, *, tls: bool = False) -> Line:
    """One line of content exactly as given (a BDAT chunk's: no stuffing there)."""
    return data_text_line(line.decode("utf-8", "surrogateescape"), view, tls=tls)


def message_line(line: bytes, view: View, *, tls: bool = False) -> Line:
    """One line of DATA content as it goes on the wire: a leading dot doubled (dot-stuffing,
    RFC 5321 4.5.2), as every transcript notation writes it, so what the shell shows reads back
    as the same message (``..dot`` is the line ``.dot``)."""
    return data_line(b"." + line if line[:1] == b"." else line, view, tls=tls)


def data_text_line(text: str, view: View, *, tls: bool = False) -> Line:
    """:func:`data_line` of content already decoded (``surrogateescape``)."""
    if view.marks is Marks.BARE:  # no mark: most lines are plain text, one fragment
        return visible(text, tok.DATA)
    return [(tok.MARK, client_mark(view, tls)), *visible(text, tok.DATA)]


# ----- the shell's own voice -------------------------------------------------


def note_line(text: str) -> Line:
    return [(tok.NOTE, "* "), *visible(text, tok.NOTE)]


def tls_line(text: str) -> Line:
    return [(tok.TLS_NOTE, "* "), *visible(text, tok.TLS_NOTE)]


def warning_line(text: str) -> Line:
    return [(tok.WARNING, "! warning: "), *visible(text, tok.WARNING)]


def error_line(text: str) -> Line:
    return [(tok.ERROR, "! "), *visible(text, tok.ERROR)]


def hint_line(text: str) -> Line:
    return [(tok.HINT, "    ↳ "), *visible(text, tok.HINT)]


def tls_lines(info, *, implicit: bool = False) -> list[Line]:
    """The TLS session in a few lines: protocol, cipher, certificate, verification."""
    how = "implicit TLS" if implicit else "STARTTLS"
    bits = f" ({info.bits} bits)" if info.bits else ""
    out = [tls_line(f"TLS started ({how}): {info.version}, cipher {info.cipher}{bits}")]
    cert = info.cert
    if cert is not None:
        out.append(tls_line(f"  subject: {cert.subject}"))
        out.append(tls_line(f"  issuer:  {cert.issuer}" + ("  (self-signed)" if cert.self_signed else "")))
        if cert.sans:
            out.append(tls_line("  names:   " + ", ".join(cert.sans)))
        days = cert.days_left()
        expiry = f"expired {-days} days ago" if days < 0 else f"{days} days left"
        out.append(tls_line(f"  expires: {cert.not_after:%Y-%m-%d %H:%M} UTC ({expiry})"))
    line = tls_line(f"  {info.verification}") if info.verified else warning_line(info.verification)
    out.append(line)
    return out
