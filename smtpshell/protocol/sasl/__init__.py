"""SASL client mechanisms as pure challenge -> response objects (no I/O, stdlib only).

The public face is :mod:`smtpshell.protocol.auth`; these modules hold the parts:

- ``base``: ``Secret``, ``Step``, ``AuthError``, the ``Mechanism`` bookkeeping, GS2 helpers
- ``simple``: PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login), CRAM-MD5 (RFC 2195)
- ``bearer``: XOAUTH2 (Google) and OAUTHBEARER (RFC 7628)
- ``scram``: SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677), without channel binding
- ``saslprep``: the SASLprep profile of stringprep (RFC 4013) that SCRAM applies
"""
