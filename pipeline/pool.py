"""Fetch, clean and extract in worker processes; the calling process stores.

Each worker builds its spaCy pipeline once (in the pool initialiser) and handles
whole batches, so the model is loaded once per worker and results come back a
batch at a time. At most two batches per worker are in flight, so memory does
not grow with the number of inputs.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from pipeline.config import Settings
from pipeline.timing import StageTimer

_state: dict[str, Any] = {}


def _init(settings: dict[str, Any]) -> None:
    from pipeline.extract import Extractor
    from pipeline.fetch import make_client

    cfg = Settings.from_dict(settings)
    _state["settings"] = cfg
    _state["extractor"] = Extractor(cfg)
    _state["client"] = make_client(cfg)


def _model_info() -> tuple[str, str]:
    extractor = _state["extractor"]
    return extractor.model_name, extractor.model_version


def _work(sources: list[str]) -> tuple[list[Any], dict[str, float]]:
    from pipeline.runner import process_batch

    timer = StageTimer()
    results = process_batch(
        sources, _state["settings"], _state["extractor"], _state["client"], timer
    )
    return results, timer.seconds


class ExtractionPool:
    def __init__(self, settings: Settings, workers: int) -> None:
        # "spawn": a clean interpreter per worker, no inherited threads or sockets.
        context = multiprocessing.get_context("spawn")
        self.workers = workers
        self.executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init,
            initargs=(settings.to_dict(),),
        )

    def model_info(self) -> tuple[str, str]:
        name, version = self.executor.submit(_model_info).result()
        return str(name), str(version)

    def map(self, batches: Iterable[list[str]], timer: StageTimer) -> Iterator[list[Any]]:
        """Results per batch, in input order, with a bounded number in flight."""
        pending: deque[Future[tuple[list[Any], dict[str, float]]]] = deque()
        limit = 2 * self.workers
        for batch in batches:
            pending.append(self.executor.submit(_work, batch))
            if len(pending) >= limit:
                results, seconds = pending.popleft().result()
                timer.merge(seconds)
                yield results
        while pending:
            results, seconds = pending.popleft().result()
            timer.merge(seconds)
            yield results

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
