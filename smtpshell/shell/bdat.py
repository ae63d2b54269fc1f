"""``:bdat PATH|TEXT [--last] [--chunk-size N] [--crlf] [--text]``: BDAT chunks (CHUNKING, RFC 3030).

The bytes of a file, or TEXT with the escapes of ``:raw``, go out in one chunk or in
chunks of ``--chunk-size`` bytes; each ``BDAT n [LAST]`` line is shown, the chunk
summarised, and its reply shown before the next chunk goes. Sizes are the exact byte
counts of what is sent: BDAT has no dot-stuffing and converts no line endings, so a
bare LF goes as it is unless ``--crlf`` asks for CRLF.

PATH or TEXT (:func:`looks_like_path`): an existing file is sent; an argument shaped like a
path that names no file is an error, never its own characters as a chunk; ``--text`` forces TEXT.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from smtpshell.transcript import display

if TYPE_CHECKING:
    from smtpshell.shell.core import Shell

USAGE = ":bdat PATH|TEXT [--last] [--chunk-size N] [--crlf] [--text]"

_OPTION = r"--last|--crlf|--text|--chunk-size(?:=|\s+)\S+"
_LEADING = re.compile(rf"({_OPTION})(?:\s+|$)")
_TRAILING = re.compile(rf"(?:^|\s+)({_OPTION})$")
_SIZE = re.compile(r"(\d+)([kKmM]?)")


class BdatUsage(ValueError):
    pass


@dataclass(frozen=True, kw_only=True)
class BdatRequest:
    content: str  # TEXT (escapes not yet applied) or a path
    last: bool = False
    crlf: bool = False
    text: bool = False  # --text: never a file, whatever it looks like
    chunk_size: int | None = None


def parse_size(text: str) -> int:
    """``4096``, ``64k``, ``1M`` -> bytes (k = 1024)."""
    match = _SIZE.fullmatch(text.strip())
    if not match or int(match.group(1)) == 0:
        raise BdatUsage(f"not a size: {text!r} (like 4096, 64k or 1M)")
    return int(match.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[match.group(2).lower()]


def parse_bdat(arg: str) -> BdatRequest:
    """Options at either end of the argument; what is between is TEXT or PATH, spaces kept."""
    rest = arg.strip()
    options: dict = {}
    while True:
        match = _LEADING.match(rest)
        if match:
            rest = rest[match.end():]
        else:
            match = _TRAILING.search(rest)
            if not match:
                break
            rest = rest[:match.start()]
        option = match.group(1)
        if option == "--last":
            options["last"] = True
        elif option == "--crlf":
            options["crlf"] = True
        elif option == "--text":
            options["text"] = True
        else:
            options["chunk_size"] = parse_size(re.split(r"=|\s+", option, maxsplit=1)[1])
    return BdatRequest(content=rest, **options)


_PATH_PREFIXES = ("/", "./", "../", "~/")
FILE_EXTENSIONS = (".eml", ".msg", ".txt", ".mime", ".mbox", ".bin", ".dat")


def unquoted(content: str) -> str:
    """The argument without one pair of matching quotes around it."""
    if len(content) > 1 and content[0] == content[-1] and content[0] in "'\"":
        return content[1:-1]
    return content


def looks_like_path(content: str) -> str | None:
    """Why ``content`` (quotes removed) is meant as a path, or None for TEXT.

    A path: it starts with ``/ ./ ../ ~/`` (or is ``~ . ..``), it is an existing directory or
    lies in one (``mail/x`` with a folder ``mail``), or it ends with a file extension of
    :data:`FILE_EXTENSIONS`. Whether the file exists is the caller's question.
    """
    if content in ("~", ".", "..") or content.startswith(_PATH_PREFIXES):
        return f"it starts with {next((p for p in _PATH_PREFIXES if content.startswith(p)), content)}"
    expanded = os.path.expanduser(content)
    if os.path.isdir(expanded):
        return "it is a directory"
    folder = os.path.dirname(expanded)
    if folder and os.path.isdir(folder):
        return f"{folder} is a directory"
    ext = os.path.splitext(content)[1].lower()
    if ext in FILE_EXTENSIONS:
        return f"it ends with {ext}"
    return None


async def cmd_bdat(shell: "Shell", arg: str) -> None:
    """Send BDAT chunks (CHUNKING): the bytes of PATH or TEXT, sizes counted for you.

    :bdat PATH|TEXT [--last] [--chunk-size N] [--crlf] [--text]
    An existing file is sent (quote a path with spaces). An argument that
    looks like a path, starting with / ./ ../ ~/, naming a folder or a file
    in an existing folder, or ending in .eml .msg .txt .mime .mbox .bin .dat,
    is an error when no such file exists. Anything else is TEXT, with the
    escapes of :raw (\\r \\n \\t \\0 \\\\ \\xHH); --text sends it as TEXT whatever
    it looks like. Each BDAT line is shown with its chunk and its reply; a
    refused chunk stops the rest. --last marks the last chunk LAST (":bdat --last"
    alone sends BDAT 0 LAST). --chunk-size splits into chunks of N bytes (64k,
    1M). BDAT sends bytes as they are (RFC 3030: no dot-stuffing, no line-ending
    conversion); --crlf makes every line end in CRLF.
    """
    from smtpshell.shell.commands import unescape
    from smtpshell.shell.transfer import ChunkReader, crlf_size, open_content, send_bdat_chunks

    try:
        request = parse_bdat(arg)
        if not request.content and not request.last:
            raise BdatUsage("nothing to send: give a file or TEXT (:bdat --last alone ends with BDAT 0 LAST)")
    except BdatUsage as exc:
        shell.usage_error(f"{exc}; usage: {USAGE}")
        return
    content = unquoted(request.content)
    path = os.path.expanduser(content)
    if content and not request.text and not os.path.isfile(path):
        why = looks_like_path(content)
        if why is not None:
            problem = f"{content} is a directory, not a file" if os.path.isdir(path) \
                else f"no such file: {content} (taken as a path: {why})"
            shell.usage_error(f"{problem}; to send these characters as text: :bdat --text {request.content}")
            return
    if not shell.require_connection():
        return
    if content and not request.text and os.path.isfile(path):
        opened = open_content(shell, path)
        if opened is None:
            return
        handle, size = opened
        with handle:
            if request.crlf:
                size, encoder = crlf_size(handle)
                handle.seek(0)
                _explain(shell, crlf=True, fixed=encoder.lf_fixed)
            else:
                _explain(shell, crlf=False, fixed=None)
            reader = ChunkReader(handle, crlf=request.crlf)
            await send_bdat_chunks(shell, reader.read, size, chunk_size=request.chunk_size,
                                   last=request.last, name=os.path.basename(path))
        return
    try:
        data = unescape(content)
    except ValueError as exc:
        shell.usage_error(f"{exc}; usage: {USAGE}")
        return
    bare = data.count(b"\n") - data.count(b"\r\n")
    if request.crlf:
        from smtpshell.protocol.data import to_crlf

        data = to_crlf(data)
        _explain(shell, crlf=True, fixed=bare)
    elif bare:
        shell.warn(f"{bare} bare LF{'s' * (bare != 1)} will go as {'they are' if bare != 1 else 'it is'}: BDAT converts "
                   "no line endings (RFC 3030); --crlf makes them CRLF")
    else:
        _explain(shell, crlf=False, fixed=None)
    import io

    await send_bdat_chunks(shell, io.BytesIO(data).read, len(data), chunk_size=request.chunk_size,
                           last=request.last, name="the text")


def _explain(shell: "Shell", *, crlf: bool, fixed: int | None) -> None:
    if not shell.view.hints:
        return
    if crlf:
        text = f"--crlf: {fixed} bare LF made CRLF; nothing else changes (BDAT has no dot-stuffing)"
    else:
        text = "BDAT sends the bytes as they are: no dot-stuffing, no line-ending conversion (RFC 3030)"
    shell.emit(display.hint_line(text))
