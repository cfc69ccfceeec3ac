"""What ingestion has seen and done, in the database: sources, entries, URL aliases.

The ledger is what makes polling incremental and exactly-once:

- every URL a feed lists becomes one ``entry`` row (unique on its canonical URL), so a
  later poll knows it and fetches nothing;
- a worker takes pending entries with an atomic claim (an UPDATE that only succeeds on
  rows nobody holds; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two processes never
  work on the same entry, and a crashed worker's claims expire (or are released at
  once when its process is gone);
- an entry is marked stored in the same transaction that stores its article and facts
  (``Store.save(then=...)``), so after a crash every entry is either stored with its
  facts or still pending.

All times are UTC.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from models import Article, ArticleAlias, Entry, Failure, Source, utcnow
from pipeline.feeds import FeedEntry
from pipeline.store import Store

log = logging.getLogger(__name__)

CHUNK = 500  # rows per statement when recording entries


def new_worker_id() -> str:
    """host:pid:random, so claims of a dead process on this host can be released."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class SourceState:
    """A source row as the poller needs it (a detached copy)."""

    id: int
    url: str
    name: str | None
    feed_url: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    lastmod: str | None
    next_poll_at: datetime | None


@dataclass(frozen=True, slots=True)
class Claimed:
    """An entry a worker holds."""

    id: int
    url: str
    source_id: int | None
    attempts: int
    title: str | None = None


@dataclass(slots=True)
class Recorded:
    """What recording a poll's entries did."""

    new: int = 0
    changed: int = 0
    seen: int = 0
    known: int = 0  # new to the ledger, but already stored as an article


