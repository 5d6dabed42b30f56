"""Alembic environment: runs on the connection schema.py hands over, never on its own.

`extrepo-server migrate` (or migrating on start) opens the connection, takes the
migration lock and passes the connection in `config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from extrepo_server.storage import models  # noqa: F401  (registers the tables)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations with `extrepo-server migrate`, which connects to the configured database"
    )

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    # SQLite cannot ALTER most things: batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    transaction_per_migration=False,
)

with context.begin_transaction():
    context.run_migrations()
