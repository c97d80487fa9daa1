"""The Mutation root (SPEC §3.1): inputs, payloads and the mutation fields, as declarations.

Each field converts its input to plain values, calls the business logic in
:mod:`resolvers.mutations` (permissions, validation, the transaction, the
audit event) and builds its payload from the :class:`~resolvers.mutations.Outcome`
through the request's loaders, which the mutation cleared, so follow-up
fields show the new state. Payloads are declared by :func:`payload` from
:class:`Slot` s, the fields by :func:`_mutation` from a table.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import strawberry

from resolvers import mutations as logic
from resolvers.context import Context
from schema.enums import ManagedBy, PartnerAdminRole, Product
from schema.types import Customer, InfoT, PartnerAdmin, Subscription, Trial

WHO_TRIALS = "Allowed to PARTNER_FULL_ADMIN, and to SALES_FULL_ADMIN and SALES_ADMIN on their assigned customers; others get FORBIDDEN."
WHO_ASSIGN = "Allowed to PARTNER_FULL_ADMIN, and to SALES_FULL_ADMIN on its assigned customers; others get FORBIDDEN."
WHO_ADMINS = "Allowed to PARTNER_FULL_ADMIN only; others get FORBIDDEN."
WHO_SETUP = "Allowed to PARTNER_FULL_ADMIN, and to SALES_FULL_ADMIN on its assigned customers; others get FORBIDDEN."
ATOMIC = (
    "One transaction, recorded in the audit log; on any userError nothing is changed. "
    "A customer, trial or admin the caller may not see is NOT_FOUND."
)


# ------------------------------------------------------------------ errors

# Generated from resolvers.mutations.codes.Code: one declaration of the codes.
_CODES = enum.Enum(  # type: ignore[misc]
    "UserErrorCode", {code.name: strawberry.enum_value(code.name, description=code.value) for code in logic.Code}
)
UserErrorCode = strawberry.enum(
    _CODES, description="Why a mutation was refused; the payload's other fields are then null and nothing changed."
)


@strawberry.type(description="An input or business-rule failure of a mutation.")
class UserError:
    field: list[str] | None = strawberry.field(
        description=(
            'Path of the offending input value, e.g. ["input", "licenses"] or ["input", "adminIds", "2"] '
            "(list positions as strings); null when no single value is at fault."
        )
    )
    message: str = strawberry.field(description="Explanation for people; may change, match on `code`.")
    code: UserErrorCode = strawberry.field(description="Machine-readable reason.")  # type: ignore[valid-type]


def _user_errors(outcome: logic.Outcome) -> list[UserError]:
    return [
        UserError(
            field=list(e.field) if e.field is not None else None, message=e.message, code=UserErrorCode[e.code.name]
        )
        for e in outcome.user_errors
    ]


# ------------------------------------------------------------------ inputs


@strawberry.input(description="A customer to create together with its first trial.")
class NewCustomerInput:
    name: str = strawberry.field(
        description="Name, 1–200 characters after trimming, unique per partner case-insensitively (else NAME_TAKEN)."
    )
    managed_by: ManagedBy = strawberry.field(
        default=ManagedBy.PARTNER_ORG, description="Who manages the organisation; default PARTNER_ORG."
    )


@strawberry.input(description="Start a trial; give exactly one of `customerId` and `newCustomer`.")
class StartTrialInput:
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global ID of an existing customer without an ACTIVE trial."
    )
    new_customer: NewCustomerInput | None = strawberry.field(
        default=None, description="Or a customer to create (created on today's date)."
    )
    products: list[Product] = strawberry.field(description="Products to try: at least one, each once.")
    licenses: int = strawberry.field(description="Licences per product, 1–1000.")
    days: int = strawberry.field(
        default=30, description="Trial length in days, 1–90 (default 30); it ends on today + days."
    )


@strawberry.input(description="Extend an ACTIVE trial.")
class ExtendTrialInput:
    trial_id: strawberry.ID = strawberry.field(description="Global ID of the trial.")
    days: int = strawberry.field(
        description="Days to add to endsOn, at least 1; endsOn − startsOn may not exceed 90 (else TRIAL_TOO_LONG)."
    )


@strawberry.input(description="Cancel an ACTIVE trial.")
class CancelTrialInput:
    trial_id: strawberry.ID = strawberry.field(description="Global ID of the trial.")


@strawberry.input(description="Convert an ACTIVE trial into a subscription.")
class ConvertTrialInput:
    trial_id: strawberry.ID = strawberry.field(description="Global ID of the trial.")
    subscription_id: str = strawberry.field(
        description="External id of the new subscription, 1–100 characters after trimming, unique per partner (else SUBSCRIPTION_ID_TAKEN)."
    )
    term_months: int = strawberry.field(
        description="Term in calendar months, 1–60; the subscription ends on the same day of the month (or that month's last day)."
    )
    auto_renew: bool = strawberry.field(description="Whether the term renews automatically.")


@strawberry.input(description="A customer and partner admins to assign to it or unassign from it.")
class CustomerAdminsInput:
    customer_id: strawberry.ID = strawberry.field(description="Global ID of the customer.")
    admin_ids: list[strawberry.ID] = strawberry.field(
        description="Global IDs of SALES_FULL_ADMIN / SALES_ADMIN admins of the partner; 1–100, repeats ignored."
    )


@strawberry.input(description="A new partner admin. Its API tokens are created from the command line.")
class CreatePartnerAdminInput:
    email: str = strawberry.field(
        description="Email address, stored trimmed and lower-cased; unique among the partner's admins (else EMAIL_TAKEN)."
    )
    display_name: str = strawberry.field(description="Name shown in the portal, 1–200 characters after trimming.")
    role: PartnerAdminRole = strawberry.field(description="The admin's role.")


@strawberry.input(description="A new role for a partner admin.")
class SetPartnerAdminRoleInput:
    admin_id: strawberry.ID = strawberry.field(description="Global ID of the admin (may be the caller).")
    role: PartnerAdminRole = strawberry.field(
        description="The new role. A partner-wide role removes the admin's customer assignments."
    )


@strawberry.input(description="A partner admin to remove.")
class RemovePartnerAdminInput:
    admin_id: strawberry.ID = strawberry.field(description="Global ID of the admin (may be the caller).")


@strawberry.input(description="First-time setup of a customer's ordered subscriptions.")
class CompleteOrderSetupInput:
    customer_id: strawberry.ID = strawberry.field(description="Global ID of the customer.")
    accept_terms: bool = strawberry.field(description="Must be true (else TERMS_NOT_ACCEPTED).")


# ---------------------------------------------------------------- payloads

USER_ERRORS = "Why the mutation was refused; empty on success."


@dataclass(frozen=True)
class Slot:
    """What a payload field shows: its GraphQL type and how it is read from the outcome.

    Attributes:
        type: The field's (nullable) type.
        fetch: ``fetch(ctx, outcome)``: the object, or ``None`` on error.
    """

    type: Any
    fetch: Callable[[Context, logic.Outcome], Awaitable[Any]]


async def _customer(ctx: Context, outcome: logic.Outcome) -> Customer | None:
    db_id = outcome.customer_id
    record = None if db_id is None else await ctx.loaders.customer_by_id.load(db_id)
    return None if record is None else Customer.from_record(record, ctx)


async def _plan(ctx: Context, db_id: int | None) -> Subscription | Trial | None:
    record = None if db_id is None else await ctx.loaders.plan_by_id.load(db_id)
    if record is None:
        return None
    return (Subscription if record.kind == "SUBSCRIPTION" else Trial).from_record(record, ctx)


async def _trial(ctx: Context, outcome: logic.Outcome) -> Subscription | Trial | None:
    return await _plan(ctx, outcome.trial_id)


async def _subscription(ctx: Context, outcome: logic.Outcome) -> Subscription | Trial | None:
    return await _plan(ctx, outcome.subscription_id)


async def _admin(ctx: Context, outcome: logic.Outcome) -> PartnerAdmin | None:
    db_id = outcome.admin_id
    record = None if db_id is None else await ctx.loaders.admin_by_id.load(db_id)
    return None if record is None else PartnerAdmin.from_record(record)


async def _removed_admin_id(_ctx: Context, outcome: logic.Outcome) -> strawberry.ID | None:
    return None if outcome.removed_admin_id is None else strawberry.ID(outcome.removed_admin_id)


TRIAL = Slot(Trial | None, _trial)
CUSTOMER = Slot(Customer | None, _customer)
SUBSCRIPTION = Slot(Subscription | None, _subscription)
ADMIN = Slot(PartnerAdmin | None, _admin)
REMOVED_ADMIN_ID = Slot(strawberry.ID | None, _removed_admin_id)
_SLOTS: dict[type, dict[str, Slot]] = {}


def payload(name: str, description: str, **fields: tuple[Slot, str]) -> type:
    """Declare a payload type: its object fields (slot and description, in SDL order), then ``userErrors``.

    Args:
        name: The GraphQL type name.
        description: The type's description.
        **fields: Python field name → (slot, field description).

    Returns:
        The strawberry type; :func:`_answer` fills it from an outcome.
    """
    annotations: dict[str, Any] = {attr: slot.type for attr, (slot, _) in fields.items()}
    annotations["user_errors"] = list[UserError]
    namespace: dict[str, Any] = {attr: strawberry.field(description=text) for attr, (_, text) in fields.items()}
    namespace.update(user_errors=strawberry.field(description=USER_ERRORS), __annotations__=annotations)
    namespace["__module__"] = __name__
    built = strawberry.type(type(name, (), namespace), description=description)
    _SLOTS[built] = {attr: slot for attr, (slot, _) in fields.items()}
    return built


async def _answer(payload_type: type, ctx: Context, outcome: logic.Outcome) -> Any:
    """The payload of ``outcome``: each slot fetched through the loaders, and the user errors."""
    values = {attr: await slot.fetch(ctx, outcome) for attr, slot in _SLOTS[payload_type].items()}
    return payload_type(**values, user_errors=_user_errors(outcome))


StartTrialPayload = payload(
    "StartTrialPayload",
    "Result of `startTrial`.",
    trial=(TRIAL, "The new trial; null on error."),
    customer=(CUSTOMER, "The trial's customer (new or existing); null on error."),
)
TrialPayload = payload(
    "TrialPayload", "Result of a mutation changing a trial.", trial=(TRIAL, "The trial as changed; null on error.")
)
ConvertTrialPayload = payload(
    "ConvertTrialPayload",
    "Result of `convertTrial`.",
    trial=(TRIAL, "The trial, now CONVERTED; null on error."),
    subscription=(SUBSCRIPTION, "The new PENDING_SETUP subscription; null on error."),
)
CustomerPayload = payload(
    "CustomerPayload",
    "Result of a mutation changing a customer.",
    customer=(
        CUSTOMER,
        "The customer as changed; null on error, or when the caller no longer sees it (it unassigned itself).",
    ),
)
PartnerAdminPayload = payload(
    "PartnerAdminPayload",
    "Result of a mutation creating or changing a partner admin.",
    partner_admin=(ADMIN, "The admin as changed; null on error."),
)
RemovePartnerAdminPayload = payload(
    "RemovePartnerAdminPayload",
    "Result of `removePartnerAdmin`.",
    removed_admin_id=(REMOVED_ADMIN_ID, "Global ID of the removed admin; null on error."),
)


# ------------------------------------------------------------------- root


def _plain(value: Any) -> Any:
    """An input value as the business logic takes it: enums by their value."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _arguments(input: Any) -> dict[str, Any]:
    """An input object's fields as the business logic's keyword arguments (same names)."""
    return {f.name: _plain(getattr(input, f.name)) for f in dataclasses.fields(input)}


