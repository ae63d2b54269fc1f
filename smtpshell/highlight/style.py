"""The shell's colours, as a pygments style.

ANSI colour names only, so light and dark terminals both read well (the
terminal's palette decides the shade). ``style_for(name)`` layers these SMTP
colours over any stock pygments style named with ``--style``.
"""

from pygments.style import Style
from pygments.token import Token

from smtpshell.highlight import tokens as t

SMTP_STYLES = {
    t.CODE_BY_CLASS[2]: "bold ansigreen",
    t.CODE_BY_CLASS[3]: "bold ansicyan",
    t.CODE_BY_CLASS[4]: "bold ansiyellow",
    t.CODE_BY_CLASS[5]: "bold ansired",
    t.CODE_OTHER: "bold ansimagenta",
    t.REPLY_TEXT_BY_CLASS[2]: "ansigreen",
    t.REPLY_TEXT_BY_CLASS[3]: "ansicyan",
    t.REPLY_TEXT_BY_CLASS[4]: "ansiyellow",
    t.REPLY_TEXT_BY_CLASS[5]: "ansired",
    t.REPLY_TEXT_OTHER: "ansimagenta",
    t.VERB: "bold ansiblue",
    t.ARGUMENT: "ansiblue",
    t.ADDRESS: "underline ansiblue",
    t.PARAMETER: "ansiblue",
    t.DATA: "ansibrightblack",
    t.SECRET: "bold ansiblue",
    t.COLON_COMMAND: "bold ansimagenta",
    t.MARK: "ansibrightblack",
    t.NOTE: "italic ansibrightblue",
    t.TLS_NOTE: "italic ansibrightgreen",
    t.WARNING: "italic ansibrightyellow",
    t.ERROR: "bold ansibrightred",
    t.HINT: "italic ansibrightblack",
    t.TIME: "ansibrightblack",
    t.ESCAPE: "bold ansimagenta",
}


class SmtpShellStyle(Style):
    """smtpshell's default colours (ANSI names only)."""

    name = "smtpshell"
    background_color = None
    styles = {Token: "", **SMTP_STYLES}


def style_for(name: str | None):
    """The style class for ``--style NAME``: the SMTP colours over a stock style.

    Raises ``pygments.util.ClassNotFound`` for an unknown name.
    """
    if not name or name == "smtpshell":
        return SmtpShellStyle
    from pygments.styles import get_style_by_name

    base = get_style_by_name(name)
    return type(
        "SmtpShellOver" + base.__name__,
        (base,),
        {"styles": {**base.styles, **SMTP_STYLES}},
    )
