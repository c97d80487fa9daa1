"""The migrations produce exactly the tables, columns and indexes the models declare."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.collation import search_fold, sort_key
from db.engine import is_sqlite, make_engine
from db.migrate import alembic_config, migrate
from db.models import metadata


async def test_migrations_match_models(engine: AsyncEngine) -> None:
    def _diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == []


async def test_foreign_keys_are_enforced(engine: AsyncEngine) -> None:
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    async with engine.connect() as conn:
        with pytest.raises(IntegrityError):
            await conn.execute(
                text(
                    "INSERT INTO customer (partner_id, key, name, name_key, managed_by, created_on)"
                    " VALUES (999, 'c', 'C', 'c', 'PARTNER_ORG', '2026-01-01')"
                )
            )


# ---------------------------------------------------------------- 0003: ids never reused, emails per partner

ID_TABLES = (
    "partner",
    "partner_admin",
    "api_token",
    "customer",
    "plan",
    "license_line",
    "invoice",
    "purchase_order",
    "audit_event",
)

AT_0002 = [
    # Partner 50 is given its id explicitly: PostgreSQL's sequence is still at 1
    # then, and 0003 must move it past 50 (SQLite's AUTOINCREMENT starts at the max kept).
    "INSERT INTO partner (id, key, name) VALUES (50, 'acme', 'Acme')",
    "INSERT INTO partner (key, name) VALUES ('other', 'Other')",
    "INSERT INTO partner_admin (partner_id, key, email, display_name, role) VALUES"
    " (50, 'ana', 'ana@acme.example', 'Ana', 'PARTNER_FULL_ADMIN'),"
    " (50, 'bo', 'bo@acme.example', 'Bo', 'SALES_ADMIN')",
    "INSERT INTO api_token (admin_id, token_hash, created_at) VALUES (2, 'h-bo', '2026-11-01 10:00:00+00:00')",
    "INSERT INTO customer (partner_id, key, name, name_key, managed_by, created_on)"
    " VALUES (50, 'c1', 'Globex', 'globex', 'PARTNER_ORG', '2026-01-10')",
    "INSERT INTO customer_admin (customer_id, admin_id) VALUES (1, 2)",
    "INSERT INTO plan (partner_id, customer_id, kind, ext_id, status, starts_on, ends_on, auto_renew, started_by_id)"
    " VALUES (50, 1, 'TRIAL', 'T-1', 'ACTIVE', '2026-11-01', '2026-12-01', false, 2)",
    "INSERT INTO license_line (plan_id, product, total, cur_assigned, cur_used, cur_used90)"
    " VALUES (1, 'MEETINGS', 10, 0, 0, 0)",
    "INSERT INTO usage_snapshot (line_id, date, assigned, used, used90) VALUES (1, '2026-11-18', 5, 4, 5)",
    "INSERT INTO invoice (partner_id, plan_id, number, issued_on, due_on, amount, currency, status)"
    " VALUES (50, 1, 'INV-1', '2026-11-01', '2026-12-01', 10.50, 'USD', 'PAID')",
    "INSERT INTO purchase_order (partner_id, plan_id, number, placed_on, action, product, quantity)"
    " VALUES (50, 1, 'ORD-1', '2026-11-01', 'NEW', 'MEETINGS', 10)",
    "INSERT INTO audit_event (partner_id, actor_id, actor_email, action, target_type, target_id, at, details)"
    " VALUES (50, 2, 'bo@acme.example', 'startTrial', 'Trial', 'x', '2026-11-01 10:00:00+00:00', '{}')",
]
ROW_COUNTS = (
    "SELECT (SELECT count(*) FROM partner), (SELECT count(*) FROM partner_admin), (SELECT count(*) FROM api_token),"
    " (SELECT count(*) FROM customer_admin), (SELECT count(*) FROM plan WHERE started_by_id = 2),"
    " (SELECT count(*) FROM usage_snapshot), (SELECT count(*) FROM invoice), (SELECT count(*) FROM purchase_order),"
    " (SELECT count(*) FROM audit_event)"
)


async def _upgrade_to(engine: AsyncEngine, revision: str) -> None:
    def _run(connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()


@pytest.fixture(params=["0002", "0001"])
async def engine_at_0002(
    request: pytest.FixtureRequest, migrated_database: str, tmp_path: Path
) -> AsyncIterator[AsyncEngine]:
    """An empty database migrated to 0002 or 0001 only (PostgreSQL: the test database's schema, rebuilt).

    From 0001 the upgrade runs 0002 and 0003 in one transaction: 0002 has
    written alembic_version before 0003 rebuilds the tables.
    """
    url = migrated_database if migrated_database.startswith("postgres") else f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    try:
        if not is_sqlite(engine):
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await _upgrade_to(engine, request.param)
        yield engine
    finally:
        if not is_sqlite(engine):
            # Leave the shared test database at head, as the session fixture made it.
            await migrate(engine)
        await engine.dispose()


async def test_0003_keeps_rows_and_never_reuses_ids(engine_at_0002: AsyncEngine) -> None:
    engine = engine_at_0002
    async with engine.begin() as conn:
        for statement in AT_0002:
            await conn.execute(text(statement))
        before = (await conn.execute(text(ROW_COUNTS))).one()
    # 2 partners, 2 admins, Bo's token, Bo's assignment, the trial Bo started, 1 snapshot,
    # invoice, order and Bo's audit entry.
    assert tuple(before) == (2, 2, 1, 1, 1, 1, 1, 1, 1)

    await migrate(engine)

    async with engine.begin() as conn:
        # Nothing cascaded away while the tables were rebuilt, and every id is kept.
        assert tuple((await conn.execute(text(ROW_COUNTS))).one()) == tuple(before)
        assert (await conn.execute(text("SELECT id, email FROM partner_admin ORDER BY id"))).all() == [
            (1, "ana@acme.example"),
            (2, "bo@acme.example"),
        ]
        if is_sqlite(engine):
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1

        # Bo (id 2, the newest admin) leaves; the next admin gets 3, not Bo's 2,
        # so Bo's audit entry (actor_id 2) names nobody rather than the newcomer.
        await conn.execute(text("DELETE FROM partner_admin WHERE id = 2"))
        new_id = (
            await conn.execute(
                text(
                    "INSERT INTO partner_admin (partner_id, key, email, display_name, role)"
                    " VALUES (50, 'cy', 'cy@acme.example', 'Cy', 'SALES_ADMIN') RETURNING id"
                )
            )
        ).scalar_one()
        assert new_id == 3
        # The delete cascaded to Bo's token and assignment and nulled the trial's starter.
        assert (await conn.execute(text("SELECT count(*) FROM api_token"))).scalar() == 0
        assert (await conn.execute(text("SELECT started_by_id FROM plan"))).scalar() is None

        # Partners: explicit id 50 and then 51 (PostgreSQL's sequence gave 'other' 1 before
        # 0003; after it the next is past the largest id, 50). Removing 51 and adding one gives 52.
        other = (await conn.execute(text("SELECT id FROM partner WHERE key = 'other'"))).scalar()
        assert other == (51 if is_sqlite(engine) else 1)
        third = (
            await conn.execute(text("INSERT INTO partner (key, name) VALUES ('third', 'Third') RETURNING id"))
        ).scalar_one()
        assert third == (52 if is_sqlite(engine) else 51)
        await conn.execute(text("DELETE FROM partner WHERE id = :id"), {"id": third})
        again = (
            await conn.execute(text("INSERT INTO partner (key, name) VALUES ('fourth', 'Fourth') RETURNING id"))
        ).scalar_one()
        assert again == third + 1


async def test_0003_email_unique_per_partner_not_across(engine_at_0002: AsyncEngine) -> None:
    engine = engine_at_0002
    async with engine.begin() as conn:
        for statement in AT_0002[:3]:
            await conn.execute(text(statement))
    await migrate(engine)
    insert_admin = text(
        "INSERT INTO partner_admin (partner_id, key, email, display_name, role)"
        " VALUES (:partner, :key, 'ana@acme.example', 'Ana', 'PARTNER_FULL_ADMIN')"
    )
    async with engine.begin() as conn:
        other = (await conn.execute(text("SELECT id FROM partner WHERE key = 'other'"))).scalar()
        # The same address at another partner is a different person.
        await conn.execute(insert_admin, {"partner": other, "key": "ana2"})
    with pytest.raises(IntegrityError, match=r"uq_partner_admin_email|partner_admin\.partner_id, partner_admin\.email"):
        async with engine.begin() as conn:
            await conn.execute(insert_admin, {"partner": 50, "key": "ana3"})


async def test_every_id_column_is_never_reused(engine: AsyncEngine) -> None:
    """A database made by the migrations: AUTOINCREMENT on SQLite, sequences owned by the column on PostgreSQL."""
    async with engine.connect() as conn:
        for name in ID_TABLES:
            if is_sqlite(engine):
                sql = (
                    await conn.execute(
                        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :n"), {"n": name}
                    )
                ).scalar()
                assert "AUTOINCREMENT" in sql, name
            else:
                sequence = (await conn.execute(text("SELECT pg_get_serial_sequence(:n, 'id')"), {"n": name})).scalar()
                assert sequence == f"public.{name}_id_seq", name


# ---------------------------------------------------------------- 0004: DUCET sort key and search key


@pytest.fixture
async def engine_at_0003(migrated_database: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty database migrated to 0003 only (PostgreSQL: the test database's schema, rebuilt)."""
    url = migrated_database if migrated_database.startswith("postgres") else f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    try:
        if not is_sqlite(engine):
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await _upgrade_to(engine, "0003")
        yield engine
    finally:
        if not is_sqlite(engine):
            await migrate(engine)
        await engine.dispose()


async def test_0004_fills_the_keys_of_existing_customers(engine_at_0003: AsyncEngine) -> None:
    engine = engine_at_0003
    # Inserted in code-point order, the order the list had before 0004; 2,100 more
    # ("Filler 0000"...) make the fill cross two batch boundaries (1,000 rows each).
    names = ["Aarhus", "Zagreb", "Zwolle", "Åre", "Čačak", "İstanbul", "Šabac", "Москва"]
    fillers = [f"Filler {i:04d}" for i in range(2100)]
    insert_customer = text(
        "INSERT INTO customer (partner_id, key, name, name_key, managed_by, created_on)"
        " VALUES (1, :key, :name, :name_key, 'PARTNER_ORG', '2026-01-10')"
    )
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO partner (key, name) VALUES ('acme', 'Acme')"))
        await conn.execute(
            insert_customer,
            [{"key": f"c{i}", "name": n, "name_key": n.casefold()} for i, n in enumerate([*names, *fillers])],
        )

    await migrate(engine)

    async with engine.begin() as conn:
        rows = (await conn.execute(text("SELECT name, sort_key, search_key FROM customer"))).all()
        assert len(rows) == len(names) + len(fillers)
        assert all(bytes(r.sort_key) == sort_key(r.name) and r.search_key == search_fold(r.name) for r in rows)
        ordered = (
            await conn.execute(text("SELECT name FROM customer WHERE name NOT LIKE 'Filler%' ORDER BY sort_key, id"))
        ).scalars()
        # DUCET: Å = a (Aarhus's "aa" first, then "ar"), Č = c, İ = i, Š = s; Cyrillic after Latin.
        assert list(ordered) == ["Aarhus", "Åre", "Čačak", "İstanbul", "Šabac", "Zagreb", "Zwolle", "Москва"]
        search = (await conn.execute(text("SELECT name FROM customer WHERE search_key LIKE '%cac%'"))).scalars()
        assert list(search) == ["Čačak"]
        # The columns are NOT NULL once filled: a writer that forgets them is refused.
        with pytest.raises(IntegrityError):
            async with conn.begin_nested():
                await conn.execute(insert_customer, {"key": "late", "name": "Late", "name_key": "late"})
