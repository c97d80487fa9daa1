"""GraphQL over HTTP (the GraphQL-over-HTTP specification): reading a request, negotiating the answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


class RequestError(Exception):
    """A request that is not a well-formed GraphQL-over-HTTP request."""

    def __init__(
        self, status: int, message: str, code: str = "BAD_REQUEST", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def negotiate(accept: str | None) -> str | None:
    """The response media type for an ``Accept`` header (GraphQL-over-HTTP §Accept).

    No header means a legacy client: ``application/json``, and so does a
    wildcard alone (the spec's SHOULD: a client that names no GraphQL type may
    not know the new one). Of the two GraphQL media types the one with the
    higher q wins, and on a tie ``application/graphql-response+json``; a named
    type beats a wildcard of the same q. ``None`` when neither is acceptable.
    """
    if not accept or not accept.strip():
        return JSON
    best: tuple[float, int, str] | None = None
    for part in accept.split(","):
        media, *params = [p.strip() for p in part.split(";")]
        media = media.lower()
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        if media == GRAPHQL_RESPONSE:
            candidate = (q, 2, GRAPHQL_RESPONSE)
        elif media in ("*/*", "application/*"):
            candidate = (q, 0, JSON)
        elif media == JSON:
            candidate = (q, 1, JSON)
        else:
            continue
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else None


def graphql_response(
    body: dict[str, Any], *, status: int, media_type: str, headers: dict[str, str] | None = None
) -> Response:
    """Encode a GraphQL response body with orjson."""
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=f"{media_type}; charset=utf-8",
        headers=headers,
    )


def error_body(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


@dataclass
class GraphQLRequest:
    """The parameters of one GraphQL-over-HTTP request."""

    query: str  # empty only when ``extensions.persistedQuery`` names the document
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None = None


def request_params(raw: dict[str, Any]) -> GraphQLRequest:
    """The parameters of a JSON object as a POST body carries them, or raise :class:`RequestError`.

    Also a WebSocket ``subscribe`` message's payload (web/live.py): the same
    fields with the same rules (``query``, or ``extensions.persistedQuery``
    alone; ``variables`` and ``extensions`` objects; ``operationName`` a string).
    """
    return _parse_params(raw, from_get=False)


def _parse_params(raw: dict[str, Any], *, from_get: bool) -> GraphQLRequest:
    query = raw.get("query")
    variables = _object_param(raw, "variables", from_get=from_get)
    extensions = _object_param(raw, "extensions", from_get=from_get)
    if query in (None, "") and extensions is not None and "persistedQuery" in extensions:
        query = ""  # named by its hash: web/persisted.py fills it in
    elif not isinstance(query, str) or not query.strip():
        raise RequestError(400, "The request has no `query` string.")
    operation_name = raw.get("operationName")
    if operation_name == "":
        operation_name = None
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestError(400, "`operationName` must be a string.")
    return GraphQLRequest(query=query, variables=variables, operation_name=operation_name, extensions=extensions)


def _object_param(raw: dict[str, Any], name: str, *, from_get: bool) -> dict[str, Any] | None:
    """``variables`` or ``extensions``: absent, or a JSON object (in a GET, JSON text of one)."""
    value = raw.get(name)
    if from_get and isinstance(value, str):
        try:
            value = orjson.loads(value) if value else None
        except orjson.JSONDecodeError:
            raise RequestError(400, f"`{name}` is not valid JSON.") from None
    if value is not None and not isinstance(value, dict):
        raise RequestError(400, f"`{name}` must be a JSON object.")
    return value


async def read_graphql_request(request: Request, max_body_bytes: int) -> GraphQLRequest:
    """Parse a GET or POST GraphQL request, or raise :class:`RequestError`."""
    if request.method == "GET":
        return _parse_params(dict(request.query_params), from_get=True)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != JSON:
        raise RequestError(415, "Send the request as `Content-Type: application/json`.", "UNSUPPORTED_MEDIA_TYPE")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_body_bytes:
        raise RequestError(413, f"The request body exceeds {max_body_bytes} bytes.", "PAYLOAD_TOO_LARGE")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_body_bytes:
            raise RequestError(413, f"The request body exceeds {max_body_bytes} bytes.", "PAYLOAD_TOO_LARGE")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RequestError(400, "The request body is not valid JSON.") from None
    if isinstance(payload, list):
        raise RequestError(400, "Batched requests are not supported; send one operation per request.")
    if not isinstance(payload, dict):
        raise RequestError(400, "The request body must be a JSON object.")
    return request_params(payload)
