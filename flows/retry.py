"""When a Prefect task retry can help: transient fetch failures and database errors
(a locked SQLite file, a dropped PostgreSQL connection). Nothing else is retried."""

from __future__ import annotations

from typing import Any

from prefect.client.schemas.objects import TaskRun
from prefect.states import State
from prefect.tasks import Task
from sqlalchemy.exc import OperationalError

from pipeline.fetch import TransientFetchError


def on_transient_fetch(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    return isinstance(state.data, TransientFetchError)


def on_database_error(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    return isinstance(state.data, OperationalError)
