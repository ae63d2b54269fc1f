"""Token types shared by the lexer, the shell's output and the REPL.

Every SMTP token is a sub-token of a stock pygments token, so stock styles
(`pygmentize -l smtp -O style=monokai`) colour transcripts in their own colours:
client verbs fall back to ``Keyword``, the shell's notes to ``Comment``, and each
reply class to a different standard token that most styles colour apart from the
others and from keywords and comments: 2xx to ``Generic.Inserted`` (a diff's
added line, green in nearly every style), 3xx to ``Number``, 4xx to
``String.Regex`` (yellow or orange in monokai, solarized, nord, native), 5xx to
``Generic.Deleted`` (a diff's removed line, red). A reply's code and its text
are siblings under the same standard token, so a style can make the code bold
without the text inheriting it. ``style.style_for`` goes further for the shell's
own output and picks, per style, the standard tokens that really differ.
"""

from pygments.token import Comment, Generic, Keyword, Name, Number, String, Text

# Reply codes and reply text, one sub-token per reply class (RFC 5321 4.2.1).
CLASS_PARENT = {
    2: Generic.Inserted,
    3: Number,
    4: String.Regex,
    5: Generic.Deleted,
}
_CLASS_NAME = {2: "Positive", 3: "Intermediate", 4: "Transient", 5: "Permanent"}
CODE_BY_CLASS = {cls: getattr(CLASS_PARENT[cls].SMTP, name) for cls, name in _CLASS_NAME.items()}
REPLY_TEXT_BY_CLASS = {cls: getattr(CLASS_PARENT[cls].SMTP.Text, name) for cls, name in _CLASS_NAME.items()}
CODE_OTHER = Generic.Output.SMTP.Code.Other  # 1xx, 6xx-9xx, or no code at all
REPLY_TEXT_OTHER = Generic.Output.SMTP.Other

# Client side.
VERB = Keyword.SMTP
ARGUMENT = Name.SMTP.Argument
ADDRESS = Name.SMTP.Address
PARAMETER = Name.SMTP.Parameter
DATA = String.SMTP.Data  # message content after 354, never a reply
SECRET = String.SMTP.Secret  # masked credentials (***)
COLON_COMMAND = Keyword.SMTP.Shell  # :auth, :starttls, ...

# Marks in front of lines: "S:", "C:", "<-", "->", "<~", "~>", "===".
MARK = Generic.Prompt.SMTP

# The shell's own voice.
NOTE = Comment.SMTP.Note
TLS_NOTE = Comment.SMTP.TLS
WARNING = Comment.SMTP.Warning
ERROR = Generic.Error.SMTP
HINT = Comment.SMTP.Hint
TIME = Comment.SMTP.Time
ESCAPE = String.Escape.SMTP  # a byte shown visibly: ␍ ␊ ␀ \xff ␛

PLAIN = Text


def code_token(code: int | None):
    """The token for a reply code, by its class."""
    if code is None:
        return CODE_OTHER
    return CODE_BY_CLASS.get(code // 100, CODE_OTHER)


def reply_text_token(code: int | None):
    """The token for a reply's text, by its class."""
    if code is None:
        return REPLY_TEXT_OTHER
    return REPLY_TEXT_BY_CLASS.get(code // 100, REPLY_TEXT_OTHER)
