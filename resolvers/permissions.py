"""Who may do what (SPEC §4), declared once.

Queries narrow every customer read through :func:`visible_customers`;
mutations declare a :class:`Permission` and call :func:`require`, which raises
the top-level ``FORBIDDEN`` error. A customer the caller may not see is treated
as absent everywhere (``null``, not in lists or counts, ``NOT_FOUND``).
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

from graphql import GraphQLError
from sqlalchemy import ColumnElement, exists

from db.models import CustomerAdmin

ASSIGNMENT = CustomerAdmin.__table__

ALL_CUSTOMER_ROLES = frozenset({"PARTNER_FULL_ADMIN", "PARTNER_READ_ONLY_ADMIN"})
ASSIGNABLE_ROLES = frozenset({"SALES_FULL_ADMIN", "SALES_ADMIN"})


@dataclass(frozen=True)
class Viewer:
    """The authenticated partner admin making the request."""

    id: int
    partner_id: int
    email: str
    display_name: str
    role: str

    @property
    def sees_all_customers(self) -> bool:
        """Whether the role sees every customer of the partner (else: assigned ones)."""
        return self.role in ALL_CUSTOMER_ROLES


class Permission(enum.Enum):
    """Actions of the SPEC §4 table."""

    MANAGE_TRIALS = "manage trials"
    ASSIGN_ADMINS = "assign admins to customers"
    MANAGE_PARTNER_ADMINS = "manage partner admins"
    COMPLETE_ORDER_SETUP = "complete order setup"
    READ_AUDIT_LOG = "read the audit log"


# Roles allowed each action. Sales roles act only on customers they see, which
# the mutation enforces by looking the customer up through visible_customers.
GRANTS: dict[Permission, frozenset[str]] = {
    Permission.MANAGE_TRIALS: frozenset({"PARTNER_FULL_ADMIN", "SALES_FULL_ADMIN", "SALES_ADMIN"}),
    Permission.ASSIGN_ADMINS: frozenset({"PARTNER_FULL_ADMIN", "SALES_FULL_ADMIN"}),
    Permission.MANAGE_PARTNER_ADMINS: frozenset({"PARTNER_FULL_ADMIN"}),
    Permission.COMPLETE_ORDER_SETUP: frozenset({"PARTNER_FULL_ADMIN", "SALES_FULL_ADMIN"}),
    Permission.READ_AUDIT_LOG: frozenset({"PARTNER_FULL_ADMIN", "PARTNER_READ_ONLY_ADMIN"}),
}


def allowed(viewer: Viewer, permission: Permission) -> bool:
    """Whether the viewer's role grants ``permission``."""
    return viewer.role in GRANTS[permission]


def require(viewer: Viewer, permission: Permission) -> None:
    """Raise the top-level ``FORBIDDEN`` error unless the role grants ``permission``."""
    if not allowed(viewer, permission):
        raise GraphQLError(
            f"Your role {viewer.role} may not {permission.value}.",
            extensions={"code": "FORBIDDEN"},
        )


@functools.lru_cache(maxsize=1024)
def visible_customers(customer, viewer: Viewer) -> ColumnElement[bool]:
    """SQL predicate on a ``customer`` table: the rows this viewer may see.

    Tenant isolation always; sales roles additionally only their assigned
    customers. Built once per (table, viewer): every request needs it.
    """
    same_partner = customer.c.partner_id == viewer.partner_id
    if viewer.sees_all_customers:
        return same_partner
    assigned = exists().where(ASSIGNMENT.c.customer_id == customer.c.id, ASSIGNMENT.c.admin_id == viewer.id)
    return same_partner & assigned


__all__ = [
    "ALL_CUSTOMER_ROLES",
    "ASSIGNABLE_ROLES",
    "GRANTS",
    "Permission",
    "Viewer",
    "allowed",
    "require",
    "visible_customers",
]
