"""Loading a valid import document: upsert by external ids in one transaction.

The document is validated as a whole first (:mod:`db.io.validate`), then the
rows its ids name are read and checked for conflicts (:mod:`db.io.existing`),
and only then is anything written, in bulk (:mod:`db.io.bulk`).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db import analytics_facts, events, trend_cache
from db.io.bulk import Bulk, refresh_statistics
from db.io.existing import Existing
from db.io.fields import quote
from db.io.rows import PartnerIn
from db.io.validate import Document, ImportValidationError, parse_document, paused_gc
from db.settings import get_settings, today
from db.tables import ADMIN, PARTNER, TOKEN
from db.tokens import hash_token


@dataclass
class LoadResult:
    """What a load wrote: records of each kind in the file, and the time taken.

    Attributes:
        partners: Partners in the file.
        admins: Partner admins in the file.
        tokens: Tokens newly registered (already known ones are not counted).
        customers: Customers in the file.
        assignments: Customer-to-admin assignments in the file.
        subscriptions: Subscriptions in the file.
        trials: Trials in the file.
        lines: Licence lines in the file.
        snapshots: Usage snapshots in the file.
        invoices: Invoices in the file.
        orders: Orders in the file.
        seconds: Wall time of validation, checks and writes.
    """

    partners: int = 0
    admins: int = 0
    tokens: int = 0
    customers: int = 0
    assignments: int = 0
    subscriptions: int = 0
    trials: int = 0
    lines: int = 0
    snapshots: int = 0
    invoices: int = 0
    orders: int = 0
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        """Records of all kinds together."""
        return sum(getattr(self, f.name) for f in fields(self) if f.name != "seconds")

    @property
    def rows_per_second(self) -> float:
        """Throughput of the load (0 when it took no measurable time)."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        counts = ", ".join(f"{getattr(self, f.name):,} {f.name}" for f in fields(self) if f.name != "seconds")
        return f"{self.rows:,} records in {self.seconds:.1f} s ({self.rows_per_second:,.0f}/s): {counts}"

    def __add__(self, other: LoadResult) -> LoadResult:
        return LoadResult(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


class Loader:
    """Reads what exists, checks conflicts, then writes one valid document."""

    def __init__(self, conn: AsyncConnection, doc: Document) -> None:
        self.conn = conn
        self.bulk = Bulk(conn)
        self.partners = [PartnerIn(p, f"partners[{i}]") for i, p in enumerate(doc.partners)]
        self.problems: list[str] = []
        self.result = LoadResult()
        # Filled by read():
        self.partner_ids: dict[str, int] = {}
        self.partner_names: dict[str, str] = {}
        self.admins_by_key: dict[tuple[int, str], Row[Any]] = {}
        self.token_owner: dict[str, int] = {}
        self.state: dict[str, Existing] = {}
        # Filled by write(): the customers of the document, per partner id.
        self.customers: dict[int, list[int]] = {}

    async def read(self) -> None:
        for row in await self.bulk.fetch_in(
            select(PARTNER.c.id, PARTNER.c.key, PARTNER.c.name), PARTNER.c.key, [p.key for p in self.partners]
        ):
            self.partner_ids[row.key] = row.id
            self.partner_names[row.key] = row.name
        await self.read_admins()
        for partner in self.partners:
            existing = Existing()
            self.state[partner.key] = existing
            partner_id = self.partner_ids.get(partner.key)
            if partner_id is not None:
                await existing.read(self.bulk, self.problems, partner, partner_id)

    async def read_admins(self) -> None:
        query = select(
            ADMIN.c.id,
            ADMIN.c.partner_id,
            ADMIN.c.key,
            ADMIN.c.email,
            ADMIN.c.display_name,
            ADMIN.c.role,
            PARTNER.c.key.label("partner_key"),
        ).join(PARTNER, PARTNER.c.id == ADMIN.c.partner_id)
        rows = await self.bulk.fetch_in(query, ADMIN.c.partner_id, self.partner_ids.values())
        # Emails are unique within a partner (SPEC §3.2): only the partner's own admins can clash.
        by_email: dict[tuple[str, str], Row[Any]] = {}
        for row in rows:
            self.admins_by_key[(row.partner_id, row.key)] = row
            by_email[(row.partner_key, row.email)] = row
        # An email may move from one admin to another within the file, so a
        # clash is only an error when its current owner keeps it.
        file_email = {(p.key, a.key): a.email for p in self.partners for a in p.admins}
        for partner in self.partners:
            for admin in partner.admins:
                owner = by_email.get((partner.key, admin.email))
                if owner is None or owner.key == admin.key:
                    continue
                if file_email.get((owner.partner_key, owner.key)) is None:
                    self.problems.append(
                        f"{admin.path}.email: {quote(admin.email)} is already used by admin"
                        f" {quote(owner.key)} of partner {quote(owner.partner_key)}"
                    )
        hashes = {hash_token(a.token): (p, a) for p in self.partners for a in p.admins if a.token}
        for row in await self.bulk.fetch_in(select(TOKEN.c.token_hash, TOKEN.c.admin_id), TOKEN.c.token_hash, hashes):
            self.token_owner[row.token_hash] = row.admin_id
            partner, admin = hashes[row.token_hash]
            mine = self.admins_by_key.get((self.partner_ids.get(partner.key, -1), admin.key))
            if mine is None or mine.id != row.admin_id:
                self.problems.append(f"{admin.path}.token: already registered to another admin")

    async def _trend_before(self) -> dict[int, tuple[list[dt.date], dict[Any, Any]] | None]:
        """Per existing partner: its cached trend days and the document's customers' sums on them, or None (recompute)."""
        plans: dict[int, tuple[list[dt.date], dict[Any, Any]] | None] = {}
        for partner in self.partners:
            if partner.key not in self.partner_ids:
                continue
            partner_id = self.partner_ids[partner.key]
            if len(partner.customers) > trend_cache.MAX_ADJUSTED:
                plans[partner_id] = None
                continue
            days = await trend_cache.cached_days(self.conn, partner_id)
            known = self.state[partner.key].customers
            ids = [known[c.key].id for c in partner.customers if c.key in known]
            plans[partner_id] = (days, await trend_cache.customer_sums(self.conn, partner_id, ids, days))
        return plans

    async def write(self) -> None:
        trend_before = await self._trend_before()
        new_partners = [{"key": p.key, "name": p.name} for p in self.partners if p.key not in self.partner_ids]
        for row in await self.bulk.execute_many(insert(PARTNER).returning(PARTNER.c.id, PARTNER.c.key), new_partners):
            self.partner_ids[row.key] = row.id
        await self.bulk.update_many(
            PARTNER,
            ["name"],
            [
                {"_id": self.partner_ids[p.key], "_name": p.name}
                for p in self.partners
                if p.key in self.partner_names and self.partner_names[p.key] != p.name
            ],
        )
        self.result.partners = len(self.partners)
        # Emails are unique across partners: park every changing email on a
        # placeholder first so that swaps between admins cannot collide.
        moving = []
        for partner in self.partners:
            partner_id = self.partner_ids[partner.key]
            for admin in partner.admins:
                stored = self.admins_by_key.get((partner_id, admin.key))
                if stored is not None and stored.email != admin.email:
                    moving.append({"_id": stored.id, "_email": f"\uffff{stored.id}"})
        await self.bulk.update_many(ADMIN, ["email"], moving)
        for partner in self.partners:
            await self.write_partner(partner, self.partner_ids[partner.key], self.state[partner.key])
        # Only the document's customers changed, past usage included: their
        # share of each cached trend day is adjusted (or, for a large
        # document, the partner's cached days are recomputed).
        for partner_id in sorted({self.partner_ids[p.key] for p in self.partners}):
            plan = trend_before.get(partner_id)
            if plan is None:
                await trend_cache.recompute(self.conn, partner_id)
                continue
            days, before = plan
            after = await trend_cache.customer_sums(self.conn, partner_id, self.customers.get(partner_id, []), days)
            await trend_cache.adjust(self.conn, partner_id, before, after)
        # The stored analytics facts of the document's customers (only they
        # can have changed plans, lines or names), in this transaction.
        settings = get_settings()
        for partner_id, customers in sorted(self.customers.items()):
            await analytics_facts.refresh(
                self.conn,
                partner_id=partner_id,
                day=today(),
                min_days=settings.low_assignment_min_days,
                customers=customers,
            )

    async def write_partner(self, partner: PartnerIn, partner_id: int, existing: Existing) -> None:
        result = self.result
        admin_ids = await self.write_admins(partner, partner_id)
        customer_ids = await existing.write_customers(self.bulk, partner, partner_id, admin_ids)
        self.customers.setdefault(partner_id, []).extend(customer_ids)
        plan_ids = await existing.write_plans(self.bulk, partner, partner_id, customer_ids, admin_ids)
        await existing.write_lines(self.bulk, partner, plan_ids)
        await existing.write_bills(self.bulk, partner, partner_id, plan_ids)
        result.admins += len(partner.admins)
        result.customers += len(partner.customers)
        result.assignments += sum(len(c.admin_keys) for c in partner.customers)
        result.subscriptions += sum(1 for p in partner.plans if p.kind == "SUBSCRIPTION")
        result.trials += sum(1 for p in partner.plans if p.kind == "TRIAL")
        result.lines += len(partner.lines)
        result.snapshots += sum(len(line.snapshots) for line in partner.lines)
        result.invoices += len(partner.invoices)
        result.orders += len(partner.orders)

    async def write_admins(self, partner: PartnerIn, partner_id: int) -> dict[str, int]:
        ids: dict[str, int] = {}
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for admin in partner.admins:
            row = self.admins_by_key.get((partner_id, admin.key))
            values = {"email": admin.email, "display_name": admin.display_name, "role": admin.role}
            if row is None:
                new.append({"partner_id": partner_id, "key": admin.key, **values})
            else:
                ids[admin.key] = row.id
                if (row.email, row.display_name, row.role) != (admin.email, admin.display_name, admin.role):
                    changed.append({"_id": row.id, **{f"_{k}": v for k, v in values.items()}})
        await self.bulk.update_many(ADMIN, ["email", "display_name", "role"], changed)
        for row in await self.bulk.execute_many(insert(ADMIN).returning(ADMIN.c.id, ADMIN.c.key), new):
            ids[row.key] = row.id
        now = dt.datetime.now(dt.UTC)
        tokens = []
        for admin in partner.admins:
            if admin.token:
                token_hash = hash_token(admin.token)
                if token_hash not in self.token_owner:
                    self.token_owner[token_hash] = ids[admin.key]
                    tokens.append({"admin_id": ids[admin.key], "token_hash": token_hash, "created_at": now})
        await self.bulk.execute_many(insert(TOKEN), tokens)
        self.result.tokens += len(tokens)
        return ids


async def load_document(session: AsyncSession, doc: object, *, commit: bool = True) -> LoadResult:
    """Validate an import document and upsert it in one transaction.

    Records are matched by their ids (partner ``id``, admin ``id``, customer
    ``id``, ``subscriptionId``/``trialId``, line product, snapshot date,
    invoice/order ``number``); nothing absent from the file is deleted,
    except that a customer's admin assignments become exactly the listed
    ones. Loading the same file twice leaves the same data.

    Args:
        session: The session to write with; its transaction is committed on
            success and rolled back on any failure.
        doc: The parsed JSON document (SPEC §5).
        commit: Commit at the end; ``False`` leaves the committing to the
            caller (a failure still rolls the session back).

    Returns:
        How many records of each kind the file held, and the time taken.

    Raises:
        ImportValidationError: The document is invalid or conflicts with
            rows in the database (e.g. a customer name used by another
            customer id); nothing was written.
    """
    started = time.perf_counter()
    with paused_gc():
        loader = await _load(session, doc, commit=commit)
    loader.result.seconds = time.perf_counter() - started
    return loader.result


async def _load(session: AsyncSession, doc: object, *, commit: bool) -> Loader:
    parsed, problems = parse_document(doc)
    if parsed is None:
        raise ImportValidationError(problems)
    try:
        conn = await session.connection()
        loader = Loader(conn, parsed)
        # The rows to write are flattened out of the models; without them the
        # collector has fewer objects to walk during the writes.
        del parsed
        await loader.read()
        if loader.problems:
            raise ImportValidationError(loader.problems)
        await loader.write()
        # An import may change any number of a partner's customers: its live
        # subscribers are told to refetch (LIVE_RESET), once it commits.
        resets = [events.Event(events.RESET, partner_id) for partner_id in sorted(set(loader.partner_ids.values()))]
        for reset in resets:
            await events.notify_in_transaction(conn, reset)
        if commit:
            await session.commit()
            if loader.bulk.postgres:
                await refresh_statistics(session, loader.bulk.inserted)
            else:
                for reset in resets:  # a server process loading itself (SQLite): in-process
                    await events.publish(session.bind, reset)
    except IntegrityError as exc:
        await session.rollback()
        # A concurrent writer can still slip past the checks above; say so
        # plainly instead of surfacing a driver traceback.
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise ImportValidationError([f"$: the database refused the data (changed concurrently?): {detail}"]) from exc
    except BaseException:
        await session.rollback()
        raise
    return loader
