"""Token types shared by the lexer, the shell's output and the REPL.

Every SMTP token is a sub-token of a stock pygments token, so stock styles
(`pygmentize -l smtp -O style=monokai`) still colour transcripts sensibly:
reply-class codes fall back to ``Number``, client verbs to ``Keyword``,
the shell's notes to ``Comment``.
"""

from pygments.token import Comment, Generic, Keyword, Name, Number, String, Text

# Reply codes and reply text, one sub-token per reply class (RFC 5321 4.2.1).
CODE = Number.SMTP
CODE_BY_CLASS = {
    2: Number.SMTP.Positive,
    3: Number.SMTP.Intermediate,
    4: Number.SMTP.Transient,
    5: Number.SMTP.Permanent,
}
CODE_OTHER = Number.SMTP.Other  # 1xx, 6xx-9xx, or no code at all
REPLY_TEXT_BY_CLASS = {
    2: Generic.Output.SMTP.Positive,
    3: Generic.Output.SMTP.Intermediate,
    4: Generic.Output.SMTP.Transient,
    5: Generic.Output.SMTP.Permanent,
}
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
