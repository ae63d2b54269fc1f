"""SMTP commands and their parameters as data: syntax, source, meaning, the extension each needs.

``tables/verbs.tsv`` holds the commands (read on first use and kept); the MAIL and RCPT
parameters are the table :data:`PARAMETERS` below. What the REPL suggests and its toolbar
shows while a command is typed come from here, so both list only what the server
advertised (its EHLO capabilities).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

_TABLE = os.path.join(os.path.dirname(__file__), "tables", "verbs.tsv")


@dataclass(frozen=True, kw_only=True)
class Verb:
    verb: str  # "MAIL"
    extension: str | None  # the EHLO keyword it needs ("CHUNKING" for BDAT), None for the base protocol
    syntax: str  # "MAIL FROM:<reverse-path>"
    source: str  # "RFC 5321"
    meaning: str  # one line

    @property
    def completion(self) -> str:
        """What Tab inserts for the verb: the syntax up to its first ``<`` ("MAIL FROM:<"), or the verb."""
        head, angle, _ = self.syntax.partition("<")
        return head + angle if angle else self.verb


@dataclass(frozen=True, kw_only=True)
class Parameter:
    verb: str  # "MAIL" or "RCPT"
    name: str  # "BODY"
    values: str  # the value's syntax ("7BIT|8BITMIME"), "" for a keyword without one (SMTPUTF8)
    completions: tuple[str, ...]  # what Tab offers ("BODY=7BIT", "BODY=8BITMIME")
    extension: str  # the EHLO keyword that allows it
    meaning: str

    @property
    def syntax(self) -> str:
        return f"{self.name}={self.values}" if self.values else self.name


def _p(verb, name, values, completions, extension, meaning) -> Parameter:
    return Parameter(verb=verb, name=name, values=values, completions=completions,
                     extension=extension, meaning=meaning)


# RFC 5321 4.1.1.11: parameters belong to extensions; only an advertised one may be used.
PARAMETERS: tuple[Parameter, ...] = (
    _p("MAIL", "SIZE", "n", ("SIZE=",), "SIZE", "the message's size in bytes (RFC 1870)"),
    _p("MAIL", "BODY", "7BIT|8BITMIME", ("BODY=7BIT", "BODY=8BITMIME"), "8BITMIME",
       "the body is 7-bit or 8-bit text (RFC 6152)"),
    _p("MAIL", "BODY", "BINARYMIME", ("BODY=BINARYMIME",), "BINARYMIME",
       "the body is binary, sent with BDAT (RFC 3030)"),
    _p("MAIL", "SMTPUTF8", "", ("SMTPUTF8",), "SMTPUTF8", "UTF-8 addresses and headers (RFC 6531)"),
    _p("MAIL", "RET", "FULL|HDRS", ("RET=FULL", "RET=HDRS"), "DSN",
       "a bounce returns the whole message or its headers (RFC 3461)"),
    _p("MAIL", "ENVID", "id", ("ENVID=",), "DSN", "an id for this message that bounces quote (RFC 3461)"),
    _p("MAIL", "AUTH", "<mailbox>|<>", ("AUTH=<>", "AUTH="), "AUTH",
       "who authenticated the original submitter (RFC 4954)"),
    _p("MAIL", "REQUIRETLS", "", ("REQUIRETLS",), "REQUIRETLS",
       "every hop must use verified TLS (RFC 8689)"),
    _p("MAIL", "MT-PRIORITY", "n", ("MT-PRIORITY=",), "MT-PRIORITY", "priority from -9 to 9 (RFC 6710)"),
    _p("MAIL", "BY", "seconds;R|N", ("BY=",), "DELIVERBY", "deliver within this time, or return/notify (RFC 2852)"),
    _p("MAIL", "HOLDFOR", "seconds", ("HOLDFOR=",), "FUTURERELEASE", "hold the message this long (RFC 4865)"),
    _p("MAIL", "HOLDUNTIL", "time", ("HOLDUNTIL=",), "FUTURERELEASE", "hold the message until then (RFC 4865)"),
    _p("RCPT", "NOTIFY", "SUCCESS,FAILURE,DELAY|NEVER",
       ("NOTIFY=SUCCESS,FAILURE,DELAY", "NOTIFY=FAILURE,DELAY", "NOTIFY=NEVER"), "DSN",
       "when to send a delivery status notification (RFC 3461)"),
    _p("RCPT", "ORCPT", "rfc822;address", ("ORCPT=rfc822;",), "DSN", "the original recipient, for DSNs (RFC 3461)"),
    _p("RCPT", "RRVS", "time", ("RRVS=",), "RRVS", "fail if the mailbox was reassigned since then (RFC 7293)"),
)


@functools.cache
def verbs() -> dict[str, Verb]:
    """The commands of ``tables/verbs.tsv`` by verb, in the table's order."""
    # Plain file access (importlib.resources costs more to import than the table to read).
    with open(_TABLE, encoding="utf-8") as fh:
        rows = [line.split("\t") for line in fh.read().splitlines() if line and not line.startswith("#")]
    return {verb: Verb(verb=verb, extension=None if ext == "-" else ext, syntax=syntax, source=source,
                       meaning=meaning)
            for verb, ext, syntax, source, meaning in rows}


def advertised(verb: str, capabilities) -> list[Parameter]:
    """The parameters of ``verb`` whose extension ``capabilities`` (EHLO) lists; none before EHLO."""
    if capabilities is None:
        return []
    return [p for p in PARAMETERS if p.verb == verb and p.extension in capabilities]


def syntax_hint(verb: str, capabilities) -> str | None:
    """``verb``'s syntax with the parameters the server advertised, its meaning and its source.

    ``MAIL FROM:<reverse-path> [SIZE=n] [BODY=7BIT|8BITMIME]  —  start a transaction: …  (RFC 5321)``;
    a verb whose extension the EHLO reply did not list says so. None for an unknown verb.
    """
    info = verbs().get(verb.upper())
    if info is None:
        return None
    merged: dict[str, list[str]] = {}  # BODY=7BIT|8BITMIME and BODY=BINARYMIME shown as one
    for param in advertised(info.verb, capabilities):
        merged.setdefault(param.name, [])
        if param.values:
            merged[param.name].append(param.values)
    params = "".join(f" [{name}={'|'.join(values)}]" if values else f" [{name}]" for name, values in merged.items())
    text = f"{info.syntax}{params}  —  {info.meaning}  ({info.source})"
    if info.extension and capabilities is not None and info.extension not in capabilities:
        text += f"  · {info.extension} not advertised"
    return text
