"""Session tokens sealed at rest: what the SQLite store writes instead of the clear token.

A session's Jupyter token must be readable again (the `ready` event of a stream that
reattaches carries it, a relaunch starts the new server with it), so a hash would not do:
the store encrypts it with AES-GCM under a key kept in a 0600 file beside the database
(private_files.store_key), the session id as associated data, so a sealed token copied onto
another session's row does not open. The database file alone holds no usable token.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from skybinder.domain.model import Session

PREFIX = "sealed:v1:"
NONCE_BYTES = 12


class TokenSeal:
    """Seals and opens session tokens with one 256-bit key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, session_id: str, token: str) -> str:
        """The stored form of `token` ("" stays "": a session without a token has none)."""
        if not token:
            return ""
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, token.encode("utf-8"), session_id.encode("utf-8"))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, session_id: str, stored: str) -> str:
        """The token `stored` holds; "" when it cannot be opened (another key, another row).

        A value without the prefix was written before tokens were sealed: it is the token.
        """
        if not stored.startswith(PREFIX):
            return stored
        try:
            raw = base64.urlsafe_b64decode(stored[len(PREFIX) :])
            nonce, sealed = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
            return self._aead.decrypt(nonce, sealed, session_id.encode("utf-8")).decode("utf-8")
        except (InvalidTag, ValueError, binascii.Error):
            return ""

    def sealed(self, session: Session) -> Session:
        """`session` as it is stored: its token sealed."""
        return session.model_copy(update={"token": self.seal(session.id, session.token)})

    def opened(self, session: Session) -> Session:
        """`session` as it was stored, with its token opened (in place)."""
        if session.token:
            session.token = self.open(session.id, session.token)
        return session
