"""Feed ingestion without Prefect: poll sources, then fetch, clean, extract and store the
entries not seen before, in batches.

    with Ingestor(settings) as ingestor:
        report = ingestor.run(sources)          # what `newsfacts ingest` does

The steps are methods so that the Prefect flow (flows/ingest.py) can run each as a task:

- ``poll(source)``: conditional GET of the feed (a 304 or an unchanged body ends it), parse
  it, record its entries in the ledger (new ones pending). Sitemap indexes poll their child
  sitemaps; an HTML page is searched for its feed (auto-discovery).
- ``claim()``: take a batch of pending entries (nobody else gets them).
- ``load(entry)``: fetch politely (robots.txt, per-host pacing, retries), canonicalise the
  URL (redirects, ``rel=canonical``), clean, and decide: extract, or not (same text
  already stored: an alias; filtered language: skipped). Runs in a thread pool.
- ``extract(works)``: one spaCy pass over the batch (the Extractor is built once).
- ``store(works)``: each article with its facts and its entry's new status in one
  transaction; failures recorded, transient ones scheduled for a later retry.

Memory holds two batches at most (the next batch is fetched while one is extracted).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from extractors.facts import Facts
from models import utcnow as _now
from pipeline.canonical import canonical_url, page_canonical
from pipeline.clean import clean
from pipeline.config import Settings
from pipeline.documents import CleanDocument, StageError
from pipeline.extract import Extractor
from pipeline.feeds import FeedEntry, ParsedFeed, parse_feed
from pipeline.fetch import FeedResponse, TransientFetchError, fetch, fetch_feed, make_client
from pipeline.ledger import Claimed, Ledger, SourceState, new_worker_id
from pipeline.polite import Politeness
from pipeline.runner import Result, apply_extraction, begin_run
from pipeline.sources import SourceConfig
from pipeline.store import Store

log = logging.getLogger(__name__)

MAX_CHILD_SITEMAPS = 50  # child sitemaps of an index read per poll (most recent first)
MAX_SITEMAP_DEPTH = 2  # an index of indexes, at most
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class SourceReport:
    """What one poll and the processing of its entries did."""

    name: str
    url: str
    status: str = "changed"  # changed, not-modified, unchanged, waiting, failed
    error: str | None = None
    kind: str | None = None
    listed: int = 0  # entries the feed(s) listed
    new: int = 0  # entries not seen before
    changed: int = 0  # seen, but the feed says they were updated
    filtered: int = 0  # left out by languages / max_age_days / max_items
    stored: int = 0  # articles stored (new or updated)
    duplicates: int = 0  # same text as an article stored under another URL
    unchanged: int = 0  # fetched again, same text: nothing stored, nothing extracted
    skipped: int = 0  # article in a language the source does not want
    failed: int = 0  # failed for good (recorded)
    retrying: int = 0  # failed for now; retried by a later poll
    source_ids: list[int] = field(default_factory=list)

    def add(self, other: SourceReport) -> None:
        for name in ("listed", "new", "changed", "filtered"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.source_ids.extend(other.source_ids)


@dataclass(slots=True)
class Work:
    """One claimed entry on its way through the stages."""

    entry: Claimed
    result: Result
    action: str = "extract"  # extract, duplicate, unchanged, skip, fail
    aliases: list[tuple[str, str]] = field(default_factory=list)
    article_id: int | None = None  # for duplicate / unchanged
    transient: bool = False
    retry_after: float | None = None
    outcome: str | None = None  # stored, duplicate, unchanged, skipped, failed, retrying

    def fail(self, error: StageError) -> None:
        self.action = "fail"
        self.result.error = error
        self.transient = isinstance(error, TransientFetchError)
        self.retry_after = getattr(error, "retry_after", None)


@dataclass(slots=True)
class IngestReport:
    run_id: int | None
    sources: list[SourceReport]
    seconds: float = 0.0

    def total(self, name: str) -> int:
        return sum(getattr(s, name) for s in self.sources)

    @property
    def failed(self) -> bool:
        return any(s.status == "failed" or s.failed for s in self.sources)


class Ingestor:
    """What one ingestion process shares: HTTP client, politeness, ledger, extractor."""

    def __init__(
        self,
        settings: Settings,
        store: Store | None = None,
        *,
        extractor: Extractor | None = None,
        worker: str | None = None,
    ) -> None:
        self.settings = settings
        self._own_store = store is None
        self.store = store or Store(settings.database_url)
        self.ledger = Ledger(self.store)
        self.client = make_client(settings)
        self.polite = Politeness(settings, self.client)
        self.worker = worker or new_worker_id()
        self._extractor = extractor
        self.run_id: int | None = None
        self.n_ok = 0
        self.n_failed = 0
        self.configs: dict[int, SourceConfig] = {}  # source row id -> its options
        self.ledger.release_dead()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(failed=exc_type is not None)

    def close(self, *, failed: bool = False) -> None:
        """Finish the run, give back unprocessed claims, release connections."""
        try:
            if self.run_id is not None:
                self.store.finish_run(
                    self.run_id, self.n_ok, self.n_failed, status="failed" if failed else "finished"
                )
            self.ledger.release(self.worker)
        finally:
            self.client.close()
            if self._own_store:
                self.store.close()

    @property
    def extractor(self) -> Extractor:
        """The spaCy pipeline, built on first use (a poll with nothing new never loads it)."""
        if self._extractor is None:
            self._extractor = Extractor(self.settings)
        return self._extractor

    def begin(self) -> int:
        """The extraction run of this ingestion, started when there is work."""
        if self.run_id is None:
            self.run_id = begin_run(
                self.store,
                (self.extractor.model_name, self.extractor.model_version),
                self.settings,
                kind="ingest",
            )
        return self.run_id

    # ------------------------------------------------------------------ the whole thing

    def run(
        self,
        sources: Sequence[SourceConfig],
        *,
        on_work: Callable[[Work, str], None] | None = None,
        on_total: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Poll every source (hosts in parallel), then process their pending entries."""
        started = time.perf_counter()
        workers = max(1, min(len(sources), self.settings.fetch_workers))
        with ThreadPoolExecutor(workers, thread_name_prefix="poll") as pool:
            reports = list(pool.map(self.poll, sources))
        report = IngestReport(None, reports)
        ids = [i for r in reports for i in r.source_ids]
        if on_total is not None:
            on_total(self.ledger.pending(ids))
        self.process(reports, on_work=on_work)
        report.run_id = self.run_id
        report.seconds = time.perf_counter() - started
        return report

    # ------------------------------------------------------------------ polling

    def poll(self, source: SourceConfig) -> SourceReport:
        """Read a source's feed(s) and record the entries. Never raises for a bad feed."""
        state = self.ledger.source(source.url, source.name)
        report = SourceReport(source.name, source.url, source_ids=[state.id])
        self.configs[state.id] = source
        if state.next_poll_at is not None and state.next_poll_at > _now():
            report.status = "waiting"
            report.error = f"the server asked us to wait until {state.next_poll_at:%H:%M:%S} UTC"
            return report
        self._poll_document(source, state, report, depth=0)
        log.info(
            "polled %s: %s, %d listed, %d new, %d changed",
            source.name,
            report.status,
            report.listed,
            report.new,
            report.changed,
        )
        return report

    def _poll_document(
        self, source: SourceConfig, state: SourceState, report: SourceReport, depth: int
    ) -> None:
        target = state.feed_url or state.url
        try:
            response = self.polite.call(
                target,
                lambda: fetch_feed(
                    target,
                    self.settings,
                    self.client,
                    etag=state.etag,
                    last_modified=state.last_modified,
                    gate=self.polite.gate,
                ),
            )
        except StageError as error:
            self._poll_failed(state, target, report, error, depth)
            return
        if response.status == 304:
            self.ledger.record_poll(state.id, last_status="not-modified", errors_in_row=0)
            report.status = "not-modified" if depth == 0 else report.status
            self._poll_children(source, state, report, depth, None)
            self._resolved(state, target)
            return
        body_hash = hashlib.sha256(response.content).hexdigest()
        if body_hash == state.body_hash:
            self._record_ok(state, response, body_hash, "unchanged")
            report.status = "unchanged" if depth == 0 else report.status
            self._poll_children(source, state, report, depth, None)
            self._resolved(state, target)
            return
        try:
            parsed = parse_feed(
                response.content, response.url, response.media_type, self.settings.max_feed_bytes
            )
        except StageError as error:
            self._poll_failed(state, target, report, error, depth)
            return
        report.kind = report.kind or parsed.kind
        if parsed.kind == "html":
            self._discovered(source, state, report, parsed, target, depth)
            return
        self._record_ok(state, response, body_hash, "changed", kind=parsed.kind)
        self._resolved(state, target)
        if parsed.kind == "sitemapindex":
            self._poll_children(source, state, report, depth, parsed)
            return
        self._record(source, state, report, parsed.entries)

    def _record(
        self,
        source: SourceConfig,
        state: SourceState,
        report: SourceReport,
        entries: list[FeedEntry],
    ) -> None:
        chosen = select_entries(entries, source)
        report.listed += len(entries)
        report.filtered += len(entries) - len(chosen)
        recorded = self.ledger.record_entries(
            state.id, chosen, refetch_updated=source.refetch_updated
        )
        report.new += recorded.new
        report.changed += recorded.changed

    def _discovered(
        self,
        source: SourceConfig,
        state: SourceState,
        report: SourceReport,
        parsed: ParsedFeed,
        target: str,
        depth: int,
    ) -> None:
        if not parsed.alternates or state.feed_url is not None or depth > 0:
            error = StageError(
                "feed",
                target,
                'an HTML page without a <link rel="alternate"> feed: give the feed\'s URL',
            )
            self._poll_failed(state, target, report, error, depth)
            return
        feed_url = parsed.alternates[0]
        log.info("%s: found the feed %s on %s", source.name, feed_url, target)
        self.ledger.record_poll(
            state.id, feed_url=feed_url, etag=None, last_modified=None, body_hash=None
        )
        state = dataclasses.replace(
            state, feed_url=feed_url, etag=None, last_modified=None, body_hash=None
        )
        self._poll_document(source, state, report, depth)

    def _poll_children(
        self,
        source: SourceConfig,
        state: SourceState,
        report: SourceReport,
        depth: int,
        parsed: ParsedFeed | None,
    ) -> None:
        """Child sitemaps of an index: those listed now, or (index unchanged) those known."""
        if depth >= MAX_SITEMAP_DEPTH:
            return
        if parsed is None:
            children = self.ledger.children(state.id)
            refs: list[tuple[str, str | None]] = [(c.url, c.lastmod) for c in children]
        else:
            cutoff = _cutoff(source)
            listed = [
                r for r in parsed.sitemaps if not (cutoff and r.modified and r.modified < cutoff)
            ]
            listed.sort(key=lambda r: r.modified or _EPOCH, reverse=True)
            refs = [(r.url, r.lastmod) for r in listed[:MAX_CHILD_SITEMAPS]]
        for url, lastmod in refs:
            child = self.ledger.source(url, source.name, parent_id=state.id)
            report.source_ids.append(child.id)
            self.configs[child.id] = source
            if parsed is not None and lastmod is not None and child.lastmod == lastmod:
                continue  # the index says this sitemap has not changed
            sub = SourceReport(source.name, url)
            self._poll_document(source, child, sub, depth + 1)
            if parsed is not None and sub.status != "failed":
                self.ledger.record_poll(child.id, lastmod=lastmod)
            report.add(sub)

    def _record_ok(
        self,
        state: SourceState,
        response: FeedResponse,
        body_hash: str,
        status: str,
        kind: str | None = None,
    ) -> None:
        values: dict[str, object] = {
            "etag": response.etag,
            "last_modified": response.last_modified,
            "body_hash": body_hash,
            "last_status": status,
            "last_error": None,
            "errors_in_row": 0,
            "next_poll_at": None,
        }
        if kind is not None:
            values["kind"] = kind
            values["last_changed_at"] = _now()
        self.ledger.record_poll(state.id, **values)

    def _resolved(self, state: SourceState, target: str) -> None:
        self.ledger.resolve_failures({state.url, target})

    def _poll_failed(
        self, state: SourceState, target: str, report: SourceReport, error: StageError, depth: int
    ) -> None:
        retry_after = getattr(error, "retry_after", None)
        retry_at = _now() + timedelta(seconds=retry_after) if retry_after else None
        log.warning("polling %s failed: %s", target, error)
        self.ledger.poll_failed(state.id, str(error), retry_at)
        self.store.record_failure(self.run_id, state.url, target, error.stage, error.reason)
        if state.feed_url and not isinstance(error, TransientFetchError):
            self.ledger.record_poll(state.id, feed_url=None)  # find the feed again next time
        if depth == 0:
            report.status = "failed"
            report.error = str(error)

    # ------------------------------------------------------------------ processing

    def claim(
        self, source_ids: Sequence[int] | None = None, entry_ids: Sequence[int] | None = None
    ) -> list[Claimed]:
        return self.ledger.claim(
            self.worker,
            self.settings.batch_size,
            self.settings.claim_ttl,
            source_ids=source_ids,
            entry_ids=entry_ids,
        )

    def process(
        self,
        reports: Sequence[SourceReport] = (),
        *,
        entry_ids: Sequence[int] | None = None,
        on_work: Callable[[Work, str], None] | None = None,
    ) -> None:
        """Fetch, clean, extract and store pending entries of these sources (or these ids)."""
        by_id = {i: r for r in reports for i in r.source_ids}
        source_ids = list(by_id) if entry_ids is None else None
        if source_ids is not None and not source_ids:
            return
        for works in self.batches(source_ids, entry_ids):
            self.extract(works)
            self.store_all(works)
            self.tally(works, by_id, on_work)

    def tally(
        self,
        works: Sequence[Work],
        by_id: dict[int, SourceReport],
        on_work: Callable[[Work, str], None] | None = None,
    ) -> None:
        """Count each outcome in its source's report (and tell ``on_work``)."""
        for work in works:
            report = by_id.get(work.entry.source_id or -1)
            if report is not None:
                _count(report, work)
            if on_work is not None:
                on_work(work, report.name if report is not None else self._name(work))

    def batches(
        self, source_ids: Sequence[int] | None, entry_ids: Sequence[int] | None = None
    ) -> Iterator[list[Work]]:
        """Loaded batches of claimed entries; the next batch loads while one is used."""
        with ThreadPoolExecutor(self.settings.fetch_workers, thread_name_prefix="fetch") as pool:

            def start() -> list[Future[Work]]:
                return [pool.submit(self.load, c) for c in self.claim(source_ids, entry_ids)]

            futures = start()
            while futures:
                works = [f.result() for f in futures]
                futures = start()
                yield works

    def load(self, entry: Claimed) -> Work:
        """Fetch and clean one entry and decide what to do with it. Never raises."""
        work = Work(entry, Result(entry.url))
        try:
            self._load(work)
        except StageError as error:
            work.fail(error)
        except Exception as exc:  # a bug must not stop the batch, nor loop forever
            log.exception("loading %s failed", entry.url)
            work.fail(StageError("fetch", entry.url, f"{type(exc).__name__}: {exc}"))
        return work

    def _load(self, work: Work) -> None:
        entry = work.entry
        raw = self.polite.call(
            entry.url,
            lambda: fetch(entry.url, self.settings, self.client, gate=self.polite.gate),
        )
        fetched = canonical_url(raw.url or entry.url)
        final = (page_canonical(raw.content, fetched) if raw.kind == "html" else None) or fetched
        for url, reason in ((entry.url, "redirect"), (fetched, "redirect")):
            if url != final and url not in {a for a, _ in work.aliases}:
                work.aliases.append((url, "canonical" if url == fetched else reason))
        doc = dataclasses.replace(clean(raw, self.settings), url=final)
        work.result.doc = doc
        config = self.configs.get(entry.source_id or -1)
        if config is not None and config.languages and doc.language not in config.languages:
            work.action = "skip"
            work.result.skipped = (
                f"language {doc.language!r} is not one this source wants "
                f"({', '.join(config.languages)})"
            )
            return
        self._recheck(work, doc)

    def _recheck(self, work: Work, doc: CleanDocument) -> None:
        """Is this text stored already? Then there is nothing to extract or store."""
        same = self.ledger.article_by_hash(doc.content_hash)
        if same is None:
            return  # new text: extract
        article_id, stored_url = same
        work.article_id = article_id
        if stored_url == doc.url:
            work.action = "unchanged"
        else:
            work.action = "duplicate"
            if doc.url and doc.url not in {a for a, _ in work.aliases}:
                work.aliases.append((doc.url, "same-text"))

    def extract(self, works: Sequence[Work]) -> None:
        """One spaCy pass over the batch; the same text twice in a batch is extracted once."""
        todo: list[Work] = []
        copies: list[tuple[Work, Work]] = []
        first: dict[str, Work] = {}
        for work in works:
            doc = work.result.doc
            if work.action != "extract" or doc is None:
                continue
            if doc.content_hash in first:
                copies.append((work, first[doc.content_hash]))  # store_all makes it an alias
            else:
                first[doc.content_hash] = work
                todo.append(work)
        if todo:
            docs = [w.result.doc for w in todo if w.result.doc is not None]
            apply_extraction([w.result for w in todo], self.extractor.extract_many(docs))
        for work, original in copies:
            work.result.facts = original.result.facts
            work.result.skipped = original.result.skipped
            work.result.error = original.result.error
        for work in works:
            if work.action == "extract" and work.result.error is not None:
                work.action = "fail"

    def store_all(self, works: Sequence[Work]) -> None:
        """Store each work's outcome; a database outage propagates (claims then expire)."""
        todo = [w for w in works if w.outcome is None]  # a retried store skips what is done
        run_id = self.begin() if any(w.action == "extract" for w in todo) else self.run_id
        for work in todo:
            self._store(run_id, work)
            if work.outcome in ("stored", "duplicate", "unchanged", "skipped"):
                self.n_ok += 1
            else:
                self.n_failed += 1

    def _store(self, run_id: int | None, work: Work) -> None:
        entry = work.entry
        result = work.result
        if work.action == "extract" and result.doc is not None:
            self._recheck(work, result.doc)  # stored meanwhile (this batch, another worker)?
        if work.action == "extract" and result.doc is not None and run_id is not None:
            doc = result.doc
            try:
                result.article_id = self.store.save(
                    run_id,
                    doc,
                    result.facts or Facts(),
                    then=lambda session, article_id: self.ledger.mark_stored(
                        session, entry.id, article_id, work.aliases
                    ),
                )
                work.outcome = "stored"
                return
            except StageError as exc:
                work.fail(exc)
        if work.action in ("duplicate", "unchanged") and work.article_id is not None:
            status = "duplicate" if work.action == "duplicate" else "stored"
            self.ledger.mark_done(entry.id, work.article_id, work.aliases, status, entry.url)
            result.article_id = work.article_id
            work.outcome = work.action
            return
        if work.action == "skip":
            self.ledger.mark_skipped(entry.id, result.skipped or "skipped")
            work.outcome = "skipped"
            return
        error = result.error or StageError("store", entry.url, "nothing to store")
        url = result.doc.url if result.doc is not None else None
        self.store.record_failure(run_id, entry.url, url, error.stage, error.reason)
        retry_at = self.ledger.mark_failed(
            entry.id,
            str(error),
            transient=work.transient,
            attempts=entry.attempts,
            max_attempts=self.settings.max_attempts,
            backoff=self.settings.retry_backoff,
            retry_after=work.retry_after,
        )
        work.outcome = "retrying" if retry_at else "failed"

    def _name(self, work: Work) -> str:
        config = self.configs.get(work.entry.source_id or -1)
        return config.name if config is not None else work.entry.url


