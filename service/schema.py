"""The store's tables (SQLAlchemy Core). The Alembic migrations in service/migrations/ create exactly these;
tests/test_store.py checks that the migrated database and this metadata agree."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

results = sa.Table(
    "results",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("created_at", sa.String(32), nullable=False, index=True),
    sa.Column("decision", sa.String(16), nullable=False, index=True),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("post_id", sa.String(256), nullable=False, default=""),
    sa.Column("policy_version", sa.String(64), nullable=False, default=""),
    sa.Column("source", sa.String(16), nullable=False, default="http"),
    sa.Column("submitted_by", sa.String(64), nullable=False, default=""),
    sa.Column("caption", sa.Text, nullable=False, default=""),
    sa.Column("account_claim", sa.String(256), nullable=False, default=""),
    sa.Column("account_verified", sa.Boolean, nullable=False, default=False),
    sa.Column("image_sha256", sa.Text, nullable=False, default="[]"),
    sa.Column("verdict", sa.Text, nullable=False),
)

images = sa.Table(
    "images",
    metadata,
    sa.Column("result_id", sa.String(40), sa.ForeignKey("results.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("media_type", sa.String(32), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("revoked_at", sa.String(32), nullable=True),
)

exemptions = sa.Table(
    "exemptions",
    metadata,
    sa.Column("account_id", sa.String(256), primary_key=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("name", sa.String(256), nullable=False, default=""),
    sa.Column("reference", sa.Text, nullable=False, default=""),
    sa.Column("valid_until", sa.String(10), nullable=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False, default=""),
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("events", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
)

deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("webhook_id", sa.String(40), nullable=False, index=True),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=False, default=""),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(256), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("result_id", sa.String(40), sa.ForeignKey("results.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("reviewer", sa.String(64), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("kinds", sa.Text, nullable=False),
    sa.Column("boxes", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("examples", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False, index=True),
)
