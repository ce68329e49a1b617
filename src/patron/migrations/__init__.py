"""Alembic migrations (the same scripts for SQLite and PostgreSQL)."""