class Ledger:
    """Ingestion bookkeeping on a Store's database."""

    def __init__(self, store: Store) -> None:
        self.engine: Engine = store.engine
        self._writer = store.engine.execution_options(sqlite_begin="IMMEDIATE")

    def _session(self, *, write: bool = False) -> Session:
        return Session(self._writer if write else self.engine, expire_on_commit=False)

    # ------------------------------------------------------------------ sources

    def source(
        self, url: str, name: str | None = None, parent_id: int | None = None
    ) -> SourceState:
        """The row of a source URL, created on first use."""
        with self._session(write=True) as session, session.begin():
            row = session.exec(select(Source).where(col(Source.url) == url)).first()
            if row is None:
                _insert_ignore(
                    session,
                    Source,
                    {
                        "url": url,
                        "name": name,
                        "parent_id": parent_id,
                        "created_at": utcnow(),
                        "errors_in_row": 0,
                    },
                    ("url",),
                )
                row = session.exec(select(Source).where(col(Source.url) == url)).one()
            elif name and row.name != name:
                row.name = name
            return _state(row)

    def record_poll(self, source_id: int, **values: Any) -> None:
        """Update a source after a poll: validators, status, error, next_poll_at, ..."""
        values.setdefault("last_polled_at", utcnow())
        with self._session(write=True) as session, session.begin():
            session.execute(update(Source).where(col(Source.id) == source_id).values(**values))

    def poll_failed(self, source_id: int, reason: str, retry_at: datetime | None) -> None:
        with self._session(write=True) as session, session.begin():
            session.execute(
                update(Source)
                .where(col(Source.id) == source_id)
                .values(
                    last_polled_at=utcnow(),
                    last_status="failed",
                    last_error=reason,
                    errors_in_row=Source.errors_in_row + 1,
                    next_poll_at=retry_at,
                )
            )

    def resolve_failures(self, sources: Iterable[str]) -> None:
        """Open failures of these inputs (feed URLs, entry URLs) are resolved."""
        wanted = list(sources)
        if not wanted:
            return
        with self._session(write=True) as session, session.begin():
            session.execute(
                update(Failure)
                .where(col(Failure.source).in_(wanted), col(Failure.resolved_at).is_(None))
                .values(resolved_at=utcnow())
            )

    def children(self, parent_id: int) -> list[SourceState]:
        with self._session() as session:
            rows = session.exec(select(Source).where(col(Source.parent_id) == parent_id)).all()
            return [_state(r) for r in rows]

    def sources(self) -> list[Source]:
        with self._session() as session:
            return list(session.exec(select(Source).order_by(col(Source.id))).all())

    # ------------------------------------------------------------------ entries

    def record_entries(
        self, source_id: int, entries: Sequence[FeedEntry], *, refetch_updated: bool = True
    ) -> Recorded:
        """Insert new entries as pending; mark entries whose marker changed as pending again.

        An entry whose URL is already a stored article (or one of its aliases) is recorded
        as stored at once: nothing to fetch.
        """
        counts = Recorded()
        now = utcnow()
        unique = list({e.url: e for e in entries}.values())
        for start in range(0, len(unique), CHUNK):
            chunk = unique[start : start + CHUNK]
            urls = [e.url for e in chunk]
            with self._session(write=True) as session, session.begin():
                existing = {
                    row.url: row
                    for row in session.exec(select(Entry).where(col(Entry.url).in_(urls)))
                }
                stored = _articles_by_url(session, [u for u in urls if u not in existing])
                for entry in chunk:
                    row = existing.get(entry.url)
                    if row is None:
                        article_id = stored.get(entry.url)
                        values = {
                            "url": entry.url,
                            "source_id": source_id,
                            "status": "stored" if article_id else "pending",
                            "article_id": article_id,
                            "title": entry.title,
                            "published": entry.published,
                            "language": entry.language,
                            "marker": entry.marker,
                            "attempts": 0,
                            "first_seen_at": now,
                            "last_seen_at": now,
                            "done_at": now if article_id else None,
                        }
                        if _insert_ignore(session, Entry, values, ("url",)):
                            counts.known += bool(article_id)
                            counts.new += not article_id
                        else:
                            counts.seen += 1  # another process recorded it just now
                        continue
                    changed = (
                        refetch_updated
                        and entry.marker is not None
                        and row.marker != entry.marker
                        and row.status in ("stored", "duplicate")
                    )
                    if changed:
                        row.status = "pending"
                        row.attempts = 0
                        row.next_attempt_at = None
                        row.done_at = None
                        counts.changed += 1
                    else:
                        counts.seen += 1
                    if entry.marker is not None:
                        row.marker = entry.marker
                    row.last_seen_at = now
        return counts

    def claim(
        self,
        worker: str,
        limit: int,
        ttl: float,
        *,
        source_ids: Sequence[int] | None = None,
        entry_ids: Sequence[int] | None = None,
    ) -> list[Claimed]:
        """Take up to ``limit`` pending entries nobody holds, for ``ttl`` seconds."""
        now = utcnow()
        free = and_(
            col(Entry.status) == "pending",
            or_(col(Entry.claimed_until).is_(None), col(Entry.claimed_until) < now),
            or_(col(Entry.next_attempt_at).is_(None), col(Entry.next_attempt_at) <= now),
        )
        pick = select(Entry.id).where(free)
        if source_ids is not None:
            pick = pick.where(col(Entry.source_id).in_(list(source_ids)))
        if entry_ids is not None:
            pick = pick.where(col(Entry.id).in_(list(entry_ids)))
        # A CTE, evaluated once: PostgreSQL may run a LIMIT ... SKIP LOCKED subquery inside
        # IN (...) more than once and so hand out more than `limit` rows.
        picked = (
            pick.order_by(col(Entry.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("picked")
        )
        statement = (
            update(Entry)
            .where(col(Entry.id) == picked.c.id, free)
            .values(claimed_by=worker, claimed_until=now + timedelta(seconds=ttl))
            .returning(
                col(Entry.id),
                col(Entry.url),
                col(Entry.source_id),
                col(Entry.attempts),
                col(Entry.title),
            )
        )
        with self._session(write=True) as session, session.begin():
            rows = session.execute(statement).all()
        claimed = sorted((Claimed(*row) for row in rows), key=lambda c: c.id)
        if claimed:
            log.debug("%s claimed %d entries", worker, len(claimed))
        return claimed

    def pending(self, source_ids: Sequence[int] | None = None) -> int:
        """Entries that a claim could take now."""
        now = utcnow()
        query = (
            select(func.count())
            .select_from(Entry)
            .where(
                col(Entry.status) == "pending",
                or_(col(Entry.claimed_until).is_(None), col(Entry.claimed_until) < now),
                or_(col(Entry.next_attempt_at).is_(None), col(Entry.next_attempt_at) <= now),
            )
        )
        if source_ids is not None:
            query = query.where(col(Entry.source_id).in_(list(source_ids)))
        with self._session() as session:
            return int(session.exec(query).one())

    def release(self, worker: str) -> int:
        """Give back the entries a worker still holds (it is stopping)."""
        with self._session(write=True) as session, session.begin():
            result = session.execute(
                update(Entry)
                .where(col(Entry.claimed_by) == worker, col(Entry.status) == "pending")
                .values(claimed_by=None, claimed_until=None)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    def release_dead(self) -> int:
        """Release claims of processes on this host that no longer exist (killed workers)."""
        prefix = socket.gethostname() + ":"
        with self._session() as session:
            holders = session.exec(
                select(Entry.claimed_by)
                .where(col(Entry.claimed_by).startswith(prefix), col(Entry.status) == "pending")
                .distinct()
            ).all()
        released = 0
        for holder in holders:
            if holder and not _alive(holder):
                released += self.release(holder)
        if released:
            log.info("released %d entries held by stopped workers", released)
        return released

    # ------------------------------------------------------------------ outcomes

    def mark_stored(
        self,
        session: Session,
        entry_id: int,
        article_id: int,
        aliases: Sequence[tuple[str, str]] = (),
        status: str = "stored",
    ) -> None:
        """Inside the article's own transaction: the entry is done, its other URLs known."""
        for url, reason in aliases:
            _insert_ignore(
                session,
                ArticleAlias,
                {"url": url, "article_id": article_id, "reason": reason, "created_at": utcnow()},
                ("url",),
            )
        session.execute(
            update(Entry)
            .where(col(Entry.id) == entry_id)
            .values(
                status=status,
                article_id=article_id,
                claimed_by=None,
                claimed_until=None,
                next_attempt_at=None,
                last_error=None,
                done_at=utcnow(),
            )
        )

    def mark_done(
        self,
        entry_id: int,
        article_id: int,
        aliases: Sequence[tuple[str, str]] = (),
        status: str = "stored",
        entry_url: str | None = None,
    ) -> None:
        """``mark_stored`` in a transaction of its own (nothing else to store)."""
        with self._session(write=True) as session, session.begin():
            self.mark_stored(session, entry_id, article_id, aliases, status)
            if entry_url:
                session.execute(
                    update(Failure)
                    .where(col(Failure.source) == entry_url, col(Failure.resolved_at).is_(None))
                    .values(resolved_at=utcnow())
                )

    def mark_skipped(self, entry_id: int, reason: str) -> None:
        self._finish(entry_id, status="skipped", last_error=reason, done_at=utcnow())

    def mark_failed(
        self,
        entry_id: int,
        reason: str,
        *,
        transient: bool,
        attempts: int,
        max_attempts: int,
        backoff: float,
        retry_after: float | None = None,
    ) -> datetime | None:
        """Record a failed try; return when it is retried (None: it is not, on its own).

        A transient failure is retried after an exponential back-off with jitter (or
        the server's Retry-After, if longer), until ``max_attempts`` tries were made.
        """
        tries = attempts + 1
        retry_at = None
        if transient and tries < max_attempts:
            wait = backoff * 2 ** (tries - 1) * random.uniform(1.0, 1.25)
            retry_at = utcnow() + timedelta(seconds=max(wait, retry_after or 0.0))
        self._finish(
            entry_id,
            status="pending" if retry_at else "failed",
            attempts=tries,
            next_attempt_at=retry_at,
            last_error=reason,
            done_at=None if retry_at else utcnow(),
        )
        return retry_at

    def _finish(self, entry_id: int, **values: Any) -> None:
        with self._session(write=True) as session, session.begin():
            session.execute(
                update(Entry)
                .where(col(Entry.id) == entry_id)
                .values(claimed_by=None, claimed_until=None, **values)
            )

    def retry_failed(self, urls: Sequence[str] | None = None) -> list[int]:
        """Make failed entries (all, or these URLs) pending again, now; return their ids."""
        with self._session(write=True) as session, session.begin():
            query = select(Entry.id).where(
                or_(
                    col(Entry.status) == "failed",
                    and_(col(Entry.status) == "pending", col(Entry.next_attempt_at).is_not(None)),
                )
            )
            if urls is not None:
                query = query.where(col(Entry.url).in_(list(urls)))
            ids = [i for i in session.exec(query).all() if i is not None]
            if ids:
                session.execute(
                    update(Entry)
                    .where(col(Entry.id).in_(ids))
                    .values(
                        status="pending",
                        next_attempt_at=None,
                        claimed_by=None,
                        claimed_until=None,
                        done_at=None,
                    )
                )
        return ids

    # ------------------------------------------------------------------ lookups

    def article_by_url(self, urls: Sequence[str]) -> int | None:
        """The article stored under any of these URLs (canonical or alias)."""
        with self._session() as session:
            found = _articles_by_url(session, list(urls))
        return next((found[u] for u in urls if u in found), None)

    def article_by_hash(self, content_hash: str) -> tuple[int, str | None] | None:
        """(id, canonical URL) of the article with this text, if one is stored."""
        with self._session() as session:
            row = session.exec(
                select(Article.id, Article.canonical_url).where(
                    col(Article.content_hash) == content_hash
                )
            ).first()
        return (row[0], row[1]) if row is not None and row[0] is not None else None

    def entries(self, status: str | None = None) -> list[Entry]:
        query = select(Entry).order_by(col(Entry.id))
        if status is not None:
            query = query.where(col(Entry.status) == status)
        with self._session() as session:
            return list(session.exec(query).all())

    def aliases(self) -> list[ArticleAlias]:
        with self._session() as session:
            return list(session.exec(select(ArticleAlias).order_by(col(ArticleAlias.id))).all())

    def entries_by_url(self, urls: Sequence[str]) -> dict[str, Entry]:
        with self._session() as session:
            rows = session.exec(select(Entry).where(col(Entry.url).in_(list(urls)))).all()
        return {r.url: r for r in rows}

    def source_names(self) -> dict[int, str]:
        with self._session() as session:
            rows = session.exec(select(Source.id, Source.name, Source.url)).all()
        return {i: (name or url) for i, name, url in rows if i is not None}


def _state(row: Source) -> SourceState:
    assert row.id is not None
    return SourceState(
        id=row.id,
        url=row.url,
        name=row.name,
        feed_url=row.feed_url,
        etag=row.etag,
        last_modified=row.last_modified,
        body_hash=row.body_hash,
        lastmod=row.lastmod,
        next_poll_at=row.next_poll_at,
    )


def _articles_by_url(session: Session, urls: list[str]) -> dict[str, int]:
    if not urls:
        return {}
    found: dict[str, int] = {}
    for alias_url, article_id in session.exec(
        select(ArticleAlias.url, ArticleAlias.article_id).where(col(ArticleAlias.url).in_(urls))
    ):
        found[alias_url] = article_id
    for url, stored_id in session.exec(
        select(Article.canonical_url, Article.id).where(col(Article.canonical_url).in_(urls))
    ):
        if url is not None and stored_id is not None:
            found[url] = stored_id
    return found


def _insert_ignore(
    session: Session, table: type[Any], values: dict[str, Any], key: tuple[str, ...]
) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row was inserted."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = (
            postgresql.insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=list(key))
        )
    elif dialect == "sqlite":
        stmt = (
            sqlite.insert(table).values(**values).on_conflict_do_nothing(index_elements=list(key))
        )
    else:  # pragma: no cover - other databases: a savepoint catches the duplicate
        from sqlalchemy.exc import IntegrityError

        try:
            with session.begin_nested():
                session.add(table(**values))
                session.flush()
        except IntegrityError:
            return False
        return True
    # RETURNING, not rowcount: drivers differ on the rowcount of a DO NOTHING conflict
    return session.execute(stmt.returning(table.id)).first() is not None


def _alive(worker: str) -> bool:
    try:
        pid = int(worker.split(":")[1])
    except (IndexError, ValueError):
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
