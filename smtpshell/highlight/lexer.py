"""A pygments lexer for SMTP sessions, in any notation people paste them in.

``SmtpLexer`` colours whole transcripts and single client lines (the REPL
highlights what the user types with it). It reads:

- bare telnet-style text: a line starting with three digits followed by a
  space, ``-`` or the end of the line is a server reply, any other line a
  client command; terminal chatter (``Trying …``, ``Connected to …``,
  ``Escape character …``, a shell prompt running telnet) is a note;
- ``S:``/``C:`` (RFC 5321) and ``R:``/``S:`` (RFC 821) prefixed text, where a
  payload is classified by its content, since ``S:`` means the server in one
  and the client in the other;
- swaks output (``<-``, ``->``, ``<~``, ``~>``, ``<**``, ``===``, ``***``),
  msmtp debug output (``<--``, ``-->``), sendmail ``-v`` (``>>>`` client,
  ``<<<`` or bare server) and Exim ``-v``/``-d`` (``SMTP>>``, ``SMTP<<``);
- the shell's own lines: ``* note``, ``! error``, ``    ↳ hint``.

After a final ``354`` reply every line is message content until a lone ``.``
(behind the client mark, in the marked notations); after a final ``334`` the
next client line is an AUTH response, shown as a secret.

Every rule consumes text or changes state, and no rule can backtrack
catastrophically, so the lexer always terminates in time linear in the input.
``SmtpLexer(indata=True)``, or ``SmtpDataLexer`` where a class is wanted
(prompt_toolkit's ``PygmentsLexer``), starts inside message content: for the
REPL, while the user types a message after ``354``.
"""

from __future__ import annotations

import re

from pygments.lexer import RegexLexer, bygroups, default
from pygments.util import get_bool_opt

from smtpshell.highlight import tokens as t

__all__ = ["SmtpDataLexer", "SmtpLexer"]

_TEXT = t.PLAIN

# Visible stand-ins for bytes (the Control Pictures block: ␀ ␉ ␊ ␍ ␛ …) and
# "\xff" for a byte that is not text.
_GLYPHS = "\u2400-\u2426"
_ESCAPE = rf"[{_GLYPHS}]|\\x[0-9A-Fa-f]{{2}}"

# A reply: three digits, then a space, "-" or the end of the line.
_END = r"(?=[ ]|\r?$)"
_IS_REPLY = r"\d{3}(?:[ -]|\r?$)"
_ENHANCED = r"(?:( ?)([245]\.\d{1,3}\.\d{1,3})(?=[ \t]|\r?$))?"

# The end of the message: a line holding only ".".
_DOT_LINE = r"(\.)(\r?\n|\r?\Z)"

# Marks, per notation: (server-only mark, client-only mark).  Their order
# matters where one is a prefix of another ("<--" before "<-").
_EXIM_NAME = r"SMTP(?:\([^)\n]{0,40}\))?"
_NOTATIONS = {
    "msmtp": (r"<--", r"-->"),
    "swaks": (r"<(?:\*\*|~\*|-|~)", r"(?:\*\*|~\*|-|~)>"),
    "angle": (r"<<<", r">>>"),
    "exim": (_EXIM_NAME + r"<<", _EXIM_NAME + r"(?:>>|\|>|\+>)"),
    # RFC 5321 "S:" server / "C:" client, RFC 821 "R:" server / "S:" client.
    "sc": (r"R:", r"[CS]:"),
}
_SERVER_MARKS = "|".join(server for server, _client in _NOTATIONS.values())
_CLIENT_MARKS = "|".join(client for _server, client in _NOTATIONS.values())

