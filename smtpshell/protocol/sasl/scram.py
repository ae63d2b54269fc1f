"""SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677), without channel binding.

Exchange::

    C: n,,n=user,r=<client nonce>                        client-first-message
    S: r=<client nonce><server nonce>,s=<salt>,i=<n>     server-first-message
    C: c=biws,r=<both nonces>,p=<ClientProof>            client-final-message
    S: v=<ServerSignature>                               server-final-message (or e=<error>)
    C: (empty)                                           only when server-final came in a 334

The client proves it knows the password; the server proves it too with ``v=``, which this
client always checks: a wrong signature or an ``e=`` is an AuthError, never a silent 235.
Servers send server-final in a 334 (Cyrus SASL behind Postfix does) or, not per RFC 4954, as
data after ``235 2.7.0``; ``finish()`` checks the latter.

Only the GS2 flag ``n`` (this client does not support channel binding): the ``-PLUS``
variants, which bind to the TLS channel, are not implemented.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from smtpshell.protocol.sasl.base import MASK, AuthError, Mechanism, Secret, Step, StepFn, gs2_header, saslname, visible
from smtpshell.protocol.sasl.saslprep import saslprep

HASHES = {"SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256"}
MIN_ITERATIONS = 4096  # RFC 5802 5.1 and RFC 7677 4 ask for at least this many
MAX_ITERATIONS = 1_000_000  # more would freeze the shell for seconds: a misconfigured or hostile server


def check_nonce(nonce: str) -> str:
    """A client nonce: printable ASCII without ``,`` (RFC 5802 5.1 ``r=``)."""
    if not nonce or any(not (0x21 <= ord(ch) <= 0x7E) or ch == "," for ch in nonce):
        raise ValueError(f"SCRAM nonce {nonce!r}: printable ASCII without ',' and not empty")
    return nonce


def parse_attributes(message: str) -> list[tuple[str, str]]:
    """``a=1,b=2`` -> [("a", "1"), ("b", "2")]; raises ValueError on an attribute without ``=``."""
    pairs = []
    for part in message.split(","):
        key, eq, value = part.partition("=")
        if not eq or len(key) != 1:
            raise ValueError(f"{part!r} is not an attribute (one letter, '=', value)")
        pairs.append((key, value))
    return pairs


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Scram(Mechanism):
    def __init__(self, *, name: str, user: str, secret: Secret, authzid: str = "", nonce: str | None = None,
                 initial_response: bool = True) -> None:
        super().__init__(user=user, initial_response=initial_response)
        self.name = name
        self._hash = HASHES[name]
        self._secret = secret
        self._gs2 = gs2_header(authzid)
        self._nonce = check_nonce(nonce) if nonce is not None else secrets.token_urlsafe(24)
        try:
            prepared = saslprep(user)
            self._user_note = "" if prepared == user else f"SASLprep turned the user name into {prepared!r}"
        except ValueError as exc:
            prepared = user
            self._user_note = f"{exc}: the user name is sent unprepared"
        self._client_first_bare = f"n={saslname(prepared)},r={self._nonce}"
        self._expected: bytes | None = None  # the ServerSignature we expect
        self.verified = False  # True once the server's v= matched

    def _steps(self) -> tuple[StepFn, ...]:
        return (self._client_first, self._client_final, self._server_final)

    # ----- client-first -----------------------------------------------------------------

    def _client_first(self, challenge: bytes | None) -> Step:
        message = self._gs2 + self._client_first_bare
        notes = (
            *self._ignored_challenge(challenge),
            f"client-first-message: {message}",
            f"GS2 header {self._gs2!r}: 'n' = this client does no channel binding ({self.name}-PLUS is not supported)",
            f"n= the user name (',' and '=' escaped as =2C and =3D); r= our random nonce {self._nonce}",
            *((self._user_note,) if self._user_note else ()),
        )
        return Step(response=message.encode("utf-8"), shown=message, secret=False, notes=notes)

    # ----- server-first -> client-final --------------------------------------------------

    def _decode(self, where: str, challenge: bytes) -> str:
        try:
            return challenge.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error(where, f"not UTF-8: '{visible(challenge)}'") from None

    def _attributes(self, where: str, text: str) -> dict[str, str]:
        try:
            pairs = parse_attributes(text)
        except ValueError as exc:
            raise self.error(where, f"malformed {text!r}: {exc}") from None
        return dict(pairs[::-1])  # the first of duplicate keys wins

    def _client_final(self, challenge: bytes | None) -> Step:
        where = "server-first-message"
        server_first = self._decode(where, challenge or b"")
        attrs = self._attributes(where, server_first)
        if "e" in attrs:
            raise self.error(where, f"the server reports an error: e={attrs['e']}")
        if "m" in attrs:
            raise self.error(where, f"the server requires an extension this client does not know: m={attrs['m']}")
        missing = [key for key in "rsi" if key not in attrs]
        if missing:
            raise self.error(where, f"{server_first!r} lacks {', '.join(k + '=' for k in missing)}")
        nonce = attrs["r"]
        if not nonce.startswith(self._nonce):
            raise self.error(where, f"the nonce r={nonce} does not start with our nonce {self._nonce}:"
                                    " not an answer to us")
        try:
            salt = base64.b64decode(attrs["s"], validate=True)
        except (binascii.Error, ValueError):
            raise self.error(where, f"the salt s={attrs['s']} is not base64") from None
        if not salt:
            raise self.error(where, "the salt s= is empty")
        if not attrs["i"].isdigit() or int(attrs["i"]) < 1:
            raise self.error(where, f"the iteration count i={attrs['i']} is not a positive number")
        iterations = int(attrs["i"])
        if iterations > MAX_ITERATIONS:
            raise self.error(where, f"the iteration count i={iterations} is above this client's limit"
                                    f" of {MAX_ITERATIONS}")

        password, password_note = self._prepared_password()
        salted = hashlib.pbkdf2_hmac(self._hash, password.encode("utf-8"), salt, iterations)
        client_key = self._hmac(salted, b"Client Key")
        stored_key = hashlib.new(self._hash, client_key).digest()
        without_proof = f"c={b64(self._gs2.encode('utf-8'))},r={nonce}"
        auth_message = f"{self._client_first_bare},{server_first},{without_proof}".encode("utf-8")
        signature = self._hmac(stored_key, auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self._expected = self._hmac(self._hmac(salted, b"Server Key"), auth_message)
        client_final = f"{without_proof},p={b64(proof)}"

        digest = self._hash.upper().replace("SHA", "SHA-")
        server_part = nonce[len(self._nonce):]
        notes = (
            f"server-first-message: {server_first}",
            f"nonce r= starts with our nonce: ok (the server added {server_part!r})"
            if server_part else "nonce r= is ours with nothing added: the server contributed no randomness",
            f"salt s={attrs['s']} ({len(salt)} bytes), iterations i={iterations}",
            *((f"only {iterations} iterations: RFC 5802/7677 ask for at least {MIN_ITERATIONS}",)
              if iterations < MIN_ITERATIONS else ()),
            *((password_note,) if password_note else ()),
            f"SaltedPassword = PBKDF2-HMAC-{digest}(password {MASK}, salt, {iterations})",
            f"ClientKey = HMAC(SaltedPassword, 'Client Key'); StoredKey = {digest}(ClientKey)",
            f"AuthMessage = client-first-bare,server-first,client-final-without-proof = {auth_message.decode('utf-8')}",
            f"ClientProof p={b64(proof)} = ClientKey XOR HMAC(StoredKey, AuthMessage):"
            " derived from the password, not the password",
            f"client-final-message: {client_final} (c=biws is base64 of the GS2 header 'n,,')"
            if self._gs2 == "n,," else f"client-final-message: {client_final} (c= is base64 of the GS2 header)",
            f"expected server signature v={b64(self._expected)}"
            " = HMAC(HMAC(SaltedPassword, 'Server Key'), AuthMessage)",
        )
        # secret=True: the proof with the recorded AuthMessage allows an offline guessing attack
        return Step(response=client_final.encode("utf-8"), shown=client_final, secret=True, notes=notes)

    def _prepared_password(self) -> tuple[str, str]:
        password = self._secret.reveal()
        try:
            prepared = saslprep(password)
        except ValueError:
            return password, "SASLprep refused the password (a prohibited character): it is used unchanged"
        return prepared, ("SASLprep changed the password (RFC 4013 normalisation)" if prepared != password else "")

    def _hmac(self, key: bytes, message: bytes) -> bytes:
        return hmac.new(key, message, self._hash).digest()

    # ----- server-final ----------------------------------------------------------------

    def _server_final(self, challenge: bytes | None) -> Step:
        notes = self._verify(challenge or b"")
        return Step(response=b"", shown="(empty line: the server signature is verified)", secret=False, notes=notes)

    def _verify(self, message: bytes) -> tuple[str, ...]:
        """Check a server-final-message; raises AuthError on e=, a malformed one or a wrong signature."""
        where = "server-final-message"
        text = self._decode(where, message)
        attrs = self._attributes(where, text)
        if "e" in attrs:
            raise self.error(where, f"the server reports an error: e={attrs['e']}")
        if "v" not in attrs:
            raise self.error(where, f"{text!r} has neither v= nor e=")
        try:
            signature = base64.b64decode(attrs["v"], validate=True)
        except (binascii.Error, ValueError):
            raise self.error(where, f"the server signature v={attrs['v']} is not base64") from None
        assert self._expected is not None
        if not hmac.compare_digest(signature, self._expected):
            raise self.error(where, f"server signature mismatch: got v={attrs['v']}, expected v={b64(self._expected)}"
                                    " (the server does not know the password's keys,"
                                    " or the exchange was tampered with)")
        self.verified = True
        return (f"server-final-message: {text}", "server signature verified: the server knows the salted password too")

    def finish(self, code: int, text: str) -> list[str]:
        notes = super().finish(code, text)
        if self._failure is not None or code != 235 or self.verified:
            return notes
        # 235 before any server-final: some servers put it after the code ("235 2.7.0 dj1...")
        if self._expected is None:
            return ["WARNING: 235 before the server saw our proof: nothing was verified"]
        for word in text.split():
            data = word.encode("utf-8")
            if not data.startswith((b"v=", b"e=")):
                try:
                    data = base64.b64decode(word, validate=True)
                except (binascii.Error, ValueError):
                    continue
            if data.startswith((b"v=", b"e=")):
                try:
                    return [*self._verify(data), "(the server-final-message came as data with the 235)"]
                except AuthError as exc:
                    self._failure = str(exc)
                    return [f"WARNING: the server said 235 although {exc}"]
        return ["WARNING: 235 without a server signature (v=): the server did not prove it knows the password"]

    def _outcome(self, code: int, text: str) -> list[str]:
        if code == 235 and self.verified:
            return ["server signature verified: mutual authentication complete"]
        if code == 535 and self._expected is not None:
            return ["the server rejected our proof: wrong password or user, or it keeps no SCRAM secret for this user"]
        return []
