""":caps and :tls: what the server advertised and what its TLS looks like, in plain words.

The lines are built by pure functions (``caps_lines``, ``chain_lines``) and
emitted by the two command handlers.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING

from smtpshell.protocol import codes
from smtpshell.protocol.extensions import Capabilities, compare
from smtpshell.transcript import display

if TYPE_CHECKING:
    from smtpshell.shell.core import Shell


def _shown(keyword: str, params: tuple[str, ...]) -> str:
    return f"{keyword} {' '.join(params)}".strip()


def caps_lines(caps: Capabilities, *, tls: bool, before_tls: Capabilities | None = None) -> list:
    """The capability table, and what changed since the plain-text EHLO when there was one."""
    if not caps.keywords:
        return [display.note_line(f"{caps.greeting or 'the server'}: no extensions advertised"
                                  " (a HELO reply has none: send EHLO to see them)")]
    when = " over TLS" if tls else " in plain text"
    lines = [display.note_line(f"{caps.greeting or 'the server'} advertised{when} ({len(caps.keywords)} extensions):")]
    rows = [(_shown(k, p), codes.explain_keyword(k, p, tls=tls) or "(no description: not a registered keyword)")
            for k, p in caps.keywords.items()]
    width = min(max(len(shown) for shown, _ in rows), 32)
    for shown, meaning in rows:
        lines.append(display.note_line(f"  {shown:<{width}}  {meaning}"))
    if before_tls is None:
        if not tls and "STARTTLS" in caps:
            lines.append(display.hint_line("after STARTTLS and a new EHLO, :caps shows what changed"))
        return lines
    changes = compare(before_tls, caps)
    if not changes:
        lines.append(display.note_line("same as before STARTTLS: nothing was added or withdrawn"))
        return lines
    lines.append(display.note_line("changed since the plain-text EHLO (before STARTTLS):"))
    for change in changes:
        if change.kind == "added":
            lines.append(display.note_line(f"  + {_shown(change.keyword, change.after)}   only offered over TLS"))
        elif change.kind == "removed":
            why = "TLS is up" if change.keyword == "STARTTLS" else "withdrawn over TLS"
            lines.append(display.note_line(f"  - {_shown(change.keyword, change.before)}   {why}"))
        else:
            lines.append(display.note_line(f"  ~ {change.keyword}: {' '.join(change.before) or '(none)'}"
                                           f" -> {' '.join(change.after) or '(none)'}"))
    if any(c.keyword == "AUTH" and c.kind in ("added", "changed") for c in changes):
        lines.append(display.hint_line("servers commonly offer AUTH (or more mechanisms) only once the password"
                                       " cannot be read on the wire"))
    return lines


async def cmd_caps(shell: "Shell", arg: str) -> None:
    """What the server advertised in its EHLO reply, explained, and what changed after STARTTLS.

    Each keyword with its parameters and what it means (SIZE 10240000: maximum
    message size 10 MB). After STARTTLS and a new EHLO it also lists what was
    added (often AUTH), withdrawn (STARTTLS) or changed since the plain-text EHLO.
    """
    if arg:
        shell.error(":caps takes no arguments (:explain KEYWORD explains one keyword)")
        return
    session = shell.session
    if session is None or session.capabilities is None:
        if session is not None and session.tls and session.plain_capabilities is not None:
            shell.error("no EHLO reply since TLS started: send EHLO (the server forgets the plain-text one)")
        else:
            shell.error("no EHLO reply yet: send EHLO first (or :ehlo)")
        return
    shell.emit(*caps_lines(session.capabilities, tls=session.tls,
                           before_tls=session.plain_capabilities if session.tls else None))


def chain_lines(info, *, implicit: bool, cafile: str | None, insecure: bool,
                now: _dt.datetime | None = None, store=None) -> list:
    """The TLS session and every certificate the server sent, and what verification says or would say."""
    from smtpshell.net import certchain

    now = now or _dt.datetime.now(_dt.timezone.utc)
    how = "implicit TLS" if implicit else "STARTTLS"
    bits = f" ({info.bits}-bit)" if info.bits else ""
    out = [display.tls_line(f"TLS ({how}): {info.version}, cipher {info.cipher}{bits}")]
    if info.version in ("TLSv1", "TLSv1.1", "SSLv3"):
        out.append(display.warning_line(f"{info.version} is obsolete (RFC 8996): current clients refuse it"))
    if not info.chain:
        out.append(display.tls_line("  the certificate chain is not available on this Python; the leaf:"))
        out += display.tls_lines(info, implicit=implicit)[1:]
        return out
    report = certchain.analyse(info.chain, hostname=info.hostname, cafile=cafile, now=now, store=store)
    count = len(report.certs)
    out.append(display.tls_line(f"certificate chain as the server sent it ({count} certificate{'s' * (count != 1)}):"))
    for index, cert in enumerate(report.certs):
        role = "server certificate" if index == 0 else \
            ("root CA (self-signed)" if cert.self_signed else "intermediate CA" if cert.is_ca else "certificate (not a CA)")
        out.append(display.tls_line(f"  [{index}] {role}"))
        out.append(display.tls_line(f"      subject    {cert.subject}"))
        out.append(display.tls_line(f"      issuer     {cert.issuer}" + ("  (itself)" if cert.self_signed else "")))
        if index == 0:
            names = ", ".join(cert.sans) or "(no subjectAltName)"
            verdict = f"{info.hostname} matches" if report.name_matches else f"{info.hostname} does NOT match"
            out.append(display.tls_line(f"      names      {names}"))
            line = f"      host name  {verdict}"
            out.append(display.tls_line(line) if report.name_matches else display.warning_line(line.strip()))
        days = cert.days_left(now)
        left = f"expired {-days} days ago" if cert.not_after < now else \
            ("not yet valid" if cert.not_before > now else f"{days} days left")
        valid = f"      valid      {cert.not_before:%Y-%m-%d} to {cert.not_after:%Y-%m-%d} ({left})"
        out.append(display.tls_line(valid) if cert.not_before <= now <= cert.not_after
                   else display.warning_line(valid.strip()))
        if cert.not_before <= now <= cert.not_after and days < certchain.SOON_DAYS:
            out.append(display.warning_line(f"[{index}] expires in {days} days: renew it"))
        out.append(display.tls_line(f"      key        {cert.key}"))
        out.append(display.tls_line(f"      signature  {cert.signature}"))
    if report.unreadable:
        out.append(display.warning_line(f"{report.unreadable} certificate(s) in the chain could not be parsed"))
    out.append(display.tls_line(f"checked against: {report.store}"))
    if info.verified:
        out.append(display.tls_line(f"  {info.verification} (OpenSSL, during the handshake)"))
        if report.problems:
            out.append(display.warning_line("a stricter check of the same chain also notes:"))
            out += [display.warning_line(f"  {p}") for p in report.problems]
        return out
    if not report.problems:
        out.append(display.tls_line("  not verified (--insecure), but verification would pass: drop --insecure"))
        return out
    skipped = "not verified (--insecure); " if insecure else "not verified; "
    out.append(display.warning_line(f"{skipped}with verification on the handshake would fail:"))
    out += [display.warning_line(f"  {p}") for p in report.problems]
    return out


async def cmd_tls(shell: "Shell", arg: str) -> None:
    """The TLS session and the whole certificate chain, and what verification says of it.

    Protocol and cipher; for each certificate the server sent: subject, issuer,
    names (and whether the host name matches), validity and days left, key type
    and size, signature algorithm. With --insecure it says what verification
    would have refused (unknown issuer, self-signed, expired, wrong name, weak
    key or SHA-1) and checks against the system store plus --cafile.
    """
    if arg:
        shell.error(":tls takes no arguments")
        return
    conn = shell.conn
    if conn is None or conn.tls_info is None:
        shell.error("TLS is not active: STARTTLS (or :starttls) first, or connect with --tls")
        return
    opts = conn.tls_options
    try:
        lines = chain_lines(conn.tls_info, implicit=conn.implicit_tls, cafile=opts.cafile, insecure=opts.insecure)
    except Exception as exc:  # a certificate cryptography cannot read must not end the session
        shell.error(f"cannot analyse the certificate chain: {exc.__class__.__name__}: {exc}")
        shell.emit(*display.tls_lines(conn.tls_info, implicit=conn.implicit_tls))
        return
    shell.emit(*lines)
