"""Showing the results of a live replay. Pure: no I/O.

:func:`step_lines` and :func:`summary_lines` return the shell's styled lines (one step as it
comes, then the summary); :func:`report_json` the comparison as one JSON object.
"""

from __future__ import annotations

from smtpshell.highlight import tokens as tok
from smtpshell.shell.live_replay.steps import StepKind
from smtpshell.shell.live_replay.verdicts import Outcome, Report, StepResult, Verdict, enhanced_code
from smtpshell.transcript import display
from smtpshell.transcript.display import Line
from smtpshell.transcript.events import ServerReply

SIDE_BY_SIDE_WIDTH = 100  # narrower terminals get the recorded reply above the new one
_INDENT = "      "


def _mark(verdict: Verdict) -> tuple[object, str]:
    if verdict.counts:
        return tok.ERROR, "≠ "
    if verdict.outcome in (Outcome.SAME,):
        return tok.PLAIN, "  "
    return tok.WARNING, "~ "


def reply_fragments(text: str) -> Line:
    """One reply line coloured by its class, as the shell colours it."""
    head = text[:3]
    if len(text) >= 3 and head.isdigit() and head.isascii():
        code = int(head)
        return [(tok.code_token(code), head), *display.visible(text[3:], tok.reply_text_token(code))]
    return display.visible(text, tok.REPLY_TEXT_OTHER)


def _client_fragments(text: str) -> Line:
    from smtpshell.protocol.session import Command

    words = text.split()
    return display.client_line(Command(line=text, verb=words[0].upper() if words else ""), display.View())


def _fit(line: Line, width: int) -> Line:
    """The fragments cut (ending in …) or padded to exactly ``width`` characters."""
    out: Line = []
    used = 0
    for token, text in line:
        if used + len(text) > width:
            if width - used - 1 > 0:
                out.append((token, text[:width - used - 1]))
            out.append((tok.HINT, "…"))
            return out
        out.append((token, text))
        used += len(text)
    return out + [(tok.PLAIN, " " * (width - used))]


def _reply_block(recorded: ServerReply | None, new: ServerReply | None, width: int) -> list[Line]:
    """The recorded reply and the new one, side by side (wide) or one above the other (narrow)."""
    old_lines = [reply_fragments(text) for text in recorded.lines] if recorded else [[(tok.HINT, "(none)")]]
    new_lines = [reply_fragments(text) for text in new.lines] if new else [[(tok.HINT, "(no reply)")]]
    if width >= SIDE_BY_SIDE_WIDTH:
        column = (width - len(_INDENT) - 3) // 2
        rows = [[(tok.PLAIN, _INDENT), *_fit([(tok.HINT, "recorded")], column), (tok.HINT, " │ "), (tok.HINT, "now")]]
        for index in range(max(len(old_lines), len(new_lines))):
            left = old_lines[index] if index < len(old_lines) else []
            right = new_lines[index] if index < len(new_lines) else []
            rows.append([(tok.PLAIN, _INDENT), *_fit(left, column), (tok.HINT, " │ "), *right])
        return rows
    rows = []
    for label, lines in (("recorded: ", old_lines), ("now:      ", new_lines)):
        for index, line in enumerate(lines):
            rows.append([(tok.PLAIN, _INDENT), (tok.HINT, label if index == 0 else " " * len(label)), *line])
    return rows


def step_lines(result: StepResult, *, width: int = 80) -> list[Line]:
    """One step of the report: a mark (≠ counts, ~ differs without counting), its number, the client
    line (masked), and the new reply's first line, coloured by class; where the replies differ, the
    recorded and the new one; then what the replay did differently and the capability changes.
    A step that was not replayed shows nothing (the summary counts it)."""
    verdict = result.verdict
    if verdict.outcome is Outcome.NOT_REPLAYED:
        return []
    token, mark = _mark(verdict)
    head: Line = [(token, mark), (tok.HINT, f"{result.step.index:>2} ")]
    if result.step.kind is StepKind.GREETING:
        head.append((tok.NOTE, result.client))
    else:
        head.extend(_client_fragments(result.client))
    head.append((tok.HINT, "  → "))
    if result.new is not None and result.new.lines:
        head.extend(reply_fragments(result.new.lines[0]))
        if len(result.new.lines) > 1:
            head.append((tok.HINT, f"  (+{len(result.new.lines) - 1} lines)"))
    elif verdict.outcome in (Outcome.SKIPPED, Outcome.NOT_SENT):
        head.append((tok.WARNING, verdict.reason))
    else:
        head.append((tok.ERROR, "no reply"))
    out = [head]
    if verdict.outcome in (Outcome.CLASS_CHANGED, Outcome.CODE_CHANGED, Outcome.NO_REPLY):
        out.extend(_reply_block(result.step.recorded, result.new, width))
    if result.capabilities:
        out.append(display.hint_line(result.capabilities.text()))
    out.extend(display.hint_line(note) for note in result.notes if note != verdict.reason)
    out.extend(display.warning_line(text) for text in result.warnings)
    return out


