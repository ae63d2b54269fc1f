"""The shell's colours, as a pygments style.

``SmtpShellStyle``, the default: ANSI colour names only, so light and dark
terminals both read well (the terminal's palette decides the shade).

``style_for(name)`` for ``--style NAME``: the stock pygments style itself,
with the SMTP tokens given the style's own colours. Every SMTP token already
falls back to a standard token (tokens.py), which is what ``pygmentize -l smtp
-O style=NAME`` shows; the shell goes one step further and, per style, picks
for each reply class the first standard token the style colours apart from
the other classes, the client's verbs, the shell's notes and plain text, so
2xx/3xx/4xx/5xx stay distinct wherever the style has the colours for it.
Nothing of the shell's own ANSI palette is laid over a stock style: ``bw``
stays black and white, ``monokai`` looks like monokai.
"""

from functools import lru_cache

from pygments.style import Style
from pygments.token import Comment, Generic, Keyword, Name, Number, Operator, String, Text, Token

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


# Standard tokens to take each reply class's colour from, in order of preference:
# the first is the one the lexer's token falls back to (tokens.CLASS_PARENT).
_CLASS_CANDIDATES = {
    2: (Generic.Inserted, String, Name.Function, Name.Tag, Name.Builtin, Keyword.Type),
    5: (Generic.Deleted, Generic.Error, Name.Exception, Keyword.Type, Name.Tag, String),
    4: (String.Regex, Keyword.Type, Comment.Preproc, Name.Decorator, Name.Label, Name.Attribute,
        String.Escape, Name.Variable, String),
    3: (Number, Name.Class, Name.Function, Generic.Subheading, Name.Constant, Keyword.Constant,
        Name.Builtin, Generic.Traceback, Name.Variable),
}
# The client's verbs: their own colour, apart from the replies'.
_VERB_CANDIDATES = (Keyword, Name.Function, Name.Class, Name.Tag, Keyword.Constant, Name.Builtin,
                    Name.Variable, Name.Attribute, Name.Decorator, Name.Namespace, Name.Constant,
                    Keyword.Type, Generic.Heading, Generic.Prompt, Operator.Word, String.Escape)


def _colour(base, token) -> str | None:
    """The foreground a style gives a token, or None when none usable (unset, or a background)."""
    st = base.style_for_token(token)
    if st.get("bgcolor") or st.get("bgansicolor"):
        return None  # a diff style with coloured lines, as gruvbox's: not for terminal text
    color = st.get("ansicolor") or st.get("color")
    if not color:
        return None
    color = color.lower()
    background = (getattr(base, "background_color", None) or "").lstrip("#").lower()
    return None if color == background else color


def _rgb(color: str) -> tuple[int, ...] | None:
    if len(color) != 6:
        return None
    try:
        return tuple(int(color[i:i + 2], 16) for i in (0, 2, 4))
    except ValueError:
        return None


def _near(a: str, b: str) -> bool:
    """Whether two colours would read as one (pygments default's 008400 and 008000)."""
    if a == b:
        return True
    ra, rb = _rgb(a), _rgb(b)
    if ra is None or rb is None:
        return False
    return sum((x - y) ** 2 for x, y in zip(ra, rb)) < 48 ** 2


def _pick(base, candidates, taken: set) -> str | None:
    for token in candidates:
        color = _colour(base, token)
        if color is not None and not any(_near(color, other) for other in taken):
            return color
    return None


def _class_colours(base, taken: set) -> dict:
    colours = {}
    for cls, candidates in _CLASS_CANDIDATES.items():
        color = _pick(base, candidates, taken | set(colours.values()))
        if color is not None:
            colours[cls] = color
    return colours


def _spec(color: str) -> str:
    return color if color.startswith("ansi") else "#" + color


def _derived_styles(base) -> dict:
    """The SMTP tokens' styles in a stock style: the style's own colours, per reply class apart."""
    notes = _colour(base, Comment)
    reserved = {_colour(base, Token), _colour(base, Text), notes} - {None}
    colours = _class_colours(base, reserved)
    styles = {}
    verb = _colour(base, Keyword)
    if verb is not None and any(_near(verb, color) for color in colours.values()):
        # A reply class took the verbs' colour (solarized's green): the verbs move if the
        # style has another colour for them, else the classes keep clear of the verbs.
        other = _pick(base, _VERB_CANDIDATES, reserved | set(colours.values()))
        if other is not None:
            bold = "bold " if base.style_for_token(Keyword).get("bold") else ""
            styles[t.VERB] = f"noinherit {bold}{_spec(other)}"
        else:
            colours = _class_colours(base, reserved | {verb})
    for cls in (2, 3, 4, 5):
        color = colours.get(cls)
        if color is None:  # a monochrome style (bw): the code bold, the text as its fallback
            styles[t.CODE_BY_CLASS[cls]] = "bold"
            continue
        styles[t.CODE_BY_CLASS[cls]] = f"noinherit bold {_spec(color)}"
        styles[t.REPLY_TEXT_BY_CLASS[cls]] = f"noinherit {_spec(color)}"
    return styles


@lru_cache(maxsize=None)
def style_for(name: str | None):
    """The style class for ``--style NAME``: the stock style, its colours on the SMTP tokens.

    Raises ``pygments.util.ClassNotFound`` for an unknown name.
    """
    if not name or name == "smtpshell":
        return SmtpShellStyle
    from pygments.styles import get_style_by_name

    base = get_style_by_name(name)
    # Every SMTP token named (if only to inherit), as style_for_token knows no others.
    smtp = dict.fromkeys(SMTP_STYLES, "")
    return type(
        "SmtpShellIn" + base.__name__,
        (base,),
        {"styles": {**smtp, **base.styles, **_derived_styles(base)}},
    )
