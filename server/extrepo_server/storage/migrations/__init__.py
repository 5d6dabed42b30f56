"""Alembic migrations of the extrepo schema (env.py, versions/). Run through schema.py."""
