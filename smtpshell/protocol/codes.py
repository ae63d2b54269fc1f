"""What reply codes, enhanced status codes and EHLO keywords mean, and what to try.

The knowledge is package data in ``tables/``, loaded on first use and kept:

- ``reply_codes.tsv``: basic reply codes (RFC 5321 and later RFCs);
- ``enhanced_codes.tsv`` and ``enhanced_parts.tsv``: the IANA SMTP Enhanced Status Codes
  registry (enumerated codes; class and subject sub-codes);
- ``ehlo_keywords.tsv``: the IANA SMTP Service Extensions registry and common vendor keywords;
- ``sasl_mechanisms.tsv``: the mechanisms that follow ``AUTH``;
- ``failures.json``: common real-world failures, with likely causes and what to try.

This module only looks things up and phrases them. Importing it costs little (the scripted
start path imports it): each table is read when first needed, ``json`` with the failure
table (at the first 4xx or 5xx reply), and each failure's regular expression when a reply
with one of its codes first needs it. (JSON, not TOML, for that table: its C parser reads it
in well under a millisecond, where tomllib takes over ten.)
"""

from __future__ import annotations

import base64
import binascii
import functools
import os

_TABLES = os.path.join(os.path.dirname(__file__), "tables")

_CLASS_MEANING = {
    2: "success",
    3: "intermediate: the server waits for more",
    4: "temporary failure: try again later",
    5: "permanent failure: do not retry as is",
}


# ----- the records -------------------------------------------------------------------------------


