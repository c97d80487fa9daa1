"""What an analytics section is: a :class:`SectionDeclaration` of conditions, columns, order and KPIs.

A section's row query, KPI statement, pages and summary flag are all built
from its declaration by :mod:`resolvers.analytics.build`, and its GraphQL
types by ``schema/analytics.py``; a new section is one declaration in
:mod:`resolvers.analytics.sections` (plus its tests).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from resolvers.analytics.lines import Frame


@dataclass(frozen=True, eq=False)
class Column:
    """One column of a section's rows.

    Attributes:
        name: Its name in the row records (snake case).
        type: The Python type of its value (``int | None`` when it may be NULL).
        description: What it means (the GraphQL field's description).
        value: Its SQL expression over a :func:`~resolvers.analytics.lines.live_lines`
            subquery and the section's frame; None for the common columns.
        graphql_name: The GraphQL field name when it is not the camel case of ``name``.
        sort_key: The record column that orders it, when not the column itself.
    """

    name: str
    type: Any
    description: str
    value: Callable[[Any, Frame], Any] | None = None
    graphql_name: str | None = None
    sort_key: str | None = None

    @property
    def field_name(self) -> str:
        """The GraphQL field name."""
        head, *rest = self.name.split("_")
        return self.graphql_name or head + "".join(part.capitalize() for part in rest)

    @property
    def order_name(self) -> str:
        """Its value in ``<Section>RowOrderField``: the field name in upper snake case (as the dashboard spells it)."""
        return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", self.field_name).upper()

    @property
    def nullable(self) -> bool:
        """Whether the value may be NULL."""
        return isinstance(self.type, types.UnionType) and type(None) in typing.get_args(self.type)


@dataclass(frozen=True, eq=False)
class Kpi:
    """One KPI of a section, computed from the section's aggregate row.

    The aggregate row (``build.aggregate_statement``) has ``customers``
    (distinct), ``row_count`` and the sums ``total``, ``assigned``, ``used``,
    ``available``, ``overage`` of the rows, plus the section's ``aggregates``.
    """

    name: str
    type: Any
    description: str
    value: Callable[[Any], Any]


@dataclass(frozen=True, eq=False)
class SectionDeclaration:
    """One analytics section (SPEC §2.2).

    Attributes:
        name: Its field on ``Analytics`` (``recentlyAdded``).
        type_name: The prefix of its GraphQL types (``RecentlyAdded`` →
            ``RecentlyAddedSection``, ``RecentlyAddedRow``, ``RecentlyAddedRowOrder``).
        description: Of the section type.
        field_description: Of the ``Analytics`` field.
        row_description: Of the row type.
        columns: The row columns beyond the common ones, in field order.
        kpis: The section's KPI fields, in field order.
        order: The default order, ``(column name, descending)``; ties by
            customer name, subscriptionId and plan key, ascending.
        where: Conditions on the plan and line tables, ``where(plan, line, frame)``;
            also applied to scanned lines for the summary flag.
        having: A condition on the live-lines subquery, ``having(base, frame)``.
        windowed: Whether the section takes a ``days`` window.
        weekly: Whether its columns need the values of seven days earlier.
        summary: The ``KpiSummary`` field that counts its customers (default
            window), if any.
        aggregates: Extra labelled aggregate columns, ``aggregates(frame)``.
    """

    name: str
    type_name: str
    description: str
    field_description: str
    row_description: str
    columns: tuple[Column, ...]
    kpis: tuple[Kpi, ...]
    order: tuple[str, bool]
    where: Callable[[Any, Any, Frame], Sequence[Any]] | None = None
    having: Callable[[Any, Frame], Any] | None = None
    windowed: bool = False
    weekly: bool = False
    summary: str | None = None
    aggregates: Callable[[Frame], Sequence[Any]] | None = None

    @property
    def alias(self) -> str:
        """The SQL alias prefix of its subqueries (snake case of ``name``)."""
        return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", self.name).lower()

    @property
    def all_columns(self) -> tuple[Column, ...]:
        """The common columns, then the section's own."""
        return (*COMMON, *self.columns)

    def column(self, name: str) -> Column:
        """The column called ``name`` (record name)."""
        return next(c for c in self.all_columns if c.name == name)


# The columns every row has (the GraphQL interface ``AnalyticsRow`` declares
# their fields; ``customer_name`` is reached through ``customer``).
COMMON = (
    Column(
        "customer_name",
        str,
        "The customer's name (Unicode collation order, as the customer list).",
        sort_key="name_key",
    ),
    Column("plan_type", str, "Whether the plan is a subscription or a trial."),
    Column("subscription_id", str, "The subscription's subscriptionId, or the trial's trialId for a trial."),
    Column("total_licenses", int, "Licences bought on the line."),
    Column("assigned", int, "Licences assigned: latest snapshot on or before the day, 0 without one."),
    Column("used", int, "Assigned licences used in the 7 days ending on the snapshot's day."),
    Column("available", int, "max(totalLicenses − assigned, 0)."),
)
