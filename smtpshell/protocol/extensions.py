"""EHLO capability parsing (RFC 5321 4.1.1.1), without I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from smtpshell.protocol.replies import Reply


@dataclass(frozen=True, kw_only=True)
class Capabilities:
    """What a server advertised in its EHLO (or LHLO) reply.

    ``keywords`` maps the upper-cased keyword to its parameters, in the order
    advertised. ``greeting`` is the text of the first line (the server's name).
    ``AUTH=PLAIN LOGIN`` (the pre-RFC form some servers still send) is folded
    into ``AUTH``.
    """

    greeting: str = ""
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    lines: tuple[str, ...] = ()  # the capability lines as sent

    def __contains__(self, keyword: str) -> bool:
        return keyword.upper() in self.keywords

    def params(self, keyword: str) -> tuple[str, ...]:
        return self.keywords.get(keyword.upper(), ())

    @property
    def auth_mechanisms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.upper() for m in self.params("AUTH")))

    @property
    def size_limit(self) -> int | None:
        """The SIZE limit in bytes; None when not advertised or unlimited (0)."""
        params = self.params("SIZE")
        if "SIZE" not in self or not params or not params[0].isdigit():
            return None
        return int(params[0]) or None


def parse_ehlo(reply: Reply) -> Capabilities:
    """Capabilities from a 250 EHLO reply (lines after the first are keywords)."""
    texts = reply.texts
    keywords: dict[str, tuple[str, ...]] = {}
    for text in texts[1:]:
        words = text.split()
        if not words:
            continue
        keyword, params = words[0].upper(), words[1:]
        if keyword.startswith("AUTH="):
            params = [keyword[5:], *params]
            keyword = "AUTH"
        if keyword in keywords:
            seen = {p.upper() for p in keywords[keyword]}
            keywords[keyword] += tuple(p for p in params if p.upper() not in seen)
        else:
            keywords[keyword] = tuple(params)
    return Capabilities(
        greeting=texts[0] if texts else "",
        keywords=keywords,
        lines=tuple(texts[1:]),
    )


@dataclass(frozen=True)
class Change:
    """One difference between two EHLO replies: ``kind`` is "added", "removed" or "changed"."""

    kind: str
    keyword: str
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


def compare(before: Capabilities, after: Capabilities) -> list[Change]:
    """What changed from one EHLO reply to the next (before and after STARTTLS), in the later order."""
    changes: list[Change] = []
    for keyword, params in after.keywords.items():
        if keyword not in before.keywords:
            changes.append(Change("added", keyword, after=params))
        elif [p.upper() for p in before.keywords[keyword]] != [p.upper() for p in params]:
            changes.append(Change("changed", keyword, before=before.keywords[keyword], after=params))
    changes += [Change("removed", keyword, before=params) for keyword, params in before.keywords.items()
                if keyword not in after.keywords]
    return changes
