"""The comparison of a live replay: one verdict per step, its result, the whole report. Pure: no I/O.

``compare(recorded, new, strict=...)`` -- one verdict per step
--------------------------------------------------------------
- Same reply class and code: ``SAME``. Another code of the same class:
  ``CODE_CHANGED``, which counts only under ``strict``; so does an enhanced
  status code (``5.7.1``) that changed when both replies have one.
- Another class (2xx, 3xx, 4xx, 5xx): ``CLASS_CHANGED``, always counts.
- No reply now (the connection closed, or no reply in time): ``NO_REPLY``, counts.
- No recorded reply to compare with: ``NOT_RECORDED``, never counts.
- For EHLO/LHLO, :func:`capability_changes` names the keywords added, removed
  or changed; shown, never counted.

:func:`judge` makes a step's :class:`StepResult` from its new reply; :class:`Report`
holds them all, the differences that count and the exit status: a replay that stopped with
steps not replayed never passes (1, or 3 when the connection failed).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from smtpshell.protocol.extensions import parse_ehlo
from smtpshell.protocol.replies import split_enhanced
from smtpshell.settings import ExitStatus
from smtpshell.shell.live_replay.steps import Step, StepKind
from smtpshell.transcript.events import ServerReply


class Outcome(enum.Enum):
    SAME = "same"
    CODE_CHANGED = "code changed"
    CLASS_CHANGED = "class changed"
    NO_REPLY = "no reply"
    NOT_RECORDED = "not recorded"
    SKIPPED = "skipped"  # AUTH not sent (masked, no --user): counts under strict
    NOT_SENT = "not sent"  # a message the server did not ask for now: never counts
    NOT_REPLAYED = "not replayed"  # after the replay stopped


@dataclass(frozen=True, kw_only=True)
class Verdict:
    outcome: Outcome
    counts: bool  # a difference that makes the exit status 1
    reason: str = ""  # for a difference: what changed, in words


def enhanced_code(reply: ServerReply) -> str | None:
    """The enhanced status code (RFC 3463) the reply's first line starts with, if any."""
    if reply.code is None or not reply.lines or reply.code // 100 not in (2, 4, 5):
        return None
    found, _ = split_enhanced(reply.lines[0][4:])
    return found if found is not None and found[0] == str(reply.code // 100) else None


def compare(recorded: ServerReply | None, new: ServerReply | None, *, strict: bool) -> Verdict:
    """The verdict for one step (see the module docstring)."""
    if recorded is None or recorded.code is None:
        return Verdict(outcome=Outcome.NOT_RECORDED, counts=False)
    if new is None or new.code is None:
        return Verdict(outcome=Outcome.NO_REPLY, counts=True, reason="no reply now")
    if recorded.code // 100 != new.code // 100:
        return Verdict(outcome=Outcome.CLASS_CHANGED, counts=True, reason="reply class changed")
    if recorded.code != new.code:
        return Verdict(outcome=Outcome.CODE_CHANGED, counts=strict, reason="reply code changed")
    old_enhanced, new_enhanced = enhanced_code(recorded), enhanced_code(new)
    if old_enhanced and new_enhanced and old_enhanced != new_enhanced:
        return Verdict(outcome=Outcome.CODE_CHANGED, counts=strict, reason="enhanced status code changed")
    return Verdict(outcome=Outcome.SAME, counts=False)


@dataclass(frozen=True, kw_only=True)
class CapabilityChanges:
    added: tuple[str, ...] = ()  # keywords (with their parameters) only the new server advertises
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()  # "SIZE 10240000 → 35882577"

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def text(self) -> str:
        parts = [f"{name} {', '.join(items)}" for name, items in
                 (("added", self.added), ("removed", self.removed), ("changed", self.changed)) if items]
        return "capabilities: " + "; ".join(parts)


def capability_changes(recorded: ServerReply, new: ServerReply) -> CapabilityChanges:
    """What one EHLO reply advertises that the other does not (keywords in the new server's order)."""
    from smtpshell.transcript.render import to_reply

    old_caps, new_caps = parse_ehlo(to_reply(recorded)), parse_ehlo(to_reply(new))

    def spelled(name: str, params: tuple[str, ...]) -> str:
        return " ".join((name, *params))

    def same(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
        return sorted(p.upper() for p in a) == sorted(p.upper() for p in b)

    added = tuple(spelled(k, v) for k, v in new_caps.keywords.items() if k not in old_caps.keywords)
    removed = tuple(spelled(k, v) for k, v in old_caps.keywords.items() if k not in new_caps.keywords)
    changed = tuple(
        f"{spelled(k, old_caps.keywords[k])} → {' '.join(v) or '(no parameters)'}"
        for k, v in new_caps.keywords.items()
        if k in old_caps.keywords and not same(old_caps.keywords[k], v)
    )
    return CapabilityChanges(added=added, removed=removed, changed=changed)


@dataclass(frozen=True, kw_only=True)
class StepResult:
    step: Step
    verdict: Verdict
    new: ServerReply | None = None  # the final reply now
    sent: str | None = None  # the client side as sent now, when not as recorded (masked)
    notes: tuple[str, ...] = ()  # what the replay did differently, or found out
    warnings: tuple[str, ...] = ()
    capabilities: CapabilityChanges | None = None

    @property
    def client(self) -> str:
        return self.sent if self.sent is not None else self.step.shown


def judge(step: Step, new: ServerReply | None, *, strict: bool, sent: str | None = None,
          notes: tuple[str, ...] = (), warnings: tuple[str, ...] = ()) -> StepResult:
    """A step's result from its new final reply: the verdict, and for EHLO the capability changes."""
    verdict = compare(step.recorded, new, strict=strict)
    caps = None
    if (step.kind is StepKind.COMMAND and step.verb in ("EHLO", "LHLO") and new is not None
            and step.recorded is not None and step.recorded.code == 250 and new.code == 250):
        caps = capability_changes(step.recorded, new)
    return StepResult(step=step, verdict=verdict, new=new, sent=sent, notes=notes, warnings=warnings,
                      capabilities=caps or None)


@dataclass(frozen=True, kw_only=True)
class Report:
    results: tuple[StepResult, ...]
    strict: bool = False
    stopped: str | None = None  # why the replay stopped before the end
    connection_failed: bool = False  # it stopped because the connection failed or closed

    @property
    def differences(self) -> tuple[StepResult, ...]:
        return tuple(r for r in self.results if r.verdict.counts)

    @property
    def uncounted(self) -> tuple[StepResult, ...]:
        """Differences that --strict would count."""
        return tuple(r for r in self.results if not r.verdict.counts
                     and r.verdict.outcome in (Outcome.CODE_CHANGED, Outcome.SKIPPED))

    @property
    def replayed(self) -> int:
        return sum(r.verdict.outcome is not Outcome.NOT_REPLAYED for r in self.results)

    @property
    def not_replayed(self) -> int:
        """Steps left out because the replay stopped before them."""
        return len(self.results) - self.replayed

    @property
    def complete(self) -> bool:
        """Every step was replayed (a replay that stopped halfway is no clean pass)."""
        return self.not_replayed == 0

    @property
    def exit_status(self) -> ExitStatus:
        """3 when the connection failed or closed; 1 for a difference that counts, or for steps
        not replayed (the replay stopped before them); else 0."""
        if self.connection_failed:
            return ExitStatus.CONNECTION
        return ExitStatus.EXPECT_FAILED if self.differences or not self.complete else ExitStatus.OK
