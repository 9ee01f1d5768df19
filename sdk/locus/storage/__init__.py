"""Where runs, events, schedule/sensor state, ticks and the code-location
registry live: SQLAlchemy Core tables and Alembic migrations for SQLite and
PostgreSQL, and an in-memory store for ephemeral runs."""
