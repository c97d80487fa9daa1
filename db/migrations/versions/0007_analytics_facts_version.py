"""analytics facts version: a value every writer of a partner's facts changes (db/analytics_facts.py)

Results computed from a partner's stored facts are kept per process for as
long as this value stays the same (resolvers/analytics/kept.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 20:00:00
"""

import sqlalchemy as sa
from alembic import op

from db.analytics_facts import new_version

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("analytics_fact_day") as batch:
        batch.add_column(sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"))
    # Each existing partner gets a version of its own: a process serving two
    # databases in turn (the tests do) must never take one's 0 for the other's.
    fact_day = sa.table("analytics_fact_day", sa.column("partner_id"), sa.column("version", sa.BigInteger()))
    bind = op.get_bind()
    for partner_id in bind.execute(sa.select(fact_day.c.partner_id)).scalars().all():
        bind.execute(fact_day.update().where(fact_day.c.partner_id == partner_id).values(version=new_version()))


def downgrade() -> None:
    with op.batch_alter_table("analytics_fact_day") as batch:
        batch.drop_column("version")