_TOOLS = (
    r"telnet|nc|ncat|netcat|openssl|gnutls-cli|socat|swaks|smtpshell|"
    r"posttls-finger|sendmail|exim4?|msmtp|curl|python3?"
)
# Terminal chatter around a pasted session.
_CHATTER = (
    r"(?:Trying \S+\.\.\."
    r"|Connected to \S"
    r"|Escape character is "
    r"|Connection closed\b"
    r"|Connection to \S+ closed"
    r"|telnet[:>] "
    r"|Ncat: |nc: "
    r"|CONNECTED\(\w*\)"
    # sendmail -v and exim -v around their SMTP lines
    r"|\S+\.\.\. "
    r"|Closing connection to "
    r"|Connecting to "
    r"|LOG: "
    r"|delivering "
    r"|[ \t]+(?:<=|=>|\*\*|==) "
    r"|[ \t]+Completed\b"
    r"|[$#%] "
    r"|\[[^\]\n]{0,200}\][$#%] "
    rf"|[^\s$#%>]{{0,200}}[$#%>] (?:{_TOOLS})\b"
    r")[^\n]*\n?"
)


def _reply_rules(data_state: str, auth_state: str, replace: bool) -> list:
    """Rules for one reply line's code; the rest of the line goes to rtext-N.

    ``replace``: the rules sit in a payload state that the reply replaces.
    """
    pre = ("#pop",) if replace else ()

    def generic(digits, cls):
        code = t.code_token(cls * 100 if cls else None)
        return (
            rf"([ \t]*)([{digits}]\d\d)(-|{_END}){_ENHANCED}",
            bygroups(_TEXT, code, code, _TEXT, code),
            (*pre, f"rtext-{cls or 'other'}"),
        )

    # The most frequent first; a final 354 starts the message, a final 334
    # awaits an AUTH response.
    return [
        generic("2", 2),
        (
            rf"([ \t]*)(354){_END}{_ENHANCED}",
            bygroups(_TEXT, t.code_token(354), _TEXT, t.code_token(354)),
            (*pre, data_state, "rtext-3"),
        ),
        (
            rf"([ \t]*)(334){_END}",
            bygroups(_TEXT, t.code_token(334)),
            (*pre, auth_state, "rtext-3"),
        ),
        generic("3", 3),
        generic("5", 5),
        generic("4", 4),
        generic("016789", None),
    ]


def _reply_text_state(token) -> list:
    return [
        (rf"[^\n{_GLYPHS}\\]*\n", token, "#pop"),
        (rf"[^\n{_GLYPHS}\\]+", token),
        (_ESCAPE, t.ESCAPE),
        (r"\\", token),
    ]


# The rest of a data line, with visible escapes picked out.
_DATA_LINE = [
    (rf"[^\n{_GLYPHS}\\]*\n", t.DATA),
    (rf"[^\n{_GLYPHS}\\]+", t.DATA),
    (_ESCAPE, t.ESCAPE),
    (r"\\", t.DATA),
]

_HINT_LINE = (r"[ \t]*\u21b3[^\n]*\n?", t.HINT)


def _data_state(client: str, server: str | None, extra=(), marked: bool = True) -> list:
    """Message content after 354, until a lone "." (or one behind ``client``).

    ``marked``: content lines carry the client mark (not so in bare text,
    where ">>> ." only ends a sendmail -v session's unseen message).
    """
    rules = [
        (rf"^{_DOT_LINE}", bygroups(t.VERB, _TEXT), "#pop"),
        (
            rf"^([ \t]*)({client})([ \t]?){_DOT_LINE}",
            bygroups(_TEXT, t.MARK, _TEXT, t.VERB, _TEXT),
            "#pop",
        ),
    ]
    if server:
        # The server cannot speak in the middle of a message: its mark means
        # the content was not shown (or was cut short); back to the session.
        rules.append((rf"^(?=[ \t]*(?:{server}))", bygroups(), "#pop"))
    rules.extend(extra)
    rules.append((r"^[ \t]+\u21b3[^\n]*\n?", t.HINT))
    if marked:
        rules.append((rf"^([ \t]*)({client})([ \t]?)", bygroups(_TEXT, t.MARK, _TEXT)))
    return rules + _DATA_LINE


