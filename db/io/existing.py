"""What a partner's records already are in the database: read, checked against the file, then brought up to date.

Only the difference is written, so reloading an unchanged file touches
almost nothing; conflicts (a name, plan or number that belongs to another
record) are found before any write and reported with the file's path.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Row, bindparam, delete, select

from db.io.bulk import SNAPSHOT_COLUMNS, Bulk
from db.io.fields import quote
from db.io.rows import BillIn, LineIn, PartnerIn
from db.models import PLAN_KINDS
from db.tables import ASSIGNMENT, CUSTOMER, INVOICE, LINE, ORDER, PLAN, SNAPSHOT


class Existing:
    """The rows of one partner that the file's ids already name."""

    def __init__(self) -> None:
        self.customers: dict[str, Row[Any]] = {}
        self.plans: dict[tuple[str, str], Row[Any]] = {}
        self.lines: dict[tuple[int, str], Row[Any]] = {}
        self.invoices: dict[str, Row[Any]] = {}
        self.orders: dict[str, Row[Any]] = {}
        self.assignments: dict[int, set[int]] = defaultdict(set)

    async def read(self, bulk: Bulk, problems: list[str], partner: PartnerIn, partner_id: int) -> None:
        """Fetch the rows ``partner``'s records name; add each conflict with them to ``problems``."""
        c_query = select(
            CUSTOMER.c.id,
            CUSTOMER.c.key,
            CUSTOMER.c.name,
            CUSTOMER.c.name_key,
            CUSTOMER.c.sort_key,
            CUSTOMER.c.search_key,
            CUSTOMER.c.managed_by,
            CUSTOMER.c.created_on,
            CUSTOMER.c.last_admin_activity_on,
        ).where(CUSTOMER.c.partner_id == partner_id)
        for row in await bulk.fetch_in(c_query, CUSTOMER.c.key, [c.key for c in partner.customers]):
            self.customers[row.key] = row
        by_name = {
            row.name_key: row
            for row in await bulk.fetch_in(c_query, CUSTOMER.c.name_key, [c.name_key for c in partner.customers])
        }
        file_name = {c.key: c.name_key for c in partner.customers}
        for customer in partner.customers:
            holder = by_name.get(customer.name_key)
            if holder is not None and holder.key != customer.key and holder.key not in file_name:
                problems.append(
                    f"{customer.path}.name: {quote(customer.name)} is already used by customer {quote(holder.key)}"
                )

        p_query = (
            select(
                PLAN.c.id,
                PLAN.c.kind,
                PLAN.c.ext_id,
                PLAN.c.customer_id,
                PLAN.c.status,
                PLAN.c.starts_on,
                PLAN.c.ends_on,
                PLAN.c.auto_renew,
                PLAN.c.started_by_id,
                CUSTOMER.c.key.label("customer_key"),
            )
            .join(CUSTOMER, CUSTOMER.c.id == PLAN.c.customer_id)
            .where(PLAN.c.partner_id == partner_id)
        )
        # One lookup per kind, so that (partner_id, kind, ext_id) is an index prefix.
        for kind in PLAN_KINDS:
            kind_query = p_query.where(PLAN.c.kind == kind)
            ext_ids = [p.ext_id for p in partner.plans if p.kind == kind]
            for row in await bulk.fetch_in(kind_query, PLAN.c.ext_id, ext_ids):
                self.plans[(row.kind, row.ext_id)] = row
        # A plan never changes customer: moving one is almost always a typo'd id.
        for plan in partner.plans:
            stored = self.plans.get((plan.kind, plan.ext_id))
            owner = partner.customers[plan.customer_index].key
            if stored is not None and stored.customer_key != owner:
                problems.append(
                    f"{plan.path}.{partner.plan_label(plan.kind)}: {quote(plan.ext_id)} already belongs to"
                    f" customer {quote(stored.customer_key)}"
                )

        # The one-ACTIVE-trial rule also counts trials the file does not mention.
        known_ids = [self.customers[c.key].id for c in partner.customers if c.key in self.customers]
        active_query = select(PLAN.c.customer_id, PLAN.c.ext_id).where(
            PLAN.c.partner_id == partner_id, PLAN.c.kind == "TRIAL", PLAN.c.status == "ACTIVE"
        )
        db_active: dict[int, list[str]] = defaultdict(list)
        for row in await bulk.fetch_in(active_query, PLAN.c.customer_id, known_ids):
            db_active[row.customer_id].append(row.ext_id)
        file_trials: dict[int, set[str]] = defaultdict(set)
        for plan in partner.plans:
            if plan.kind == "TRIAL":
                file_trials[plan.customer_index].add(plan.ext_id)
        for plan in partner.plans:
            if plan.kind == "TRIAL" and plan.status == "ACTIVE":
                stored_customer = self.customers.get(partner.customers[plan.customer_index].key)
                if stored_customer is None:
                    continue
                others = sorted(
                    t for t in db_active.get(stored_customer.id, []) if t not in file_trials[plan.customer_index]
                )
                if others:
                    problems.append(f"{plan.path}.status: the customer already has the ACTIVE trial {quote(others[0])}")

        plan_ids = [row.id for row in self.plans.values()]
        l_query = select(
            LINE.c.id,
            LINE.c.plan_id,
            LINE.c.product,
            LINE.c.total,
            LINE.c.cur_date,
            LINE.c.cur_assigned,
            LINE.c.cur_used,
            LINE.c.cur_used90,
        )
        for row in await bulk.fetch_in(l_query, LINE.c.plan_id, plan_ids):
            self.lines[(row.plan_id, row.product)] = row

        for table, items, store, what in (
            (INVOICE, partner.invoices, self.invoices, "invoice"),
            (ORDER, partner.orders, self.orders, "order"),
        ):
            columns = [c for c in table.c if c.name not in ("partner_id", "number", "id", "plan_id")]
            b_query = select(table.c.id, table.c.number, table.c.plan_id, *columns).where(
                table.c.partner_id == partner_id
            )
            for row in await bulk.fetch_in(b_query, table.c.number, [b.number for b in items]):
                store[row.number] = row
            clashes: list[tuple[BillIn, int]] = []
            for bill in items:
                stored = store.get(bill.number)
                if stored is None:
                    continue
                plan = partner.plans[bill.plan_index]
                mine = self.plans.get((plan.kind, plan.ext_id))
                if mine is None or mine.id != stored.plan_id:
                    clashes.append((bill, stored.plan_id))
            if clashes:
                owners = {
                    row.id: row.ext_id
                    for row in await bulk.fetch_in(
                        select(PLAN.c.id, PLAN.c.ext_id), PLAN.c.id, [plan_id for _, plan_id in clashes]
                    )
                }
                problems.extend(
                    f"{bill.path}.number: {what} {quote(bill.number)} already belongs to"
                    f" subscription {quote(owners[plan_id])}"
                    for bill, plan_id in clashes
                )

        for row in await bulk.fetch_in(
            select(ASSIGNMENT.c.customer_id, ASSIGNMENT.c.admin_id), ASSIGNMENT.c.customer_id, known_ids
        ):
            self.assignments[row.customer_id].add(row.admin_id)

    async def write_customers(
        self, bulk: Bulk, partner: PartnerIn, partner_id: int, admin_ids: dict[str, int]
    ) -> list[int]:
        columns = ("name", "name_key", "sort_key", "search_key", "managed_by", "created_on", "last_admin_activity_on")
        new: list[tuple[Any, ...]] = []
        new_keys: list[str] = []
        changed: list[dict[str, Any]] = []
        renamed: list[dict[str, Any]] = []
        for c in partner.customers:
            values = (c.name, c.name_key, c.sort_key, c.search_key, c.managed_by, c.created_on, c.last_activity_on)
            row = self.customers.get(c.key)
            if row is None:
                new.append((partner_id, c.key, *values))
                new_keys.append(c.key)
                continue
            if tuple(getattr(row, column) for column in columns) != values:
                changed.append({"_id": row.id, **{f"_{k}": v for k, v in zip(columns, values, strict=True)}})
                if row.name_key != c.name_key:
                    # Park the old name so that renames that swap names pass
                    # the per-partner unique index row by row.
                    renamed.append({"_id": row.id, "_name_key": f"\uffff{row.id}"})
        await bulk.update_many(CUSTOMER, ["name_key"], renamed)
        await bulk.update_many(CUSTOMER, columns, changed)
        ids = {key: row.id for key, row in self.customers.items()}
        new_ids = await bulk.insert_returning_ids(CUSTOMER, ("partner_id", "key", *columns), new, ("key",))
        ids.update(zip(new_keys, new_ids, strict=True))
        customer_ids = [ids[c.key] for c in partner.customers]

        # Assignments become exactly the listed admins: only the difference
        # is written, so reloading an unchanged file touches nothing.
        removed: list[dict[str, Any]] = []
        added: list[tuple[int, int]] = []
        for c, customer_id in zip(partner.customers, customer_ids, strict=True):
            wanted = [admin_ids[key] for key in c.admin_keys]
            have = self.assignments.get(customer_id, set())
            removed.extend({"c": customer_id, "a": a} for a in sorted(have.difference(wanted)))
            added.extend((customer_id, a) for a in wanted if a not in have)
        if removed:
            await bulk.conn.execute(
                delete(ASSIGNMENT).where(
                    ASSIGNMENT.c.customer_id == bindparam("c"), ASSIGNMENT.c.admin_id == bindparam("a")
                ),
                removed,
            )
        await bulk.insert(ASSIGNMENT, ("customer_id", "admin_id"), added)
        return customer_ids

    async def write_plans(
        self,
        bulk: Bulk,
        partner: PartnerIn,
        partner_id: int,
        customer_ids: list[int],
        admin_ids: dict[str, int],
    ) -> list[int]:
        columns = ("status", "starts_on", "ends_on", "auto_renew", "started_by_id")
        new: list[tuple[Any, ...]] = []
        new_index: list[int] = []
        changed: list[tuple[bool, dict[str, Any]]] = []
        ids: list[int] = [0] * len(partner.plans)
        for index, plan in enumerate(partner.plans):
            started_by = admin_ids[plan.started_by] if plan.started_by is not None else None
            values = (plan.status, plan.starts_on, plan.ends_on, plan.auto_renew, started_by)
            row = self.plans.get((plan.kind, plan.ext_id))
            if row is None:
                new.append((partner_id, customer_ids[plan.customer_index], plan.kind, plan.ext_id, *values))
                new_index.append(index)
                continue
            ids[index] = row.id
            if (row.status, row.starts_on, row.ends_on, row.auto_renew, row.started_by_id) != values:
                changed.append(
                    (
                        plan.status == "ACTIVE",
                        {"_id": row.id, **{f"_{k}": v for k, v in zip(columns, values, strict=True)}},
                    )
                )
        # Trials leaving ACTIVE go first and new plans last, so the partial
        # unique index (one ACTIVE trial per customer) holds after each row.
        changed.sort(key=lambda item: item[0])
        await bulk.update_many(PLAN, columns, [values for _, values in changed])
        new_ids = await bulk.insert_returning_ids(
            PLAN, ("partner_id", "customer_id", "kind", "ext_id", *columns), new, ("kind", "ext_id")
        )
        for index, plan_id in zip(new_index, new_ids, strict=True):
            ids[index] = plan_id
        return ids

    async def write_lines(self, bulk: Bulk, partner: PartnerIn, plan_ids: list[int]) -> None:
        cur = ("cur_date", "cur_assigned", "cur_used", "cur_used90")
        new: list[tuple[Any, ...]] = []
        new_lines: list[LineIn] = []
        changed: list[dict[str, Any]] = []
        kept: list[tuple[int, LineIn]] = []
        for line in partner.lines:
            plan_id = plan_ids[line.plan_index]
            row = self.lines.get((plan_id, line.product))
            if row is None:
                new.append((plan_id, line.product, line.total, *(line.latest or (None, 0, 0, 0))))
                new_lines.append(line)
                continue
            # cur_* mirror the latest snapshot. The stored ones are the latest
            # of the rows already there; a file snapshot on or after that date
            # replaces them (same date: the file's values win).
            stored = (row.cur_date, row.cur_assigned, row.cur_used, row.cur_used90)
            latest = stored
            if line.latest is not None and (row.cur_date is None or line.latest[0] >= row.cur_date):
                latest = line.latest
            if row.total != line.total or latest != stored:
                changed.append(
                    {"_id": row.id, "_total": line.total, **{f"_{k}": v for k, v in zip(cur, latest, strict=True)}}
                )
            if line.snapshots:
                kept.append((row.id, line))
        await bulk.update_many(LINE, ["total", *cur], changed)
        new_ids = await bulk.insert_returning_ids(
            LINE, ("plan_id", "product", "total", *cur), new, ("plan_id", "product")
        )
        fresh: list[tuple[Any, ...]] = []
        for line_id, line in zip(new_ids, new_lines, strict=True):
            fresh.extend((line_id, *s) for s in line.snapshots)
        await bulk.insert(SNAPSHOT, SNAPSHOT_COLUMNS, fresh)
        await bulk.upsert_snapshots([(line_id, *s) for line_id, line in kept for s in line.snapshots])

    async def write_bills(self, bulk: Bulk, partner: PartnerIn, partner_id: int, plan_ids: list[int]) -> None:
        for table, items, store in ((INVOICE, partner.invoices, self.invoices), (ORDER, partner.orders, self.orders)):
            new: list[tuple[Any, ...]] = []
            changed: list[dict[str, Any]] = []
            columns: tuple[str, ...] = ()
            for bill in items:
                columns = tuple(bill.values)
                row = store.get(bill.number)
                if row is None:
                    new.append((partner_id, plan_ids[bill.plan_index], bill.number, *bill.values.values()))
                elif any(getattr(row, k) != v for k, v in bill.values.items()):
                    changed.append({"_id": row.id, **{f"_{k}": v for k, v in bill.values.items()}})
            await bulk.update_many(table, columns, changed)
            await bulk.insert(table, ("partner_id", "plan_id", "number", *columns), new)
