"""Feed ingestion as a Prefect flow: the steps of pipeline.ingest.Ingestor as tasks.

One flow run polls its sources (one task per source, hosts in parallel) and then works
through their pending entries a batch at a time: ``load`` (fetch + clean, concurrent
inside the task), ``extract`` (one spaCy pass, the pipeline built once per flow run) and
``store``. The next batch loads while the current one is extracted, and there are no
per-article tasks or flow runs, so Prefect's overhead stays per batch.

Retries only where they help: polls and stores that hit a locked or unreachable database.
Fetch retries (back-off, Retry-After, per-host pauses) happen inside the fetch, where the
politeness rules live; articles that still fail are scheduled for a later poll.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture

from flows.retry import on_database_error
from pipeline.config import Settings
from pipeline.ingest import Ingestor, SourceReport, Work
from pipeline.ledger import Claimed
from pipeline.sources import SourceConfig


@task(
    name="poll",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=on_database_error,
    task_run_name="poll {source.name}",
)
def poll_task(ingestor: Ingestor, source: SourceConfig) -> SourceReport:
    return ingestor.poll(source)


@task(name="load", cache_policy=NO_CACHE, task_run_name="load {n} articles")
def load_task(ingestor: Ingestor, claimed: Sequence[Claimed], n: int) -> list[Work]:
    """Fetch and clean a batch, ``fetch_workers`` at a time (per-host limits apply)."""
    with ThreadPoolExecutor(ingestor.settings.fetch_workers, thread_name_prefix="fetch") as pool:
        return list(pool.map(ingestor.load, claimed))


@task(name="extract", cache_policy=NO_CACHE)
def extract_task(ingestor: Ingestor, works: list[Work]) -> list[Work]:
    ingestor.extract(works)
    return works


@task(
    name="store",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=on_database_error,
)
def store_task(ingestor: Ingestor, works: list[Work]) -> list[Work]:
    ingestor.store_all(works)  # works stored by a failed try are not stored again
    return works


@flow(name="newsfacts-ingest", validate_parameters=False)
def ingest_flow(
    sources: list[dict[str, Any]],
    settings: dict[str, Any] | None = None,
    config: str | None = None,
) -> dict[str, Any]:
    """Poll ``sources`` (feeds.toml entries) once and store their new articles.

    Settings: ``settings`` if given (a one-off run passes them), else loaded where the flow
    runs (``config`` file, then NEWSFACTS_* environment variables), so deployments carry
    no database credentials in their parameters.
    """
    log = get_run_logger()
    cfg = Settings.from_dict(settings) if settings else Settings.load(config_file=config)
    configs = [SourceConfig.from_dict(s) for s in sources]
    with Ingestor(cfg) as ingestor:
        polls = [poll_task.submit(ingestor, source) for source in configs]
        reports = [p.result() for p in polls]
        by_id = {i: r for r in reports for i in r.source_ids}
        ids = list(by_id)

        def start() -> PrefectFuture[list[Work]] | None:
            claimed = ingestor.claim(ids)
            return load_task.submit(ingestor, claimed, len(claimed)) if claimed else None

        pending = start()
        while pending is not None:
            works = pending.result()
            pending = start()  # the next batch loads while this one is extracted
            works = extract_task(ingestor, works)
            works = store_task(ingestor, works)
            ingestor.tally(works, by_id)
        run_id = ingestor.run_id
    for r in reports:
        log.info(
            "%s: %s; %d new, %d stored, %d duplicates, %d unchanged, %d failed, %d retrying%s",
            r.name,
            r.status,
            r.new,
            r.stored,
            r.duplicates,
            r.unchanged,
            r.failed,
            r.retrying,
            f" ({r.error})" if r.error else "",
        )
    return {"run_id": run_id, "sources": [dataclasses.asdict(r) for r in reports]}


def ingest_with_prefect(sources: list[SourceConfig], settings: Settings) -> dict[str, Any]:
    """Run the flow once, here (``newsfacts ingest --prefect``)."""
    return ingest_flow([s.to_dict() for s in sources], settings.to_dict())
