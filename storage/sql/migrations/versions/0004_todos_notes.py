"""The to-dos (待办) and the notes timeline of a customer's card: two new tables.

``todos``: looked up by assignee (``/todo``, the agenda), by customer (the card),
by status; ranged by due time (the due reminders).  ``notes``: by customer (the
card's history), newest first by ``created_at``.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.sql.migrations import table

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "todos": (("assignee_id", "str"), ("created_by", "str"), ("customer_id", "str"), ("status", "str"),
              ("deleted", "bool"), ("created_at", "datetime"), ("due_at", "datetime"),
              ("done_at", "datetime")),
    "notes": (("customer_id", "str"), ("owner_id", "str"), ("author_id", "str"), ("deleted", "bool"),
              ("created_at", "datetime")),
}


def _type(kind: str) -> sa.types.TypeEngine[object]:
    return {
        "str": sa.Text().with_variant(sa.Text(collation="C"), "postgresql"),
        "bool": sa.Boolean(),
        "datetime": sa.Text().with_variant(sa.DateTime(timezone=True), "postgresql"),
    }[kind]


def upgrade() -> None:
    for name, columns in COLUMNS.items():
        main = table(name)
        op.create_table(
            main,
            sa.Column("id", sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql"),
                      nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
            *(sa.Column(field, _type(kind), nullable=True) for field, kind in columns),
            sa.PrimaryKeyConstraint("id", name=f"pk_{main}"),
        )
        for field, _kind in columns:
            op.create_index(f"ix_{main}_{field}", main, [field])


def downgrade() -> None:
    for name in reversed(COLUMNS):
        op.drop_table(table(name))
