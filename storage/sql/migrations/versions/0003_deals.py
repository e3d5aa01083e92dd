"""The deals (商机) table: one row per deal, its searchable fields as columns.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.sql.migrations import table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# the derived columns (name, kind) in schema.py's order: indexed, then ranged
COLUMNS: tuple[tuple[str, str], ...] = (
    ("customer_id", "str"), ("owner_id", "str"), ("team", "str"), ("stage", "str"), ("open", "bool"),
    ("created_at", "datetime"), ("updated_at", "datetime"), ("expected_close_on", "date"),
    ("closed_at", "datetime"), ("stage_changed_at", "datetime"),
)


def _type(kind: str) -> sa.types.TypeEngine[object]:
    return {
        "str": sa.Text().with_variant(sa.Text(collation="C"), "postgresql"),
        "bool": sa.Boolean(),
        # timestamptz on PostgreSQL; the codec's UTC ISO-8601 text elsewhere
        "datetime": sa.Text().with_variant(sa.DateTime(timezone=True), "postgresql"),
        "date": sa.Date(),
    }[kind]


def upgrade() -> None:
    deals = table("deals")
    op.create_table(
        deals,
        sa.Column("id", sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        *(sa.Column(field, _type(kind), nullable=True) for field, kind in COLUMNS),
        sa.PrimaryKeyConstraint("id", name=f"pk_{deals}"),
    )
    for field, _kind in COLUMNS:
        op.create_index(f"ix_{deals}_{field}", deals, [field])


def downgrade() -> None:
    op.drop_table(table("deals"))
