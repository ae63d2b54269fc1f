"""Completion suggestions as pure functions of the typed text and the session's state.

Each suggestion replaces the last word typed (the text after the last space). What is
offered follows what the server advertised in its EHLO reply: the verbs of its extensions
(no STARTTLS once TLS is up, BDAT only with CHUNKING), its AUTH mechanisms, and after
``MAIL FROM:<…> `` / ``RCPT TO:<…> `` only the parameters of its extensions
(``protocol/verbs.py``). Addresses typed earlier in the session come back after ``FROM:<``
and ``TO:<``. Colon commands complete their names, then their options, taken from each
command's syntax and help (the registry), so Tab never disagrees with ``:help``; commands
that take a file complete paths. Inside DATA only the commands that work there complete.
"""

from __future__ import annotations

import os
import re

MAX_ADDRESSES = 20  # remembered per shell, most recent first
MAX_PATHS = 200
_ADDRESS = r"(?i)^\s*\S+\s+(?:FROM|TO):\s*<([^<>\s]+)>"  # compiled when first used (a faster start)
_ADDRESS_OPTIONS = ("--from", "--to", "--cc")  # :send, :smuggle-check
_PLACEHOLDER_FILES = ("PATH", "FILE")  # a command whose syntax names one takes a file


class Suggestion(str):
    """A completion (the word replacing the last one typed) with a short description, ``meta``."""

    meta: str

    def __new__(cls, text: str, meta: str = "") -> "Suggestion":
        self = super().__new__(cls, text)
        self.meta = meta
        return self


def suggestions(text: str, *, commands, capabilities=None, in_data: bool = False, tls: bool = False,
                addresses=(), cwd: str | None = None) -> list[Suggestion]:
    """Completions for ``text`` (the input before the cursor); each replaces its last word.

    ``capabilities``: the EHLO reply's (None before EHLO); ``addresses``: those used before in
    this session, most recent first; ``cwd``: where relative paths are looked up.
    """
    state = _State(commands=commands, capabilities=capabilities, tls=tls, addresses=tuple(addresses), cwd=cwd)
    if in_data:
        if not text.startswith(":"):
            return []  # message content
        name = text[1:].split(" ", 1)[0]
        spec = commands.get(name.lower())
        if " " in text and (spec is None or not spec.in_data):
            return []
        return _colon(text, state, in_data=True)
    if text.startswith(":"):
        return _colon(text, state)
    return _smtp(text, state)


def remember_address(addresses: list[str], line: str) -> None:
    """Note the address of a MAIL FROM or RCPT TO line sent, most recent first (for completion)."""
    match = re.match(_ADDRESS, line)
    if match is None:
        return
    address = match.group(1)
    if address in addresses:
        addresses.remove(address)
    addresses.insert(0, address)
    del addresses[MAX_ADDRESSES:]


class _State:
    def __init__(self, *, commands, capabilities, tls, addresses, cwd) -> None:
        self.commands = commands
        self.capabilities = capabilities
        self.tls = tls
        self.addresses = addresses
        self.cwd = cwd


def _matching(word: str, candidates) -> list[Suggestion]:
    """The candidates that start with ``word`` and add to it, ignoring case, each once, in order."""
    folded = word.casefold()
    seen: dict[str, Suggestion] = {}
    for item in candidates:
        if not isinstance(item, Suggestion):
            item = Suggestion(item)
        if item.casefold().startswith(folded) and item.casefold() != folded and item not in seen:
            seen[item] = item
    return list(seen.values())


# ----- SMTP commands ------------------------------------------------------------------


def _smtp(text: str, state: _State) -> list[Suggestion]:
    from smtpshell.protocol import verbs as smtp_verbs

    words = text.split(" ")
    caps = state.capabilities
    if len(words) == 1:
        return _matching(words[0], (Suggestion(v.completion, v.meaning) for v in _offered_verbs(state)))
    verb, word, position = words[0].upper(), words[-1], len(words) - 1
    if verb == "AUTH" and position == 1 and caps is not None:
        return _matching(word, _mechanisms(caps))
    if verb in ("MAIL", "RCPT"):
        if position == 1:
            return _matching(word, _envelope(verb, state))
        used = {w.split("=", 1)[0].upper() for w in words[2:-1] if w}
        candidates = []
        if verb == "RCPT":
            match = re.match(_ADDRESS, text)
            if match is not None and "ORCPT" not in used and caps is not None and "DSN" in caps:
                candidates.append(Suggestion(f"ORCPT=rfc822;{match.group(1)}", "the original recipient, for DSNs"))
        candidates += [Suggestion(c, p.meaning) for p in smtp_verbs.advertised(verb, caps)
                       if p.name not in used for c in p.completions]
        return _matching(word, candidates)
    if verb == "XCLIENT" and caps is not None:
        return _matching(word, (f"{attr.upper()}=" for attr in caps.params("XCLIENT")))
    return []