def _auth_state(client: str | None, optional: bool = False) -> list:
    """After a final 334: the next client line is an AUTH response (a secret)."""
    mark = rf"((?:{client})?)" if optional else rf"({client})"
    not_reply = rf"(?![ \t]*(?:{client})?[ \t]*{_IS_REPLY})"
    return [
        _HINT_LINE,
        (r"\*[ \t][^\n]*\n?", t.NOTE),
        # an error or the connection closing: no response is coming
        (rf"(?=![ \t]|\*\*\*[ \t]|{_CHATTER})", bygroups(), "#pop"),
        (
            rf"{not_reply}([ \t]*){mark}([ \t]*)([^\n]+)(\n?)",
            bygroups(_TEXT, t.MARK, _TEXT, t.SECRET, _TEXT),
            "#pop",
        ),
        default("#pop"),
    ]


def _build_tokens() -> dict:
    tokens = {}
    # Lines with a mark: the mark, then a payload state for the rest.
    marks = [(r"([ \t]*)(===)([ \t]*)", bygroups(_TEXT, t.MARK, _TEXT), ("#pop", "note"))]
    for name, (server, client) in _NOTATIONS.items():
        marks.append(
            (
                rf"([ \t]*)({server})([ \t]*)",
                bygroups(_TEXT, t.MARK, _TEXT),
                ("#pop", f"payload-{name}"),
            )
        )
        extra = []
        if name == "swaks":
            extra += [
                (r"^([ \t]*)(===)([^\n]*\n?)", bygroups(_TEXT, t.MARK, t.NOTE)),
                (r"^(?=\*\*\*[ \t])", bygroups(), "#pop"),  # swaks gave up
            ]
        if name == "exim":
            extra.append(
                (
                    rf"^([ \t]*)({client})([ \t]*)(writing message and terminating[^\n]*\n?)",
                    bygroups(_TEXT, t.MARK, _TEXT, t.NOTE),
                )
            )
        tokens[f"data-{name}"] = _data_state(client, server, extra)
        tokens[f"auth-{name}"] = _auth_state(client)
        tokens[f"payload-{name}"] = [
            *_reply_rules(f"data-{name}", f"auth-{name}", replace=True),
            default(("#pop", "rtext-other")),
        ]
    # "S:" and "C:" are classified by content; other client marks are commands.
    marks.append(
        (r"([ \t]*)([CS]:)([ \t]*)", bygroups(_TEXT, t.MARK, _TEXT), ("#pop", "payload-either"))
    )
    marks.append(
        (
            rf"([ \t]*)({_CLIENT_MARKS})([ \t]*)",
            bygroups(_TEXT, t.MARK, _TEXT),
            ("#pop", "command"),
        )
    )
    marks.append(default(("#pop", "command")))  # unreachable: the gate matched a mark
    tokens["mark"] = marks
    tokens["payload-either"] = [
        (rf"(?![ \t]*{_IS_REPLY})", bygroups(), ("#pop", "command")),
        *_reply_rules("data-sc", "auth-sc", replace=True),
        default(("#pop", "command")),
    ]
    tokens["payload-bare"] = [
        *_reply_rules("data", "auth-bare", replace=True),
        default(("#pop", "rtext-other")),  # unreachable: the gate matched a reply
    ]
    # Root sits at the start of a line: every state it pushes consumes the line.
    # The two gates match no text but push a state that does.
    root = [
        (r"\n", _TEXT),
        (rf"(?=[ \t]*{_IS_REPLY})", bygroups(), "payload-bare"),
        # exim -v: "R: router for address", "T: transport for address"
        (r"[RT]: [\w.-]+ for [^\n]*\n?", t.NOTE),
        (rf"(?=[ \t]*(?:===|{_SERVER_MARKS}|{_CLIENT_MARKS}))", bygroups(), "mark"),
        _HINT_LINE,
        (r"\*\*\*[ \t]+\S[^\n]*\n?", t.ERROR),  # swaks' own errors
        (r"\*[ \t][^\n]*\n?", t.NOTE),  # the shell's notes
        (r"![ \t][^\n]*\n?", t.ERROR),  # the shell's errors
        (_CHATTER, t.NOTE),
        default("command"),
    ]
    tokens["root"] = root
    tokens["note"] = [
        (r"\n", _TEXT, "#pop"),
        (r"[^\n]+", t.NOTE),
    ]
    # Bare text (also sendmail -v, whose client lines are ">>> ").
    tokens["data"] = _data_state(">>>", None, marked=False)
    tokens["auth-bare"] = _auth_state(">>>", optional=True)
    for cls in (2, 3, 4, 5):
        tokens[f"rtext-{cls}"] = _reply_text_state(t.reply_text_token(cls * 100))
    tokens["rtext-other"] = _reply_text_state(t.reply_text_token(None))
    # A client line: a verb (or a colon command), then its arguments.
    tokens["command"] = [
        (r"\n", _TEXT, "#pop"),
        (r"[^\S\n]+", _TEXT),
        (r"\*\*\*(?=\s|\Z)", t.SECRET, ("#pop", "arguments")),
        (rf":[^\s{_GLYPHS}\\]*", t.COLON_COMMAND, ("#pop", "arguments")),
        (rf"[^\s{_GLYPHS}\\<]+", t.VERB, ("#pop", "arguments")),
        default(("#pop", "arguments")),
    ]
    tokens["arguments"] = [
        (r"\n", _TEXT, "#pop"),
        (r"[^\S\n]+", _TEXT),
        (r"(?i:from|to):", t.VERB),
        (r"<[^<>\n]*>", t.ADDRESS),
        (r"\*\*\*(?=\s|\Z)", t.SECRET),
        (rf"[A-Za-z][\w.-]*=(?!=)[^\s{_GLYPHS}\\]+", t.PARAMETER),
        (rf"[^\s<>@{_GLYPHS}\\]+@[^\s<>{_GLYPHS}\\]+", t.ADDRESS),
        (_ESCAPE, t.ESCAPE),
        (rf"[^\s<{_GLYPHS}\\]+", t.ARGUMENT),
        (r"[<\\]", t.ARGUMENT),
    ]
    return tokens


