"""Transcripts: record sessions, read any notation, convert, replay.

- ``events``: the event model (Header, ClientLine, ServerReply, Note, Transcript).
- ``capture``: the net layer's events as transcript events; ``jsonl``: the native
  format and the ``Recorder``.
- ``readers`` (with ``notations``, ``assemble``): ``read(text)`` for every notation;
  ``credentials``: which client lines carry credentials, masked as the shell records them.
- ``writers`` (with ``render``, ``redact``): ``write(transcript, fmt)``.
- ``display``: session events as styled lines with hints (the live shell uses it too).
- ``replay``: offline replay. Live replay needs a connection and SASL, so it lives in
  ``smtpshell.shell.live_replay``; the ``convert``/``replay`` commands in ``smtpshell.cli_transcripts``.

Nothing is imported here, so that each entry point pays only for what it uses.
"""
