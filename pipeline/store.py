"""The store stage: articles, runs, facts and failures in the database.

    with Store(settings.database_url) as store:
        run_id = store.begin_run(code_version, model_name, model_version, config_hash)
        try:
            article_id = store.save(run_id, doc, facts)
        except StageError as exc:
            store.record_failure(run_id, exc.source, doc.url, exc.stage, exc.reason)
        store.finish_run(run_id, n_ok=1, n_failed=0)

Every write is one transaction: a document is stored with all its facts or not
at all. The schema is migrated when the store opens.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from sqlalchemy import Engine, and_, delete, exc, func, inspect, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from extractors.facts import Facts, Mention
from models import (
    ARTICLE_KINDS,
    RUN_STATUSES,
    Article,
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
    make_engine,
    migrate,
    utcnow,
)
from pipeline.config import Settings
from pipeline.documents import CleanDocument, StageError
from pipeline.factjson import money_json, role_json

log = logging.getLogger(__name__)

FactsDict = dict[str, list[dict[str, Any]]]

_FACT_TABLES: tuple[type[OrganizationFact | PersonFact | RoleFact | MoneyFact], ...] = (
    OrganizationFact,
    PersonFact,
    RoleFact,
    MoneyFact,
)


class Store:
    """Reads and writes newsfacts data in one database.

    Built from a database URL (the store owns and disposes the engine) or from an
    engine (the caller owns it). The schema is upgraded on open unless
    `migrate_schema=False`.
    """

    def __init__(self, database: str | Engine, *, migrate_schema: bool = True) -> None:
        if isinstance(database, Engine):
            self.engine = database
            self._owns_engine = False
        else:
            self.engine = make_engine(database)
            self._owns_engine = True
        # Writers take SQLite's write lock when they begin (no effect elsewhere), so a
        # read-then-write transaction never fails half-way under concurrent writers.
        self._writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        if migrate_schema:
            try:
                migrate(self.engine)
            except BaseException:
                self.close()
                raise

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        return cls(settings.database_url)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the connections, if the store made the engine."""
        if self._owns_engine:
            self.engine.dispose()

    def _session(self, *, write: bool = False) -> Session:
        return Session(self._writer if write else self.engine, expire_on_commit=False)

    # runs

    def begin_run(
        self,
        code_version: str,
        model_name: str,
        model_version: str,
        config_hash: str,
        kind: str = "run",
    ) -> int:
        """Start an extraction run and return its id."""
        run = ExtractionRun(
            kind=kind,
            code_version=code_version,
            model_name=model_name,
            model_version=model_version,
            config_hash=config_hash,
            status="running",
        )
        with self._session(write=True) as session, session.begin():
            session.add(run)
            session.flush()
            run_id = _id(run)
        log.info(
            "began %s run %s (%s, %s %s)", kind, run_id, code_version, model_name, model_version
        )
        return run_id

    def finish_run(
        self,
        run_id: int,
        n_ok: int,
        n_failed: int,
        status: Literal["finished", "failed"] = "finished",
    ) -> None:
        """Close a run with its counts; `status` is "finished" or "failed"."""
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(f"a run finishes as 'finished' or 'failed', not {status!r}")
        with self._session(write=True) as session, session.begin():
            run = _get_run(session, run_id)
            run.finished_at = utcnow()
            run.n_ok = n_ok
            run.n_failed = n_failed
            run.status = status
        log.info("run %s %s: %s ok, %s failed", run_id, status, n_ok, n_failed)

    # articles and facts

    def save(
        self,
        run_id: int,
        doc: CleanDocument,
        facts: Facts,
        *,
        then: Callable[[Session, int], None] | None = None,
    ) -> int:
        """Store one article and the facts `run_id` found in it; return the article id.

        One transaction: the article is inserted or updated in place (matched on
        its canonical URL when it has one, else on its content hash), the facts this
        run stored for it before are replaced, and open failures of the same source
        are marked resolved. If anything fails, nothing of it is kept, and a
        StageError("store", ...) says why. Database outages (OperationalError and
        the like) propagate unchanged, so the caller can retry.

        `then(session, article_id)`, if given, runs last in the same transaction (feed
        ingestion marks its entry done there: stored and marked, or neither).
        """
        if doc.kind not in ARTICLE_KINDS:
            raise StageError("store", doc.source, f"article kind {doc.kind!r} is not html or text")
        for attempt in (1, 2):
            try:
                with self._session(write=True) as session, session.begin():
                    _get_run(session, run_id)
                    _keep_replaced_text(session, doc)
                    article = _upsert_article(session, doc)
                    article_id = _id(article)
                    _replace_facts(session, article_id, run_id, facts)
                    _record_run_article(session, run_id, article_id, doc.content_hash)
                    _resolve_failures(session, doc)
                    if then is not None:
                        then(session, article_id)
            except _ArticleRaceError as race:
                if attempt == 1:
                    # Another worker stored the same article between our lookup and
                    # our insert: the second attempt finds its row.
                    log.info("retrying save of %s: %s", doc.source, race)
                    continue
                raise StageError("store", doc.source, str(race)) from race
            except (exc.IntegrityError, exc.DataError) as error:
                raise StageError("store", doc.source, _reason(error)) from error
            except exc.StatementError as error:
                if isinstance(error, exc.DBAPIError):
                    raise  # the database itself is in trouble, not this document
                # a column type refused a value (a float amount, a naive datetime, ...)
                raise StageError("store", doc.source, _reason(error)) from error
            log.info(
                "saved article %s from %s (run %s: %s organisations, %s people, "
                "%s roles, %s money figures)",
                article_id,
                doc.source,
                run_id,
                len(facts.organizations),
                len(facts.people),
                len(facts.roles),
                len(facts.money),
            )
            return article_id
        raise AssertionError("unreachable")  # pragma: no cover

    def read_facts(self, article_id: int, run_id: int) -> FactsDict:
        """The facts `run_id` stored for an article, in the CLI's JSON shape.

        Organisations and people are sorted by name, roles and money figures by
        their position in the text, so two runs compare line by line.
        """
        with self._session() as session:
            orgs = _facts_of(session, OrganizationFact, article_id, run_id)
            people = _facts_of(session, PersonFact, article_id, run_id)
            roles = _facts_of(session, RoleFact, article_id, run_id)
            money = _facts_of(session, MoneyFact, article_id, run_id)
        return {
            "organizations": [
                {"name": o.name, "mentions": o.mentions}
                for o in sorted(orgs, key=lambda o: (o.name.casefold(), o.name, -o.mentions))
            ],
            "people": [
                {"name": p.name} for p in sorted(people, key=lambda p: (p.name.casefold(), p.name))
            ],
            "roles": [
                {"person": r.person, "role": r.role, "org": r.org, "evidence": r.evidence}
                for r in sorted(
                    roles, key=lambda r: (r.start, r.end, r.person, r.role, r.org or "", r.evidence)
                )
            ],
            "money": [
                {
                    "text": m.text,
                    "amount": format(m.amount, "f"),
                    "currency": m.currency,
                    "context": m.context,
                    "qualifier": m.qualifier,
                    "unit": m.unit,
                }
                for m in sorted(money, key=lambda m: (m.start, m.end, m.text, m.amount))
            ],
        }

    # failures

    def record_failure(
        self, run_id: int | None, source: str, url: str | None, stage: str, reason: str
    ) -> int:
        """Record that `source` failed at `stage`; return the failure id.

        An unresolved failure of the same source at the same stage is updated
        (attempts + 1, latest run, reason and time) instead of repeated.
        """
        now = utcnow()
        with self._session(write=True) as session, session.begin():
            failure = session.exec(
                select(Failure)
                .where(
                    col(Failure.source) == source,
                    col(Failure.stage) == stage,
                    col(Failure.resolved_at).is_(None),
                )
                .order_by(col(Failure.id))
            ).first()
            if failure is None:
                failure = Failure(
                    run_id=run_id,
                    source=source,
                    url=url,
                    stage=stage,
                    reason=reason,
                    created_at=now,
                    last_attempt_at=now,
                )
                session.add(failure)
            else:
                failure.attempts = failure.attempts + 1
                failure.run_id = run_id if run_id is not None else failure.run_id
                failure.url = url or failure.url
                failure.reason = reason
                failure.last_attempt_at = now
            session.flush()
            failure_id = _id(failure)
            attempts = failure.attempts
        log.info("recorded %s failure of %s (attempt %s): %s", stage, source, attempts, reason)
        return failure_id

    # queries

    def articles(self) -> list[Article]:
        """All articles, oldest first."""
        with self._session() as session:
            return list(session.exec(select(Article).order_by(col(Article.id))).all())

    def runs(self) -> list[ExtractionRun]:
        """All extraction runs, oldest first."""
        with self._session() as session:
            return list(session.exec(select(ExtractionRun).order_by(col(ExtractionRun.id))).all())

    def failures(self, *, unresolved: bool = False, run_id: int | None = None) -> list[Failure]:
        """Recorded failures, oldest first; only open ones with `unresolved=True`."""
        query = select(Failure).order_by(col(Failure.id))
        if unresolved:
            query = query.where(col(Failure.resolved_at).is_(None))
        if run_id is not None:
            query = query.where(col(Failure.run_id) == run_id)
        with self._session() as session:
            return list(session.exec(query).all())

    # reviewing runs: newsfacts diff, rerun, export, runs

    def get_run(self, run_id: int) -> ExtractionRun | None:
        """One extraction run, or None when there is no such run."""
        with self._session() as session:
            return session.get(ExtractionRun, run_id)

    def latest_run_id(self, back: int = 0) -> int | None:
        """The id of the newest run (`back=1`: the one before it, ...), or None."""
        with self._session() as session:
            query = (
                select(ExtractionRun.id)
                .order_by(col(ExtractionRun.id).desc())
                .offset(back)
                .limit(1)
            )
            return session.exec(query).first()

    def run_article_counts(self) -> dict[int, int]:
        """How many articles each run read (run id -> count)."""
        query = select(RunArticle.run_id, func.count()).group_by(col(RunArticle.run_id))
        with self._session() as session:
            return {run_id: n for run_id, n in session.exec(query).all()}

    def previous_run(self, run_id: int) -> int | None:
        """The earlier run that read most of the articles `run_id` read (the newest on a tie)."""
        mine = select(RunArticle.article_id).where(col(RunArticle.run_id) == run_id)
        query = (
            select(RunArticle.run_id, func.count().label("n"))
            .where(col(RunArticle.run_id) < run_id, col(RunArticle.article_id).in_(mine))
            .group_by(col(RunArticle.run_id))
            .order_by(func.count().desc(), col(RunArticle.run_id).desc())
            .limit(1)
        )
        with self._session() as session:
            row = session.exec(query).first()
        return row[0] if row is not None else None

    def article_heads(self, since: datetime | None = None) -> list[ArticleHead]:
        """Id, input, URL and site of every article (stored or updated since `since`, if
        given), oldest first, without loading their texts."""
        query = select(Article.id, Article.source, Article.canonical_url, Article.site)
        if since is not None:
            query = query.where(col(Article.last_seen) >= since)
        with self._session() as session:
            rows = session.exec(query.order_by(col(Article.id))).all()
        return [ArticleHead(i, source, url, site) for i, source, url, site in rows if i is not None]

    def feed_article_ids(self, names: Sequence[str]) -> set[int]:
        """Ids of the articles ingested from the feed sources with these names (case-
        insensitive) or URLs, child sitemaps of a sitemap index included."""
        folded = {n.casefold() for n in names}
        with self._session() as session:
            sources = session.exec(select(Source.id, Source.parent_id, Source.name, Source.url))
            parents: dict[int, int | None] = {}
            chosen: set[int] = set()
            for source_id, parent_id, name, url in sources:
                if source_id is None:
                    continue
                parents[source_id] = parent_id
                if (name or "").casefold() in folded or url in names:
                    chosen.add(source_id)
            grew = True
            while grew:  # children of chosen sources, at any depth
                more = {s for s, parent in parents.items() if parent in chosen} - chosen
                chosen |= more
                grew = bool(more)
            if not chosen:
                return set()
            query = select(Entry.article_id).where(
                col(Entry.source_id).in_(chosen), col(Entry.article_id).is_not(None)
            )
            return {a for a in session.exec(query) if a is not None}

    def documents(self, article_ids: Sequence[int]) -> list[tuple[int, CleanDocument]]:
        """Stored articles as clean documents, ready to extract again (nothing refetched)."""
        with self._session() as session:
            rows = session.exec(select(Article).where(col(Article.id).in_(article_ids))).all()
        by_id = {_id(a): a for a in rows}
        return [(i, _document(by_id[i])) for i in article_ids if i in by_id]

    def save_facts(self, run_id: int, article_id: int, content_hash: str, facts: Facts) -> None:
        """Store the facts `run_id` found in a stored article, leaving the article as it is.

        For re-extraction: `content_hash` is that of the text the facts were found in.
        Open extract/store failures of the article are resolved. One transaction, like
        `save`; bad data raises StageError("store", ...).
        """
        try:
            with self._session(write=True) as session, session.begin():
                _get_run(session, run_id)
                article = session.get(Article, article_id)
                if article is None:
                    raise LookupError(f"no article {article_id} in the database")
                _replace_facts(session, article_id, run_id, facts)
                _record_run_article(session, run_id, article_id, content_hash)
                # an earlier re-extraction of it that failed is resolved now
                session.execute(
                    update(Failure)
                    .where(
                        col(Failure.source) == article.source,
                        col(Failure.stage).in_(("extract", "store")),
                        col(Failure.resolved_at).is_(None),
                    )
                    .values(resolved_at=utcnow())
                )
        except (exc.IntegrityError, exc.DataError) as error:
            raise StageError("store", f"article {article_id}", _reason(error)) from error
        except exc.StatementError as error:
            if isinstance(error, exc.DBAPIError):
                raise
            raise StageError("store", f"article {article_id}", _reason(error)) from error

    def extractions(
        self, run_id: int | None = None, *, batch_size: int = 500
    ) -> Iterator[StoredExtraction]:
        """What a run found in each article it read, with the text it read, by article id.

        Without `run_id`: each article with the facts of the newest run that read it.
        Facts are in the `run --json` shape (spans included; a person's first mention
        only). Reads `batch_size` articles at a time.
        """
        query = select(RunArticle.run_id, RunArticle.article_id, RunArticle.content_hash)
        if run_id is not None:
            query = query.where(col(RunArticle.run_id) == run_id)
        else:
            newest = (
                select(RunArticle.article_id, func.max(RunArticle.run_id).label("run_id"))
                .group_by(col(RunArticle.article_id))
                .subquery()
            )
            query = query.join(
                newest,
                and_(
                    col(RunArticle.article_id) == newest.c.article_id,
                    col(RunArticle.run_id) == newest.c.run_id,
                ),
            )
        with self._session() as session:
            keys: list[tuple[int, int, str]] = [
                (r, a, h) for r, a, h in session.exec(query.order_by(col(RunArticle.article_id)))
            ]
        for start in range(0, len(keys), batch_size):
            yield from self._extractions(keys[start : start + batch_size])

    def _extractions(self, keys: Sequence[tuple[int, int, str]]) -> list[StoredExtraction]:
        article_ids = [a for _, a, _ in keys]
        run_ids = {r for r, _, _ in keys}
        wanted = {(r, a) for r, a, _ in keys}
        facts: dict[tuple[int, int], FactsDict] = {
            key: {"organizations": [], "people": [], "roles": [], "money": []} for key in wanted
        }

        def rows(table: type[_Fact]) -> list[Any]:
            # plain rows, not ORM objects: a thousand articles have tens of thousands of facts
            t = inspect(table).local_table
            query = (
                t.select()
                .where(t.c.article_id.in_(article_ids), t.c.run_id.in_(run_ids))
                .order_by(t.c.id)
            )
            return [r for r in session.execute(query) if (r.run_id, r.article_id) in wanted]

        with self._session() as session:
            articles = {
                _id(a): a
                for a in session.exec(select(Article).where(col(Article.id).in_(article_ids)))
            }
            older = {h for _, a, h in keys if articles[a].content_hash != h}
            texts = {
                t.content_hash: t.text
                for t in session.exec(
                    select(ArticleText).where(col(ArticleText.content_hash).in_(older))
                )
            }
            spans: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
            mention_query = (
                select(
                    OrganizationMention.org_fact_id,
                    OrganizationMention.start,
                    OrganizationMention.end,
                    OrganizationMention.sentence,
                )
                .join(OrganizationFact, col(OrganizationFact.id) == OrganizationMention.org_fact_id)
                .where(
                    col(OrganizationFact.article_id).in_(article_ids),
                    col(OrganizationFact.run_id).in_(run_ids),
                )
                .order_by(col(OrganizationMention.start), col(OrganizationMention.id))
            )
            for org_fact_id, start, end, sentence in session.exec(mention_query):
                spans[org_fact_id].append((start, end, sentence))
            for o in rows(OrganizationFact):
                mentions = spans.get(o.id, [])
                facts[(o.run_id, o.article_id)]["organizations"].append(
                    {
                        "name": o.name,
                        "mentions": o.mentions,
                        "aliases": sorted(a for a in o.aliases if a != o.name),
                        "spans": [[start, end] for start, end, _ in mentions],
                        "evidence": mentions[0][2] if mentions else None,
                    }
                )
            for p in rows(PersonFact):
                facts[(p.run_id, p.article_id)]["people"].append(
                    {
                        "name": p.name,
                        "mentions": p.mentions,
                        "spans": [[p.start, p.end]] if p.start is not None else [],
                    }
                )
            for r in rows(RoleFact):
                facts[(r.run_id, r.article_id)]["roles"].append(role_json(r))
            for m in rows(MoneyFact):
                facts[(m.run_id, m.article_id)]["money"].append(money_json(m))
        out = []
        for run_id, article_id, content_hash in keys:
            article = articles[article_id]
            text = article.text if article.content_hash == content_hash else texts.get(content_hash)
            out.append(
                StoredExtraction(run_id, article, content_hash, text, facts[(run_id, article_id)])
            )
        return out


