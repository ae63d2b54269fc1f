"""``--redact``: a transcript fit for a support ticket or a slide.

Addresses, host names and IPv4 addresses are replaced consistently -- the same
original (ignoring case) always gets the same placeholder, so the session
still reads: ``user1@example.invalid``, ``host1.example.invalid``,
``192.0.2.1``. Credentials go too: an AUTH command's initial response and
every answer to a 334 become ``***`` (as the shell records them by default).

Not redacted: base64 text inside 334 challenges (CRAM-MD5's may hold a host
name), IPv6 addresses, names without a dot (``localhost``).
"""

from __future__ import annotations

import re
from dataclasses import replace

from smtpshell.transcript.events import ClientLine, Event, Header, Note, ServerReply, Transcript

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+"
_EMAIL = re.compile(rf"(?<![A-Za-z0-9!#$%&'*+/=?^_`{{|}}~.-])({_LOCAL})@((?:{_LABEL}\.)*{_LABEL}|\[[^\]\s]*\])")
_HOST = re.compile(rf"(?<![\w.@-])(?:{_LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?(?![\w-]|\.[A-Za-z0-9])")
_IPV4 = re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(?![\w.])")
_CODE = re.compile(r"[0-9]{3}[ -]?")
_PLACEHOLDER = re.compile(r"(?:^|\.)(?:example\.invalid)$", re.I)


class Redactor:
    """Replaces addresses and names consistently across everything it is given."""

    def __init__(self) -> None:
        self.emails: dict[str, str] = {}
        self.hosts: dict[str, str] = {}
        self.ips: dict[str, str] = {}

    def _email(self, m: re.Match) -> str:
        key = m.group(0).lower()
        if _PLACEHOLDER.search(m.group(2)):
            return m.group(0)
        if key not in self.emails:
            self.emails[key] = f"user{len(self.emails) + 1}@example.invalid"
        return self.emails[key]

    def _host(self, m: re.Match) -> str:
        name = m.group(0)
        if _PLACEHOLDER.search(name):
            return name
        key = name.lower().rstrip(".")
        if key not in self.hosts:
            self.hosts[key] = f"host{len(self.hosts) + 1}.example.invalid"
        return self.hosts[key]

    def _ip(self, m: re.Match) -> str:
        key = m.group(0)
        if key not in self.ips:
            n = len(self.ips) + 1
            self.ips[key] = f"192.0.2.{n}" if n < 255 else f"198.51.100.{n % 254 + 1}"
        return self.ips[key]

    def text(self, text: str) -> str:
        text = _EMAIL.sub(self._email, text)
        text = _IPV4.sub(self._ip, text)
        return _HOST.sub(self._host, text)

    def reply_line(self, line: str) -> str:
        """A reply line: the code kept apart ("250-mx.example.net" is not one name)."""
        m = _CODE.match(line)
        return line[: m.end()] + self.text(line[m.end():]) if m else self.text(line)

    def raw(self, data: bytes | None) -> bytes | None:
        if data is None:
            return None
        text = data.decode("utf-8", "surrogateescape")
        out = "".join(self.reply_line(line) for line in text.splitlines(keepends=True))
        return out.encode("utf-8", "surrogateescape")

    def header(self, header: Header) -> Header:
        return replace(header, host=self.text(header.host) if header.host else header.host)

    def events(self, events) -> list[Event]:
        out: list[Event] = []
        sasl = False
        for event in events:
            if isinstance(event, ServerReply):
                if event.code is not None:
                    sasl = event.code == 334
                out.append(replace(
                    event, lines=tuple(self.reply_line(line) for line in event.lines), raw=self.raw(event.raw),
                ))
            elif isinstance(event, ClientLine):
                if not event.data and sasl:
                    sasl = False
                    if event.line.strip() != "*":
                        event = replace(event, line="***", raw=None, secret=True)
                elif not event.data:
                    words = event.line.split()
                    if len(words) > 2 and words[0].upper() == "AUTH":
                        event = replace(event, line=" ".join(words[:2] + ["***"]), raw=None, secret=True)
                out.append(replace(event, line=self.text(event.line), raw=self.raw(event.raw)))
            elif isinstance(event, Note):
                out.append(replace(event, text=self.text(event.text)))
            else:
                out.append(event)
        return out

    def transcript(self, transcript: Transcript) -> Transcript:
        return replace(
            transcript, header=self.header(transcript.header), events=tuple(self.events(transcript.events)),
        )


def redact(transcript: Transcript) -> Transcript:
    return Redactor().transcript(transcript)
