"""Alembic environment: runs on the connection the store hands over (see service/migrations/__init__.py)."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the in-process runner is supported
    raise RuntimeError("run the migrations through service.migrations.upgrade_to_head(engine)")
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
