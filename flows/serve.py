"""Scheduled ingestion: one Prefect deployment per source of the feeds file.

- ``serve``: this process registers the deployments with the Prefect API and runs their
  scheduled flow runs itself (``prefect.serve``), until stopped. Schedules are left
  active when it stops (``pause_on_shutdown=False``): a restart picks up where it was.
- ``deploy``: registers the same deployments on a work pool; ``prefect worker start
  --pool NAME`` runs them, on any machine where newsfacts is installed (the flow is
  found by module path, ``flows.ingest.ingest_flow``).

Each deployment runs at most one flow run at a time: a poll that is still running when
the next one is due makes the new one cancel itself instead of piling up.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast
from uuid import UUID

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Interval, Schedule
from prefect.types.entrypoint import EntrypointType

from flows.ingest import ingest_flow
from pipeline.config import ConfigError
from pipeline.sources import DEFAULT_INTERVAL, SourceConfig

TAGS = ["newsfacts", "ingest"]


def schedule_of(source: SourceConfig) -> Schedule:
    if source.cron:
        return Cron(source.cron, timezone=source.timezone or "UTC")
    return Interval(timedelta(seconds=source.interval or DEFAULT_INTERVAL))


def build_deployments(
    sources: list[SourceConfig], config: str | None = None, work_pool: str | None = None
) -> list[RunnerDeployment]:
    """One deployment per source, named after it, with its schedule and options.

    Parameters hold the source and the path of the settings file, never the settings
    themselves: database credentials stay in the environment of the runner or worker.
    """
    deployments = []
    for source in sources:
        try:
            schedule = schedule_of(source)
        except ValueError as exc:  # Prefect refuses the cron expression or time zone
            raise ConfigError(f"source {source.name}: {exc}") from None
        parameters: dict[str, Any] = {"sources": [source.to_dict()]}
        if config is not None:
            parameters["config"] = config
        deployment = ingest_flow.to_deployment(
            name=source.name,
            schedule=schedule,
            parameters=parameters,
            description=f"Poll {source.url} ({source.schedule}) and store new articles.",
            tags=TAGS,
            concurrency_limit=ConcurrencyLimitConfig(
                limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
            ),
            work_pool_name=work_pool,
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        deployments.append(cast(RunnerDeployment, deployment))  # sync call: not a coroutine
    return deployments


def serve(sources: list[SourceConfig], config: str | None = None, limit: int | None = None) -> None:
    """Serve the deployments here until interrupted (blocks)."""
    from prefect import serve as prefect_serve

    prefect_serve(*build_deployments(sources, config), pause_on_shutdown=False, limit=limit)


def deploy(sources: list[SourceConfig], work_pool: str, config: str | None = None) -> list[UUID]:
    """Register the deployments on a work pool; return their ids."""
    from prefect import deploy as prefect_deploy

    ids = prefect_deploy(  # sync call: not a coroutine
        *build_deployments(sources, config, work_pool),
        work_pool_name=work_pool,
        build=False,
        push=False,
        print_next_steps_message=False,
    )
    return list(cast("list[UUID]", ids))
