"""Re-extraction: stored articles through the current code and model, into a new run.

Nothing is fetched or cleaned again: the stored text is extracted as it is, so the
difference between the new run and an earlier one is the difference the code, the
rules, the model or the settings made.

    with Store(settings.database_url) as store:
        ids = select_articles(store, since=parse_since("2024-05-01"), sources=["bbc.co.uk"])
        report = rerun(ids, settings, store=store, extractor=Extractor(settings))
        print(f"newsfacts diff {report.previous_run} {report.run_id}")
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from extractors.facts import Facts
from pipeline.config import Settings
from pipeline.documents import CleanDocument, StageError
from pipeline.extract import Extractor, Skipped
from pipeline.runner import begin_run, chunks
from pipeline.store import ArticleHead, Store

log = logging.getLogger(__name__)

RUN_KIND = "rerun"


@dataclass(slots=True)
class RerunReport:
    run_id: int
    articles: int = 0
    n_ok: int = 0
    n_skipped: int = 0  # stored without facts on purpose (a language the model does not read)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (input, "stage: reason")
    previous_run: int | None = None  # the earlier run that read most of these articles

    @property
    def n_failed(self) -> int:
        return len(self.failures)


def parse_since(value: str) -> datetime:
    """`2024-05-01` (midnight UTC) or an ISO date-time (UTC unless it says otherwise)."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"--since {value!r}: expected a date (2024-05-01) or a date-time (2024-05-01T08:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def matches_source(article: ArticleHead, name: str) -> bool:
    """Whether `--source NAME` selects an article by what the article itself says (feed
    sources are matched in `select_articles`).

    NAME is the site name (case-insensitive: `--source "BBC News"`), a host name
    matching the article's URL host or one of its parent domains (`bbc.co.uk` selects
    www.bbc.co.uk), or the input the article was stored from, equal or as a shell
    pattern (`samples/*`, `https://example.com/news/*`).
    """
    folded = name.casefold().strip()
    if article.site and article.site.casefold().strip() == folded:
        return True
    if article.url:
        host = (urlsplit(article.url).hostname or "").casefold()
        if host and (host == folded or host.endswith("." + folded)):
            return True
    return article.source == name or fnmatch.fnmatchcase(article.source, name)


def select_articles(
    store: Store,
    *,
    since: datetime | None = None,
    sources: Sequence[str] = (),
) -> list[int]:
    """Ids of the stored articles last stored on or after `since` and from any of
    `sources` (all articles when neither is given), oldest first.

    A source is the name or URL of a feed the article was ingested from (`newsfacts
    ingest`), or what `matches_source` accepts.
    """
    heads = store.article_heads(since)
    if sources:
        from_feeds = store.feed_article_ids(sources)
        heads = [
            a
            for a in heads
            if a.id in from_feeds or any(matches_source(a, name) for name in sources)
        ]
    return [a.id for a in heads]


def store_outcomes(
    store: Store,
    report: RerunReport,
    documents: Sequence[tuple[int, CleanDocument]],
    outcomes: Sequence[Facts | Skipped | StageError],
) -> None:
    """Store what re-extraction found for each (article id, document); one transaction
    per article, a failure recorded and the others going on."""
    for (article_id, doc), outcome in zip(documents, outcomes, strict=True):
        report.articles += 1
        try:
            if isinstance(outcome, StageError):
                raise outcome
            facts = Facts() if isinstance(outcome, Skipped) else outcome
            store.save_facts(report.run_id, article_id, doc.content_hash, facts)
        except StageError as exc:
            log.warning("re-extracting %s failed: %s", doc.source, exc)
            store.record_failure(report.run_id, doc.source, doc.url, exc.stage, exc.reason)
            report.failures.append((doc.source, str(exc)))
            continue
        report.n_ok += 1
        report.n_skipped += isinstance(outcome, Skipped)


def rerun(
    article_ids: Sequence[int],
    settings: Settings,
    *,
    store: Store,
    extractor: Extractor,
    on_progress: Callable[[int], None] | None = None,
) -> RerunReport:
    """Extract the given stored articles again into a new run of kind "rerun".

    Articles go through the model in batches of `settings.batch_size`; each one's facts
    are stored in its own transaction, and one that fails is recorded as a failure
    (stage "extract" or "store") while the others go on. The articles themselves are
    left as they are. `on_progress(n)` is called after each batch with the number done.
    """
    run_id = begin_run(
        store, (extractor.model_name, extractor.model_version), settings, kind=RUN_KIND
    )
    report = RerunReport(run_id)
    try:
        for batch in chunks(article_ids, settings.batch_size):
            documents = store.documents(batch)
            outcomes = extractor.extract_many([doc for _, doc in documents])
            store_outcomes(store, report, documents, outcomes)
            if on_progress is not None:
                on_progress(report.articles)
        store.finish_run(run_id, report.n_ok, report.n_failed)
    except BaseException:
        store.finish_run(run_id, report.n_ok, report.n_failed, status="failed")
        raise
    report.previous_run = store.previous_run(run_id)
    log.info(
        "rerun %s: %s articles, %s failed (previous run %s)",
        run_id,
        report.articles,
        report.n_failed,
        report.previous_run,
    )
    return report
