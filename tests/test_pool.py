"""Worker processes give the same stored facts as the in-process run."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.runner import run
from pipeline.store import Store
from pipeline.timing import StageTimer

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "ai_alliance"


def stored(url: str) -> tuple[dict[str, object], list[tuple[str, str]]]:
    with Store(url) as store:
        [run_row] = store.runs()
        facts = {a.source: store.read_facts(a.id, run_row.id) for a in store.articles()}  # type: ignore[arg-type]
        return facts, sorted((f.source, f.stage) for f in store.failures())


@pytest.mark.slow
def test_two_workers_store_what_one_process_stores(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    sources = [
        str(SAMPLE / "article.txt"),
        str(tmp_path / "missing.html"),
        str(SAMPLE / "article.html"),
        str(empty),
    ]
    serial = Settings(database_url=f"sqlite:///{tmp_path / 'one.db'}", batch_size=1)
    pooled = serial.replace(database_url=f"sqlite:///{tmp_path / 'two.db'}")

    one = run(sources, serial)
    timer = StageTimer()
    two = run(sources, pooled, workers=2, keep_results=False, timer=timer)

    assert (one.ok, one.failed) == (two.ok, two.failed) == (2, 2)
    assert two.results == []  # keep_results=False keeps counts only
    assert stored(serial.database_url) == stored(pooled.database_url)
    assert {"fetch", "clean", "extract", "store"} <= set(timer.seconds)


@pytest.mark.slow
def test_run_command_with_workers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from pipeline.cli import main

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    inputs = [str(SAMPLE / "article.txt"), str(tmp_path / "nope.txt")]
    code = main(["run", "--no-prefect", "--workers", "2", "--json", "--db", db, *inputs])
    assert code == 1
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["input"] for x in lines] == inputs
    assert lines[0]["error"] is None
    assert lines[1]["error"].startswith("fetch: file not found")