class _ArticleRaceError(Exception):
    """The article's URL or hash was taken between our lookup and our write."""


def _id(row: Article | ExtractionRun | Failure | OrganizationFact) -> int:
    if row.id is None:  # pragma: no cover - flushed rows always have one
        raise RuntimeError(f"{type(row).__name__} has no id after flush")
    return row.id


def _get_run(session: Session, run_id: int) -> ExtractionRun:
    run = session.get(ExtractionRun, run_id)
    if run is None:
        raise LookupError(f"no extraction run {run_id}; start one with Store.begin_run()")
    return run


def _upsert_article(session: Session, doc: CleanDocument) -> Article:
    """Find the article this document is, update it, or insert it.

    - Same canonical URL: the same article, updated in place even if its text
      changed.
    - Same text (content hash): the same article. If it was stored without a URL
      (from a file) it takes this URL; if the URL's row holds older text, the URL
      moves to the row with this text and the old row keeps its text without URL.
      If the text is stored under another URL (syndication, URL variants), that
      row is reused as it is and only its last_seen changes.
    - Otherwise: a new article.
    """
    now = utcnow()
    by_url = None
    if doc.url:
        by_url = session.exec(select(Article).where(col(Article.canonical_url) == doc.url)).first()
    by_hash = session.exec(
        select(Article).where(col(Article.content_hash) == doc.content_hash)
    ).first()

    refresh = True
    if by_url is not None and (by_hash is None or by_hash.id == by_url.id):
        article = by_url
    elif by_hash is not None:
        article = by_hash
        if doc.url and article.canonical_url is None:
            if by_url is not None:
                log.info(
                    "URL %s moves from article %s (older text) to article %s (same text)",
                    doc.url,
                    by_url.id,
                    article.id,
                )
                by_url.canonical_url = None
                session.flush()
            article.canonical_url = doc.url
        elif doc.url and article.canonical_url != doc.url:
            log.info(
                "%s has the same text as article %s (%s); keeping that one",
                doc.url,
                article.id,
                article.canonical_url,
            )
            refresh = False
    else:
        article = Article(
            canonical_url=doc.url,
            content_hash=doc.content_hash,
            source=doc.source,
            text=doc.text,
            kind=doc.kind,
            first_seen=now,
            last_seen=now,
        )
        session.add(article)

    if refresh:
        article.content_hash = doc.content_hash
        article.source = doc.source
        article.title = doc.title
        article.author = doc.author
        article.published = doc.published
        article.language = doc.language
        article.site = doc.site
        article.text = doc.text
        article.kind = doc.kind
    article.last_seen = now
    try:
        session.flush()
    except exc.IntegrityError as error:
        raise _ArticleRaceError(_reason(error)) from error
    return article


