"""What each role may do (SPEC §4), declared once.

Mutations declare a :class:`Permission` and the mutation runner calls
:func:`require`, which raises the top-level ``FORBIDDEN`` error. Which
customers a role *sees* is :func:`db.access.visible_customers`: a customer the
caller may not see is treated as absent everywhere (``null``, not in lists or
counts, ``NOT_FOUND``).
"""

from __future__ import annotations

import enum

from graphql import GraphQLError

from db.access import Viewer


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
