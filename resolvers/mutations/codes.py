"""The reasons a mutation is refused in ``userErrors``, declared once.

:class:`Code` is the business layer's name for them; the schema's
``UserErrorCode`` enum is generated from it (member name = GraphQL value,
member value = its description), so the two can never drift apart.
"""

from __future__ import annotations

import enum


class Code(enum.Enum):
    """A ``UserErrorCode``: the member's name is the GraphQL value, its value the description."""

    TRIAL_ALREADY_ACTIVE = "The customer already has a trial with status ACTIVE (at most one)."
    NAME_TAKEN = "The partner already has a customer with this name (compared case-insensitively)."
    INVALID_INPUT = "An input value is out of its documented range or malformed; `field` names it."
    NOT_FOUND = "No object with this ID exists that the caller may see."
    TRIAL_NOT_ACTIVE = "The trial's status is CONVERTED or CANCELLED; only ACTIVE trials change."
    TRIAL_TOO_LONG = "The extension would make endsOn − startsOn exceed 90 days."
    ALREADY_HAS_ACCESS = "The admin's role sees every customer; only SALES_FULL_ADMIN and SALES_ADMIN are (un)assigned."
    EMAIL_TAKEN = "A partner admin of the caller's partner already has this email."
    LAST_FULL_ADMIN = "The change would leave the partner without a PARTNER_FULL_ADMIN."
    TERMS_NOT_ACCEPTED = "`acceptTerms` must be true to complete the order setup."
    NOTHING_TO_SET_UP = "The customer has no subscription with status PENDING_SETUP."
    SUBSCRIPTION_ID_TAKEN = "The partner already has a subscription with this subscriptionId."


__all__ = ["Code"]
