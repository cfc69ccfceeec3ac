"""Re-extraction of the stored corpus as a Prefect flow, for CPU-heavy reruns.

The same work as `newsfacts rerun` (pipeline/rerun.py), with extraction spread over
a task runner: each task extracts one batch of stored documents, and this flow run
stores the outcomes (one transaction per article) as the batches come back, at most
two batches per worker in flight. With the optional `prefect-dask` package
(`pip install 'newsfacts[dask]'`) `dask_rerun` runs the tasks on a local Dask cluster
of worker processes (or on an existing cluster, `address=`), each worker loading the
model once.
"""

from __future__ import annotations

from collections import deque
from functools import cache
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture

from extractors.facts import Facts
from pipeline.config import Settings
from pipeline.documents import CleanDocument, StageError
from pipeline.extract import Extractor, Skipped
from pipeline.rerun import RUN_KIND, RerunReport, select_articles, store_outcomes
from pipeline.runner import begin_run, chunks
from pipeline.store import Store


@cache
def _extractor(settings_json: str) -> Extractor:
    """One spaCy pipeline per worker process (tasks run many times in one worker)."""
    import json

    return Extractor(Settings.from_dict(json.loads(settings_json)))


@task(name="extract-batch", cache_policy=NO_CACHE)
def extract_batch(
    settings_json: str, docs: list[CleanDocument]
) -> list[Facts | Skipped | StageError]:
    return _extractor(settings_json).extract_many(docs)


@task(name="model-info", cache_policy=NO_CACHE)
def model_info(settings_json: str) -> tuple[str, str]:
    extractor = _extractor(settings_json)
    return extractor.model_name, extractor.model_version


@flow(name="newsfacts-rerun", validate_parameters=False)
def rerun_flow(
    settings: dict[str, Any], article_ids: list[int] | None = None, in_flight: int = 4
) -> dict[str, Any]:
    """Re-extract the given stored articles (all when None) into a new run."""
    import json

    cfg = Settings.from_dict(settings)
    key = json.dumps(cfg.to_dict(), sort_keys=True, default=list)
    log = get_run_logger()
    with Store(cfg.database_url) as store:
        ids = article_ids if article_ids is not None else select_articles(store)
        run_id = begin_run(store, model_info.submit(key).result(), cfg, kind=RUN_KIND)
        report = RerunReport(run_id)
        pending: deque[tuple[list[tuple[int, CleanDocument]], PrefectFuture[Any]]] = deque()

        def drain_one() -> None:
            documents, future = pending.popleft()
            store_outcomes(store, report, documents, future.result())

        try:
            for batch in chunks(ids, cfg.batch_size):
                documents = store.documents(batch)
                future = extract_batch.submit(key, [doc for _, doc in documents])
                pending.append((documents, future))
                if len(pending) >= in_flight:
                    drain_one()
            while pending:
                drain_one()
            store.finish_run(run_id, report.n_ok, report.n_failed)
        except BaseException:
            store.finish_run(run_id, report.n_ok, report.n_failed, status="failed")
            raise
        report.previous_run = store.previous_run(run_id)
    log.info("rerun %s: %s articles, %s failed", run_id, report.articles, report.n_failed)
    return {
        "run_id": report.run_id,
        "articles": report.articles,
        "failed": report.n_failed,
        "previous_run": report.previous_run,
    }


def dask_rerun(
    settings: Settings,
    article_ids: list[int] | None = None,
    workers: int = 2,
    address: str | None = None,
) -> dict[str, Any]:
    """Run `rerun_flow` with its extraction tasks on Dask (a local cluster of `workers`
    processes, or the scheduler at `address`). Needs the `prefect-dask` package."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise RuntimeError(
            "the Dask task runner needs prefect-dask: pip install 'newsfacts[dask]'"
        ) from None
    if address:
        runner = DaskTaskRunner(address=address)
    else:
        runner = DaskTaskRunner(
            cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True}
        )
    flow_with_dask = rerun_flow.with_options(task_runner=runner)  # type: ignore[arg-type]
    result: dict[str, Any] = flow_with_dask(settings.to_dict(), article_ids, 2 * workers)
    return result
