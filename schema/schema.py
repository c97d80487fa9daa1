"""The GraphQL schema object, built once per process."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)

from db.settings import get_settings
from schema.audit import AuditEvent
from schema.bounds import PageBounds
from schema.execution import FastExecutionContext
from schema.mutations import Mutation
from schema.query import Query
from schema.subscription import LiveEvents
from schema.types import Customer, PartnerAdmin, Subscription, Trial


class PartnerhubSchema(strawberry.Schema):
    """Strawberry's schema, logging only what :mod:`schema.errors` logs.

    Strawberry would log every error with a traceback, including a client's
    typo; unexpected exceptions are logged by the error policy instead.
    """

    def process_errors(self, errors, execution_context=None) -> None:
        return None


def build_schema() -> strawberry.Schema:
    """Build the schema with its query bounds (SPEC §4).

    Extensions are passed as factories (strawberry makes one per request), but
    the validation rule classes are created here once: the validation cache
    keys on the rules, so rules rebuilt per request would never hit it.
    """
    settings = get_settings()
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    return PartnerhubSchema(
        query=Query,
        mutation=Mutation,
        subscription=LiveEvents,
        types=[Customer, Subscription, Trial, PartnerAdmin, AuditEvent],
        execution_context_class=FastExecutionContext,
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            lambda: ParserCache(maxsize=512),
            lambda: AddValidationRules(rules),
            lambda: ValidationCache(maxsize=512),
            PageBounds,
        ],
    )


schema = build_schema()
