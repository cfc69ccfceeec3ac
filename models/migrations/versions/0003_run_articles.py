"""Reviewing runs: which articles each run read (and which text), earlier article texts.

`run_article` is filled for the runs already stored from their facts: an article a
run found at least one fact in was read by that run, with the article's current
text (the only one kept so far).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.types import UTCDateTime

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FACT_TABLES = ("organization_fact", "person_fact", "role_fact", "money_fact")


def upgrade() -> None:
    op.create_table(
        "run_article",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("extracted_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["extraction_run.id"],
            name=op.f("fk_run_article_run_id_extraction_run"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["article.id"],
            name=op.f("fk_run_article_article_id_article"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "article_id", name=op.f("pk_run_article")),
    )
    op.create_index(op.f("ix_run_article_article_id"), "run_article", ["article_id"])

    op.create_table(
        "article_text",
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("replaced_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["article.id"],
            name=op.f("fk_article_text_article_id_article"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("content_hash", name=op.f("pk_article_text")),
    )
    op.create_index(op.f("ix_article_text_article_id"), "article_text", ["article_id"])

    # Runs stored before this revision: the articles they found facts in.
    pairs = " UNION ".join(f"SELECT run_id, article_id FROM {t}" for t in FACT_TABLES)
    op.execute(
        "INSERT INTO run_article (run_id, article_id, content_hash, extracted_at) "
        "SELECT p.run_id, p.article_id, a.content_hash, r.started_at "
        f"FROM ({pairs}) AS p "
        "JOIN article AS a ON a.id = p.article_id "
        "JOIN extraction_run AS r ON r.id = p.run_id"
    )


def downgrade() -> None:
    op.drop_table("article_text")
    op.drop_table("run_article")
