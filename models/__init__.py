"""Storage schema of newsfacts: SQLModel tables, column types, engine and migrations.

No business logic here; `pipeline.store` reads and writes these tables.
"""

from models.db import alembic_config, current_revision, head_revision, make_engine, migrate
from models.tables import (
    ARTICLE_KINDS,
    ENTRY_STATUSES,
    RUN_STATUSES,
    Article,
    ArticleAlias,
    ArticleText,
    Entry,
    ExtractionRun,
    Failure,
    MoneyFact,
    OrganizationFact,
    OrganizationMention,
    PersonFact,
    RoleFact,
    RunArticle,
    Source,
    metadata,
)
from models.types import ExactDecimal, UTCDateTime, utcnow

__all__ = [
    "ARTICLE_KINDS",
    "ENTRY_STATUSES",
    "RUN_STATUSES",
    "Article",
    "ArticleAlias",
    "ArticleText",
    "Entry",
    "ExactDecimal",
    "ExtractionRun",
    "Failure",
    "MoneyFact",
    "OrganizationFact",
    "OrganizationMention",
    "PersonFact",
    "RoleFact",
    "RunArticle",
    "Source",
    "UTCDateTime",
    "alembic_config",
    "current_revision",
    "head_revision",
    "make_engine",
    "metadata",
    "migrate",
    "utcnow",
]
