"""A valid document's records flattened into the rows a load writes, each with its JSON path for conflicts."""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from db.collation import name_columns
from db.io.validate import CustomerDoc, LineDoc, PartnerDoc, SubscriptionDoc, TrialDoc


class AdminIn(NamedTuple):
    key: str
    email: str
    display_name: str
    role: str
    token: str | None
    path: str


class CustomerIn(NamedTuple):
    key: str
    name: str
    name_key: str
    sort_key: bytes
    search_key: str
    managed_by: str
    created_on: dt.date
    last_activity_on: dt.date | None
    admin_keys: tuple[str, ...]
    path: str


class PlanIn(NamedTuple):
    customer_index: int
    kind: str
    ext_id: str
    status: str
    starts_on: dt.date
    ends_on: dt.date
    auto_renew: bool
    started_by: str | None
    path: str


# (date, assigned, used, used90): the same order as the line's cur_* columns.
Snap = tuple[dt.date, int, int, int]


class LineIn(NamedTuple):
    plan_index: int
    product: str
    total: int
    latest: Snap | None
    snapshots: list[Snap]


class BillIn(NamedTuple):
    """An invoice or an order: the plan it belongs to and its column values."""

    plan_index: int
    number: str
    values: dict[str, Any]
    path: str


class PartnerIn:
    """One partner of a valid document, flattened into rows to write."""

    def __init__(self, doc: PartnerDoc, path: str) -> None:
        self.key = doc.id
        self.name = doc.name
        self.path = path
        self.admins = [
            AdminIn(a.id, a.email, a.displayName, a.role, a.token, f"{path}.admins[{i}]")
            for i, a in enumerate(doc.admins)
        ]
        self.customers: list[CustomerIn] = []
        self.plans: list[PlanIn] = []
        self.lines: list[LineIn] = []
        self.invoices: list[BillIn] = []
        self.orders: list[BillIn] = []
        for index, customer in enumerate(doc.customers):
            self.add_customer(index, customer, f"{path}.customers[{index}]")

    def add_customer(self, index: int, c: CustomerDoc, path: str) -> None:
        self.customers.append(
            CustomerIn(
                key=c.id,
                name=c.name,
                **name_columns(c.name),
                managed_by=c.managedBy,
                created_on=c.createdOn,
                last_activity_on=c.lastAdminActivityOn,
                admin_keys=tuple(c.admins),
                path=path,
            )
        )
        plans: list[tuple[str, str, SubscriptionDoc | TrialDoc]] = [
            *(("SUBSCRIPTION", f"{path}.subscriptions[{i}]", s) for i, s in enumerate(c.subscriptions)),
            *(("TRIAL", f"{path}.trials[{i}]", t) for i, t in enumerate(c.trials)),
        ]
        for kind, p_path, p in plans:
            plan_index = len(self.plans)
            if isinstance(p, SubscriptionDoc):
                ext_id, auto_renew, started_by = p.subscriptionId, p.autoRenew, None
            else:
                ext_id, auto_renew, started_by = p.trialId, False, p.startedBy
            self.plans.append(
                PlanIn(index, kind, ext_id, p.status, p.startsOn, p.endsOn, auto_renew, started_by, p_path)
            )
            self.lines.extend(self.line(plan_index, line) for line in p.lines)
            if not isinstance(p, SubscriptionDoc):
                continue
            for i, inv in enumerate(p.invoices):
                values: dict[str, Any] = {
                    "issued_on": inv.issuedOn,
                    "due_on": inv.dueOn,
                    "amount": inv.amount,
                    "currency": inv.currency,
                    "status": inv.status,
                }
                self.invoices.append(BillIn(plan_index, inv.number, values, f"{p_path}.invoices[{i}]"))
            for i, order in enumerate(p.orders):
                values = {
                    "placed_on": order.placedOn,
                    "action": order.action,
                    "product": order.product,
                    "quantity": order.quantity,
                }
                self.orders.append(BillIn(plan_index, order.number, values, f"{p_path}.orders[{i}]"))

    @staticmethod
    def line(plan_index: int, line: LineDoc) -> LineIn:
        snaps = [(s["date"], s["assigned"], s["used"], s["used90"]) for s in line.usage]
        latest = max(snaps, key=lambda s: s[0]) if snaps else None
        return LineIn(plan_index, line.product, line.total, latest, snaps)

    def plan_label(self, kind: str) -> str:
        return "subscriptionId" if kind == "SUBSCRIPTION" else "trialId"
