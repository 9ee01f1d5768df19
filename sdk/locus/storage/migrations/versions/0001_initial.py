"""Initial schema: runs, tags, event log, asset index, schedules/sensors and
ticks, code-location registry, key/value store, daemon heartbeats.

Written out rather than built from tables.py, so that later edits to the
tables cannot change what this revision creates.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "runs",
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
    )
    op.create_index("ix_runs_status", "runs", ["status", "id"])
    op.create_index("ix_runs_job_name", "runs", ["job_name", "id"])
    op.create_index("ix_runs_created_at", "runs", ["created_at"])

    op.create_table(
        "run_tags",
        sa.Column("run_id", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_index("ix_run_tags_key_value", "run_tags", ["key", "value"])

    op.create_table(
        "event_logs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(63), nullable=False),
        sa.Column("step_key", sa.Text),
        sa.Column("asset_key", sa.Text),
        sa.Column("timestamp", sa.Double, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_event_logs_run_id_id", "event_logs", ["run_id", "id"])
    op.create_index("ix_event_logs_event_type", "event_logs", ["event_type", "id"])
    op.create_index("ix_event_logs_asset_key", "event_logs", ["asset_key", "id"])
    op.create_index("ix_event_logs_timestamp", "event_logs", ["timestamp"])

    op.create_table(
        "asset_keys",
        sa.Column("asset_key", sa.String(1024), primary_key=True),
        sa.Column("last_materialization_event_id", Id, nullable=False),
        sa.Column("last_run_id", sa.String(255), nullable=False),
        sa.Column("last_materialization_timestamp", sa.Double, nullable=False),
    )

    op.create_table(
        "instigators",
        sa.Column("origin_id", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("location_name", sa.String(512), nullable=False),
        sa.Column("instigator_type", sa.String(63), nullable=False),
        sa.Column("status", sa.String(63), nullable=False),
        sa.Column("cursor", sa.Text),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    op.create_index("ix_instigators_type_location", "instigators", ["instigator_type", "location_name"])

    op.create_table(
        "ticks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("origin_id", sa.String(255), nullable=False),
        sa.Column("tick_key", sa.String(255), nullable=False),
        sa.Column("status", sa.String(63), nullable=False),
        sa.Column("timestamp", sa.Double, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.UniqueConstraint("origin_id", "tick_key", name="uq_ticks_origin_id_tick_key"),
    )
    op.create_index("ix_ticks_origin_id_timestamp", "ticks", ["origin_id", "timestamp"])
    op.create_index("ix_ticks_timestamp", "ticks", ["timestamp"])

    op.create_table(
        "code_locations",
        sa.Column("name", sa.String(512), primary_key=True),
        sa.Column("status", sa.String(63), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )

    op.create_table(
        "kvs",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )

    op.create_table(
        "daemon_heartbeats",
        sa.Column("daemon_type", sa.String(255), primary_key=True),
        sa.Column("daemon_id", sa.String(255), nullable=False),
        sa.Column("timestamp", sa.Double, nullable=False),
        sa.Column("info", sa.Text),
    )


def downgrade() -> None:
    for table in (
        "daemon_heartbeats",
        "kvs",
        "code_locations",
        "ticks",
        "instigators",
        "asset_keys",
        "event_logs",
        "run_tags",
        "runs",
    ):
        op.drop_table(table)
