"""Live replay: a recorded session sent again to a server, each reply compared with the recording.

Four modules, all but ``runner`` pure (no I/O, unit-tested):

- ``steps``: ``plan(transcript)``, the recording as steps (:class:`Plan`, :class:`Step`).
- ``verdicts``: ``compare(recorded, new, strict=...)``, one verdict per step; :func:`judge`
  makes a step's :class:`StepResult` (with the EHLO capability changes); :class:`Report`
  holds them all and gives the exit status.
- ``runner``: ``LiveReplay(plan, target, options).run()``, the session over the network.
- ``report``: :func:`step_lines`, :func:`summary_lines` and :func:`report_json` show the
  results: the shell's styled lines or a JSON object.

Each module's docstring has its rules. Everything public is importable from here.
"""

from smtpshell.shell.live_replay.report import (
    SIDE_BY_SIDE_WIDTH,
    difference_text,
    reply_fragments,
    report_json,
    step_lines,
    summary_lines,
)
from smtpshell.shell.live_replay.runner import QUIT_WAIT, LiveReplay, Options, Target, reply_event
from smtpshell.shell.live_replay.steps import MASK, Plan, Step, StepKind, mask_auth, plan, shown_line
from smtpshell.shell.live_replay.verdicts import (
    CapabilityChanges,
    Outcome,
    Report,
    StepResult,
    Verdict,
    capability_changes,
    compare,
    enhanced_code,
    judge,
)

__all__ = [
    "MASK", "QUIT_WAIT", "SIDE_BY_SIDE_WIDTH",
    "CapabilityChanges", "LiveReplay", "Options", "Outcome", "Plan", "Report", "Step", "StepKind",
    "StepResult", "Target", "Verdict",
    "capability_changes", "compare", "difference_text", "enhanced_code", "judge", "mask_auth", "plan",
    "reply_event", "reply_fragments", "report_json", "shown_line", "step_lines", "summary_lines",
]
