"""Write a transcript in another notation: ``write(transcript, fmt)``.

Formats (``FORMATS``):

- ``jsonl`` -- smtpshell's own, lossless.
- ``text`` -- bare, as in a telnet session (what a person would paste).
- ``sc`` -- ``S:`` / ``C:`` (RFC 5321 style).
- ``swaks`` -- swaks' arrows: ``<-``/``->``, ``<~``/``~>`` after TLS, ``<**``
  (``<~*``) for 4xx/5xx replies, ``===`` notes, ``***`` errors.
- ``html`` -- a standalone page (inline CSS, no scripts, works offline) in the
  shell's colours, with its hints: for slides and support tickets.
- ``asciicast`` -- asciinema v2: the replay as the terminal shows it, at the
  recorded pace, to embed in a web page.

In the text notations, message lines are written dot-stuffed (as on the wire),
notes as the shell shows them (``* note``, ``! error``), and characters that
would break a line or act on a terminal (CR, LF, ESC, NUL) as visible
pictures (``␍ ␊ ␛ ␀``). ``redact=True`` masks addresses, host names and
credentials first (:mod:`~smtpshell.transcript.redact`).
"""

from __future__ import annotations

import datetime as _dt
import html
import json

from smtpshell.transcript.events import ClientLine, Note, ServerReply, Transcript
from smtpshell.transcript.jsonl import write_jsonl

FORMATS = ("jsonl", "text", "sc", "swaks", "html", "asciicast")


def _printable(text: str) -> str:
    """Characters that would break the line or act on a terminal, as visible pictures."""
    out = []
    for ch in text:
        o = ord(ch)
        if o < 0x20 and ch != "\t":
            out.append(chr(0x2400 + o))
        elif o == 0x7F:
            out.append("\u2421")
        elif 0x80 <= o <= 0x9F or ch in "\u2028\u2029\x85":
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _client_wire_text(event: ClientLine) -> str:
    if event.data and event.line.startswith("."):
        return "." + event.line
    return event.line


def _is_connect_note(event) -> bool:
    return isinstance(event, Note) and event.kind == "info" and event.text.lower().startswith("connected to")


def _marked(transcript: Transcript, marks) -> str:
    """Text notations: ``marks(kind, tls, event) -> prefix``."""
    out = []
    tls = in_data = False
    for event in transcript.events:
        if isinstance(event, Note):
            if _is_connect_note(event):
                tls = False
            elif event.kind == "tls" and event.text.startswith("TLS"):
                tls = True
            prefix = marks("note", tls, event)
            if prefix is not None and not (in_data and prefix in _NOTE_PREFIXES):
                out.append(prefix + _printable(event.text))  # (in a message it would read as content)
        elif isinstance(event, ClientLine):
            out.append(marks("client", tls, event) + _printable(_client_wire_text(event)))
            if not event.data and event.line == ".":
                in_data = False
        elif isinstance(event, ServerReply):
            prefix = marks("server", tls, event)
            out.extend(prefix + _printable(line) for line in event.lines)
            in_data = event.code == 354 or (in_data and event.code is None)
    return "".join(line + "\n" for line in out)


_NOTE_PREFIXES = ("* ", "! ")  # the shell's: content in bare text


def _bare_marks(kind: str, tls: bool, event) -> str:
    if kind == "note":
        return "! " if event.kind == "error" else "* "
    return ""


def _sc_marks(kind: str, tls: bool, event) -> str:
    if kind == "note":
        return "! " if event.kind == "error" else "* "
    return "S: " if kind == "server" else "C: "


def _swaks_marks(kind: str, tls: bool, event) -> str:
    if kind == "note":
        return "*** " if event.kind == "error" else "=== "
    if kind == "client":
        return " ~> " if tls else " -> "
    failed = event.code is not None and event.code >= 400
    if failed:
        return "<~* " if tls else "<** "
    return "<~  " if tls else "<-  "


# ----- html -----------------------------------------------------------------

# The ANSI colour names the shell's style uses, as a dark terminal shows them.
ANSI_HEX = {
    "ansiblack": "#1e1e1e", "ansired": "#e05252", "ansigreen": "#4ec960", "ansiyellow": "#d7ba3d",
    "ansiblue": "#5b9bea", "ansimagenta": "#c678dd", "ansicyan": "#3fb8c9", "ansigray": "#c8c8c8",
    "ansibrightblack": "#8a8a8a", "ansibrightred": "#ff6b6b", "ansibrightgreen": "#6fdc8c",
    "ansibrightyellow": "#f0e070", "ansibrightblue": "#82b6ff", "ansibrightmagenta": "#e39cf0",
    "ansibrightcyan": "#70d6e6", "ansiwhite": "#ffffff",
}
_BACKGROUND, _FOREGROUND = "#1e1e1e", "#d4d4d4"


def _css(style_cls, token) -> str:
    st = style_cls.style_for_token(token)
    parts = []
    color = st.get("ansicolor") or st.get("color")
    if color:
        parts.append("color:" + ANSI_HEX.get(color, f"#{color}" if not color.startswith("#") else color))
    bgcolor = st.get("bgansicolor") or st.get("bgcolor")
    if bgcolor:
        parts.append("background:" + ANSI_HEX.get(bgcolor, f"#{bgcolor}"))
    if st.get("bold"):
        parts.append("font-weight:bold")
    if st.get("italic"):
        parts.append("font-style:italic")
    if st.get("underline"):
        parts.append("text-decoration:underline")
    return ";".join(parts)