def _replace_facts(session: Session, article_id: int, run_id: int, facts: Facts) -> None:
    org_ids = select(OrganizationFact.id).where(
        col(OrganizationFact.article_id) == article_id, col(OrganizationFact.run_id) == run_id
    )
    session.execute(
        delete(OrganizationMention).where(col(OrganizationMention.org_fact_id).in_(org_ids))
    )
    for table in _FACT_TABLES:
        session.execute(
            delete(table).where(col(table.article_id) == article_id, col(table.run_id) == run_id)
        )

    keys = {"article_id": article_id, "run_id": run_id}
    org_rows = [
        OrganizationFact(**keys, name=o.name, mentions=len(o.mentions), aliases=list(o.aliases))
        for o in facts.organizations
    ]
    session.add_all(org_rows)
    session.flush()  # the mentions need their organisation's id
    session.add_all(
        OrganizationMention(
            org_fact_id=_id(row), text=m.text, start=m.start, end=m.end, sentence=m.sentence
        )
        for org, row in zip(facts.organizations, org_rows, strict=True)
        for m in org.mentions
    )
    for person in facts.people:
        first = _first(person.mentions)
        session.add(
            PersonFact(
                **keys,
                name=person.name,
                mentions=len(person.mentions),
                start=first.start if first else None,
                end=first.end if first else None,
            )
        )
    session.add_all(
        RoleFact(
            **keys,
            person=r.person,
            role=r.role,
            org=r.org,
            evidence=r.evidence,
            start=r.start,
            end=r.end,
            pattern=r.pattern,
        )
        for r in facts.roles
    )
    session.add_all(
        MoneyFact(
            **keys,
            text=m.text,
            amount=m.amount,
            currency=m.currency,
            qualifier=m.qualifier,
            unit=m.unit,
            range=m.range,
            context=m.context,
            start=m.start,
            end=m.end,
        )
        for m in facts.money
    )
    session.flush()


