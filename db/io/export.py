"""Export of the whole database as an import document (SPEC §5), and its canonical JSON."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.io.fields import CENT
from db.io.validate import (
    RECORDS,
    AdminDoc,
    CustomerDoc,
    Document,
    InvoiceDoc,
    LineDoc,
    OrderDoc,
    PartnerDoc,
    SubscriptionDoc,
    TrialDoc,
    UsageDoc,
    keys_of,
)
from db.models import PRODUCTS, fold
from db.tables import ADMIN, ASSIGNMENT, CUSTOMER, INVOICE, LINE, ORDER, PARTNER, PLAN_COLUMNS, SNAPSHOT

_PRODUCT_RANK = {product: rank for rank, product in enumerate(PRODUCTS)}
# Key order of each record: the models' field order, i.e. the SPEC's.
_KEYS = {model: keys_of(model) for model in RECORDS}


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


async def export_document(session: AsyncSession) -> dict[str, Any]:
    """The whole database as an import document (SPEC §5), without tokens.

    Lists come in a fixed order (partners by id; admins by email; customers
    by name case-insensitively, then id; plans by subscriptionId/trialId;
    lines in Product order; usage by date; invoices and orders by number), so
    identical data gives an identical document.

    Args:
        session: The session to read with.

    Returns:
        The document; ``load_document`` of it into an empty database
        reproduces the same document.
    """
    conn = await session.connection()

    async def rows(query: Select[Any]) -> list[Row[Any]]:
        return list((await conn.execute(query)).all())

    partners = await rows(select(PARTNER.c.id, PARTNER.c.key, PARTNER.c.name))
    admins = await rows(
        select(ADMIN.c.id, ADMIN.c.partner_id, ADMIN.c.key, ADMIN.c.email, ADMIN.c.display_name, ADMIN.c.role)
    )
    customers = await rows(
        select(
            CUSTOMER.c.id,
            CUSTOMER.c.partner_id,
            CUSTOMER.c.key,
            CUSTOMER.c.name,
            CUSTOMER.c.managed_by,
            CUSTOMER.c.created_on,
            CUSTOMER.c.last_admin_activity_on,
        )
    )
    assignments = await rows(select(ASSIGNMENT.c.customer_id, ASSIGNMENT.c.admin_id))
    plans = await rows(select(*PLAN_COLUMNS))
    lines = await rows(select(LINE.c.id, LINE.c.plan_id, LINE.c.product, LINE.c.total))
    # The primary key (line_id, date) serves this order on both databases.
    snapshots = await rows(
        select(SNAPSHOT.c.line_id, SNAPSHOT.c.date, SNAPSHOT.c.assigned, SNAPSHOT.c.used, SNAPSHOT.c.used90).order_by(
            SNAPSHOT.c.line_id, SNAPSHOT.c.date
        )
    )
    invoices = await rows(
        select(
            INVOICE.c.plan_id,
            INVOICE.c.number,
            INVOICE.c.issued_on,
            INVOICE.c.due_on,
            INVOICE.c.amount,
            INVOICE.c.currency,
            INVOICE.c.status,
        )
    )
    orders = await rows(
        select(ORDER.c.plan_id, ORDER.c.number, ORDER.c.placed_on, ORDER.c.action, ORDER.c.product, ORDER.c.quantity)
    )

    usage_by_line: dict[int, list[dict[str, Any]]] = defaultdict(list)
    # Millions of snapshots share a few hundred dates: format each once.
    iso: dict[dt.date, str] = {}
    for s in snapshots:
        day = iso.get(s.date)
        if day is None:
            day = iso[s.date] = s.date.isoformat()
        usage_by_line[s.line_id].append({"date": day, "assigned": s.assigned, "used": s.used, "used90": s.used90})
    lines_by_plan: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for line in lines:
        lines_by_plan[line.plan_id].append(
            (
                _PRODUCT_RANK[line.product],
                {"product": line.product, "total": line.total, "usage": usage_by_line.pop(line.id, [])},
            )
        )
    invoices_by_plan: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for inv in invoices:
        invoices_by_plan[inv.plan_id].append(
            {
                "number": inv.number,
                "issuedOn": inv.issued_on.isoformat(),
                "dueOn": inv.due_on.isoformat(),
                "amount": f"{Decimal(inv.amount).quantize(CENT):.2f}",
                "currency": inv.currency,
                "status": inv.status,
            }
        )
    orders_by_plan: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for order in orders:
        orders_by_plan[order.plan_id].append(
            {
                "number": order.number,
                "placedOn": order.placed_on.isoformat(),
                "action": order.action,
                "product": order.product,
                "quantity": order.quantity,
            }
        )

    admin_key = {a.id: a.key for a in admins}
    subs_by_customer: dict[int, list[dict[str, Any]]] = defaultdict(list)
    trials_by_customer: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for plan in plans:
        plan_lines = [item for _, item in sorted(lines_by_plan.get(plan.id, []), key=lambda pair: pair[0])]
        if plan.kind == "SUBSCRIPTION":
            subs_by_customer[plan.customer_id].append(
                {
                    "subscriptionId": plan.ext_id,
                    "status": plan.status,
                    "startsOn": plan.starts_on.isoformat(),
                    "endsOn": plan.ends_on.isoformat(),
                    "autoRenew": bool(plan.auto_renew),
                    "lines": plan_lines,
                    "invoices": sorted(invoices_by_plan.get(plan.id, []), key=lambda i: i["number"]),
                    "orders": sorted(orders_by_plan.get(plan.id, []), key=lambda o: o["number"]),
                }
            )
        else:
            trial: dict[str, Any] = {
                "trialId": plan.ext_id,
                "status": plan.status,
                "startsOn": plan.starts_on.isoformat(),
                "endsOn": plan.ends_on.isoformat(),
            }
            if plan.started_by_id is not None and plan.started_by_id in admin_key:
                trial["startedBy"] = admin_key[plan.started_by_id]
            trial["lines"] = plan_lines
            trials_by_customer[plan.customer_id].append(trial)

    assigned: dict[int, list[str]] = defaultdict(list)
    for a in assignments:
        if a.admin_id in admin_key:
            assigned[a.customer_id].append(admin_key[a.admin_id])
    customers_by_partner: dict[int, list[tuple[tuple[str, str], dict[str, Any]]]] = defaultdict(list)
    for c in customers:
        customers_by_partner[c.partner_id].append(
            (
                (fold(c.name), c.key),
                {
                    "id": c.key,
                    "name": c.name,
                    "managedBy": c.managed_by,
                    "createdOn": c.created_on.isoformat(),
                    "lastAdminActivityOn": _iso(c.last_admin_activity_on),
                    "admins": sorted(assigned.get(c.id, [])),
                    "subscriptions": sorted(subs_by_customer.get(c.id, []), key=lambda s: s["subscriptionId"]),
                    "trials": sorted(trials_by_customer.get(c.id, []), key=lambda t: t["trialId"]),
                },
            )
        )
    admins_by_partner: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in admins:
        admins_by_partner[a.partner_id].append(
            {"id": a.key, "email": a.email, "displayName": a.display_name, "role": a.role}
        )
    return {
        "partners": [
            {
                "id": p.key,
                "name": p.name,
                "admins": sorted(admins_by_partner.get(p.id, []), key=lambda a: (a["email"], a["id"])),
                "customers": [item for _, item in sorted(customers_by_partner.get(p.id, []), key=lambda pair: pair[0])],
            }
            for p in sorted(partners, key=lambda p: p.key)
        ]
    }


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _ordered(obj: object, known: tuple[str, ...], children: dict[str, Any]) -> object:
    """A copy of ``obj`` with keys in ``known`` order (unknown keys last, sorted)."""
    if not isinstance(obj, dict):
        return obj
    out: dict[str, Any] = {}
    for key in known:
        if key in obj:
            out[key] = children[key](obj[key]) if key in children else obj[key]
    for key in sorted(k for k in obj if k not in known):
        out[key] = obj[key]
    return out


def _sorted_list(value: object, item: Any, sort_key: Any) -> object:
    if not isinstance(value, list):
        return value
    items = [item(v) for v in value]
    return sorted(items, key=lambda v: sort_key(v) if isinstance(v, dict) else ("\uffff", _text(v)))


def _get(obj: dict[str, Any], key: str) -> str:
    return _text(obj.get(key, ""))


_USAGE_ORDER = keys_of(UsageDoc)


def _usage(value: object) -> object:
    """Canonical usage list; the common, already canonical shape is cheap.

    Snapshots are most of a document, so well-formed ones (keys in order,
    text dates) are kept as they are and only sorted by date.
    """
    if isinstance(value, list) and all(
        type(s) is dict and tuple(s) == _USAGE_ORDER and type(s["date"]) is str for s in value
    ):
        return sorted(value, key=lambda s: s["date"])
    return _sorted_list(value, lambda s: _ordered(s, _KEYS[UsageDoc], {}), lambda s: ("", _get(s, "date")))


def _record(model: type[BaseModel]) -> Callable[[object], object]:
    def canonical(value: object) -> object:
        return _ordered(value, _KEYS[model], _LISTS.get(model, {}))

    return canonical


def _list_of(model: type[BaseModel] | None, sort_key: Callable[[dict[str, Any]], Any]) -> Callable[[object], object]:
    """Canonical form of a list of ``model`` records (of plain values when None), sorted by ``sort_key``."""
    item = _record(model) if model is not None else (lambda value: value)
    return lambda value: _sorted_list(value, item, sort_key)


def _number(bill: dict[str, Any]) -> tuple[str, str]:
    return ("", _get(bill, "number"))


def _product(line: dict[str, Any]) -> tuple[str, str]:
    return (str(_PRODUCT_RANK.get(str(line.get("product")), len(PRODUCTS))), _get(line, "product"))


# The lists of each record and the order a canonical file gives them: the
# order export_document produces.
_LISTS: dict[type[BaseModel], dict[str, Callable[[object], object]]] = {
    Document: {"partners": _list_of(PartnerDoc, lambda p: ("", _get(p, "id")))},
    PartnerDoc: {
        "admins": _list_of(AdminDoc, lambda a: (_get(a, "email").lower(), _get(a, "id"))),
        "customers": _list_of(CustomerDoc, lambda c: (fold(_get(c, "name")), _get(c, "id"))),
    },
    CustomerDoc: {
        "admins": _list_of(None, lambda a: ("", "")),
        "subscriptions": _list_of(SubscriptionDoc, lambda s: ("", _get(s, "subscriptionId"))),
        "trials": _list_of(TrialDoc, lambda t: ("", _get(t, "trialId"))),
    },
    SubscriptionDoc: {
        "lines": _list_of(LineDoc, _product),
        "invoices": _list_of(InvoiceDoc, _number),
        "orders": _list_of(OrderDoc, _number),
    },
    TrialDoc: {"lines": _list_of(LineDoc, _product)},
    LineDoc: {"usage": _usage},
}


def dump_json(doc: dict[str, Any]) -> bytes:
    """Serialise a document deterministically.

    Lists are sorted as :func:`export_document` orders them and object keys
    follow the SPEC's field order, so identical data gives identical bytes
    whatever order a file or the database produced it in.

    Args:
        doc: An import/export document.

    Returns:
        UTF-8 JSON, indented by 2 spaces, ending with a newline.
    """
    return orjson.dumps(_record(Document)(doc), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
