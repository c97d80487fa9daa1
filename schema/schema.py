"""The GraphQL schema object, built once per process."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, ParserCache, QueryDepthLimiter, ValidationCache

from db.settings import get_settings
from schema.errors import ErrorPolicy
from schema.query import Query
from schema.types import Customer, PartnerAdmin, Subscription, Trial


class PartnerhubSchema(strawberry.Schema):
    """Strawberry's schema, logging only what :mod:`schema.errors` logs.

    Strawberry would log every error with a traceback, including a client's
    typo; unexpected exceptions are logged by the error policy instead.
    """

    def process_errors(self, errors, execution_context=None) -> None:  # noqa: D102
        return None


def build_schema() -> strawberry.Schema:
    """Build the schema with its query bounds (SPEC §4).

    The bound extensions are instances built here once, so their validation
    rules are created once and the validation cache stays effective.
    """
    settings = get_settings()
    return PartnerhubSchema(
        query=Query,
        types=[Customer, Subscription, Trial, PartnerAdmin],
        extensions=[
            ErrorPolicy(),
            MaxTokensLimiter(max_token_count=settings.max_tokens),
            ParserCache(maxsize=256),
            QueryDepthLimiter(max_depth=settings.max_depth),
            MaxAliasesLimiter(max_alias_count=settings.max_aliases),
            ValidationCache(maxsize=256),
        ],
    )


schema = build_schema()