def _first(reply: ServerReply | None, *, code_only: bool = False) -> str:
    if reply is None or not reply.lines:
        return "no reply"
    if code_only and reply.code is not None:
        enhanced = enhanced_code(reply)
        return f"{reply.code} {enhanced}" if enhanced else str(reply.code)
    return reply.lines[0]


def difference_text(result: StepResult) -> str:
    """One difference in words: what changed, where, and the replies."""
    where = f"step {result.step.index} ({result.client})"
    verdict = result.verdict
    if verdict.outcome in (Outcome.SKIPPED, Outcome.NOT_SENT):
        return f"{where} {verdict.reason}"
    return (f"{verdict.reason} at {where}: recorded {_first(result.step.recorded, code_only=True)}, "
            f"now {_first(result.new)}")


def summary_lines(report: Report) -> list[Line]:
    """The end of the report: how many steps (and how many not replayed) and differences, each
    difference, why it stopped. An error line whenever it is no clean pass."""
    total = len(report.results)
    differences = report.differences
    count = f"{len(differences)} difference{'' if len(differences) == 1 else 's'}"
    left = report.not_replayed
    # A replay that stopped halfway is no clean pass, even with no difference in what it did replay.
    head = f"{total} steps, {left} not replayed, {count}" if left else f"{total} steps, {count}"
    out: list[Line] = []
    if differences:
        out.append(display.error_line(f"{head}:"))
        out.extend(display.error_line("  " + difference_text(r)) for r in differences)
    elif left:
        out.append(display.error_line(head))
    else:
        out.append(display.note_line(head))
    for result in report.uncounted:
        out.append(display.note_line(f"not counted (--strict counts it): {difference_text(result)}"))
    if report.stopped is not None:
        line = f"stopped: {report.stopped}" + (f"; {left} step(s) not replayed" if left else "")
        out.append(display.error_line(line) if report.connection_failed or left else display.note_line(line))
    return out


def _reply_json(reply: ServerReply | None) -> dict | None:
    if reply is None:
        return None
    return {"code": reply.code, "enhanced": enhanced_code(reply), "lines": list(reply.lines)}


def report_json(report: Report, **about) -> dict:
    """The comparison as one JSON object: ``about`` (file, target…), each step, and a summary."""
    steps = []
    for r in report.results:
        item = {
            "index": r.step.index,
            "kind": r.step.kind.value,
            "client": None if r.step.kind is StepKind.GREETING else r.client,
            "recorded": _reply_json(r.step.recorded),
            "new": _reply_json(r.new),
            "result": r.verdict.outcome.value,
            "same": r.verdict.outcome is Outcome.SAME,
            "counts": r.verdict.counts,
            "reason": r.verdict.reason or None,
            "notes": list(r.notes) + list(r.warnings),
        }
        if r.step.kind is StepKind.MESSAGE:
            item["content_lines"] = len(r.step.content)
        if r.capabilities is not None:
            item["capabilities"] = {"added": list(r.capabilities.added), "removed": list(r.capabilities.removed),
                                    "changed": list(r.capabilities.changed)}
        steps.append(item)
    return {
        **about,
        "strict": report.strict,
        "steps": steps,
        "summary": {
            "steps": len(report.results),
            "replayed": report.replayed,
            "not_replayed": report.not_replayed,
            "differences": len(report.differences),
            "class_changes": sum(r.verdict.outcome is Outcome.CLASS_CHANGED for r in report.results),
            "code_changes": sum(r.verdict.outcome is Outcome.CODE_CHANGED for r in report.results),
            "skipped": sum(r.verdict.outcome is Outcome.SKIPPED for r in report.results),
            "stopped": report.stopped,
            "connection_failed": report.connection_failed,
            "text": [difference_text(r) for r in report.differences],
            "exit_status": int(report.exit_status),
        },
    }
