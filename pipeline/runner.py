"""A one-off run without Prefect: fetch -> clean -> extract -> store, in batches.

This is the plain-Python path that notebooks and `newsfacts run` use when no
Prefect API is configured. The Prefect flow in flows/ composes the same stage
functions (`load`, `Extractor.extract_many`, `save`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import httpx

from extractors.facts import Facts
from pipeline.clean import clean
from pipeline.config import Settings
from pipeline.documents import CleanDocument, StageError
from pipeline.extract import Extractor, Skipped
from pipeline.fetch import fetch_with_retries, make_client
from pipeline.store import Store
from pipeline.timing import StageTimer
from pipeline.version import code_version, config_hash

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(slots=True)
class Result:
    """What happened to one input."""

    source: str
    doc: CleanDocument | None = None
    facts: Facts | None = None
    error: StageError | None = None
    skipped: str | None = None
    article_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class Report:
    run_id: int
    results: list[Result] = field(default_factory=list)
    ok: int = 0
    failed: int = 0
    words: int = 0

    def count(self, result: Result, keep: bool = True) -> None:
        if result.ok:
            self.ok += 1
            self.words += len(result.doc.text.split()) if result.doc else 0
        else:
            self.failed += 1
        if keep:
            self.results.append(result)


def load(source: str, settings: Settings, client: httpx.Client | None = None) -> CleanDocument:
    """Fetch and clean one input. Raises StageError naming the stage."""
    raw = fetch_with_retries(source, settings, client=client)
    return clean(raw, settings)


def apply_extraction(
    results: Sequence[Result], outcomes: Sequence[Facts | Skipped | StageError]
) -> None:
    for result, outcome in zip(results, outcomes, strict=True):
        if isinstance(outcome, StageError):
            result.error = outcome
        elif isinstance(outcome, Skipped):
            result.skipped = outcome.reason
            result.facts = Facts()
        else:
            result.facts = outcome


def save(store: Store, run_id: int, result: Result) -> None:
    """Store one result: the article and its facts, or a failure row.

    A database outage is not a per-document failure: it propagates and ends the run.
    """
    if result.error is None and result.doc is not None:
        try:
            result.article_id = store.save(run_id, result.doc, result.facts or Facts())
        except StageError as exc:  # bad data for this document; the database is fine
            log.warning("storing %s failed: %s", result.source, exc.reason)
            result.error = exc
    if result.error is not None:
        url = result.doc.url if result.doc is not None else None
        store.record_failure(run_id, result.source, url, result.error.stage, result.error.reason)


def begin_run(store: Store, model: tuple[str, str], settings: Settings, kind: str = "run") -> int:
    """Start an extraction run recording what produces its facts: code version, model
    (name, version), and the hash of the extraction settings and rule files."""
    name, version = model
    return store.begin_run(
        code_version=code_version(),
        model_name=name,
        model_version=version,
        config_hash=config_hash(settings),
        kind=kind,
    )


def process_batch(
    sources: Sequence[str],
    settings: Settings,
    extractor: Extractor,
    client: httpx.Client | None = None,
    timer: StageTimer | None = None,
) -> list[Result]:
    """Fetch, clean and extract a batch (no storing). Errors stay on their Result."""
    timer = timer or StageTimer()
    results = [Result(source) for source in sources]
    for result in results:
        try:
            with timer("fetch"):
                raw = fetch_with_retries(result.source, settings, client=client)
            with timer("clean"):
                result.doc = clean(raw, settings)
        except StageError as exc:
            result.error = exc
    loaded = [r for r in results if r.doc is not None and r.error is None]
    with timer("extract"):
        apply_extraction(loaded, extractor.extract_many([r.doc for r in loaded if r.doc]))
    return results


def run(
    sources: Iterable[str],
    settings: Settings,
    *,
    store: Store | None = None,
    extractor: Extractor | None = None,
    on_result: Callable[[Result], None] | None = None,
    workers: int = 1,
    keep_results: bool = True,
    timer: StageTimer | None = None,
) -> Report:
    """Process every source in batches; one bad input never stops the others.

    `on_result` is called for each input as soon as it is stored, so a caller can
    stream output. With `workers` > 1, fetch + clean + extract run in that many worker
    processes (each loads the model once) and this process stores. Memory holds a few
    batches at a time; with `keep_results=False` the report keeps only the counts.
    """
    own_store = store is None
    store = store or Store(settings.database_url)
    timer = timer or StageTimer()
    if workers > 1:
        from pipeline.pool import ExtractionPool

        started = ExtractionPool(settings, workers)
        pool: ExtractionPool | None = started
        info = started.model_info()
    else:
        pool = None
        extractor = extractor or Extractor(settings)
        info = (extractor.model_name, extractor.model_version)
    run_id = begin_run(store, info, settings)
    report = Report(run_id)
    try:
        if pool is not None:
            batches = pool.map(chunks(sources, settings.batch_size), timer)
        else:
            assert extractor is not None
            batches = _serial(sources, settings, extractor, timer)
        for results in batches:
            with timer("store"):
                for result in results:
                    save(store, run_id, result)
            for result in results:
                report.count(result, keep_results)
                if on_result is not None:
                    on_result(result)
        store.finish_run(run_id, report.ok, report.failed)
    except BaseException:
        store.finish_run(run_id, report.ok, report.failed, status="failed")
        raise
    finally:
        if pool is not None:
            pool.close()
        if own_store:
            store.close()
    return report


def _serial(
    sources: Iterable[str], settings: Settings, extractor: Extractor, timer: StageTimer
) -> Iterator[list[Result]]:
    with make_client(settings) as client:
        for batch in chunks(sources, settings.batch_size):
            yield process_batch(batch, settings, extractor, client, timer)


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