def _first(mentions: Sequence[Mention]) -> Mention | None:
    return min(mentions, key=lambda m: (m.start, m.end), default=None)


def _resolve_failures(session: Session, doc: CleanDocument) -> None:
    """The source is stored now: its open failures are resolved."""
    same_input = col(Failure.source) == doc.source
    if doc.url:
        same_input = or_(same_input, col(Failure.url) == doc.url)
    session.execute(
        update(Failure)
        .where(same_input, col(Failure.resolved_at).is_(None))
        .values(resolved_at=utcnow())
    )


_Fact = TypeVar("_Fact", OrganizationFact, PersonFact, RoleFact, MoneyFact)


def _facts_of(session: Session, table: type[_Fact], article_id: int, run_id: int) -> list[_Fact]:
    return list(
        session.exec(
            select(table).where(col(table.article_id) == article_id, col(table.run_id) == run_id)
        ).all()
    )


def _reason(error: exc.StatementError) -> str:
    """The first line of what the database (or a column type) objected to."""
    cause = error.orig if error.orig is not None else error
    text = str(cause).strip().splitlines()
    return f"cannot store the article: {text[0] if text else type(cause).__name__}"


# --- reviewing runs ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArticleHead:
    """What selecting articles for a re-extraction needs, without their text."""

    id: int
    source: str
    url: str | None
    site: str | None