def _offered_verbs(state: _State):
    from smtpshell.protocol import verbs as smtp_verbs

    caps = state.capabilities
    for info in smtp_verbs.verbs().values():
        if info.verb == "STARTTLS" and state.tls:
            continue  # TLS is up already
        if info.extension and caps is not None and info.extension not in caps:
            continue  # e.g. BDAT without CHUNKING (before EHLO everything is offered)
        yield info


def _envelope(verb: str, state: _State) -> list[Suggestion]:
    """``FROM:<`` (``TO:<``), then the addresses used before, then ``FROM:<>`` for a bounce."""
    key = "FROM:<" if verb == "MAIL" else "TO:<"
    out = [Suggestion(key)]
    out += [Suggestion(f"{key}{address}>", "used before") for address in state.addresses]
    if verb == "MAIL":
        out.append(Suggestion("FROM:<>", "the null sender, as a bounce has"))
    return out


def _mechanisms(caps) -> list[Suggestion]:
    """The offered SASL mechanisms, each with what it does (``tables/sasl_mechanisms.tsv``)."""
    from smtpshell.protocol.codes import sasl_info

    return [Suggestion(m, info.meaning if (info := sasl_info(m)) else "") for m in caps.auth_mechanisms]


# ----- colon commands ------------------------------------------------------------------


def _colon(text: str, state: _State, *, in_data: bool = False) -> list[Suggestion]:
    commands = state.commands
    if " " not in text:
        return _matching(text, (Suggestion(f":{name}", spec.summary) for name, spec in commands.items()
                                if (spec.in_data or not in_data) and f":{name}".startswith(text.lower())))
    name, _, rest = text[1:].partition(" ")
    spec = commands.get(name.lower())
    if spec is None:
        return []
    words = rest.split(" ")
    word = words[-1]
    before = [w for w in words[:-1] if w]
    previous = before[-1] if before else ""
    positional = [w for w in before if not w.startswith("-")]
    if word.startswith("-"):
        return _matching(word, spec.options)
    if previous in _ADDRESS_OPTIONS:
        return _matching(word, state.addresses)
    if previous == "--attach" or (previous.startswith("--") and previous.endswith("file")):
        return path_suggestions(word, cwd=state.cwd)
    if spec.name == "help" and not positional:
        return _matching(word, (Suggestion(n, s.summary) for n, s in commands.items() if n.startswith(word.lower())))
    if spec.name == "set":
        return _setting(word, positional)
    if spec.name == "auth" and not positional and state.capabilities is not None:
        return _matching(word, _mechanisms(state.capabilities))
    if spec.name == "xclient" and state.capabilities is not None:
        return _matching(word, (f"{attr.upper()}=" for attr in state.capabilities.params("XCLIENT")))
    if positional:
        return []
    out = _matching(word, _literals(spec.syntax))
    if any(p in re.split(r"[\s|\[\]]+", spec.syntax) for p in _PLACEHOLDER_FILES):
        out += path_suggestions(word, cwd=state.cwd)
    return out


def _literals(syntax: str) -> list[str]:
    """The fixed words of a command's syntax (``stop`` in ``:record FILE | :record stop``)."""
    return [w for w in syntax.replace("|", " ").split() if re.fullmatch(r"[a-z][a-z-]*", w)]


def _setting(word: str, positional: list[str]) -> list[Suggestion]:
    from smtpshell.shell.commands import _SETTABLE

    if not positional:
        return _matching(word, (Suggestion(n, v) for n, v in _SETTABLE.items()))
    if len(positional) > 1 or positional[0] not in _SETTABLE:
        return []
    if positional[0] == "style":
        return _matching(word, _style_names())
    values = _SETTABLE[positional[0]]
    return _matching(word, values.split("|")) if re.fullmatch(r"[a-z|-]+", values) else []


def _style_names() -> list[str]:
    from pygments.styles import get_all_styles

    return ["smtpshell", *sorted(get_all_styles())]


# ----- paths -----------------------------------------------------------------------------


def path_suggestions(word: str, *, cwd: str | None = None) -> list[Suggestion]:
    """Files and directories (with a trailing ``/``) that complete ``word``; relative to ``cwd``.

    Hidden entries only when the typed name starts with a dot; ``~`` is expanded for
    looking, kept in what is inserted. A name with a space is quoted (the commands that
    take a file read their argument as shell words).
    """
    typed_dir, partial = word[:word.rfind("/") + 1], word[word.rfind("/") + 1:]
    directory = os.path.expanduser(typed_dir) or "."
    if not os.path.isabs(directory):
        directory = os.path.join(cwd or os.getcwd(), directory)
    try:
        with os.scandir(directory) as it:
            entries = sorted((e.name, e.is_dir()) for e in it
                             if e.name.startswith(partial) and (partial.startswith(".") or not e.name.startswith(".")))
    except OSError:
        return []
    out = []
    for name, is_dir in entries[:MAX_PATHS]:
        path = typed_dir + name + ("/" if is_dir else "")
        out.append(Suggestion(f'"{path}"' if " " in path else path, "directory" if is_dir else ""))
    return out
