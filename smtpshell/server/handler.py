"""The practice server's aiosmtpd handler: what it advertises, accepts and keeps."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from smtpshell.server.modes import ModeRules
from smtpshell.server.store import NULL_PATH, MaildirStore, Trace, angle, new_queue_id, trace_headers
from smtpshell.server.users import AUTH_MECHANISMS

log = logging.getLogger(__name__)

# aiosmtpd advertises none of these, though pipelined commands just work (it reads them one by
# one from its buffer), PracticeSMTP.push adds the enhanced codes and its BDAT comes from
# smtpshell.server.chunking.
EXTRA_KEYWORDS_FIRST = ("250-PIPELINING",)
EXTRA_KEYWORDS_LAST = ("250-CHUNKING", "250-ENHANCEDSTATUSCODES")

S250_SENDER_OK = "250 2.1.0 Sender {address} ok"
S250_RECIPIENT_OK = "250 2.1.5 Recipient {address} ok"
S250_ACCEPTED = "250 2.0.0 Message accepted for delivery as {queue_id}"
S451_NOT_STORED = "451 4.3.0 Could not store the message: {reason}"
S501_NULL_RECIPIENT = "501 5.1.3 Bad recipient address syntax: <> is for senders only"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def shown(address: str) -> str:
    """*address* in angle brackets, safe to echo in a reply: no control characters, no bytes
    that are not UTF-8 (both written as ``\\xHH``)."""
    text = angle(address).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda match: f"\\x{ord(match[0]):02x}", text)


def ordered_auth(line: str) -> str:
    """aiosmtpd's ``250-AUTH`` line (mechanisms sorted by name) in :data:`AUTH_MECHANISMS` order;
    other lines as they are. Mechanisms not in that list follow, by name."""
    keyword, _, mechanisms = line.partition(" ")
    if keyword[4:] != "AUTH":
        return line
    rank = {name: index for index, name in enumerate(AUTH_MECHANISMS)}
    ordered = sorted(mechanisms.split(), key=lambda name: (rank.get(name, len(rank)), name))
    return " ".join([keyword, *ordered])


class PracticeHandler:
    """Accepts every sender and recipient and keeps each message in a Maildir, unless the
    modes (greylist, relay, strict-lf) say otherwise."""

    def __init__(self, *, store: MaildirStore, rules: ModeRules | None = None) -> None:
        self._store = store
        self._rules = rules

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        """Add PIPELINING, CHUNKING and ENHANCEDSTATUSCODES to what aiosmtpd advertises; AUTH
        strongest first."""
        session.host_name = hostname  # the 5-argument hook must do this itself
        first, *middle, last = (ordered_auth(line) for line in responses)
        return [first, *EXTRA_KEYWORDS_FIRST, *middle, *EXTRA_KEYWORDS_LAST, last]

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        """Accept any sender, the null reverse-path ``<>`` included."""
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return S250_SENDER_OK.format(address=shown(address))

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        """Accept any recipient: the practice server keeps all mail in one Maildir."""
        if address == NULL_PATH:
            return S501_NULL_RECIPIENT
        if self._rules is not None:
            peer = session.peer
            refusal = self._rules.check_recipient(
                peer_ip=str(peer[0]) if isinstance(peer, tuple) else "unknown",
                mail_from=envelope.mail_from or NULL_PATH,
                address=address,
                shown=shown(address),
                authenticated=bool(session.authenticated),
            )
            if refusal is not None:
                log.info("%s: RCPT %s refused: %s", peer_name(peer), shown(address), refusal)
                return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return S250_RECIPIENT_OK.format(address=shown(address))

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Keep the message, as received after dot-unstuffing, under the envelope headers."""
        assert envelope.original_content is not None
        refusal = self._rules and self._rules.check_content(envelope.original_content)
        if refusal:
            return refusal
        trace = _trace(server, session, envelope)
        message = trace_headers(trace) + envelope.original_content
        try:
            path = await asyncio.to_thread(self._store.deliver, message)
        except OSError as error:
            log.warning("%s: could not store message %s: %s", peer_name(session.peer), trace.queue_id, error)
            return S451_NOT_STORED.format(reason=error.strerror or error)
        log.info(
            "%s: message %s from %s to %s, %d bytes, kept in %s",
            peer_name(session.peer),
            trace.queue_id,
            shown(trace.mail_from),
            ", ".join(map(shown, trace.rcpt_tos)),
            len(envelope.original_content),
            path,
        )
        return S250_ACCEPTED.format(queue_id=trace.queue_id)

    def handle_STARTTLS(self, server: SMTP, session: Session, envelope: Envelope) -> bool:
        """Note the TLS session (aiosmtpd calls this hook without awaiting it)."""
        log.info("%s: TLS started, %s", peer_name(session.peer), _tls_summary(session.ssl))
        return True


def _trace(server: SMTP, session: Session, envelope: Envelope) -> Trace:
    tls = _tls_summary(session.ssl)
    user = session.auth_data if session.authenticated else None
    protocol = "ESMTP" if session.extended_smtp else "SMTP"
    protocol += ("S" if tls else "") + ("A" if user else "")
    peer = session.peer
    return Trace(
        queue_id=new_queue_id(),
        mail_from=envelope.mail_from or NULL_PATH,
        rcpt_tos=tuple(envelope.rcpt_tos),
        helo=session.host_name or "unknown",
        peer_ip=str(peer[0]) if isinstance(peer, tuple) else "unknown",
        hostname=server.hostname,
        protocol=protocol,
        tls=tls,
        user=str(user) if user else None,
        when=datetime.now().astimezone(),
    )


def _tls_summary(ssl_extra: dict[str, Any] | None) -> str | None:
    if not ssl_extra or not ssl_extra.get("cipher"):
        return None
    name, version, bits = ssl_extra["cipher"]
    return f"{version} with cipher {name} ({bits} bits)"


def peer_name(peer: Any) -> str:
    """``127.0.0.1:50000`` (``[::1]:50000``) from a ``peername`` tuple."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = peer[0], peer[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return "unknown peer"
