"""The floor: pages (0) and (1) by hand-written SQL, encoded to the same JSON.

No GraphQL, no SQLAlchemy, no DataLoaders: the raw driver the server uses
(asyncpg or aiosqlite), the fewest statements that fetch the page's rows, a
dict built in the response's field order, ``orjson.dumps``. The benchmark
checks that the bytes equal the server's response, so both sides do the same
work, then times both in one process: the gap is what GraphQL execution (and
the ORM layer) costs.

The status rules (SPEC §2.1) are evaluated in Python from the page's plans and
lines, which the page fetches anyway; the licence values "on today" use the
stored current values or, for a line whose newest snapshot lies after today,
the latest snapshot on or before today — as ``resolvers.rules`` does.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections import defaultdict
from typing import Any

import orjson

PRODUCTS = ("MEETINGS", "CALLING", "MESSAGING", "REAL_TIME_TRANSLATION")
PRODUCT_RANK = {p: i for i, p in enumerate(PRODUCTS)}
ALL_CUSTOMER_ROLES = ("PARTNER_FULL_ADMIN", "PARTNER_READ_ONLY_ADMIN")


def gid(kind: str, db_id: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{db_id}".encode()).decode().rstrip("=")


def cursor(sort_key: bytes, db_id: int) -> str:
    # The name order's key is binary (SPEC §2 name order): base64 in the cursor, as the server writes it.
    raw = json.dumps(
        ["customer:NAME:0", base64.b64encode(bytes(sort_key)).decode("ascii"), db_id],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


class Db:
    """The same three queries shapes on asyncpg and aiosqlite."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pg = url.startswith("postgres")
        self.conn: Any = None

    async def open(self) -> None:
        if self.pg:
            import asyncpg

            self.conn = await asyncpg.connect(self.url.replace("postgresql+asyncpg://", "postgresql://"))
        else:
            import aiosqlite

            self.conn = await aiosqlite.connect(self.url.split("///", 1)[1])

    async def close(self) -> None:
        await self.conn.close()

    async def fetch(self, sql: str, *args: Any, ids: list[int] | None = None) -> list[Any]:
        """Rows of ``sql``; ``{ids}`` in it becomes the id list (ANY on PostgreSQL, IN (…) on SQLite)."""
        if self.pg:
            n = len(args)
            sql = sql.replace("{ids}", f"ANY(${n + 1}::int[])") if ids is not None else sql
            params = [*args, ids] if ids is not None else list(args)
            for i in range(len(args), 0, -1):
                sql = sql.replace(f":{i}", f"${i}")
            return await self.conn.fetch(sql, *params)
        n = len(args)
        for i in range(n, 0, -1):
            sql = sql.replace(f":{i}", f"?{i}")
        if ids is not None:
            placeholders = ",".join(f"?{n + 1 + k}" for k in range(len(ids)))
            sql = sql.replace("= {ids}", f"IN ({placeholders})")
        cursor_ = await self.conn.execute(sql, (*args, *(ids or ())))
        rows = await cursor_.fetchall()
        await cursor_.close()
        return rows


