"""Cloud Connector service tokens (protocols-next §2.5): JWTs signed with the key ring's
current key and verified by the AI gateway through our discovery document and JWKS.

``typ`` is ``JWT`` and ``aud`` names the cloud backends, never our API: a service token is no
access token here (``auth.tokens`` wants ``at+jwt`` and our audience).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import anyio
from joserfc import jwt

from auth.keys import ALGORITHM, KeyRing


class KeyRingServiceTokenSigner:
    def __init__(self, keys: Callable[[], KeyRing], issuer: str) -> None:
        self._keys = keys
        self._issuer = issuer

    async def sign(self, claims: Mapping[str, object]) -> str:
        key = self._keys().current
        header = {"alg": ALGORITHM, "kid": key.kid, "typ": "JWT"}
        payload = {**claims, "iss": self._issuer}

        def encode() -> str:
            return jwt.encode(header, payload, key.key, algorithms=[ALGORITHM])

        return await anyio.to_thread.run_sync(encode)
