"""Review decisions: confirm, dismiss or correct a result, by a reviewer's key.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("result_id", sa.String(40), sa.ForeignKey("results.id", ondelete="CASCADE"), nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("kinds", sa.Text, nullable=False),
        sa.Column("boxes", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("examples", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_decisions_result_id", "decisions", ["result_id"])
    op.create_index("ix_decisions_created_at", "decisions", ["created_at"])


def downgrade() -> None:
    op.drop_table("decisions")