@dataclass(slots=True)
class StoredExtraction:
    """The facts one run found in one article, with the text that run read."""

    run_id: int
    article: Article
    content_hash: str
    text: str | None  # None when that version of the text is no longer stored
    facts: FactsDict


def _document(article: Article) -> CleanDocument:
    kind: Literal["html", "text"] = "text" if article.kind == "text" else "html"
    return CleanDocument(
        source=article.source,
        url=article.canonical_url,
        text=article.text,
        content_hash=article.content_hash,
        kind=kind,
        title=article.title,
        author=article.author,
        published=article.published,
        language=article.language,
        site=article.site,
    )


def _keep_replaced_text(session: Session, doc: CleanDocument) -> None:
    """Keep the text a re-published article is about to lose to `doc` (see _upsert_article:
    only an article found by URL, with other text, and no row holding doc's text, is
    overwritten), so the facts older runs found in it can still be shown in place."""
    if not doc.url:
        return
    current = session.exec(select(Article).where(col(Article.canonical_url) == doc.url)).first()
    if current is None or current.content_hash == doc.content_hash:
        return
    same_text = select(Article.id).where(col(Article.content_hash) == doc.content_hash)
    if session.exec(same_text).first() is not None:
        return
    _upsert(
        session,
        ArticleText,
        {
            "content_hash": current.content_hash,
            "article_id": _id(current),
            "text": current.text,
            "replaced_at": utcnow(),
        },
        key=("content_hash",),
        update=(),
    )


def _record_run_article(session: Session, run_id: int, article_id: int, content_hash: str) -> None:
    _upsert(
        session,
        RunArticle,
        {
            "run_id": run_id,
            "article_id": article_id,
            "content_hash": content_hash,
            "extracted_at": utcnow(),
        },
        key=("run_id", "article_id"),
        update=("content_hash", "extracted_at"),
    )


def _upsert(
    session: Session,
    table: type[RunArticle | ArticleText],
    values: dict[str, Any],
    key: tuple[str, ...],
    update: tuple[str, ...],
) -> None:
    """INSERT, or on a conflict on `key` UPDATE the `update` columns (none: leave the row)."""
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        stmt = insert(table).values(**values)
        if update:
            stmt = stmt.on_conflict_do_update(
                index_elements=list(key), set_={c: stmt.excluded[c] for c in update}
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(key))
        session.execute(stmt)
        return
    row = session.get(table, tuple(values[k] for k in key))
    if row is None:
        session.add(table(**values))
    else:
        for column in update:
            setattr(row, column, values[column])
    session.flush()