class _Record:
    """A small read-only record with keyword-only fields.

    Plain slotted classes, not dataclasses: these are defined on the scripted start path,
    where a dataclass costs a generated ``__init__`` each.
    """

    __slots__ = ()
    _defaults: dict[str, object] = {}

    def __init__(self, **values: object) -> None:
        for name in self.__slots__:
            if name in values:
                object.__setattr__(self, name, values.pop(name))
            elif name in self._defaults:
                object.__setattr__(self, name, self._defaults[name])
            else:
                raise TypeError(f"{type(self).__name__}: missing field {name!r}")
        if values:
            raise TypeError(f"{type(self).__name__}: unknown fields {', '.join(values)}")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def _fields(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._fields() == other._fields()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({shown})"


class CodeInfo(_Record):
    """A row of a code or keyword table.

    key: "550", "X.7.8", "X.7.YYY", "SIZE", "PLAIN"; meaning: short, what the inline hint
    shows; detail: in plain words, for ``explain`` (for a SASL mechanism: its exposure without
    TLS); source: "RFC 5321", "RFC 7372, RFC 6376", "Postfix", ...; registry: for EHLO keywords,
    "IANA" or "vendor".
    """

    __slots__ = ("key", "meaning", "detail", "source", "registry")
    _defaults = {"registry": ""}


class Example(_Record):
    """A reply as a real server writes it."""

    __slots__ = ("server", "reply")


class Failure(_Record):
    """A common real-world failure (``failures.json``).

    codes: basic codes it can come with; enhanced: "X.7.1" forms; alone: the codes that match
    by themselves; pattern: a regular expression (its source) over the reply's text, or "".
    overrides: when the text matches, the title says what the reply means better than its codes
    do (Postfix's "535 5.7.8 … no mechanism available" is no wrong password).
    """

    __slots__ = ("id", "title", "codes", "enhanced", "alone", "pattern", "causes", "tries", "hint",
                 "source", "examples", "overrides")
    _defaults = {"overrides": False}

    def overrides_codes(self, text: str) -> bool:
        """Whether the reply's text matched and the title replaces the codes' meanings."""
        return bool(self.overrides and self.pattern and text and _regex(self.pattern).search(text))

    def score(self, code: int | None, enhanced: str | None, text: str) -> int:
        """0 when this failure does not fit the reply; more is a better fit."""
        if code is not None and code not in self.codes:
            return 0
        score = 0
        if self.pattern and text and _regex(self.pattern).search(text):
            score += 4
        if enhanced and _generic(enhanced) in self.enhanced:
            score += 2
        if code is not None and code in self.alone:
            score += 1
        return score


# ----- loading -------------------------------------------------------------------------------------


def _rows(name: str) -> list[list[str]]:
    # Plain file access (importlib.resources costs more to import than the tables to read).
    with open(os.path.join(_TABLES, name), encoding="utf-8") as fh:
        text = fh.read()
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@functools.cache
def _codes(name: str) -> dict[str, CodeInfo]:
    table = {}
    for fields in _rows(name):
        key, meaning, detail, source, *rest = fields + [""] * 4
        table[key] = CodeInfo(key=key, meaning=meaning, detail=detail, source=source,
                              registry=rest[0] if rest else "")
    return table


@functools.cache
def _sasl() -> dict[str, CodeInfo]:
    table = {}
    for fields in _rows("sasl_mechanisms.tsv"):
        name, meaning, exposure, source = (fields + [""] * 4)[:4]
        table[name] = CodeInfo(key=name, meaning=meaning, detail=exposure, source=source)
    return table


@functools.cache
def _routine() -> dict[tuple[str, int], tuple[str, str]]:
    table = {}
    for fields in _rows("routine_replies.tsv"):
        verb, code, hint, with_id = (fields + [""] * 4)[:4]
        table[(verb, int(code))] = (hint, with_id)
    return table


# Postfix "queued as ID", Exim "id=ID", aiosmtpd-based and others "accepted for delivery as ID".
_QUEUE_ID = r"(?:queued as|\bid=|for delivery as)\s*<?([A-Za-z0-9][\w.@-]{4,})>?"


def routine_hint(verb: str, code: int, text: str = "") -> str | None:
    """What a routine reply (220, 221, 250) to ``verb`` means and what comes next; None if nothing to say.

    ``verb`` is the command answered: GREETING for the banner, "." for the end of DATA,
    "BDAT LAST" for the last chunk. ``text``: the reply's text, for the queue id it may name.
    """
    row = _routine().get((verb, code))
    if row is None:
        return None
    hint, with_id = row
    if with_id and text:
        match = _regex(_QUEUE_ID).search(text)
        if match:
            return with_id.replace("{id}", match.group(1))
    return hint


@functools.cache
def failures() -> tuple[Failure, ...]:
    """The common failures, in the order of ``failures.json``."""
    import json

    with open(os.path.join(_TABLES, "failures.json"), encoding="utf-8") as fh:
        data = json.load(fh)
    out = []
    for entry in data["failures"]:
        out.append(Failure(
            id=entry["id"],
            title=entry["title"],
            codes=tuple(entry["codes"]),
            enhanced=tuple(entry.get("enhanced", ())),
            alone=tuple(entry.get("alone", ())),
            pattern=entry.get("pattern", ""),
            causes=tuple(entry["causes"]),
            tries=tuple(entry["try"]),
            hint=entry["hint"],
            source=entry["source"],
            examples=tuple(Example(**example) for example in entry.get("examples", ())),
            overrides=entry.get("overrides", False),
        ))
    return tuple(out)


@functools.cache
def _regex(source: str):
    """A failure's pattern, compiled the first time a reply with one of its codes needs it."""
    import re

    return re.compile(source, re.IGNORECASE)


# ----- basic reply codes ---------------------------------------------------------------------------


def code_info(code: int) -> CodeInfo | None:
    return _codes("reply_codes.tsv").get(str(code))


def explain_code(code: int) -> str | None:
    """``550`` -> "mailbox unavailable (...)"; falls back to the class meaning."""
    row = code_info(code)
    if row:
        return row.meaning
    return _CLASS_MEANING.get(code // 100) if 200 <= code < 600 else None


def code_source(code: int) -> str | None:
    row = code_info(code)
    return row.source if row else None


def class_meaning(code: int) -> str | None:
    """The meaning of a basic code's first digit."""
    return _CLASS_MEANING.get(code // 100) if 200 <= code < 600 else None


# ----- enhanced status codes -----------------------------------------------------------------------


def _split_enhanced(code: str) -> tuple[str, str, str] | None:
    parts = code.split(".")
    if len(parts) != 3 or not all(p.isdigit() and 1 <= len(p) <= 3 for p in parts):
        return None
    if parts[0] not in "245" or len(parts[0]) != 1:
        return None
    return parts[0], str(int(parts[1])), str(int(parts[2]))


def _generic(code: str) -> str:
    """``5.7.1`` -> ``X.7.1`` (``5.07.001`` too); "" for what is not an enhanced code."""
    parts = _split_enhanced(code)
    return f"X.{parts[1]}.{parts[2]}" if parts else ""


def enhanced_info(code: str) -> CodeInfo | None:
    """The registry row of ``5.7.8`` (any class: 2, 4 or 5)."""
    parts = _split_enhanced(code)
    if parts is None:
        return None
    return _codes("enhanced_codes.tsv").get(f"X.{parts[1]}.{parts[2]}")


def explain_enhanced(code: str) -> str | None:
    """``5.7.8`` -> "authentication credentials invalid"."""
    row = enhanced_info(code)
    return row.meaning if row else None


def enhanced_class(code: str) -> CodeInfo | None:
    """The class sub-code of ``5.7.8``: 5, permanent failure."""
    parts = _split_enhanced(code)
    return _codes("enhanced_parts.tsv").get(f"{parts[0]}.XXX.YYY") if parts else None


def enhanced_subject(code: str) -> CodeInfo | None:
    """The subject sub-code of ``5.7.8``: 7, security or policy status."""
    parts = _split_enhanced(code)
    return _codes("enhanced_parts.tsv").get(f"X.{parts[1]}.YYY") if parts else None


# ----- common failures -----------------------------------------------------------------------------


def match_failure(code: int | None, enhanced: str | None = None, text: str = "") -> Failure | None:
    """The common failure that best fits a reply (its code, enhanced code and text), if any.

    ``code=None`` (an enhanced code explained on its own) skips the basic code check.
    """
    best, best_score = None, 0
    for failure in failures():
        score = failure.score(code, enhanced, text)
        if score > best_score:
            best, best_score = failure, score
    return best


# ----- EHLO keywords -------------------------------------------------------------------------------


def keyword_info(keyword: str) -> CodeInfo | None:
    return _codes("ehlo_keywords.tsv").get(keyword.upper())


def sasl_info(mechanism: str) -> CodeInfo | None:
    return _sasl().get(mechanism.upper())


_EXPOSURE = {
    "readable": "sends the password readable (base64 is not encryption)",
    "hashed": "does not send the password, but a captured exchange can be cracked offline",
    "token": "sends a token that works like a password until it expires",
    "safe": "never sends the password",
}


_PLAINTEXT_AUTH = {
    "readable": "with {name} the password travels in clear text (base64 is not encryption)",
    "token": "with {name} the token travels in clear text (it works like a password until it expires)",
    "hashed": ("{name} does not send the password, but the user name is visible, a recorded exchange can be "
               "cracked offline (MD5), and nothing authenticates the channel: the rest of the session can be "
               "read or changed on the way"),
    "safe": ("{name} does not send the password, but the user name is visible, a recorded exchange allows "
             "offline password guessing, and nothing binds the login to this channel: the rest of the session "
             "can be read or changed on the way"),
    "other": "anyone on the way can read the {name} exchange",
}


def plaintext_auth_warning(mechanism: str | None) -> str:
    """What ``AUTH MECHANISM`` without TLS exposes (``sasl_mechanisms.tsv``), for a warning.

    PLAIN, LOGIN and the OAuth tokens travel readable; CRAM-MD5, DIGEST-MD5 and SCRAM do not
    send the password, and the warning says what they do expose instead.
    """
    name = (mechanism or "").upper()
    info = sasl_info(name) if name else None
    if info is None:
        exposure = "the credentials travel in clear text"
    else:
        kind = "other" if info.detail == "safe" and not name.startswith("SCRAM") else info.detail
        exposure = _PLAINTEXT_AUTH[kind].format(name=name)
    return f"AUTH over an unencrypted connection: {exposure}"


def explain_keyword(keyword: str, params: tuple[str, ...] = (), *, tls: bool | None = None) -> str | None:
    """What an EHLO keyword means, with its parameters in words (one short line).

    ``tls``: whether the connection is encrypted (None: unknown), for the advice on
    AUTH mechanisms that send the password readable.
    """
    keyword = keyword.upper()
    phrase = _PARAMS.get(keyword.rstrip("="))
    if phrase is not None:
        return phrase(keyword, params, tls)
    row = keyword_info(keyword)
    if row is None:
        if keyword.startswith("X"):
            return "a vendor extension (not registered with IANA)"
        return None
    return row.meaning


def _size(keyword: str, params: tuple[str, ...], tls: bool | None) -> str:
    if params and params[0].isdigit() and int(params[0]):
        return f"maximum message size {human_size(int(params[0]))}"
    return "message size declared with SIZE=, no fixed limit"


def _auth(keyword: str, params: tuple[str, ...], tls: bool | None) -> str:
    mechs = [p.upper() for p in params]
    what = "login methods (old AUTH= form)" if keyword.endswith("=") else "login methods"
    if keyword.startswith("X-EXPS"):
        what = "Exchange server-to-server login methods"
    line = f"{what}: {' '.join(params) or 'none listed'}"
    readable = [m for m in mechs if (info := sasl_info(m)) is not None and info.detail == "readable"]
    if readable and tls is not True:
        names = " and ".join(readable) if len(readable) < 3 else ", ".join(readable)
        shows = "shows" if len(readable) == 1 else "show"
        line += f" — {names} {shows} the password to anyone on the way: STARTTLS first"
        if tls is None:
            line = line.replace(": STARTTLS first", " without TLS")
    return line


def _limits(keyword: str, params: tuple[str, ...], tls: bool | None) -> str:
    names = {"RCPTMAX": "recipients per message", "MAILMAX": "messages per connection",
             "RCPTDOMAINMAX": "recipient domains per message"}
    shown = []
    for param in params:
        name, _, value = param.partition("=")
        shown.append(f"{names.get(name.upper(), name)} {value}" if value else param)
    return "limits: " + (", ".join(shown) if shown else "none given")


def _deliverby(keyword: str, params: tuple[str, ...], tls: bool | None) -> str:
    if params and params[0].isdigit():
        return f"deliver-by time limits (BY=), at least {params[0]} seconds"
    return "deliver-by time limits (BY= on MAIL FROM)"


def _attributes(keyword: str, params: tuple[str, ...], tls: bool | None) -> str:
    row = keyword_info(keyword)
    base = row.meaning if row else keyword
    return f"{base}; attributes: {' '.join(params)}" if params else base


def _with_params(keyword: str, params: tuple[str, ...], tls: bool | None) -> str:
    row = keyword_info(keyword)
    base = row.meaning if row else keyword
    return f"{base}: {' '.join(params)}" if params else base


_PARAMS = {
    "SIZE": _size,
    "AUTH": _auth,
    "X-EXPS": _auth,
    "LIMITS": _limits,
    "DELIVERBY": _deliverby,
    "XCLIENT": _attributes,
    "XFORWARD": _attributes,
    "MT-PRIORITY": _with_params,
    "FUTURERELEASE": _with_params,
    "BURL": _with_params,
    "NO-SOLICITING": _with_params,
}


def keyword_details(keyword: str, params: tuple[str, ...] = (), *, tls: bool | None = None) -> list[str]:
    """Lines about a keyword's parameters, for ``explain`` (one per AUTH mechanism)."""
    keyword = keyword.upper().rstrip("=")
    out = []
    if keyword in ("AUTH", "X-EXPS"):
        for mech in params:
            info = sasl_info(mech)
            if info is None:
                out.append(f"{mech}: a mechanism not in smtpshell's table")
                continue
            note = _EXPOSURE.get(info.detail, "")
            if info.detail == "readable":
                note += "; use it only over TLS" if tls is not True else "; fine over this TLS connection"
            out.append(f"{mech}: {info.meaning}; {note} ({info.source})")
    elif keyword == "SIZE" and params and params[0].isdigit():
        out.append(f"{params[0]} bytes = {human_size(int(params[0]))}"
                   if int(params[0]) else "0: no fixed limit")
    return out


# ----- small helpers -------------------------------------------------------------------------------


def human_size(n: int) -> str:
    """10240000 -> "10 MB" (decimal units, as servers mean them)."""
    units = (("bytes", 1), ("kB", 10**3), ("MB", 10**6), ("GB", 10**9), ("TB", 10**12))
    for index, (unit, scale) in enumerate(units):
        value = n / scale
        shown = f"{value:.0f}" if value >= 10 or scale == 1 else f"{value:.1f}".removesuffix(".0")
        if float(shown) < 1000 or index == len(units) - 1:
            return f"{shown} {unit}"
    raise AssertionError("unreachable")


def decode_b64(text: str) -> bytes | None:
    """Strict base64 decoding; None when ``text`` is not base64."""
    text = text.strip()
    if not text or text == "=":
        return b""  # an empty challenge or response (RFC 4954: "=" in an initial response)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
