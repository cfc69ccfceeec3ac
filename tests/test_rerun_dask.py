"""Re-extraction on a local Dask cluster stores what the in-process rerun stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.extract import Extractor
from pipeline.rerun import rerun
from pipeline.runner import run
from pipeline.store import Store

pytest.importorskip("prefect_dask", reason="needs the optional prefect-dask package")

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "ai_alliance"


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_dask_rerun_matches_the_plain_rerun(tmp_path: Path) -> None:
    from flows.rerun import dask_rerun

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'dask.db'}", batch_size=1)
    run([str(SAMPLE / "article.txt"), str(SAMPLE / "article.html")], settings)
    with Store(settings.database_url) as store:
        plain = rerun(
            [a.id for a in store.articles()],
            settings,
            store=store,  # type: ignore[misc]
            extractor=Extractor(settings),
        )

    result = dask_rerun(settings, workers=2)

    assert (result["articles"], result["failed"]) == (2, 0)
    with Store(settings.database_url) as store:
        ids = [a.id for a in store.articles()]
        for article_id in ids:
            assert store.read_facts(article_id, result["run_id"]) == store.read_facts(  # type: ignore[arg-type]
                article_id,
                plain.run_id,  # type: ignore[arg-type]
            )
        assert store.get_run(result["run_id"]).kind == "rerun"