def _start_trial_arguments(input: StartTrialInput) -> dict[str, Any]:
    new = input.new_customer
    return {**_arguments(input), "new_customer": None if new is None else logic.NewCustomerArgs(**_arguments(new))}


def _mutation(
    run: Callable[..., Awaitable[logic.Outcome]],
    input_type: type,
    argument: str,
    payload_type: type,
    description: str,
    arguments: Callable[[Any], dict[str, Any]] = _arguments,
) -> Any:
    """A Mutation field: ``input`` → ``run(ctx, **arguments(input))`` → its payload.

    Args:
        run: The business logic (a :func:`resolvers.mutations.runner.mutation`).
        input_type: The ``input`` argument's type.
        argument: The ``input`` argument's description.
        payload_type: A type declared with :func:`payload`.
        description: The field's description.
        arguments: Input object → keyword arguments of ``run``.

    Returns:
        The strawberry field.
    """

    async def resolve(info: InfoT, input: Any) -> Any:
        ctx = info.context
        return await _answer(payload_type, ctx, await run(ctx, **arguments(input)))

    # Set here rather than written: the types are this declaration's parameters.
    resolve.__annotations__ = {
        "info": InfoT,
        "input": Annotated[input_type, strawberry.argument(description=argument)],
        "return": payload_type,
    }
    return strawberry.mutation(resolver=resolve, description=description)


