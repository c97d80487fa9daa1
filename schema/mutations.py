"""The Mutation root (SPEC §3.1): inputs, payloads and thin resolvers.

Each resolver converts its input to plain values, calls the business logic in
:mod:`resolvers.mutations` (permissions, validation, the transaction, the
audit event) and builds the payload through the request's loaders, which the
mutation cleared, so follow-up fields show the new state.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

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


@strawberry.enum(
    description="Why a mutation was refused; the payload's other fields are then null and nothing changed."
)
class UserErrorCode(Enum):
    TRIAL_ALREADY_ACTIVE = strawberry.enum_value(
        "TRIAL_ALREADY_ACTIVE", description="The customer already has a trial with status ACTIVE (at most one)."
    )
    NAME_TAKEN = strawberry.enum_value(
        "NAME_TAKEN", description="The partner already has a customer with this name (compared case-insensitively)."
    )
    INVALID_INPUT = strawberry.enum_value(
        "INVALID_INPUT", description="An input value is out of its documented range or malformed; `field` names it."
    )
    NOT_FOUND = strawberry.enum_value("NOT_FOUND", description="No object with this ID exists that the caller may see.")
    TRIAL_NOT_ACTIVE = strawberry.enum_value(
        "TRIAL_NOT_ACTIVE", description="The trial's status is CONVERTED or CANCELLED; only ACTIVE trials change."
    )
    TRIAL_TOO_LONG = strawberry.enum_value(
        "TRIAL_TOO_LONG", description="The extension would make endsOn − startsOn exceed 90 days."
    )
    ALREADY_HAS_ACCESS = strawberry.enum_value(
        "ALREADY_HAS_ACCESS",
        description="The admin's role sees every customer; only SALES_FULL_ADMIN and SALES_ADMIN are (un)assigned.",
    )
    EMAIL_TAKEN = strawberry.enum_value("EMAIL_TAKEN", description="A partner admin with this email already exists.")
    LAST_FULL_ADMIN = strawberry.enum_value(
        "LAST_FULL_ADMIN", description="The change would leave the partner without a PARTNER_FULL_ADMIN."
    )
    TERMS_NOT_ACCEPTED = strawberry.enum_value(
        "TERMS_NOT_ACCEPTED", description="`acceptTerms` must be true to complete the order setup."
    )
    NOTHING_TO_SET_UP = strawberry.enum_value(
        "NOTHING_TO_SET_UP", description="The customer has no subscription with status PENDING_SETUP."
    )
    SUBSCRIPTION_ID_TAKEN = strawberry.enum_value(
        "SUBSCRIPTION_ID_TAKEN", description="The partner already has a subscription with this subscriptionId."
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
    code: UserErrorCode = strawberry.field(description="Machine-readable reason.")


def _user_errors(outcome: logic.Outcome) -> list[UserError]:
    return [
        UserError(field=list(e.field) if e.field is not None else None, message=e.message, code=UserErrorCode[e.code])
        for e in outcome.user_errors
    ]


async def _customer(ctx: Context, db_id: int | None) -> Customer | None:
    record = None if db_id is None else await ctx.loaders.customer_by_id.load(db_id)
    return None if record is None else Customer.from_record(record, ctx)


async def _plan(ctx: Context, db_id: int | None) -> Subscription | Trial | None:
    record = None if db_id is None else await ctx.loaders.plan_by_id.load(db_id)
    if record is None:
        return None
    return (Subscription if record.kind == "SUBSCRIPTION" else Trial).from_record(record, ctx)


async def _admin(ctx: Context, db_id: int | None) -> PartnerAdmin | None:
    record = None if db_id is None else await ctx.loaders.admin_by_id.load(db_id)
    return None if record is None else PartnerAdmin.from_record(record)


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
        description="Email address, stored trimmed and lower-cased; unique (else EMAIL_TAKEN)."
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


@strawberry.type(description="Result of `startTrial`.")
class StartTrialPayload:
    trial: Trial | None = strawberry.field(description="The new trial; null on error.")
    customer: Customer | None = strawberry.field(description="The trial's customer (new or existing); null on error.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="Result of a mutation changing a trial.")
class TrialPayload:
    trial: Trial | None = strawberry.field(description="The trial as changed; null on error.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="Result of `convertTrial`.")
class ConvertTrialPayload:
    trial: Trial | None = strawberry.field(description="The trial, now CONVERTED; null on error.")
    subscription: Subscription | None = strawberry.field(
        description="The new PENDING_SETUP subscription; null on error."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="Result of a mutation changing a customer.")
class CustomerPayload:
    customer: Customer | None = strawberry.field(
        description="The customer as changed; null on error, or when the caller no longer sees it (it unassigned itself)."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="Result of a mutation creating or changing a partner admin.")
class PartnerAdminPayload:
    partner_admin: PartnerAdmin | None = strawberry.field(description="The admin as changed; null on error.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="Result of `removePartnerAdmin`.")
class RemovePartnerAdminPayload:
    removed_admin_id: strawberry.ID | None = strawberry.field(
        description="Global ID of the removed admin; null on error."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


# ------------------------------------------------------------------- root


def _input(description: str):
    return strawberry.argument(description=description)


@strawberry.type(description="Change trials, customer assignments, partner admins and order setups (SPEC §3.1).")
class Mutation:
    @strawberry.mutation(
        description=(
            "Start a trial for an existing customer (`customerId`) or a new one (`newCustomer`): it starts today, "
            "ends today + days, with a licence line of `licenses` per product, and is started by the caller; "
            "its trialId is `Trial-<n>`. A sales admin creating a customer is assigned to it. "
            "Errors: TRIAL_ALREADY_ACTIVE, NAME_TAKEN, INVALID_INPUT, NOT_FOUND. "
            f"Concurrent calls for one customer make one trial. {ATOMIC} {WHO_TRIALS}"
        )
    )
    async def start_trial(
        self, info: InfoT, input: Annotated[StartTrialInput, _input("The trial to start.")]
    ) -> StartTrialPayload:
        ctx = info.context
        new = input.new_customer
        outcome = await logic.start_trial(
            ctx,
            customer_id=input.customer_id,
            new_customer=None if new is None else logic.NewCustomerArgs(name=new.name, managed_by=new.managed_by.value),
            products=[p.value for p in input.products],
            licenses=input.licenses,
            days=input.days,
        )
        return StartTrialPayload(
            trial=await _plan(ctx, outcome.trial_id),
            customer=await _customer(ctx, outcome.customer_id),
            user_errors=_user_errors(outcome),
        )

    @strawberry.mutation(
        description=(
            "Move an ACTIVE trial's endsOn `days` later; endsOn − startsOn may not exceed 90 days. "
            f"Errors: TRIAL_NOT_ACTIVE, TRIAL_TOO_LONG, INVALID_INPUT, NOT_FOUND. {ATOMIC} {WHO_TRIALS}"
        )
    )
    async def extend_trial(
        self, info: InfoT, input: Annotated[ExtendTrialInput, _input("The trial and the days to add.")]
    ) -> TrialPayload:
        outcome = await logic.extend_trial(info.context, trial_id=input.trial_id, days=input.days)
        return TrialPayload(trial=await _plan(info.context, outcome.trial_id), user_errors=_user_errors(outcome))

    @strawberry.mutation(
        description=(
            "Cancel an ACTIVE trial (status CANCELLED). "
            f"Errors: TRIAL_NOT_ACTIVE, INVALID_INPUT, NOT_FOUND. {ATOMIC} {WHO_TRIALS}"
        )
    )
    async def cancel_trial(
        self, info: InfoT, input: Annotated[CancelTrialInput, _input("The trial to cancel.")]
    ) -> TrialPayload:
        outcome = await logic.cancel_trial(info.context, trial_id=input.trial_id)
        return TrialPayload(trial=await _plan(info.context, outcome.trial_id), user_errors=_user_errors(outcome))

    @strawberry.mutation(
        description=(
            "Convert an ACTIVE trial: it becomes CONVERTED, and a PENDING_SETUP subscription starts today with the "
            "trial's licence totals and ends `termMonths` calendar months later (same day of the month, or that "
            "month's last day when shorter, e.g. Jan 31 + 1 month = Feb 28/29). "
            f"Errors: TRIAL_NOT_ACTIVE, SUBSCRIPTION_ID_TAKEN, INVALID_INPUT, NOT_FOUND. {ATOMIC} {WHO_TRIALS}"
        )
    )
    async def convert_trial(
        self, info: InfoT, input: Annotated[ConvertTrialInput, _input("The trial and the subscription's terms.")]
    ) -> ConvertTrialPayload:
        ctx = info.context
        outcome = await logic.convert_trial(
            ctx,
            trial_id=input.trial_id,
            subscription_id=input.subscription_id,
            term_months=input.term_months,
            auto_renew=input.auto_renew,
        )
        return ConvertTrialPayload(
            trial=await _plan(ctx, outcome.trial_id),
            subscription=await _plan(ctx, outcome.subscription_id),
            user_errors=_user_errors(outcome),
        )

    @strawberry.mutation(
        description=(
            "Assign sales admins (SALES_FULL_ADMIN, SALES_ADMIN) to a customer; already assigned ones stay "
            "(idempotent). Partner-wide admins see every customer and are refused with ALREADY_HAS_ACCESS. "
            f"Errors: ALREADY_HAS_ACCESS, INVALID_INPUT, NOT_FOUND. {ATOMIC} {WHO_ASSIGN}"
        )
    )
    async def assign_customer_admins(
        self, info: InfoT, input: Annotated[CustomerAdminsInput, _input("The customer and the admins to assign.")]
    ) -> CustomerPayload:
        outcome = await logic.assign_customer_admins(
            info.context, customer_id=input.customer_id, admin_ids=input.admin_ids
        )
        return CustomerPayload(
            customer=await _customer(info.context, outcome.customer_id), user_errors=_user_errors(outcome)
        )

    @strawberry.mutation(
        description=(
            "Unassign sales admins from a customer; admins not assigned are ignored (idempotent). "
            f"Errors: ALREADY_HAS_ACCESS, INVALID_INPUT, NOT_FOUND. {ATOMIC} {WHO_ASSIGN}"
        )
    )
    async def unassign_customer_admins(
        self, info: InfoT, input: Annotated[CustomerAdminsInput, _input("The customer and the admins to unassign.")]
    ) -> CustomerPayload:
        outcome = await logic.unassign_customer_admins(
            info.context, customer_id=input.customer_id, admin_ids=input.admin_ids
        )
        return CustomerPayload(
            customer=await _customer(info.context, outcome.customer_id), user_errors=_user_errors(outcome)
        )

    @strawberry.mutation(
        description=(
            f"Create a partner admin of the caller's partner. Errors: EMAIL_TAKEN, INVALID_INPUT. {ATOMIC} {WHO_ADMINS}"
        )
    )
    async def create_partner_admin(
        self, info: InfoT, input: Annotated[CreatePartnerAdminInput, _input("The new admin.")]
    ) -> PartnerAdminPayload:
        outcome = await logic.create_partner_admin(
            info.context, email=input.email, display_name=input.display_name, role=input.role.value
        )
        return PartnerAdminPayload(
            partner_admin=await _admin(info.context, outcome.admin_id), user_errors=_user_errors(outcome)
        )

    @strawberry.mutation(
        description=(
            "Change a partner admin's role. The partner always keeps at least one PARTNER_FULL_ADMIN "
            "(LAST_FULL_ADMIN), also under concurrent changes. A partner-wide role removes the admin's customer "
            f"assignments. Errors: LAST_FULL_ADMIN, INVALID_INPUT, NOT_FOUND. {ATOMIC} {WHO_ADMINS}"
        )
    )
    async def set_partner_admin_role(
        self, info: InfoT, input: Annotated[SetPartnerAdminRoleInput, _input("The admin and its new role.")]
    ) -> PartnerAdminPayload:
        outcome = await logic.set_partner_admin_role(info.context, admin_id=input.admin_id, role=input.role.value)
        return PartnerAdminPayload(
            partner_admin=await _admin(info.context, outcome.admin_id), user_errors=_user_errors(outcome)
        )

    @strawberry.mutation(
        description=(
            "Remove a partner admin: its customer assignments go and its API tokens stop working at once; trials it "
            "started keep no startedBy; audit events keep its email. The partner always keeps at least one "
            f"PARTNER_FULL_ADMIN. Errors: LAST_FULL_ADMIN, INVALID_INPUT, NOT_FOUND. {ATOMIC} {WHO_ADMINS}"
        )
    )
    async def remove_partner_admin(
        self, info: InfoT, input: Annotated[RemovePartnerAdminInput, _input("The admin to remove.")]
    ) -> RemovePartnerAdminPayload:
        outcome = await logic.remove_partner_admin(info.context, admin_id=input.admin_id)
        removed = None if outcome.removed_admin_id is None else strawberry.ID(outcome.removed_admin_id)
        return RemovePartnerAdminPayload(removed_admin_id=removed, user_errors=_user_errors(outcome))

    @strawberry.mutation(
        description=(
            "Complete a customer's first-time order setup: with `acceptTerms: true`, every PENDING_SETUP subscription "
            "of the customer becomes ACTIVE. "
            f"Errors: TERMS_NOT_ACCEPTED, NOTHING_TO_SET_UP, INVALID_INPUT, NOT_FOUND. {ATOMIC} {WHO_SETUP}"
        )
    )
    async def complete_order_setup(
        self, info: InfoT, input: Annotated[CompleteOrderSetupInput, _input("The customer and the terms acceptance.")]
    ) -> CustomerPayload:
        outcome = await logic.complete_order_setup(
            info.context, customer_id=input.customer_id, accept_terms=input.accept_terms
        )
        return CustomerPayload(
            customer=await _customer(info.context, outcome.customer_id), user_errors=_user_errors(outcome)
        )
