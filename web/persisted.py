"""Trusted documents: Automatic Persisted Queries (Apollo's protocol) and the allow-list mode (SPEC §3.3).

A request may name its document by ``extensions.persistedQuery =
{"version": 1, "sha256Hash": "<hex>"}`` instead of (or beside) sending it:

* ``apq`` (default): a request with the document and its hash registers it
  in this process's bounded LRU; later requests may send the hash alone, as
  a GET that a CDN can cache. An unknown hash answers
  ``PersistedQueryNotFound`` (``PERSISTED_QUERY_NOT_FOUND``, HTTP 200, as
  Apollo clients expect) and the client resends with the document. Each
  worker process has its own LRU: with several workers a hash registered on
  one is unknown to the others until the client resends it there, which the
  protocol does by itself (one extra round trip per worker and document).
* ``allow-list``: only the documents of ``web/static/documents.json`` run
  (by hash or in full), loaded once at start; other documents are refused
  with ``PERSISTED_QUERY_NOT_ALLOWED`` before any SQL. Introspection-only
  documents still run: they reveal nothing the committed ``schema.graphql``
  does not, and GraphiQL's explorer and the dashboard's feature check need
  them.

``documents.json`` is generated from ``web/static/documents.js`` by
``partnerhub documents`` (:func:`documents_json`); a test keeps it current.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import orjson

from web.protocol import GraphQLRequest, RequestError

STATIC = Path(__file__).resolve().parent / "static"
DOCUMENTS_JS = STATIC / "documents.js"
DOCUMENTS_JSON = STATIC / "documents.json"
APQ, ALLOW_LIST = "apq", "allow-list"
_HASH = re.compile(r"^[0-9a-f]{64}$")
# documents.js: one template literal per key, its closing backtick ending the line (see its header).
_DOCUMENT = re.compile(r"^  (\w+): `(.*?)`,$", re.S | re.M)


def sha256_hex(document: str) -> str:
    """The persisted-query hash of a document: sha256 of its UTF-8 text, lowercase hex."""
    return hashlib.sha256(document.encode()).hexdigest()


def dashboard_documents(path: Path = DOCUMENTS_JS) -> dict[str, str]:
    """The dashboard's documents, operation name → document text."""
    return dict(_DOCUMENT.findall(path.read_text(encoding="utf-8")))


def documents_json(path: Path = DOCUMENTS_JS) -> str:
    """The allow-list of the dashboard's documents as written to ``documents.json``: ``{sha256: document}``."""
    listed = {sha256_hex(doc): doc for doc in dashboard_documents(path).values()}
    return orjson.dumps(listed, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


class TrustedDocuments:
    """Turns a request's persisted-query hash into its document, and refuses what the mode does not trust."""

    def __init__(self, mode: str = APQ, *, allowed: dict[str, str] | None = None, cache_size: int = 1000) -> None:
        if mode not in (APQ, ALLOW_LIST):
            raise ValueError(f"unknown trusted-documents mode {mode!r}")
        self.mode = mode
        self.allowed = dict(allowed or {})
        self.cache_size = cache_size
        self.cache: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def load(cls, mode: str, *, cache_size: int, path: Path = DOCUMENTS_JSON) -> TrustedDocuments:
        """The documents for ``mode``; in allow-list mode the list is read from ``path`` now, once.

        Raises:
            SystemExit: allow-list mode without a readable list (the server would refuse everything).
        """
        if mode != ALLOW_LIST:
            return cls(mode, cache_size=cache_size)
        try:
            allowed = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise SystemExit(f"PARTNERHUB_TRUSTED_DOCUMENTS=allow-list: cannot read {path}: {exc}") from None
        return cls(mode, allowed=allowed, cache_size=cache_size)

    def resolve(self, gql: GraphQLRequest, introspection: Callable[[str], bool]) -> GraphQLRequest:
        """``gql`` with its document, or raise :class:`RequestError`.

        Args:
            gql: The request as read; ``query`` is empty when only a hash was sent.
            introspection: Whether a document selects only introspection fields.
        """
        persisted = (gql.extensions or {}).get("persistedQuery")
        if persisted is None:
            self._check_allowed(gql.query, sha256_hex(gql.query), introspection)
            return gql
        wanted = _hash_of(persisted)
        if gql.query:
            if sha256_hex(gql.query) != wanted:
                raise RequestError(
                    400, "`extensions.persistedQuery.sha256Hash` is not the SHA-256 of the `query` sent."
                )
            self._check_allowed(gql.query, wanted, introspection)
            if self.mode == APQ:
                self.cache[wanted] = gql.query
                self.cache.move_to_end(wanted)
                if len(self.cache) > self.cache_size:
                    self.cache.popitem(last=False)
            return gql
        if self.mode == ALLOW_LIST:
            document = self.allowed.get(wanted)
        else:
            document = self.cache.get(wanted)
            if document is not None:
                self.cache.move_to_end(wanted)
        if document is None:
            # Apollo clients match this exact message (and the code) to resend with the document.
            raise RequestError(200, "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
        return dataclasses.replace(gql, query=document)

    def _check_allowed(self, query: str, digest: str, introspection: Callable[[str], bool]) -> None:
        if self.mode == ALLOW_LIST and digest not in self.allowed and not introspection(query):
            message = (
                "This server runs only its trusted documents (PARTNERHUB_TRUSTED_DOCUMENTS=allow-list); "
                "this document is not one of them."
            )
            raise RequestError(400, message, "PERSISTED_QUERY_NOT_ALLOWED")


def _hash_of(persisted: object) -> str:
    """The lowercase hex hash of ``extensions.persistedQuery``, or raise BAD_REQUEST naming what is wrong."""
    if not isinstance(persisted, dict):
        raise RequestError(400, "`extensions.persistedQuery` must be an object {version: 1, sha256Hash}.")
    version = persisted.get("version")
    if type(version) is not int or version != 1:
        raise RequestError(400, "`extensions.persistedQuery.version` must be 1.")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _HASH.match(digest.lower()):
        raise RequestError(400, "`extensions.persistedQuery.sha256Hash` must be 64 hexadecimal digits.")
    return digest.lower()
