"""Transcripts: record sessions, read any notation, convert, replay.

- ``events``: the event model (Header, ClientLine, ServerReply, Note, Transcript).
- ``capture``: the net layer's events as transcript events; ``jsonl``: the native
  format and the ``Recorder``.
- ``readers`` (with ``notations``, ``assemble``): ``read(text)`` for every notation.
- ``writers`` (with ``render``, ``redact``): ``write(transcript, fmt)``.
- ``replay``: offline replay; ``cli``: ``convert_main`` and ``replay_main``.

Nothing is imported here, so that each entry point pays only for what it uses.
"""
