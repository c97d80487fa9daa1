"""Error policy: every error leaves with an ``extensions.code``; internals never leave.

Applied once, by the HTTP endpoint (server.py), to every error of a result.

Errors the API raises on purpose (``GraphQLError`` with a code) and errors of
the GraphQL language itself (syntax, validation, variables, query bounds) keep
their messages, which clients need. Anything else is an unexpected exception:
logged with its traceback and replaced by ``INTERNAL_SERVER_ERROR`` — or
``SERVICE_UNAVAILABLE`` when the database cannot be reached.
"""

from __future__ import annotations

import logging

from graphql import GraphQLError
from graphql.error import GraphQLSyntaxError

log = logging.getLogger("partnerhub.errors")

BOUND_MARKERS = (
    "exceeds maximum operation depth",
    "aliases found",
    "more than",  # graphql-core's token limit: "Document contains more than N tokens."
)


def _is_database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or anything it wraps) says the database cannot be reached."""
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (PoolTimeout, ConnectionError, TimeoutError, OSError)):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        name = type(current).__name__
        if name in UNAVAILABLE_DRIVER_ERRORS:
            return True
        if name == "OperationalError" and any(m in str(current) for m in ("database is locked", "unable to open")):
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


# asyncpg's names for "the server went away or is not accepting connections".
UNAVAILABLE_DRIVER_ERRORS = frozenset(
    {
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "AdminShutdownError",
        "ConnectionFailureError",
        "PostgresConnectionError",
        "InterfaceError",
        "ConnectionRefusedError",
        "InternalClientError",
    }
)


def classify(error: GraphQLError) -> GraphQLError:
    """Return ``error`` with a code, masked if it hides an unexpected exception."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        code = (error.extensions or {}).get("code")
        if code is None and isinstance(original, GraphQLError):
            code = (original.extensions or {}).get("code")
        if code is None:
            if isinstance(error, GraphQLSyntaxError) or isinstance(original, GraphQLSyntaxError):
                code = "GRAPHQL_PARSE_FAILED"
            elif any(marker in error.message for marker in BOUND_MARKERS):
                code = "QUERY_TOO_COMPLEX"
            elif error.message.startswith("Variable "):
                code = "BAD_USER_INPUT"
            else:
                code = "GRAPHQL_VALIDATION_FAILED"
        if code == "GRAPHQL_PARSE_FAILED" and any(marker in error.message for marker in BOUND_MARKERS[2:]):
            code = "QUERY_TOO_COMPLEX"
        extensions = dict(error.extensions or {})
        extensions["code"] = code
        error.extensions = extensions
        return error
    if _is_database_unavailable(original):
        log.warning("database unavailable: %s", original.__class__.__name__)
        message, code = "The database is unavailable; try again shortly.", "SERVICE_UNAVAILABLE"
    else:
        log.error("unexpected error at %s", error.path, exc_info=original)
        message, code = "Internal server error.", "INTERNAL_SERVER_ERROR"
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": code},
    )
