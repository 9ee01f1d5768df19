"""Where runs, events, schedule/sensor state, ticks and the code-location
registry live: SQLAlchemy Core tables and Alembic migrations for SQLite and
PostgreSQL. (Ephemeral runs keep their events in memory: see
``locus.execution.ephemeral``.)"""
