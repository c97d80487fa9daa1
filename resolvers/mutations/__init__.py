"""The business logic of every mutation (SPEC §3.1), one transaction each.

:mod:`~resolvers.mutations.runner` runs them all the same way (permission,
transaction, lock order, the actor's current rights, audit, unique-key
conflicts); the bodies are declared by domain in
:mod:`~resolvers.mutations.trials`, :mod:`~resolvers.mutations.assignments`,
:mod:`~resolvers.mutations.partner_admins` and
:mod:`~resolvers.mutations.order_setup`; :mod:`~resolvers.mutations.codes`
declares the error codes once.
"""

from __future__ import annotations

from resolvers.mutations.assignments import assign_customer_admins, unassign_customer_admins
from resolvers.mutations.codes import Code
from resolvers.mutations.order_setup import complete_order_setup
from resolvers.mutations.partner_admins import create_partner_admin, remove_partner_admin, set_partner_admin_role
from resolvers.mutations.runner import (
    MUTATIONS,
    Conflict,
    Done,
    Failure,
    MutationSpec,
    Outcome,
    UserErrorData,
    mutation,
    violated_constraint,
)
from resolvers.mutations.trials import (
    NewCustomerArgs,
    add_months,
    cancel_trial,
    convert_trial,
    extend_trial,
    start_trial,
)

__all__ = [
    "MUTATIONS",
    "Code",
    "Conflict",
    "Done",
    "Failure",
    "MutationSpec",
    "NewCustomerArgs",
    "Outcome",
    "UserErrorData",
    "add_months",
    "assign_customer_admins",
    "cancel_trial",
    "complete_order_setup",
    "convert_trial",
    "create_partner_admin",
    "extend_trial",
    "mutation",
    "remove_partner_admin",
    "set_partner_admin_role",
    "start_trial",
    "unassign_customer_admins",
    "violated_constraint",
]
