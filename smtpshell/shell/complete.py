"""Completion suggestions as pure functions of the typed text and what the server advertised."""

from __future__ import annotations

VERBS = ("EHLO", "HELO", "LHLO", "MAIL FROM:<", "RCPT TO:<", "DATA", "BDAT", "RSET", "NOOP",
         "QUIT", "VRFY", "EXPN", "HELP", "STARTTLS", "AUTH", "ETRN")


def suggestions(text: str, *, commands, capabilities=None, in_data: bool = False, tls: bool = False) -> list[str]:
    """Whole-word completions for the text before the cursor (replacing its last word)."""
    if in_data:
        return [f":{name}" for name, spec in commands.items() if spec.in_data and f":{name}".startswith(text)] if text.startswith(":") else []
    if text.startswith(":"):
        if " " not in text:
            return [f":{name}" for name in commands if f":{name}".startswith(text)]
        name, _, rest = text[1:].partition(" ")
        if name == "set" and " " not in rest:
            return [w for w in ("hints", "explain-auth", "timestamps", "marks", "style") if w.startswith(rest)]
        if name == "auth" and " " not in rest and capabilities is not None:
            return [m for m in capabilities.auth_mechanisms if m.startswith(rest.upper())]
        if name in ("send", "bdat") and rest.split(" ")[-1].startswith("-"):
            from smtpshell.shell.send import OPTIONS

            options = [o[0] for o in OPTIONS] if name == "send" else ["--last", "--chunk-size", "--crlf"]
            return [o for o in options if o.startswith(rest.split(" ")[-1])]
        return []
    words = text.split(" ")
    if len(words) == 1:
        upper = words[0].upper()
        verbs = [v for v in VERBS if v.startswith(upper)]
        if tls:
            verbs = [v for v in verbs if v != "STARTTLS"]
        if capabilities is not None and "CHUNKING" not in capabilities:
            verbs = [v for v in verbs if v != "BDAT"]
        return verbs
    if words[0].upper() == "AUTH" and len(words) == 2 and capabilities is not None:
        return [m for m in capabilities.auth_mechanisms if m.startswith(words[1].upper())]
    return []
