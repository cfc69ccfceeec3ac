"""The one-off run as a Prefect flow: the same stages as pipeline.runner, as tasks.

Fetches run concurrently (Prefect's thread pool task runner); extraction runs
in batches with one spaCy pipeline for the whole flow run; each article is
stored in its own transaction. Retries only where they can help: fetches that
failed for a transient reason, and stores that hit a locked database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from extractors.facts import Facts
from flows.retry import on_database_error, on_transient_fetch
from pipeline.clean import clean
from pipeline.config import Settings
from pipeline.documents import CleanDocument, RawDocument, StageError
from pipeline.extract import Extractor, Skipped
from pipeline.fetch import fetch
from pipeline.runner import Result, apply_extraction, begin_run, chunks, save
from pipeline.store import Store


@task(
    name="fetch",
    retries=2,
    retry_delay_seconds=[1, 4],
    retry_jitter_factor=0.5,
    retry_condition_fn=on_transient_fetch,
    cache_policy=NO_CACHE,
    task_run_name="fetch {source}",
)
def fetch_task(source: str, settings: Settings) -> RawDocument:
    return fetch(source, settings)


@task(name="clean", cache_policy=NO_CACHE)
def clean_task(raw: RawDocument, settings: Settings) -> CleanDocument:
    return clean(raw, settings)


@task(name="extract", cache_policy=NO_CACHE)
def extract_task(
    extractor: Extractor, docs: Sequence[CleanDocument]
) -> list[Facts | Skipped | StageError]:
    return extractor.extract_many(docs)


@task(
    name="store",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=1,
    retry_condition_fn=on_database_error,
)
def store_task(store: Store, run_id: int, results: list[Result]) -> list[Result]:
    for result in results:
        save(store, run_id, result)
    return results


def _as_stage_error(value: object, stage: str, source: str) -> StageError:
    if isinstance(value, StageError):
        return value
    return StageError(stage, source, f"{type(value).__name__}: {value}")  # type: ignore[arg-type]


@flow(name="newsfacts-run", validate_parameters=False)
def oneoff_flow(sources: list[str], settings: dict[str, Any]) -> list[Result]:
    """Fetch, clean, extract and store each source; failures are recorded, not raised."""
    cfg = Settings.from_dict(settings)
    log = get_run_logger()
    extractor = Extractor(cfg)
    out: list[Result] = []
    with Store(cfg.database_url) as store:
        run_id = begin_run(store, (extractor.model_name, extractor.model_version), cfg)
        for batch in chunks(sources, cfg.batch_size):
            results = [Result(source) for source in batch]
            fetches = [fetch_task.submit(r.source, cfg) for r in results]
            for result, future in zip(results, fetches, strict=True):
                raw = future.result(raise_on_failure=False)
                if isinstance(raw, BaseException):
                    result.error = _as_stage_error(raw, "fetch", result.source)
                    continue
                doc = clean_task(raw, cfg, return_state=True).result(raise_on_failure=False)
                if isinstance(doc, BaseException):
                    result.error = _as_stage_error(doc, "clean", result.source)
                else:
                    result.doc = doc
            loaded = [r for r in results if r.doc is not None]
            apply_extraction(loaded, extract_task(extractor, [r.doc for r in loaded if r.doc]))
            store_task(store, run_id, results)
            out.extend(results)
        failed = sum(1 for r in out if r.error is not None)
        store.finish_run(run_id, len(out) - failed, failed)
    log.info("stored %d of %d inputs (run %d)", len(out) - failed, len(out), run_id)
    return out


def run_with_prefect(sources: list[str], settings: Settings) -> list[Result]:
    return oneoff_flow(sources, settings.to_dict())
