"""`newsfacts failures`: what failed, and running it again.

An open failure (``failure`` table) is one of three kinds:

- a feed that could not be polled: polled again at its next scheduled poll, or now;
- an article a feed listed (an ``entry``): transient failures are retried automatically
  (``next_attempt_at``, exponential back-off, at most ``max_attempts`` tries), permanent
  ones (HTTP 404, not an article, robots.txt says no) only when asked;
- an input of `newsfacts run`: run again when asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from models import utcnow
from pipeline.config import Settings
from pipeline.ingest import Ingestor, SourceReport
from pipeline.ledger import Ledger
from pipeline.sources import SourceConfig, source_from_url
from pipeline.store import Store


@dataclass(slots=True)
class Retried:
    feeds: int = 0
    entries: int = 0
    inputs: int = 0


def open_failures(settings: Settings) -> list[dict[str, Any]]:
    """Open failures, oldest first, with their feed and when they are retried."""
    with Store(settings.database_url) as store:
        ledger = Ledger(store)
        failures = store.failures(unresolved=True)
        entries = ledger.entries_by_url([f.source for f in failures])
        sources = {s.url: s for s in ledger.sources()}
        names = ledger.source_names()
    rows = []
    for f in failures:
        entry = entries.get(f.source)
        feed = sources.get(f.source)
        if entry is not None:
            kind = "article"
            feed_name = names.get(entry.source_id or -1)
            next_retry = entry.next_attempt_at if entry.status == "pending" else None
            note = "with --retry"
        elif feed is not None:
            kind = "feed"
            feed_name = feed.name or feed.url
            next_retry = feed.next_poll_at
            note = "next poll"
        else:
            kind = "input"
            feed_name = None
            next_retry = None
            note = "with --retry"
        rows.append(
            {
                "id": f.id,
                "kind": kind,
                "feed": feed_name,
                "input": f.source,
                "url": f.url,
                "stage": f.stage,
                "reason": f.reason,
                "attempts": f.attempts,
                "first_attempt": f.created_at,
                "last_attempt": f.last_attempt_at,
                "next_retry": next_retry,
                "retry_note": note,
            }
        )
    return rows


def retry_failures(settings: Settings, known: Sequence[SourceConfig] = ()) -> Retried:
    """Poll failed feeds, fetch failed articles and run failed inputs again, now."""
    rows = open_failures(settings)
    done = Retried()
    by_url = {s.url: s for s in known}
    feeds = [r for r in rows if r["kind"] == "feed"]
    articles = [r["input"] for r in rows if r["kind"] == "article"]
    inputs = [r["input"] for r in rows if r["kind"] == "input"]
    with Ingestor(settings) as ingestor:
        for source in known:  # so that the sources' filters apply to their entries
            ingestor.configs[ingestor.ledger.source(source.url, source.name).id] = source
        reports: list[SourceReport] = []
        for row in feeds:
            url = row["input"]
            config = by_url.get(url) or source_from_url(url, name=row["feed"])
            state = ingestor.ledger.source(url)
            ingestor.ledger.record_poll(state.id, next_poll_at=None, last_polled_at=utcnow())
            reports.append(ingestor.poll(config))
            done.feeds += 1
        ingestor.process(reports)
        ids = ingestor.ledger.retry_failed(articles)
        if ids:
            ingestor.process(entry_ids=ids)
            done.entries = len(ids)
    if inputs:
        from pipeline.runner import run

        run(inputs, settings)
        done.inputs = len(inputs)
    return done
