"""The import direction of STYLE.md, checked on the source: cli -> repl -> shell -> {net, transcript} -> protocol.

Every import counts, also those inside functions (they are the lazy ones, but still a dependency).
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "smtpshell"

# package -> what it must never import (smtpshell subpackages, or third-party top-level names)
FORBIDDEN = {
    "protocol": {"net", "shell", "repl", "transcript", "highlight", "server", "cli", "cli_transcripts",
                 "prompt_toolkit", "pygments", "aiosmtpd", "dns"},
    "net": {"shell", "repl", "transcript", "server", "cli", "cli_transcripts", "prompt_toolkit"},
    "transcript": {"shell", "repl", "server", "cli", "cli_transcripts", "prompt_toolkit"},
    "highlight": {"protocol", "net", "shell", "repl", "transcript", "server", "prompt_toolkit"},
    "shell": {"repl", "cli", "cli_transcripts", "prompt_toolkit"},
    "server": {"shell", "repl", "transcript", "cli", "cli_transcripts", "prompt_toolkit"},
}


def imported_names(path: Path) -> set[str]:
    """The first part after ``smtpshell.`` (or the top-level name of a third-party module)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            names.add(parts[1] if parts[0] == "smtpshell" and len(parts) > 1 else parts[0])
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_downwards(layer):
    wrong = {
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in (PACKAGE / layer).rglob("*.py")
        for name in imported_names(path) & FORBIDDEN[layer]
    }
    assert not wrong, sorted(wrong)


# Modules inside a layer that must stay pure (no I/O, testable without a network): module -> the
# module prefixes they must never import (a dotted prefix, matched whole: "smtpshell.net" is not
# "smtpshell.network").
PURE_MODULES = {
    f"shell/live_replay/{name}.py": (
        "asyncio", "socket", "ssl", "selectors", "smtpshell.net", "smtpshell.server", "smtpshell.repl",
        "smtpshell.cli", "smtpshell.cli_transcripts", "smtpshell.transcript.capture",
        "smtpshell.shell.live_replay.runner", "prompt_toolkit",
    )
    for name in ("steps", "verdicts", "report")
}


def imported_modules(path: Path) -> set[str]:
    """Every module the file imports, dotted in full (``from a import b`` counts as ``a`` and ``a.b``)."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


@pytest.mark.parametrize("module", sorted(PURE_MODULES))
def test_pure_modules_import_no_io(module):
    path = PACKAGE / module
    assert path.is_file(), module
    wrong = sorted(
        f"{module} imports {name}"
        for name in imported_modules(path)
        for prefix in PURE_MODULES[module]
        if name == prefix or name.startswith(prefix + ".")
    )
    assert not wrong, wrong
