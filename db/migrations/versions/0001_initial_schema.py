"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 14:08:48.268263
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_email", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target_type", sa.String(length=40), nullable=False),
        sa.Column("target_id", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_partner", ["partner_id", "id"], unique=False)

    op.create_table(
        "customer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "name_key",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("managed_by", sa.String(length=16), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("last_admin_activity_on", sa.Date(), nullable=True),
        sa.CheckConstraint("managed_by IN ('PARTNER_ORG', 'EXTERNAL_ADMIN')", name="ck_customer_managed_by"),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("partner_id", "key", name="uq_customer_key"),
        sa.UniqueConstraint("partner_id", "name_key", name="uq_customer_name"),
    )
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.create_index("ix_customer_partner_created", ["partner_id", "created_on", "id"], unique=False)

    op.create_table(
        "partner_admin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "role IN ('PARTNER_FULL_ADMIN', 'PARTNER_READ_ONLY_ADMIN', 'SALES_FULL_ADMIN', 'SALES_ADMIN')",
            name="ck_partner_admin_role",
        ),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email", name="uq_partner_admin_email"),
        sa.UniqueConstraint("partner_id", "key", name="uq_partner_admin_key"),
    )
    with op.batch_alter_table("partner_admin", schema=None) as batch_op:
        batch_op.create_index("ix_partner_admin_partner_email", ["partner_id", "email", "id"], unique=False)

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["admin_id"], ["partner_admin.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_token_admin_id"), ["admin_id"], unique=False)

    op.create_table(
        "customer_admin",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["admin_id"], ["partner_admin.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("customer_id", "admin_id", name="pk_customer_admin"),
    )
    with op.batch_alter_table("customer_admin", schema=None) as batch_op:
        batch_op.create_index("ix_customer_admin_admin", ["admin_id", "customer_id"], unique=False)

    op.create_table(
        "plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("ext_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("auto_renew", sa.Boolean(), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(kind = 'SUBSCRIPTION' AND status IN ('ACTIVE', 'SUSPENDED', 'PENDING_SETUP', 'CANCELLED')) OR (kind = 'TRIAL' AND status IN ('ACTIVE', 'CONVERTED', 'CANCELLED') AND auto_renew = false)",
            name="ck_plan_status",
        ),
        sa.CheckConstraint("starts_on <= ends_on", name="ck_plan_dates"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["started_by_id"], ["partner_admin.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("partner_id", "kind", "ext_id", name="uq_plan_ext_id"),
    )
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.create_index("ix_plan_customer", ["customer_id", "kind", "starts_on"], unique=False)
        batch_op.create_index("ix_plan_partner_live", ["partner_id", "status", "ends_on"], unique=False)
        batch_op.create_index(
            "uq_plan_one_active_trial",
            ["customer_id"],
            unique=True,
            sqlite_where=sa.text("kind = 'TRIAL' AND status = 'ACTIVE'"),
            postgresql_where=sa.text("kind = 'TRIAL' AND status = 'ACTIVE'"),
        )

    op.create_table(
        "invoice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.CheckConstraint("status IN ('PAID', 'UNPAID', 'OVERDUE')", name="ck_invoice_status"),
        sa.CheckConstraint("amount >= 0", name="ck_invoice_amount"),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["plan_id"], ["plan.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("partner_id", "number", name="uq_invoice_number"),
    )
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.create_index("ix_invoice_plan", ["plan_id", "issued_on"], unique=False)

    op.create_table(
        "license_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=24), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("cur_date", sa.Date(), nullable=True),
        sa.Column("cur_assigned", sa.Integer(), nullable=False),
        sa.Column("cur_used", sa.Integer(), nullable=False),
        sa.Column("cur_used90", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "product IN ('MEETINGS', 'CALLING', 'MESSAGING', 'REAL_TIME_TRANSLATION')", name="ck_license_line_product"
        ),
        sa.CheckConstraint("total >= 0", name="ck_license_line_total"),
        sa.ForeignKeyConstraint(["plan_id"], ["plan.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id", "product", name="uq_license_line_product"),
    )
    with op.batch_alter_table("license_line", schema=None) as batch_op:
        batch_op.create_index("ix_license_line_product", ["product", "plan_id"], unique=False)

    op.create_table(
        "purchase_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("placed_on", sa.Date(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("product", sa.String(length=24), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "action IN ('NEW', 'ADD_LICENSES', 'REMOVE_LICENSES', 'RENEWAL', 'CANCELLATION')",
            name="ck_purchase_order_action",
        ),
        sa.CheckConstraint(
            "product IN ('MEETINGS', 'CALLING', 'MESSAGING', 'REAL_TIME_TRANSLATION')", name="ck_purchase_order_product"
        ),
        sa.CheckConstraint("quantity >= 0", name="ck_purchase_order_quantity"),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["plan_id"], ["plan.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("partner_id", "number", name="uq_purchase_order_number"),
    )
    with op.batch_alter_table("purchase_order", schema=None) as batch_op:
        batch_op.create_index("ix_purchase_order_plan", ["plan_id", "placed_on"], unique=False)

    op.create_table(
        "usage_snapshot",
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("assigned", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("used90", sa.Integer(), nullable=False),
        sa.CheckConstraint("assigned >= 0 AND used >= 0 AND used90 >= 0", name="ck_usage_snapshot_counts"),
        sa.ForeignKeyConstraint(["line_id"], ["license_line.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("line_id", "date", name="pk_usage_snapshot"),
    )


def downgrade() -> None:
    op.drop_table("usage_snapshot")
    with op.batch_alter_table("purchase_order", schema=None) as batch_op:
        batch_op.drop_index("ix_purchase_order_plan")

    op.drop_table("purchase_order")
    with op.batch_alter_table("license_line", schema=None) as batch_op:
        batch_op.drop_index("ix_license_line_product")

    op.drop_table("license_line")
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_plan")

    op.drop_table("invoice")
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_plan_one_active_trial",
            sqlite_where=sa.text("kind = 'TRIAL' AND status = 'ACTIVE'"),
            postgresql_where=sa.text("kind = 'TRIAL' AND status = 'ACTIVE'"),
        )
        batch_op.drop_index("ix_plan_partner_live")
        batch_op.drop_index("ix_plan_customer")

    op.drop_table("plan")
    with op.batch_alter_table("customer_admin", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_admin_admin")

    op.drop_table("customer_admin")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_admin_id"))

    op.drop_table("api_token")
    with op.batch_alter_table("partner_admin", schema=None) as batch_op:
        batch_op.drop_index("ix_partner_admin_partner_email")

    op.drop_table("partner_admin")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_partner_created")

    op.drop_table("customer")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_partner")

    op.drop_table("audit_event")
    op.drop_table("partner")
