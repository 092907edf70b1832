"""Bearer-token authentication for ``/api/*``: a token stands for one approver identity.

Fed by: ``ApiSettings.identities()``. Consumed by: every ``/api`` route as a dependency.
Tokens are compared with ``secrets.compare_digest`` against every configured token, so the
comparison time does not reveal which token nearly matched.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from fastapi import HTTPException, Request, status


class Authenticator:
    """Maps ``Authorization: Bearer <token>`` to an identity, or raises 401/503."""

    def __init__(self, identities: Mapping[str, str], *, allow_unauthenticated: bool = False) -> None:
        self._identities = dict(identities)
        self._open = allow_unauthenticated

    def __call__(self, request: Request) -> str:
        """The caller's identity. 401 for a missing/unknown token; 503 when no token is configured."""
        if not self._identities:
            if self._open:
                return "anonymous"
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "no API token configured (set AIOPS_API__TOKEN or AIOPS_API__TOKENS)",
            )
        header = request.headers.get("authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "missing bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        found: str | None = None
        for token, identity in self._identities.items():
            if secrets.compare_digest(token.encode(), presented.strip().encode()):
                found = identity
        if found is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "invalid bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        return found
