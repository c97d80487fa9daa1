"""Who is asking, and which customers that caller may see (SPEC §4), as SQL.

Tenant isolation and the sales roles' narrower view are one predicate,
:func:`visible_customers`, used by every customer read: lists, counts,
``node``, loaders, analytics and mutations' look-ups. What each role may *do*
is declared above this layer, in ``resolvers.permissions``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, exists

from db.tables import ASSIGNMENT

ALL_CUSTOMER_ROLES = frozenset({"PARTNER_FULL_ADMIN", "PARTNER_READ_ONLY_ADMIN"})
"""Roles that see every customer of their partner."""
ASSIGNABLE_ROLES = frozenset({"SALES_FULL_ADMIN", "SALES_ADMIN"})
"""Roles that see only the customers they are assigned to (and so can be assigned)."""


@dataclass(frozen=True)
class Viewer:
    """The authenticated partner admin making the request.

    ``token_id`` is the ``api_token`` row the request came with (``None`` for
    in-process callers): mutations re-read it at commit. It takes no part in
    equality, so one admin's tokens share the per-viewer caches.
    """

    id: int
    partner_id: int
    email: str
    display_name: str
    role: str
    token_id: int | None = field(default=None, compare=False)

    @property
    def sees_all_customers(self) -> bool:
        """Whether the role sees every customer of the partner (else: assigned ones)."""
        return self.role in ALL_CUSTOMER_ROLES


@functools.lru_cache(maxsize=1024)
def visible_customers(customer: Any, viewer: Viewer) -> ColumnElement[bool]:
    """SQL predicate on a ``customer`` table (or alias): the rows this viewer may see.

    Tenant isolation always; sales roles additionally only their assigned
    customers. Built once per (table, viewer): every request needs it.
    """
    same_partner = customer.c.partner_id == viewer.partner_id
    if viewer.sees_all_customers:
        return same_partner
    assigned = exists().where(ASSIGNMENT.c.customer_id == customer.c.id, ASSIGNMENT.c.admin_id == viewer.id)
    return same_partner & assigned
