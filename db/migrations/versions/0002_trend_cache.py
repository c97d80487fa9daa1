"""trend cache and its version per partner

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 17:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trend_cache_version",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("partner_id"),
    )
    op.create_table(
        "trend_cache",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=24), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("assigned", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "product IN ('MEETINGS', 'CALLING', 'MESSAGING', 'REAL_TIME_TRANSLATION')", name="ck_trend_cache_product"
        ),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("partner_id", "product", "day", name="pk_trend_cache"),
    )


def downgrade() -> None:
    op.drop_table("trend_cache")
    op.drop_table("trend_cache_version")