# analyse_text: how much a text looks like an SMTP session.
_MARK = rf"[ \t]*(?:(?:{_CLIENT_MARKS}|R:|<(?:--|\*\*|~\*|-|~)|<<<|{_EXIM_NAME}<<)[ \t]*)?"
_GREETING = re.compile(rf"^{_MARK}220[ -]", re.M)
_HELLO = re.compile(rf"^{_MARK}(?i:ehlo|helo|lhlo)[ \t]+\S", re.M)
_ENVELOPE = re.compile(rf"^{_MARK}(?i:mail[ \t]+from|rcpt[ \t]+to):", re.M)
_REPLY = re.compile(rf"^{_MARK}[2-5]\d\d[ -]", re.M)


class SmtpLexer(RegexLexer):
    """SMTP sessions: pasted telnet text, S:/C: (RFC 5321/821), swaks, Exim, sendmail.

    Options: ``indata`` (default False) starts inside message content.
    """

    name = "SMTP"
    aliases = ["smtp"]
    filenames = ["*.smtp"]
    mimetypes = ["text/x-smtp"]
    url = "https://www.rfc-editor.org/rfc/rfc5321"
    version_added = ""

    tokens = _build_tokens()

    def __init__(self, **options):
        super().__init__(**options)
        self.indata = get_bool_opt(options, "indata", False)

    def get_tokens_unprocessed(self, text, stack=None):
        if stack is None:
            stack = ("root", "data") if self.indata else ("root",)
        elif not stack or stack[0] != "root":
            # Conditional pops must never leave a state without "root" below.
            stack = ("root", *stack)
        yield from super().get_tokens_unprocessed(text, stack)

    def analyse_text(text):
        sample = text[:20000]
        score = 0.0
        if _GREETING.search(sample):
            score += 0.3
        if _HELLO.search(sample):
            score += 0.3
        if _ENVELOPE.search(sample):
            score += 0.2
        if score and _REPLY.search(sample):
            score += 0.1
        return min(score, 0.9)


class SmtpDataLexer(SmtpLexer):
    """Message content typed after 354 (for the REPL: ``PygmentsLexer(SmtpDataLexer)``).

    Not registered with pygments; the same as ``SmtpLexer(indata=True)``.
    """

    name = "SMTP message"
    aliases = []
    filenames = []
    mimetypes = []

    def __init__(self, **options):
        options.setdefault("indata", True)
        super().__init__(**options)
