"""stored analytics aggregates: today's live lines and medians per partner (db/analytics_facts.py)

Creates ``analytics_fact``, ``analytics_fact_day`` and ``analytics_median``
and backfills every partner for today (``PARTNERHUB_TODAY`` or the UTC date),
with the statements the server itself rebuilds a partner with.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 06:30:00
"""

import sqlalchemy as sa
from alembic import op

from db.analytics_facts import NEVER, rebuild_statements
from db.settings import get_settings, today

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_fact",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=24), nullable=False),
        sa.Column("plan_type", sa.String(length=12), nullable=False),
        sa.Column("subscription_id", sa.String(length=100), nullable=False),
        sa.Column("auto_renew", sa.Boolean(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("assigned", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("used90", sa.Integer(), nullable=False),
        sa.Column("assigned_prev", sa.Integer(), nullable=True),
        sa.Column("used_prev", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("plan_id", "product", name="pk_analytics_fact"),
    )
    op.create_index("ix_analytics_fact_partner", "analytics_fact", ["partner_id", "product", "ends_on"])
    op.create_index("ix_analytics_fact_customer", "analytics_fact", ["customer_id"])
    op.create_table(
        "analytics_fact_day",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("min_days", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("partner_id"),
    )
    op.create_table(
        "analytics_median",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=24), nullable=False),
        sa.Column("rate", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("partner_id", "product", name="pk_analytics_median"),
    )
    bind = op.get_bind()
    day, min_days = today(), get_settings().low_assignment_min_days
    fact_day = sa.table(
        "analytics_fact_day", sa.column("partner_id"), sa.column("day", sa.Date()), sa.column("min_days")
    )
    for partner_id in bind.execute(sa.text("SELECT id FROM partner ORDER BY id")).scalars().all():
        bind.execute(fact_day.insert().values(partner_id=partner_id, day=NEVER, min_days=-1))
        for statement in rebuild_statements(partner_id, day, min_days):
            bind.execute(statement)


def downgrade() -> None:
    op.drop_table("analytics_median")
    op.drop_table("analytics_fact_day")
    op.drop_index("ix_analytics_fact_customer", table_name="analytics_fact")
    op.drop_index("ix_analytics_fact_partner", table_name="analytics_fact")
    op.drop_table("analytics_fact")
