"""call_fields WITHOUT ROWID on SQLite

Its primary key (call_id, key) becomes the table itself, one b-tree write less per field row (see
``store/tables.py``). SQLite cannot change this in place, so the table is rebuilt (rows copied, indexes
recreated); PostgreSQL has no such option and is left as it is.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _rebuild_on_sqlite(with_rowid=False)


def downgrade() -> None:
    _rebuild_on_sqlite(with_rowid=True)


def _rebuild_on_sqlite(*, with_rowid: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "call_fields", recreate="always", table_kwargs={"sqlite_with_rowid": with_rowid}
    ):
        pass
