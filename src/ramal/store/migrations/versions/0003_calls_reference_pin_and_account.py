"""calls reference their pin and its account with one foreign key

One check per inserted call instead of two (see ``store/tables.py``), and a call can no longer name a
pin of another account. On SQLite the pins and calls tables are rebuilt (their rows copied); the
migration environment turns foreign keys off meanwhile and checks them all before committing.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pins") as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_pins_id_account_id"), ["id", "account_id"])
    with op.batch_alter_table("calls") as batch_op:
        batch_op.drop_constraint("fk_calls_account_id_accounts", type_="foreignkey")
        batch_op.drop_constraint("fk_calls_pin_id_pins", type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_calls_pin_id_pins"), "pins", ["pin_id", "account_id"], ["id", "account_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch_op:
        batch_op.drop_constraint("fk_calls_pin_id_pins", type_="foreignkey")
        batch_op.create_foreign_key(batch_op.f("fk_calls_pin_id_pins"), "pins", ["pin_id"], ["id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_calls_account_id_accounts"), "accounts", ["account_id"], ["id"]
        )
    with op.batch_alter_table("pins") as batch_op:
        batch_op.drop_constraint("uq_pins_id_account_id", type_="unique")