TOKEN_SQL = """SELECT a.id, a.partner_id, a.role FROM api_token t JOIN partner_admin a ON a.id = t.admin_id
WHERE t.token_hash = :1"""
PAGE_SQL = """SELECT id, name, sort_key, managed_by, created_on, last_admin_activity_on FROM customer
WHERE partner_id = :1 ORDER BY sort_key, id LIMIT :2"""
SUBSCRIPTIONS_SQL = """SELECT id, customer_id, ext_id, status, starts_on, ends_on, auto_renew FROM plan
WHERE kind = 'SUBSCRIPTION' AND customer_id = {ids} ORDER BY starts_on DESC, id DESC"""
PLANS_SQL = """SELECT id, customer_id, kind, ext_id, status, starts_on, ends_on, auto_renew FROM plan
WHERE customer_id = {ids} ORDER BY starts_on DESC, id DESC"""
LINES_SQL = """SELECT l.id, l.plan_id, l.product, l.total,
  CASE WHEN l.cur_date IS NULL THEN 0 WHEN l.cur_date <= :1 THEN l.cur_assigned
       ELSE COALESCE((SELECT s.assigned FROM usage_snapshot s WHERE s.line_id = l.id AND s.date <= :1
                      ORDER BY s.date DESC LIMIT 1), 0) END,
  CASE WHEN l.cur_date IS NULL THEN 0 WHEN l.cur_date <= :1 THEN l.cur_used
       ELSE COALESCE((SELECT s.used FROM usage_snapshot s WHERE s.line_id = l.id AND s.date <= :1
                      ORDER BY s.date DESC LIMIT 1), 0) END,
  CASE WHEN l.cur_date IS NULL THEN 0 WHEN l.cur_date <= :1 THEN l.cur_used90
       ELSE COALESCE((SELECT s.used90 FROM usage_snapshot s WHERE s.line_id = l.id AND s.date <= :1
                      ORDER BY s.date DESC LIMIT 1), 0) END
FROM license_line l WHERE l.plan_id = {ids}"""
INVOICES_SQL = """SELECT plan_id, number, issued_on, due_on, amount, currency, status FROM invoice
WHERE plan_id = {ids} ORDER BY issued_on DESC, number DESC"""
ADMINS_SQL = """SELECT ca.customer_id, a.id, a.email, a.display_name, a.role FROM customer_admin ca
JOIN partner_admin a ON a.id = ca.admin_id WHERE ca.customer_id = {ids} ORDER BY a.email"""


async def _viewer(db: Db, token: str) -> Any:
    rows = await db.fetch(TOKEN_SQL, hashlib.sha256(token.encode()).hexdigest())
    viewer = rows[0]
    assert viewer[2] in ALL_CUSTOMER_ROLES, "the floor serves partner-wide roles"
    return viewer


async def compare_page(db: Db, token: str, first: int) -> bytes:
    """(0): id, name and subscriptions of the first page by name."""
    return await page_for_viewer(db, await _viewer(db, token), first)


async def page_for_viewer(db: Db, viewer: Any, first: int) -> bytes:
    """(0) for a viewer already looked up (``bench/floor_http.py`` keeps it, as the server keeps tokens)."""
    customers = await db.fetch(PAGE_SQL, viewer[1], first)
    subs = await db.fetch(SUBSCRIPTIONS_SQL, ids=[c[0] for c in customers])
    by_customer: dict[int, list] = defaultdict(list)
    for s in subs:
        by_customer[s[1]].append(
            {
                "subscriptionId": s[2],
                "status": s[3],
                "startsOn": _date(s[4]).isoformat(),
                "endsOn": _date(s[5]).isoformat(),
                "autoRenew": bool(s[6]),
            }
        )
    nodes = [{"id": gid("Customer", c[0]), "name": c[1], "subscriptions": by_customer.get(c[0], [])} for c in customers]
    return orjson.dumps({"data": {"customers": {"nodes": nodes}}})


def _line(row: Any) -> dict[str, Any]:
    _id, _plan, product, total, assigned, used, used90 = row
    return {
        "product": product,
        "total": total,
        "assigned": assigned,
        "used": used,
        "usedLast90Days": used90,
        "available": max(total - assigned, 0),
        "overage": max(assigned - total, 0),
        "assignmentRate": assigned / total if total else None,
        "usageRate": used / total if total else None,
    }


