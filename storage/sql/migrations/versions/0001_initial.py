"""The schema crm-bot created before it had migrations (``create_all`` of schema.py then).

A database created by that code holds exactly these tables and no version
table; opening or upgrading it treats it as this revision.  Frozen: later
changes go in later revisions, never here.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.sql.migrations import table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# collection -> its derived columns (name, kind) in schema.py's order
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "staff": (("telegram_id", "int"), ("role", "str"), ("active", "bool"),
              ("created_at", "datetime")),
    "customers": (("owner_id", "str"), ("team", "str"), ("archived", "bool"),
                  ("referred_by", "str"), ("city", "str"), ("created_at", "datetime"),
                  ("updated_at", "datetime"), ("next_follow_up_at", "datetime"),
                  ("last_contact_at", "datetime")),
    "purchases": (("customer_id", "str"), ("owner_id", "str"), ("created_at", "datetime"),
                  ("purchased_on", "date")),
    "interactions": (("customer_id", "str"), ("owner_id", "str"), ("kind", "str"),
                     ("deleted", "bool"), ("created_at", "datetime"), ("occurred_at", "datetime"),
                     ("next_follow_up_at", "datetime")),
    "feedback": (("customer_id", "str"), ("owner_id", "str"), ("status", "str"), ("kind", "str"),
                 ("deleted", "bool"), ("created_at", "datetime"), ("due_at", "datetime"),
                 ("resolved_at", "datetime")),
    "reminders": (("recipient_id", "str"), ("status", "str"), ("kind", "str"),
                  ("customer_id", "str"), ("dedupe_key", "str"), ("created_at", "datetime"),
                  ("due_at", "datetime"), ("sent_at", "datetime")),
    "audit": (("entity_id", "str"), ("entity_type", "str"), ("actor_id", "str"), ("action", "str"),
              ("created_at", "datetime"), ("at", "datetime")),
    "invitations": (("created_by", "str"), ("revoked", "bool"), ("redeemed_by", "str"),
                    ("team", "str"), ("created_at", "datetime"), ("expires_at", "datetime")),
    "kv": (("namespace", "str"), ("created_at", "datetime")),
}
UNIQUE = {"staff": ("telegram_id",), "reminders": ("dedupe_key",)}
WITH_VALUES = ("staff", "customers")  # list-valued fields: a <table>_values side table


def _text() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def _id() -> sa.types.TypeEngine[str]:
    return sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


def _type(kind: str) -> sa.types.TypeEngine[object]:
    return {
        "str": _text(),
        "int": sa.BigInteger(),
        "bool": sa.Boolean(),
        # timestamptz on PostgreSQL; the codec's UTC ISO-8601 text elsewhere
        "datetime": sa.Text().with_variant(sa.DateTime(timezone=True), "postgresql"),
        "date": sa.Date(),
    }[kind]


def upgrade() -> None:
    for name, columns in COLUMNS.items():
        main = table(name)
        op.create_table(
            main,
            sa.Column("id", _id(), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                      nullable=False),
            *(sa.Column(field, _type(kind), nullable=True) for field, kind in columns),
            sa.PrimaryKeyConstraint("id", name=f"pk_{main}"),
        )
        for field, _kind in columns:
            unique = field in UNIQUE.get(name, ())
            op.create_index(f"{'ux' if unique else 'ix'}_{main}_{field}", main, [field],
                            unique=unique)
        if name in WITH_VALUES:
            values = f"{main}_values"
            op.create_table(
                values,
                sa.Column("field", _text(), nullable=False),
                sa.Column("value", _text(), nullable=False),
                sa.Column("id", _id(), nullable=False),
                sa.ForeignKeyConstraint(["id"], [f"{main}.id"], name=f"fk_{values}_id",
                                        ondelete="CASCADE"),
                sa.PrimaryKeyConstraint("field", "value", "id", name=f"pk_{values}"),
            )
            op.create_index(f"ix_{values}_id", values, ["id"])


def downgrade() -> None:
    for name in reversed(COLUMNS):
        if name in WITH_VALUES:
            op.drop_table(table(f"{name}_values"))
        op.drop_table(table(name))
