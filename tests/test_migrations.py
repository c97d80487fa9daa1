"""The migrations produce exactly the tables, columns and indexes the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

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
