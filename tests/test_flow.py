"""The Prefect flow and the in-process runner store identical facts for the same inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.runner import run
from pipeline.store import Store

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "ai_alliance"


def stored(url: str) -> dict[str, object]:
    with Store(url) as store:
        [run_row] = store.runs()
        facts = {a.source: store.read_facts(a.id, run_row.id) for a in store.articles()}  # type: ignore[arg-type]
        failures = sorted((f.source, f.stage) for f in store.failures())
        return {
            "facts": facts,
            "failures": failures,
            "ok": run_row.n_ok,
            "failed": run_row.n_failed,
        }


@pytest.mark.slow
def test_flow_and_in_process_store_the_same_facts(prefect_harness: None, tmp_path: Path) -> None:
    from flows.oneoff import oneoff_flow

    sources = [
        str(SAMPLE / "article.txt"),
        str(SAMPLE / "article.html"),
        str(tmp_path / "gone.html"),
    ]
    plain = Settings(database_url=f"sqlite:///{tmp_path / 'plain.db'}")
    flowed = Settings(database_url=f"sqlite:///{tmp_path / 'flow.db'}")

    report = run(sources, plain)
    results = oneoff_flow(sources, flowed.to_dict())

    assert [r.error is None for r in results] == [r.error is None for r in report.results]
    assert str(results[2].error).startswith("fetch: ")
    a, b = stored(plain.database_url), stored(flowed.database_url)
    assert a == b
    assert len(a["facts"]) == 2  # type: ignore[arg-type]
    assert a["failures"] == [(sources[2], "fetch")]


@pytest.mark.slow
def test_cli_goes_through_the_flow_when_prefect_is_configured(
    prefect_harness: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from pipeline.cli import main

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    code = main(["run", "--prefect", "--json", "--db", db, str(SAMPLE / "article.txt")])
    assert code == 0
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {r["person"] for r in line["roles"]} >= {"Nick Clegg", "Arvind Krishna"}
    with Store(db) as store:
        [run_row] = store.runs()
        assert (run_row.status, run_row.n_ok, run_row.n_failed) == ("finished", 1, 0)
