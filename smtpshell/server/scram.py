"""SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677), the server's half, without I/O.

Exchange, as the server sees it::

    C: n,,n=user,r=<client nonce>                          client-first-message
    S: r=<client nonce><server nonce>,s=<salt>,i=4096      server-first-message
    C: c=biws,r=<both nonces>,p=<ClientProof>              client-final-message
    S: v=<ServerSignature>                                 server-final-message

Rules:

- Per user the server keeps only what RFC 5802 §3 says it needs: the salt, the iteration
  count, ``StoredKey = H(HMAC(SaltedPassword, "Client Key"))`` and
  ``ServerKey = HMAC(SaltedPassword, "Server Key")`` — never the password, SaltedPassword
  or ClientKey (:func:`derive_keys`).
- The proof is checked by recovering ``ClientKey = ClientProof XOR HMAC(StoredKey,
  AuthMessage)`` and comparing ``H(ClientKey)`` with StoredKey (``hmac.compare_digest``).
- GS2 header: ``n`` (no channel binding) or ``y`` (the client could bind, but thinks the
  server cannot: true, this server offers no ``-PLUS`` mechanism); ``p=`` is refused with
  ``e=channel-binding-not-supported``. The authorization identity ``a=`` is parsed and
  reported (:attr:`ScramServer.authzid`); whether a user may act as it is the caller's policy.
- A user the server does not know gets a made-up salt (stable for a given *decoy_secret*)
  and fails at the proof exactly like a wrong password (``e=invalid-proof``): the exchange
  does not tell who has an account.
- Every failure is a :class:`ScramError` carrying an RFC 5802 §7 ``server-error`` value
  (``e=``) and a sentence naming the message and what was wrong.
- Passwords are used as UTF-8 without SASLprep (RFC 4013): the demo passwords are ASCII,
  which SASLprep leaves as they are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-1": "sha1"}
"""The SCRAM mechanisms this server offers, and the hash of each."""
ITERATIONS = 4096
"""RFC 5802 §5.1 and RFC 7677 §4 ask for at least 4096."""
SALT_BYTES = 16

# RFC 5802 §7 server-error values used here
INVALID_ENCODING = "invalid-encoding"
EXTENSIONS_NOT_SUPPORTED = "extensions-not-supported"
INVALID_PROOF = "invalid-proof"
CHANNEL_BINDINGS_DONT_MATCH = "channel-bindings-dont-match"
CHANNEL_BINDING_NOT_SUPPORTED = "channel-binding-not-supported"
INVALID_USERNAME_ENCODING = "invalid-username-encoding"
OTHER_ERROR = "other-error"


class ScramError(Exception):
    """The exchange fails: ``error`` is the RFC 5802 ``e=`` value, ``detail`` says why."""

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(f"{detail} (e={error})")
        self.error = error
        self.detail = detail


@dataclass(frozen=True, kw_only=True, repr=False)
class ScramKeys:
    """What the server keeps for one user and one hash; ``repr`` hides the keys."""

    salt: bytes
    iterations: int
    stored_key: bytes = field(repr=False)
    server_key: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"ScramKeys(salt={_b64(self.salt)}, iterations={self.iterations}, keys=***)"


def derive_keys(mechanism: str, password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> ScramKeys:
    """StoredKey and ServerKey from *password* (RFC 5802 §3); a random salt unless given."""
    hash_name = HASHES[mechanism]
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    salted = hashlib.pbkdf2_hmac(hash_name, password.encode("utf-8"), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", hash_name)
    return ScramKeys(
        salt=salt,
        iterations=iterations,
        stored_key=hashlib.new(hash_name, client_key).digest(),
        server_key=hmac.digest(salted, b"Server Key", hash_name),
    )


def decoy_keys(mechanism: str, name: str, secret: bytes) -> ScramKeys:
    """Keys for an unknown user: a salt that is the same on every try, keys no proof matches."""
    hash_name = HASHES[mechanism]
    seed = hmac.digest(secret, f"{mechanism}\0{name}".encode("utf-8", "surrogateescape"), "sha256")
    return ScramKeys(
        salt=seed[:SALT_BYTES],
        iterations=ITERATIONS,
        stored_key=hmac.digest(seed, b"stored", hash_name),  # a hash of no ClientKey anyone knows
        server_key=hmac.digest(seed, b"server", hash_name),
    )


class ScramServer:
    """One server-side exchange: :meth:`first` (client-first -> server-first), then :meth:`final`.

    *lookup* gives a user's keys for this mechanism, or None when there is no such user.
    *nonce* fixes the server's part of the nonce (tests); *decoy_secret* keeps an unknown
    user's made-up salt stable between tries (random per exchange when not given).
    """

    def __init__(
        self,
        mechanism: str,
        lookup: Callable[[str], ScramKeys | None],
        *,
        nonce: str | None = None,
        decoy_secret: bytes | None = None,
    ) -> None:
        self.mechanism = mechanism
        self._hash = HASHES[mechanism]
        self._lookup = lookup
        if nonce is not None and not _is_nonce(nonce):
            raise ValueError(f"SCRAM server nonce {nonce!r}: printable ASCII without ',' and not empty")
        self._server_nonce = nonce if nonce is not None else secrets.token_urlsafe(18)
        self._decoy_secret = decoy_secret if decoy_secret is not None else secrets.token_bytes(32)
        self.user: str | None = None
        """The user named in client-first (known or not)."""
        self.authzid = ""
        """The authorization identity ``a=`` of the GS2 header; empty when not given."""
        self._keys: ScramKeys | None = None
        self._known = False
        self._gs2_header = ""
        self._nonce = ""
        self._auth_message_start = ""  # client-first-bare "," server-first
        self.verified = False

    # ----- client-first -> server-first -------------------------------------------------

    def first(self, message: bytes) -> bytes:
        """The server-first-message answering *message* (client-first); raises ScramError."""
        if self._keys is not None:
            raise RuntimeError("SCRAM: client-first was already handled")
        where = "client-first-message"
        text = _text(where, message)
        parts = text.split(",", 2)
        if len(parts) < 3:
            raise ScramError(OTHER_ERROR, f"{where} {_quote(text)} does not start with a GS2 header like 'n,,'")
        flag, authzid, bare = parts
        if flag.startswith("p="):
            raise ScramError(
                CHANNEL_BINDING_NOT_SUPPORTED,
                f"{where} asks for channel binding ({_quote(flag)}): this server does none; send 'n,,'",
            )
        if flag not in ("n", "y"):
            raise ScramError(OTHER_ERROR, f"{where} GS2 flag {_quote(flag)} is not n, y or p=")
        if authzid:
            if not authzid.startswith("a="):
                raise ScramError(OTHER_ERROR, f"{where} {_quote(authzid)} in the GS2 header is not a=<authzid>")
            self.authzid = _saslname(where, authzid[2:])
        attributes = _attributes(where, bare)
        if attributes and attributes[0][0] == "m":
            raise ScramError(EXTENSIONS_NOT_SUPPORTED, f"{where} requires an extension this server lacks: m=")
        if len(attributes) < 2 or attributes[0][0] != "n" or attributes[1][0] != "r":
            raise ScramError(OTHER_ERROR, f"{where} {_quote(bare)} must be n=<user>,r=<nonce>")
        self.user = _saslname(where, attributes[0][1])
        client_nonce = attributes[1][1]
        if not _is_nonce(client_nonce):
            raise ScramError(OTHER_ERROR, f"{where} nonce r={_quote(client_nonce)} is not printable ASCII without ','")

        keys = self._lookup(self.user)
        self._known = keys is not None
        self._keys = keys if keys is not None else decoy_keys(self.mechanism, self.user, self._decoy_secret)
        self._gs2_header = f"{flag},{authzid},"
        self._nonce = client_nonce + self._server_nonce
        server_first = f"r={self._nonce},s={_b64(self._keys.salt)},i={self._keys.iterations}"
        self._auth_message_start = f"{bare},{server_first}"
        return server_first.encode("ascii")

    # ----- client-final -> server-final -------------------------------------------------

    def final(self, message: bytes) -> bytes:
        """The server-final-message ``v=...`` answering *message* (client-final); raises ScramError."""
        if self._keys is None or self.verified:
            raise RuntimeError("SCRAM: client-final belongs after client-first, once")
        where = "client-final-message"
        text = _text(where, message)
        without_proof, comma, proof_attr = text.rpartition(",")
        attributes = _attributes(where, text)
        names = [name for name, _ in attributes]
        if not comma or names[:2] != ["c", "r"] or names[-1] != "p":
            raise ScramError(OTHER_ERROR, f"{where} must be c=<binding>,r=<nonce>,...,p=<proof>")
        binding, nonce, proof_b64 = attributes[0][1], attributes[1][1], proof_attr[2:]
        try:
            binding_data = base64.b64decode(binding, validate=True)
        except (binascii.Error, ValueError):
            raise ScramError(INVALID_ENCODING, f"{where} c={_quote(binding)} is not base64") from None
        if binding_data != self._gs2_header.encode("utf-8"):
            raise ScramError(
                CHANNEL_BINDINGS_DONT_MATCH,
                f"{where} c={_quote(binding)} is not the base64 of the GS2 header {_quote(self._gs2_header)}"
                f" (expected c={_b64(self._gs2_header.encode('utf-8'))})",
            )
        if nonce != self._nonce:
            raise ScramError(OTHER_ERROR, f"{where} r={_quote(nonce)} is not the nonce of this exchange")
        try:
            proof = base64.b64decode(proof_b64, validate=True)
        except (binascii.Error, ValueError):
            raise ScramError(INVALID_ENCODING, f"{where} proof p= is not base64") from None

        auth_message = f"{self._auth_message_start},{without_proof}".encode("utf-8")
        keys = self._keys
        signature = hmac.digest(keys.stored_key, auth_message, self._hash)
        if len(proof) != len(signature):
            raise ScramError(INVALID_PROOF, f"proof p= is {len(proof)} bytes, not {len(signature)}")
        client_key = bytes(a ^ b for a, b in zip(proof, signature))
        matches = hmac.compare_digest(hashlib.new(self._hash, client_key).digest(), keys.stored_key)
        if not (matches and self._known):
            raise ScramError(INVALID_PROOF, f"proof p= does not match the password of {_quote(self.user or '')}")
        self.verified = True
        return b"v=" + _b64(hmac.digest(keys.server_key, auth_message, self._hash)).encode("ascii")


# ----- parsing helpers -----------------------------------------------------------------


def _text(where: str, message: bytes) -> str:
    try:
        return message.decode("utf-8")
    except UnicodeDecodeError:
        raise ScramError(INVALID_ENCODING, f"{where} is not UTF-8") from None


def _attributes(where: str, text: str) -> list[tuple[str, str]]:
    """``a=1,b=2`` -> [("a", "1"), ("b", "2")]; each attribute is one letter, ``=``, a value."""
    pairs = []
    for part in text.split(","):
        key, eq, value = part.partition("=")
        if not eq or len(key) != 1 or not key.isalpha():
            raise ScramError(OTHER_ERROR, f"{where} {_quote(part)} is not an attribute (one letter, '=', value)")
        pairs.append((key, value))
    return pairs


def _saslname(where: str, name: str) -> str:
    """Undo ``=2C`` -> ``,`` and ``=3D`` -> ``=``; any other ``=`` fails (RFC 5802 §5.1)."""
    pieces = name.split("=")
    out = [pieces[0]]
    for piece in pieces[1:]:
        escape = piece[:2]
        if escape not in ("2C", "3D"):
            raise ScramError(INVALID_USERNAME_ENCODING, f"{where} name {_quote(name)}: '=' must be =2C or =3D")
        out.append(("," if escape == "2C" else "=") + piece[2:])
    if not out[0] and len(out) == 1:
        raise ScramError(OTHER_ERROR, f"{where} has an empty name")
    return "".join(out)


def _is_nonce(nonce: str) -> bool:
    """Printable ASCII without ``,`` and not empty (RFC 5802 §5.1 ``r=``)."""
    return bool(nonce) and all(0x21 <= ord(char) <= 0x7E and char != "," for char in nonce)


def _quote(text: str, limit: int = 40) -> str:
    """*text* quoted for an error message: ``repr`` (no control characters), at most *limit* long."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