def _foreground(style_cls, background: str) -> str:
    """Plain text's colour: the style's own, else dark on a light page and light on a dark one."""
    from pygments.token import Text

    own = style_cls.style_for_token(Text).get("color")
    if own:
        return own if own.startswith("#") else f"#{own}"
    rgb = background.lstrip("#")
    if len(rgb) == 3:
        rgb = "".join(c * 2 for c in rgb)
    try:
        r, g, b = (int(rgb[i:i + 2], 16) for i in (0, 2, 4))
    except ValueError:
        return _FOREGROUND
    return "#1e1e1e" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else _FOREGROUND


def _title(transcript: Transcript) -> str:
    header = transcript.header
    where = ""
    if header.host:
        where = f" with {header.host}" + (f":{header.port}" if header.port else "")
    return f"SMTP session{where}"


def write_html(transcript: Transcript, *, style=None, view=None) -> str:
    from smtpshell.highlight.style import style_for
    from smtpshell.transcript.display import View
    from smtpshell.transcript.render import render_all

    style_cls = style_for(style) if isinstance(style, (str, type(None))) else style
    classes: dict[str, str] = {}  # css -> class name
    body = []
    for lines in render_all(transcript.events, view or View()):
        for fragments in lines:
            runs: list[list[str]] = []  # [css, text]: neighbours in the same colour merged
            for token, text in fragments:
                css = _css(style_cls, token)
                if runs and runs[-1][0] == css:
                    runs[-1][1] += text
                else:
                    runs.append([css, text])
            row = []
            for css, text in runs:
                escaped = html.escape(text, quote=False)
                if css:
                    name = classes.setdefault(css, f"s{len(classes)}")
                    row.append(f'<span class="{name}">{escaped}</span>')
                else:
                    row.append(escaped)
            body.append("".join(row))
    title = _title(transcript)
    started = transcript.header.started
    caption = html.escape(title + (f", {started}" if started else ""))
    rules = "\n".join(f".{name}{{{css}}}" for css, name in classes.items())
    background = getattr(style_cls, "background_color", None) or _BACKGROUND
    foreground = _foreground(style_cls, background)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta name=\"generator\" content=\"smtpshell\">\n<title>{html.escape(title)}</title>\n"
        "<style>\n"
        f"body{{background:{background};color:{foreground};margin:0;padding:1.5em;}}\n"
        "h1{font:600 1em system-ui,sans-serif;color:#9a9a9a;margin:0 0 1em 0;}\n"
        "pre{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;"
        "font-size:15px;line-height:1.35;margin:0;white-space:pre-wrap;overflow-wrap:anywhere;}\n"
        f"{rules}\n</style>\n</head>\n<body>\n<h1>{caption}</h1>\n"
        "<pre>" + "\n".join(body) + "</pre>\n</body>\n</html>\n"
    )


# ----- asciicast ----------------------------------------------------------------


def _epoch(started: str | None) -> int | None:
    if not started:
        return None
    try:
        return int(_dt.datetime.fromisoformat(started).timestamp())
    except (ValueError, OverflowError, OSError):
        return None


# An embedded player scales the terminal to the page: 240 columns made text too small to read.
ASCIICAST_MAX_WIDTH = 120


def write_asciicast(transcript: Transcript, *, style=None, view=None, width: int | None = None) -> str:
    from smtpshell.highlight.ansi import AnsiRenderer
    from smtpshell.highlight.style import style_for
    from smtpshell.transcript.display import View
    from smtpshell.transcript.render import render_all, timeline

    renderer = AnsiRenderer(style_for(style), color=True)
    rendered = render_all(transcript.events, view or View())
    if width is None:
        longest = max((sum(len(text) for _, text in frags) for lines in rendered for frags in lines), default=0)
        width = min(max(80, longest + 1), ASCIICAST_MAX_WIDTH)  # longer lines wrap in the player
    header: dict = {"version": 2, "width": width, "height": 30}
    epoch = _epoch(transcript.header.started)
    if epoch is not None:
        header["timestamp"] = epoch
    header["title"] = _title(transcript)
    header["env"] = {"TERM": "xterm-256color", "SHELL": "/bin/sh"}
    out = [json.dumps(header, ensure_ascii=False)]
    for t, lines in zip(timeline(transcript.events), rendered):
        if lines:
            data = "".join(renderer.line(frags) + "\r\n" for frags in lines)
            out.append(json.dumps([round(t, 6), "o", data], ensure_ascii=False))
    return "".join(line + "\n" for line in out)


# ----- all formats ----------------------------------------------------------------


def write(transcript: Transcript, fmt: str, *, redact: bool = False, style=None, view=None) -> str:
    """The transcript in format ``fmt`` (one of ``FORMATS``). Raises ValueError for another."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if redact:
        from smtpshell.transcript.redact import redact as do_redact

        transcript = do_redact(transcript)
    if fmt == "jsonl":
        return write_jsonl(transcript)
    if fmt == "text":
        return _marked(transcript, _bare_marks)
    if fmt == "sc":
        return _marked(transcript, _sc_marks)
    if fmt == "swaks":
        return _marked(transcript, _swaks_marks)
    if fmt == "html":
        return write_html(transcript, style=style, view=view)
    return write_asciicast(transcript, style=style, view=view)