MUTATION_FIELDS = {
    "start_trial": _mutation(
        logic.start_trial,
        StartTrialInput,
        "The trial to start.",
        StartTrialPayload,
        "Start a trial for an existing customer (`customerId`) or a new one (`newCustomer`): it starts today, "
        "ends today + days, with a licence line of `licenses` per product, and is started by the caller; "
        "its trialId is `Trial-<n>`. A sales admin creating a customer is assigned to it. "
        "Errors: TRIAL_ALREADY_ACTIVE, NAME_TAKEN, INVALID_INPUT, NOT_FOUND. "
        f"Concurrent calls for one customer make one trial. {ATOMIC} {WHO_TRIALS}",
        _start_trial_arguments,
    ),
    "extend_trial": _mutation(
        logic.extend_trial,
        ExtendTrialInput,
        "The trial and the days to add.",
        TrialPayload,
        "Move an ACTIVE trial's endsOn `days` later; endsOn − startsOn may not exceed 90 days. "
        f"Errors: TRIAL_NOT_ACTIVE, TRIAL_TOO_LONG, INVALID_INPUT, NOT_FOUND. {ATOMIC} {WHO_TRIALS}",
    ),
    "cancel_trial": _mutation(
        logic.cancel_trial,
        CancelTrialInput,
        "The trial to cancel.",
        TrialPayload,
        f"Cancel an ACTIVE trial (status CANCELLED). Errors: TRIAL_NOT_ACTIVE, INVALID_INPUT, NOT_FOUND. {ATOMIC} "
        f"{WHO_TRIALS}",
    ),
    "convert_trial": _mutation(
        logic.convert_trial,
        ConvertTrialInput,
        "The trial and the subscription's terms.",
        ConvertTrialPayload,
        "Convert an ACTIVE trial: it becomes CONVERTED, and a PENDING_SETUP subscription starts today with the "
        "trial's licence totals and ends `termMonths` calendar months later (same day of the month, or that "
        "month's last day when shorter, e.g. Jan 31 + 1 month = Feb 28/29). "
        f"Errors: TRIAL_NOT_ACTIVE, SUBSCRIPTION_ID_TAKEN, INVALID_INPUT, NOT_FOUND. {ATOMIC} {WHO_TRIALS}",
    ),
    "assign_customer_admins": _mutation(
        logic.assign_customer_admins,
        CustomerAdminsInput,
        "The customer and the admins to assign.",
        CustomerPayload,
        "Assign sales admins (SALES_FULL_ADMIN, SALES_ADMIN) to a customer; already assigned ones stay "
        "(idempotent). Partner-wide admins see every customer and are refused with ALREADY_HAS_ACCESS. "
        f"Errors: ALREADY_HAS_ACCESS, INVALID_INPUT, NOT_FOUND. {ATOMIC} {WHO_ASSIGN}",
    ),
    "unassign_customer_admins": _mutation(
        logic.unassign_customer_admins,
        CustomerAdminsInput,
        "The customer and the admins to unassign.",
        CustomerPayload,
        "Unassign sales admins from a customer; admins not assigned are ignored (idempotent). "
        f"Errors: ALREADY_HAS_ACCESS, INVALID_INPUT, NOT_FOUND. {ATOMIC} {WHO_ASSIGN}",
    ),
    "create_partner_admin": _mutation(
        logic.create_partner_admin,
        CreatePartnerAdminInput,
        "The new admin.",
        PartnerAdminPayload,
        f"Create a partner admin of the caller's partner. Errors: EMAIL_TAKEN, INVALID_INPUT. {ATOMIC} {WHO_ADMINS}",
    ),
    "set_partner_admin_role": _mutation(
        logic.set_partner_admin_role,
        SetPartnerAdminRoleInput,
        "The admin and its new role.",
        PartnerAdminPayload,
        "Change a partner admin's role. The partner always keeps at least one PARTNER_FULL_ADMIN "
        "(LAST_FULL_ADMIN), also under concurrent changes. A partner-wide role removes the admin's customer "
        f"assignments. Errors: LAST_FULL_ADMIN, INVALID_INPUT, NOT_FOUND. {ATOMIC} {WHO_ADMINS}",
    ),
    "remove_partner_admin": _mutation(
        logic.remove_partner_admin,
        RemovePartnerAdminInput,
        "The admin to remove.",
        RemovePartnerAdminPayload,
        "Remove a partner admin: its customer assignments go and its API tokens stop working at once; trials it "
        "started keep no startedBy; audit events keep its email. The partner always keeps at least one "
        f"PARTNER_FULL_ADMIN. Errors: LAST_FULL_ADMIN, INVALID_INPUT, NOT_FOUND. {ATOMIC} {WHO_ADMINS}",
    ),
    "complete_order_setup": _mutation(
        logic.complete_order_setup,
        CompleteOrderSetupInput,
        "The customer and the terms acceptance.",
        CustomerPayload,
        "Complete a customer's first-time order setup: with `acceptTerms: true`, every PENDING_SETUP subscription "
        "of the customer becomes ACTIVE. "
        f"Errors: TERMS_NOT_ACCEPTED, NOTHING_TO_SET_UP, INVALID_INPUT, NOT_FOUND. {ATOMIC} {WHO_SETUP}",
    ),
}
"""The Mutation root's fields by Python name (GraphQL: camelCase), in SDL order."""

Mutation = strawberry.type(
    type("Mutation", (), {"__module__": __name__, **MUTATION_FIELDS}),
    description="Change trials, customer assignments, partner admins and order setups (SPEC §3.1).",
)
