"""Who is calling: the bearer token of a request.

The token is looked up by :func:`db.tokens.viewer_for_token`; which queries
need none is :func:`schema.cost.is_introspection`.
"""

from __future__ import annotations


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if any."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
