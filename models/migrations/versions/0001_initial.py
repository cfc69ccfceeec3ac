"""Initial schema: articles, extraction runs, facts per article and run, failures.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

from models.types import ExactDecimal, UTCDateTime

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FACT_TABLES = ("organization_fact", "person_fact", "role_fact", "money_fact")


def _fact_keys(table: str) -> list[SchemaItem]:
    """The article and run columns every fact table has, with their foreign keys."""
    return [
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["article.id"],
            name=op.f(f"fk_{table}_article_id_article"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["extraction_run.id"],
            name=op.f(f"fk_{table}_run_id_extraction_run"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "article",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("canonical_url", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("published", sa.Date(), nullable=True),
        sa.Column("language", sa.String(), nullable=True),
        sa.Column("site", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('html', 'text')", name=op.f("ck_article_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article")),
        sa.UniqueConstraint("canonical_url", name=op.f("uq_article_canonical_url")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_article_content_hash")),
    )
    op.create_index(op.f("ix_article_published"), "article", ["published"])

    op.create_table(
        "extraction_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("code_version", sa.String(), nullable=False),
        sa.Column("model_name", sa.String(), nullable=False),
        sa.Column("model_version", sa.String(), nullable=False),
        sa.Column("config_hash", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("n_ok", sa.Integer(), nullable=False),
        sa.Column("n_failed", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'finished', 'failed')",
            name=op.f("ck_extraction_run_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extraction_run")),
    )
    op.create_index(op.f("ix_extraction_run_started_at"), "extraction_run", ["started_at"])

    op.create_table(
        "organization_fact",
        sa.Column("id", sa.Integer(), nullable=False),
        *_fact_keys("organization_fact"),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("mentions", sa.Integer(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_fact")),
    )
    op.create_index(op.f("ix_organization_fact_name"), "organization_fact", ["name"])

    op.create_table(
        "organization_mention",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_fact_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("sentence", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_fact_id"],
            ["organization_fact.id"],
            name=op.f("fk_organization_mention_org_fact_id_organization_fact"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_mention")),
    )
    op.create_index(
        op.f("ix_organization_mention_org_fact_id"), "organization_mention", ["org_fact_id"]
    )

    op.create_table(
        "person_fact",
        sa.Column("id", sa.Integer(), nullable=False),
        *_fact_keys("person_fact"),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("mentions", sa.Integer(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=True),
        sa.Column("end", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_fact")),
    )
    op.create_index(op.f("ix_person_fact_name"), "person_fact", ["name"])

    op.create_table(
        "role_fact",
        sa.Column("id", sa.Integer(), nullable=False),
        *_fact_keys("role_fact"),
        sa.Column("person", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("org", sa.Text(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("pattern", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_fact")),
    )
    op.create_index(op.f("ix_role_fact_person"), "role_fact", ["person"])

    op.create_table(
        "money_fact",
        sa.Column("id", sa.Integer(), nullable=False),
        *_fact_keys("money_fact"),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("qualifier", sa.String(), nullable=True),
        sa.Column("unit", sa.String(), nullable=True),
        sa.Column("range", sa.String(), nullable=True),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.CheckConstraint("length(currency) = 3", name=op.f("ck_money_fact_currency")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_money_fact")),
    )

    for table in FACT_TABLES:
        op.create_index(op.f(f"ix_{table}_article_id_run_id"), table, ["article_id", "run_id"])
        op.create_index(op.f(f"ix_{table}_run_id"), table, ["run_id"])

    op.create_table(
        "failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("stage", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["extraction_run.id"],
            name=op.f("fk_failure_run_id_extraction_run"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failure")),
    )
    op.create_index(op.f("ix_failure_source_stage"), "failure", ["source", "stage"])
    op.create_index(op.f("ix_failure_run_id"), "failure", ["run_id"])


def downgrade() -> None:
    # Tables go in reverse order of their foreign keys; their indexes go with them.
    for table in (
        "failure",
        "money_fact",
        "role_fact",
        "person_fact",
        "organization_mention",
        "organization_fact",
        "extraction_run",
        "article",
    ):
        op.drop_table(table)