def ingest(
    sources: Sequence[SourceConfig],
    settings: Settings,
    *,
    store: Store | None = None,
    extractor: Extractor | None = None,
    on_work: Callable[[Work, str], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> IngestReport:
    """Poll ``sources`` once and store what is new (the plain-Python `newsfacts ingest`)."""
    with Ingestor(settings, store, extractor=extractor) as ingestor:
        return ingestor.run(sources, on_work=on_work, on_total=on_total)


def select_entries(entries: Sequence[FeedEntry], source: SourceConfig) -> list[FeedEntry]:
    """The entries a source wants: its languages, not too old, the newest max_items."""
    cutoff = _cutoff(source)
    chosen = [
        e
        for e in entries
        if not (source.languages and e.language and e.language not in source.languages)
        and not (cutoff and e.published and e.published < cutoff)
    ]
    if source.max_items is not None and len(chosen) > source.max_items:
        chosen.sort(key=lambda e: e.published or _EPOCH, reverse=True)
        chosen = chosen[: source.max_items]
    return chosen


def _count(report: SourceReport, work: Work) -> None:
    name = {
        "stored": "stored",
        "duplicate": "duplicates",
        "unchanged": "unchanged",
        "skipped": "skipped",
        "failed": "failed",
        "retrying": "retrying",
    }.get(work.outcome or "failed", "failed")
    setattr(report, name, getattr(report, name) + 1)


def _cutoff(source: SourceConfig) -> datetime | None:
    if source.max_age_days is None:
        return None
    return _now() - timedelta(days=source.max_age_days)
