"""ids never reused; partner admin emails unique per partner

SQLite gives a new row max(rowid) + 1 unless the table is AUTOINCREMENT, so
the admin created after the newest one was removed took over its id, its
global id and its entries in the audit log. AUTOINCREMENT cannot be added by
ALTER TABLE: each table is rebuilt (rows and ids copied, so the sequence
starts at the largest id kept). PostgreSQL's serial columns already draw from
sequences owned by the column, which never go back; each one is only moved
past the largest id present, in case rows were ever inserted with explicit
ids, so no later insert can collide with or repeat one.

The email constraint keeps its name (mutations map it to EMAIL_TAKEN) and now
covers (partner_id, email).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 18:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Parents before children, the order of 0001.
ID_TABLES = (
    "partner",
    "audit_event",
    "customer",
    "partner_admin",
    "api_token",
    "plan",
    "invoice",
    "license_line",
    "purchase_order",
)


def _rebuild_sqlite(*, autoincrement: bool, email_columns: list[str]) -> None:
    bind = op.get_bind()
    # Rebuilding a table drops the old one, and with foreign keys on, dropping
    # a parent deletes (ON DELETE CASCADE) every child row. db/migrations/env.py
    # turns them off before the migrations' transaction begins (inside one the
    # pragma does nothing); a caller that did not would lose rows, so refuse.
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        rows = sum(bind.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar() or 0 for name in ID_TABLES)
        if rows:
            raise RuntimeError("0003 must run with foreign keys off on SQLite (db/migrations/env.py turns them off)")
    for name in ID_TABLES:
        with op.batch_alter_table(
            name, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ) as batch_op:
            if name == "partner_admin":
                batch_op.drop_constraint("uq_partner_admin_email", type_="unique")
                batch_op.create_unique_constraint("uq_partner_admin_email", email_columns)
    problems = bind.exec_driver_sql("PRAGMA foreign_key_check").all()
    if problems:
        raise RuntimeError(f"0003: foreign keys broken by the rebuild: {problems[:5]}")


def _catch_up_postgres_sequences() -> None:
    bind = op.get_bind()
    for name in ID_TABLES:
        sequence = bind.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": name}).scalar()
        if sequence is None:
            raise RuntimeError(f"0003: {name}.id draws from no sequence it owns")
        # GREATEST: a sequence never moves back, only past the largest id stored.
        bind.execute(
            sa.text(
                f"SELECT setval(CAST(:s AS regclass), m) FROM (SELECT max(id) AS m FROM {name}) AS t"
                " WHERE m IS NOT NULL"
                f" AND m > (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {sequence})"
            ),
            {"s": sequence},
        )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(autoincrement=True, email_columns=["partner_id", "email"])
        return
    _catch_up_postgres_sequences()
    op.drop_constraint("uq_partner_admin_email", "partner_admin", type_="unique")
    op.create_unique_constraint("uq_partner_admin_email", "partner_admin", ["partner_id", "email"])


def downgrade() -> None:
    # Fails, changing nothing, when two partners now share an address.
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(autoincrement=False, email_columns=["email"])
        return
    op.drop_constraint("uq_partner_admin_email", "partner_admin", type_="unique")
    op.create_unique_constraint("uq_partner_admin_email", "partner_admin", ["email"])