async def list_page(
    db: Db, token: str, first: int, today: dt.date, launch_base: str, expiring_days: int = 30, inactive_days: int = 30
) -> bytes:
    """(1): every Customer field with subscriptions, trials, licences, invoices and admins."""
    viewer = await _viewer(db, token)
    rows = await db.fetch(PAGE_SQL, viewer[1], first + 1)
    more = len(rows) > first
    customers = rows[:first]
    ids = [c[0] for c in customers]
    plans = await db.fetch(PLANS_SQL, ids=ids)
    plan_ids = [p[0] for p in plans]
    day = today
    lines = await db.fetch(LINES_SQL, day if db.pg else day.isoformat(), ids=plan_ids)
    sub_ids = [p[0] for p in plans if p[2] == "SUBSCRIPTION"]
    invoices = await db.fetch(INVOICES_SQL, ids=sub_ids)
    admins = await db.fetch(ADMINS_SQL, ids=ids)

    lines_by_plan: dict[int, list] = defaultdict(list)
    for line in sorted(lines, key=lambda r: PRODUCT_RANK[r[2]]):
        lines_by_plan[line[1]].append(line)
    invoices_by_plan: dict[int, list] = defaultdict(list)
    for inv in invoices:
        amount = inv[4] if db.pg else f"{inv[4]:.2f}"
        invoices_by_plan[inv[0]].append(
            {
                "number": inv[1],
                "issuedOn": _date(inv[2]).isoformat(),
                "dueOn": _date(inv[3]).isoformat(),
                "amount": str(amount),
                "currency": inv[5],
                "status": inv[6],
            }
        )
    admins_by_customer: dict[int, list] = defaultdict(list)
    for a in admins:
        admins_by_customer[a[0]].append(
            {"id": gid("PartnerAdmin", a[1]), "email": a[2], "displayName": a[3], "role": a[4]}
        )
    plans_by_customer: dict[int, list] = defaultdict(list)
    for p in plans:
        plans_by_customer[p[1]].append(p)

    expiring_by = today + dt.timedelta(days=expiring_days)
    inactive_before = today - dt.timedelta(days=inactive_days)
    nodes = []
    for c in customers:
        c_id, name, _key, managed_by, created_on, last_activity = c
        subscriptions, trials = [], []
        live = suspended = pending = overage = expiring = live_trial = live_sub = False
        products: set[str] = set()
        for p in plans_by_customer.get(c_id, []):
            p_id, _c, kind, ext_id, status, starts, ends, auto = p
            starts, ends = _date(starts), _date(ends)
            plan_lines = lines_by_plan.get(p_id, [])
            is_live = status == "ACTIVE" and starts <= today <= ends
            if is_live:
                live = True
                products.update(line[2] for line in plan_lines)
                overage = overage or any(line[4] > line[3] for line in plan_lines)
                expiring = expiring or ((kind == "TRIAL" or not auto) and ends <= expiring_by)
                live_trial = live_trial or kind == "TRIAL"
                live_sub = live_sub or kind == "SUBSCRIPTION"
            if kind == "SUBSCRIPTION":
                suspended = suspended or status == "SUSPENDED"
                pending = pending or status == "PENDING_SETUP"
                subscriptions.append(
                    {
                        "id": gid("Subscription", p_id),
                        "subscriptionId": ext_id,
                        "status": status,
                        "startsOn": starts.isoformat(),
                        "endsOn": ends.isoformat(),
                        "autoRenew": bool(auto),
                        "renewalDate": ends.isoformat() if auto else None,
                        "daysRemaining": (ends - today).days,
                        "licenses": [_line(line) for line in plan_lines],
                        "invoices": invoices_by_plan.get(p_id, []),
                    }
                )
            else:
                trials.append(
                    {
                        "id": gid("Trial", p_id),
                        "trialId": ext_id,
                        "status": status,
                        "startsOn": starts.isoformat(),
                        "endsOn": ends.isoformat(),
                        "daysRemaining": (ends - today).days,
                        "licenses": [_line(line) for line in plan_lines],
                    }
                )
        last = _date(last_activity) if last_activity is not None else None
        flags = (
            ("SUSPENDED", suspended),
            ("LICENSE_OVERAGE", overage),
            ("EXPIRING_SOON", expiring),
            ("READY_FOR_SETUP", pending),
            ("NO_RECENT_ACTIVITY", last is None or last < inactive_before),
            ("TRIAL", live_trial),
            ("SUBSCRIPTION", live_sub),
            ("EXPIRED", not live and not pending and not suspended),
        )
        customer_gid = gid("Customer", c_id)
        nodes.append(
            {
                "id": customer_gid,
                "name": name,
                "managedBy": managed_by,
                "createdOn": _date(created_on).isoformat(),
                "lastAdminActivityOn": last.isoformat() if last else None,
                "statuses": [s for s, on in flags if on],
                "products": sorted(products, key=PRODUCT_RANK.__getitem__),
                "launchUrl": f"{launch_base}/launch/{customer_gid}",
                "subscriptions": subscriptions,
                "trials": trials,
                "partnerAdmins": admins_by_customer.get(c_id, []),
            }
        )
    end = cursor(customers[-1][2], customers[-1][0]) if customers else None
    return orjson.dumps({"data": {"customers": {"pageInfo": {"hasNextPage": more, "endCursor": end}, "nodes": nodes}}})
