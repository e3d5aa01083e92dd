"""An index for the delivery worker's poll: pending reminders by due time.

``ReminderService.due`` / ``next_due`` ask for ``status = 'pending'`` ordered
by ``(due_at, id)``; with only the one-column indexes the database either
filters every reminder ever sent or sorts all pending ones.  Measured
(``python bench/due_index.py``, 100 000 reminders of which 1 000 pending,
200 at a time): SQLite 16 ms -> 2.5 ms; PostgreSQL's planner keeps the
status index and a top-N sort at that size (6-10 ms either way).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from storage.sql.migrations import table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    reminders = table("reminders")
    op.create_index(f"ix_{reminders}_status_due_at", reminders, ["status", "due_at", "id"])


def downgrade() -> None:
    reminders = table("reminders")
    op.drop_index(f"ix_{reminders}_status_due_at", table_name=reminders)
