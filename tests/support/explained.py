"""What a class types in a lesson (the wrong things included), and a check that every reply the
shell printed carries an explanation: issue 5's promise, shared by the practice-server test and
the Postfix/Exim scenarios."""

SWEEP = (
    "EHLO me", "HELO me", "EHLO me", "VRFY alice", "EXPN list", "HELP", "NOOP", "ETRN example.com",
    "MAIL FROM:<a@example.com> SIZE=999999999", "MAIL FROM:<a@example.com>", "RCPT TO:<b@example.com>",
    "RCPT TO:<x@far.example>", "DATA", "Subject: x", "", "hi", ".",
    "MAIL FROM:<a@example.com>", "RCPT TO:<b@example.com>", "BDAT 4 LAST", "hi",
    "RSET", "FOO", "AUTH PLAIN", "*", "STARTTLS", "EHLO me", "AUTH PLAIN AGFsaWNlAHdyb25n", "AUTH LOGIN", "*",
    "QUIT",
)


def unexplained(text: str) -> list[str]:
    """Reply lines (a code and a space: the last line of a reply) with no hint under or beside them."""
    rows = text.splitlines()
    missing = []
    for i, row in enumerate(rows):
        if len(row) > 3 and row[:3].isdigit() and row[3] == " " and "↳" not in row:
            if i + 1 >= len(rows) or not rows[i + 1].lstrip().startswith("↳"):
                missing.append(row)
    return missing
