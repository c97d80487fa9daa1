"""customer names in DUCET order, searched without case and accents

Adds ``customer.sort_key`` (BLOB / bytea, compared bytewise) and
``customer.search_key`` (the folded name), both computed in Python by
db/collation.py, so they are filled here row by row from each name, in
batches by id, before they become NOT NULL. The NAME order's index moves
from ``uq_customer_name`` (still the uniqueness of ``name_key``) to
``ix_customer_partner_sort``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 19:40:00
"""

import sqlalchemy as sa
from alembic import op

from db.collation import search_fold, sort_key

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BATCH = 1000
SEARCH_KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
CUSTOMER = sa.table(
    "customer",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("sort_key", sa.LargeBinary),
    sa.column("search_key", sa.Text),
)


def _fill() -> None:
    bind = op.get_bind()
    after = 0
    while True:
        rows = bind.execute(
            sa.select(CUSTOMER.c.id, CUSTOMER.c.name).where(CUSTOMER.c.id > after).order_by(CUSTOMER.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            CUSTOMER.update()
            .where(CUSTOMER.c.id == sa.bindparam("_id"))
            .values(sort_key=sa.bindparam("_sort"), search_key=sa.bindparam("_search")),
            [{"_id": row.id, "_sort": sort_key(row.name), "_search": search_fold(row.name)} for row in rows],
        )
        after = rows[-1].id


def upgrade() -> None:
    op.add_column("customer", sa.Column("sort_key", sa.LargeBinary(), nullable=True))
    op.add_column("customer", sa.Column("search_key", SEARCH_KEY, nullable=True))
    _fill()
    # SQLite cannot make a column NOT NULL in place: the table is rebuilt
    # (foreign keys are off during migrations, db/migrations/env.py, so
    # nothing cascades), keeping AUTOINCREMENT as 0003 made it.
    with op.batch_alter_table("customer", table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.alter_column("sort_key", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.alter_column("search_key", existing_type=SEARCH_KEY, nullable=False)
    op.create_index("ix_customer_partner_sort", "customer", ["partner_id", "sort_key", "id"])


def downgrade() -> None:
    op.drop_index("ix_customer_partner_sort", table_name="customer")
    with op.batch_alter_table("customer", table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.drop_column("search_key")
        batch_op.drop_column("sort_key")
