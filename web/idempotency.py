"""``Idempotency-Key``: a mutation request done at most once per admin and key for 24 hours (SPEC §3.3).

Protocol, before the mutation runs (the key's row in ``idempotency_key``,
db/idempotency.py, each step its own short transaction, so that it holds
across server processes):

1. insert a pending row for (admin, key); the primary key decides which of
   concurrent requests runs;
2. a request that could not insert reads the row: still pending →
   ``IDEMPOTENCY_KEY_IN_PROGRESS`` (409, ``Retry-After: 1``); another request
   hash → ``IDEMPOTENCY_KEY_REUSED`` (422, the IETF draft's status); done with
   the same hash → the stored status and body again, with this request's
   ``extensions.cost`` and ``Idempotent-Replayed: true``;
3. after the mutation the answer is stored; an answer that says nothing ran
   for sure (5xx, the client gone) releases the key instead, so a retry runs.

The request hash covers the query text, the operation name and the
variables (keys sorted, so their order does not matter). Queries, GET
requests and requests without a valid token ignore the header.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from graphql import DocumentNode, OperationType
from graphql.utilities import get_operation_ast
from starlette.requests import Request
from starlette.responses import Response

from db import idempotency as keys
from db.tokens import cached_viewer
from web.auth import bearer_token
from web.protocol import GraphQLRequest, error_body, graphql_response

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def now() -> dt.datetime:
    """The clock of key expiry (tests replace it)."""
    return dt.datetime.now(dt.UTC)


def request_hash(gql: GraphQLRequest) -> str:
    """sha256 of the query text, operation name and canonical variables (``None`` and ``{}`` alike)."""
    canonical = orjson.dumps([gql.query, gql.operation_name, gql.variables or {}], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def is_mutation(document: DocumentNode | None, operation_name: str | None) -> bool:
    """Whether the operation a request runs (``operation_name`` of ``document``) is a mutation."""
    operation = get_operation_ast(document, operation_name) if document is not None else None
    return operation is not None and operation.operation == OperationType.MUTATION


async def once(
    request: Request,
    gql: GraphQLRequest,
    document: DocumentNode | None,
    media_type: str,
    log_fields: dict[str, Any],
    cost: dict[str, int],
    run: Callable[[], Awaitable[Response]],
) -> Response:
    """``run()`` the request, at most once per admin and ``Idempotency-Key`` when it is a keyed mutation."""
    given = request.headers.getlist(HEADER)
    if not given or request.method != "POST" or not is_mutation(document, gql.operation_name):
        return await run()
    if len(given) > 1 or not _KEY.match(given[0]):
        log_fields["errors"] = ["BAD_REQUEST"]
        return graphql_response(
            error_body(
                f"The {HEADER} header must be one value of 1 to 255 visible ASCII characters (no spaces).",
                "BAD_REQUEST",
            ),
            status=400,
            media_type=media_type,
        )
    key = given[0]
    sessionmaker = request.app.state.sessionmaker
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        return await run()
    async with sessionmaker() as session:
        viewer = await cached_viewer(session, token)
    if viewer is None:
        return await run()  # answers 401
    digest = request_hash(gql)
    held = await keys.claim(sessionmaker, viewer.id, key, digest, now())
    if held is not None:
        return _answer_held(held, digest, media_type, log_fields, cost)
    try:
        response = await run()
    except BaseException:
        with contextlib.suppress(Exception):
            await keys.release(sessionmaker, viewer.id, key)
        raise
    if response.status_code >= 499:
        await keys.release(sessionmaker, viewer.id, key)
    else:
        await keys.finish(sessionmaker, viewer.id, key, response.status_code, bytes(response.body).decode())
    return response


def _answer_held(
    held: keys.Claimed, digest: str, media_type: str, log_fields: dict[str, Any], cost: dict[str, int]
) -> Response:
    if held.request_hash != digest:
        log_fields["errors"] = ["IDEMPOTENCY_KEY_REUSED"]
        message = f"This {HEADER} was used for a different request in the last 24 hours; use a new key."
        return graphql_response(error_body(message, "IDEMPOTENCY_KEY_REUSED"), status=422, media_type=media_type)
    if held.status != keys.DONE or held.response is None or held.http_status is None:
        log_fields["errors"] = ["IDEMPOTENCY_KEY_IN_PROGRESS"]
        message = f"A request with this {HEADER} is still running; retry in 1 s to get its answer."
        return graphql_response(
            error_body(message, "IDEMPOTENCY_KEY_IN_PROGRESS"),
            status=409,
            media_type=media_type,
            headers={"Retry-After": "1"},
        )
    body = orjson.loads(held.response)
    log_fields["idempotent"] = "replayed"
    if isinstance(body.get("extensions"), dict):
        # The retry was admitted and charged on its own: it reports its own cost.
        body["extensions"]["cost"] = cost
    return graphql_response(
        body, status=held.http_status, media_type=media_type, headers={"Idempotent-Replayed": "true"}
    )
