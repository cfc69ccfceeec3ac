"""The tables: articles, extraction runs, the facts of each run, failures.

Facts point at both their article and their run, so the facts two runs found in
the same article can be compared. Deleting an article or a run deletes its facts.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CHAR,
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from models.types import ExactDecimal, UTCDateTime, utcnow

# Every constraint and index gets a predictable name, so later migrations can
# alter or drop them on both SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

ARTICLE_KINDS = ("html", "text")
RUN_STATUSES = ("running", "finished", "failed")


class Base(SQLModel, registry=registry(metadata=metadata)):
    """Base of the newsfacts tables: their own metadata, not SQLModel's global one."""


def _fk(target: str, ondelete: str) -> ForeignKey:
    return ForeignKey(target, ondelete=ondelete)


def _article_id() -> int:
    return Field(sa_column=Column(Integer, _fk("article.id", "CASCADE"), nullable=False))


def _run_id() -> int:
    return Field(sa_column=Column(Integer, _fk("extraction_run.id", "CASCADE"), nullable=False))


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Article(Base, table=True):
    """One article, whatever the number of runs over it.

    Identity: its canonical URL when it has one, else the hash of its body text.
    """

    __tablename__ = "article"
    __table_args__ = (
        UniqueConstraint("canonical_url"),
        UniqueConstraint("content_hash"),
        CheckConstraint(_in("kind", ARTICLE_KINDS), name="kind"),
        Index(None, "published"),
    )

    id: int | None = Field(default=None, primary_key=True)
    canonical_url: str | None = Field(default=None, sa_type=Text)
    content_hash: str  # sha256 hex of the normalised body
    source: str = Field(sa_type=Text)  # what the user passed: a path, a URL or "-"
    title: str | None = Field(default=None, sa_type=Text)
    author: str | None = Field(default=None, sa_type=Text)
    published: date | None = None
    language: str | None = Field(default=None)
    site: str | None = Field(default=None, sa_type=Text)
    text: str = Field(sa_type=Text)
    kind: str  # "html" or "text"
    first_seen: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ExtractionRun(Base, table=True):
    """One pass of the extractors over some articles, with what produced it."""

    __tablename__ = "extraction_run"
    __table_args__ = (
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        Index(None, "started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    kind: str = Field(default="run")  # "run", "ingest", "reextract", ...
    code_version: str
    model_name: str
    model_version: str
    config_hash: str
    status: str = Field(default="running")
    n_ok: int = 0
    n_failed: int = 0


class OrganizationFact(Base, table=True):
    """A distinct organisation one run found in one article."""

    __tablename__ = "organization_fact"
    __table_args__ = (
        Index(None, "article_id", "run_id"),
        Index(None, "run_id"),
        Index(None, "name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = _article_id()
    run_id: int = _run_id()
    name: str = Field(sa_type=Text)
    mentions: int = 0  # how many times the text names it
    aliases: list[str] = Field(default_factory=list, sa_type=JSON)  # a JSON list of names


class OrganizationMention(Base, table=True):
    """One occurrence of an organisation in the article text."""

    __tablename__ = "organization_mention"
    __table_args__ = (Index(None, "org_fact_id"),)

    id: int | None = Field(default=None, primary_key=True)
    org_fact_id: int = Field(
        sa_column=Column(Integer, _fk("organization_fact.id", "CASCADE"), nullable=False)
    )
    text: str = Field(sa_type=Text)
    start: int
    end: int
    sentence: str = Field(sa_type=Text)


class PersonFact(Base, table=True):
    """A person one run found in one article."""

    __tablename__ = "person_fact"
    __table_args__ = (
        Index(None, "article_id", "run_id"),
        Index(None, "run_id"),
        Index(None, "name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = _article_id()
    run_id: int = _run_id()
    name: str = Field(sa_type=Text)
    mentions: int = 0
    start: int | None = None  # span of the first mention
    end: int | None = None


class RoleFact(Base, table=True):
    """A person holding a title, at an organisation when the text names one."""

    __tablename__ = "role_fact"
    __table_args__ = (
        Index(None, "article_id", "run_id"),
        Index(None, "run_id"),
        Index(None, "person"),
    )

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = _article_id()
    run_id: int = _run_id()
    person: str = Field(sa_type=Text)
    role: str = Field(sa_type=Text)
    org: str | None = Field(default=None, sa_type=Text)
    evidence: str = Field(sa_type=Text)  # the supporting sentence
    start: int
    end: int
    pattern: str  # which rule found it


class MoneyFact(Base, table=True):
    """A money figure, with its exact amount and ISO 4217 currency."""

    __tablename__ = "money_fact"
    __table_args__ = (
        Index(None, "article_id", "run_id"),
        Index(None, "run_id"),
        CheckConstraint("length(currency) = 3", name="currency"),
    )

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = _article_id()
    run_id: int = _run_id()
    text: str = Field(sa_type=Text)  # as written, e.g. "$80 billion"
    amount: Decimal = Field(sa_type=ExactDecimal)
    currency: str = Field(sa_type=CHAR(3))
    qualifier: str | None = Field(default=None)
    unit: str | None = Field(default=None)
    range: str | None = Field(default=None)  # "low"/"high" end of a range
    context: str = Field(sa_type=Text)
    start: int
    end: int


class Failure(Base, table=True):
    """An input that failed at a stage; a later run may retry and resolve it."""

    __tablename__ = "failure"
    __table_args__ = (Index(None, "source", "stage"), Index(None, "run_id"))

    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, _fk("extraction_run.id", "SET NULL"), nullable=True),
    )
    source: str = Field(sa_type=Text)
    url: str | None = Field(default=None, sa_type=Text)
    stage: str  # fetch, decode, clean, extract, store
    reason: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    attempts: int = 1
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# --- feed ingestion (migration 0002) ------------------------------------------------

ENTRY_STATUSES = ("pending", "stored", "duplicate", "failed", "skipped")


class Source(Base, table=True):
    """A feed or sitemap that ingestion polls, with what the last poll learned.

    Child sitemaps of a sitemap index are sources too (``parent_id``), so each keeps its
    own validators. ``etag``/``last_modified`` are sent back on the next poll (a 304 costs
    nothing else); ``body_hash`` catches unchanged feeds from servers without validators.
    """

    __tablename__ = "source"
    __table_args__ = (UniqueConstraint("url"), Index(None, "parent_id"))

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_type=Text)  # as configured (or as listed in a sitemap index)
    name: str | None = Field(default=None, sa_type=Text)
    parent_id: int | None = Field(
        default=None, sa_column=Column(Integer, _fk("source.id", "CASCADE"), nullable=True)
    )
    feed_url: str | None = Field(default=None, sa_type=Text)  # found by auto-discovery
    kind: str | None = None  # rss, atom, rdf, json, sitemap, sitemapindex
    etag: str | None = Field(default=None, sa_type=Text)
    last_modified: str | None = Field(default=None, sa_type=Text)
    body_hash: str | None = None
    lastmod: str | None = None  # a child sitemap's <lastmod> in its index, when last read
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_polled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status: str | None = None  # "changed", "not-modified", "unchanged", "failed"
    last_error: str | None = Field(default=None, sa_type=Text)
    errors_in_row: int = 0
    next_poll_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # Retry-After


class Entry(Base, table=True):
    """A URL a feed listed: seen once, processed once (unless the feed says it changed).

    ``status`` is pending (to do; may be held by a worker until ``claimed_until``, or wait
    for ``next_attempt_at`` after a transient failure), stored, duplicate (same text as
    ``article_id``), failed (permanent, or out of attempts) or skipped (filtered out).
    """

    __tablename__ = "entry"
    __table_args__ = (
        UniqueConstraint("url"),
        CheckConstraint(_in("status", ENTRY_STATUSES), name="status"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "source_id"),
        Index(None, "article_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_type=Text)  # canonical URL as the feed lists it
    source_id: int | None = Field(
        default=None, sa_column=Column(Integer, _fk("source.id", "SET NULL"), nullable=True)
    )
    status: str = Field(default="pending")
    article_id: int | None = Field(
        default=None, sa_column=Column(Integer, _fk("article.id", "SET NULL"), nullable=True)
    )
    title: str | None = Field(default=None, sa_type=Text)
    published: datetime | None = Field(default=None, sa_type=UTCDateTime)
    language: str | None = None
    marker: str | None = Field(default=None, sa_type=Text)  # the feed's updated/lastmod
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str | None = None
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ArticleAlias(Base, table=True):
    """Another URL of a stored article: a redirect, its rel=canonical, or the same text."""

    __tablename__ = "article_alias"
    __table_args__ = (UniqueConstraint("url"), Index(None, "article_id"))

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_type=Text)
    article_id: int = _article_id()
    reason: str  # "redirect", "canonical", "same-text"
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- reviewing runs (migration 0003) --------------------------------------------------


class RunArticle(Base, table=True):
    """An article a run extracted, and the version of its text that run read.

    It tells a run that found nothing in an article from a run that never read it,
    and which text the character offsets of that run's facts point into.
    """

    __tablename__ = "run_article"
    __table_args__ = (Index(None, "article_id"),)

    run_id: int = Field(
        sa_column=Column(Integer, _fk("extraction_run.id", "CASCADE"), primary_key=True)
    )
    article_id: int = Field(
        sa_column=Column(Integer, _fk("article.id", "CASCADE"), primary_key=True)
    )
    content_hash: str  # of the text the run extracted from
    extracted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ArticleText(Base, table=True):
    """An earlier text of an article, kept when a new version of the page replaced it.

    Older runs' facts point into the text they read; keeping it lets a reviewer see
    them in place after the article was re-published.
    """

    __tablename__ = "article_text"
    __table_args__ = (Index(None, "article_id"),)

    content_hash: str = Field(primary_key=True)
    article_id: int = _article_id()
    text: str = Field(sa_type=Text)
    replaced_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
