"""The SQL schema as SQLAlchemy Core tables: one MetaData, portable types
(SQLite and PostgreSQL), named indexes. Migrations create exactly this; a test
compares the two.

Timestamps are epoch seconds as doubles, like RunRecord and Event, so no
timezone conversion happens between Python and either database.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# 64-bit ids on PostgreSQL (event logs outgrow 2**31); on SQLite only INTEGER
# PRIMARY KEY is the auto-incrementing rowid, and it is 64-bit anyway.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The autoincrement ``id`` orders runs stably (creation order) and makes
# cursor pagination a single indexed comparison.
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(255), nullable=False),
    sa.Column("job_name", sa.String(512), nullable=False),
    sa.Column("status", sa.String(63), nullable=False),
    sa.Column("location_name", sa.String(512)),
    sa.Column("parent_run_id", sa.String(255)),
    sa.Column("root_run_id", sa.String(255)),
    sa.Column("run_body", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("start_time", sa.Double),
    sa.Column("end_time", sa.Double),
    sa.UniqueConstraint("run_id", name="uq_runs_run_id"),
    sa.Index("ix_runs_status", "status", "id"),
    sa.Index("ix_runs_job_name", "job_name", "id"),
    sa.Index("ix_runs_created_at", "created_at"),
)

run_tags = sa.Table(
    "run_tags",
    metadata,
    sa.Column("run_id", sa.String(255), primary_key=True),
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Index("ix_run_tags_key_value", "key", "value"),
)

event_logs = sa.Table(
    "event_logs",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(255), nullable=False),
    sa.Column("event_type", sa.String(63), nullable=False),
    sa.Column("step_key", sa.Text),
    sa.Column("asset_key", sa.Text),
    sa.Column("timestamp", sa.Double, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Index("ix_event_logs_run_id_id", "run_id", "id"),
    sa.Index("ix_event_logs_event_type", "event_type", "id"),
    sa.Index("ix_event_logs_asset_key", "asset_key", "id"),
    sa.Index("ix_event_logs_timestamp", "timestamp"),
)

# One row per materialised asset, kept current by store_event, so "latest
# materialisation" never scans the event log.
asset_keys = sa.Table(
    "asset_keys",
    metadata,
    sa.Column("asset_key", sa.String(1024), primary_key=True),
    sa.Column("last_materialization_event_id", Id, nullable=False),
    sa.Column("last_run_id", sa.String(255), nullable=False),
    sa.Column("last_materialization_timestamp", sa.Double, nullable=False),
)

instigators = sa.Table(
    "instigators",
    metadata,
    sa.Column("origin_id", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("location_name", sa.String(512), nullable=False),
    sa.Column("instigator_type", sa.String(63), nullable=False),
    sa.Column("status", sa.String(63), nullable=False),
    sa.Column("cursor", sa.Text),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Index("ix_instigators_type_location", "instigator_type", "location_name"),
)

ticks = sa.Table(
    "ticks",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("origin_id", sa.String(255), nullable=False),
    sa.Column("tick_key", sa.String(255), nullable=False),
    sa.Column("status", sa.String(63), nullable=False),
    sa.Column("timestamp", sa.Double, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    # The exactly-once guarantee for schedules rests on this constraint.
    sa.UniqueConstraint("origin_id", "tick_key", name="uq_ticks_origin_id_tick_key"),
    sa.Index("ix_ticks_origin_id_timestamp", "origin_id", "timestamp"),
    sa.Index("ix_ticks_timestamp", "timestamp"),
)

code_locations = sa.Table(
    "code_locations",
    metadata,
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column("status", sa.String(63), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)

kvs = sa.Table(
    "kvs",
    metadata,
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

daemon_heartbeats = sa.Table(
    "daemon_heartbeats",
    metadata,
    sa.Column("daemon_type", sa.String(255), primary_key=True),
    sa.Column("daemon_id", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Double, nullable=False),
    sa.Column("info", sa.Text),
)
