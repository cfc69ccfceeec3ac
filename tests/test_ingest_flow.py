"""Ingestion under Prefect (the session's prefect_test_harness) and the feed commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from models import Article, Entry
from pipeline.cli import main
from pipeline.config import Settings
from pipeline.sources import load_feeds, source_from_url
from pipeline.store import Store
from tests.feedsite import FeedSite, Reply
from tests.test_ingest import rows

NEWSFACTS = str(Path(sys.executable).with_name("newsfacts"))


@pytest.fixture
def site() -> Iterator[FeedSite]:
    with FeedSite() as s:
        yield s


@pytest.fixture
def local_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings as the CLI reads them: the test site is on 127.0.0.1, no pacing."""
    monkeypatch.setenv("NEWSFACTS_ALLOW_PRIVATE_ADDRESSES", "1")
    monkeypatch.setenv("NEWSFACTS_HOST_DELAY", "0")
    monkeypatch.setenv("NEWSFACTS_FETCH_RETRIES", "0")


def feeds_file(tmp_path: Path, *urls: str) -> Path:
    path = tmp_path / "feeds.toml"
    tables = "\n".join(
        f'[[source]]\nurl = "{url}"\nname = "feed-{i}"\ninterval = "{15 * (i + 1)}m"\n'
        for i, url in enumerate(urls)
    )
    path.write_text(f'[defaults]\nlanguages = ["en"]\n\n{tables}', encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the flow


@pytest.mark.slow
def test_flow_stores_new_articles_in_batches(
    prefect_harness: None, tmp_path: Path, site: FeedSite
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.ingest import ingest_flow

    paths = site.add_articles(10)
    site.route("/rss.xml", site.feed_route(lambda: site.rss(paths)))
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'flow.db'}",
        allow_private_addresses=True,
        host_delay=0.0,
        batch_size=4,
    )
    source = source_from_url(site.url("/rss.xml"), name="harbour")
    state = ingest_flow([source.to_dict()], settings.to_dict(), return_state=True)
    summary = state.result()
    [counts] = summary["sources"]
    assert (counts["new"], counts["stored"], counts["failed"]) == (10, 10, 0)
    assert len(rows(settings.database_url, Article)) == 10

    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
        flow_runs = client.read_flow_runs()
    names = sorted(t.name.rsplit("-", 1)[0] for t in task_runs)
    # one poll, and load/extract/store per batch of 4: never a task per article
    assert names.count("poll harbour") == 1
    assert names.count("extract") == names.count("store") == 3
    assert len(task_runs) == 1 + 3 * 3
    assert sum(1 for f in flow_runs if f.id == flow_run_id) == 1

    again = ingest_flow([source.to_dict()], settings.to_dict())
    assert again["run_id"] is None
    assert again["sources"][0]["status"] == "not-modified"
    assert again["sources"][0]["stored"] == 0


@pytest.mark.slow
def test_deployments_one_per_source_with_its_schedule(
    prefect_harness: None, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client

    from flows.serve import build_deployments

    path = tmp_path / "feeds.toml"
    path.write_text(
        '[[source]]\nurl = "https://a.example/rss"\nname = "a"\ninterval = "15m"\n'
        '[[source]]\nurl = "https://b.example/sitemap.xml"\nname = "b"\n'
        'cron = "5 * * * *"\ntimezone = "Europe/Paris"\n',
        encoding="utf-8",
    )
    deployments = build_deployments(load_feeds(path), config=str(path))
    assert [d.name for d in deployments] == ["a", "b"]
    for deployment in deployments:
        deployment.apply()
    with get_client(sync_client=True) as client:
        a = client.read_deployment_by_name("newsfacts-ingest/a")
        b = client.read_deployment_by_name("newsfacts-ingest/b")
    assert a.schedules[0].schedule.interval.total_seconds() == 900  # type: ignore[union-attr]
    assert b.schedules[0].schedule.cron == "5 * * * *"  # type: ignore[union-attr]
    assert b.schedules[0].schedule.timezone == "Europe/Paris"  # type: ignore[union-attr]
    assert a.parameters["sources"][0]["url"] == "https://a.example/rss"
    assert a.parameters["config"] == str(path)
    assert "settings" not in a.parameters  # no database URL in the Prefect API
    assert a.entrypoint == "flows.ingest.ingest_flow"
    assert a.global_concurrency_limit is not None
    assert a.global_concurrency_limit.limit == 1  # one poll of a source at a time
    assert a.concurrency_options is not None
    assert a.concurrency_options.collision_strategy == "CANCEL_NEW"


@pytest.mark.slow
def test_serve_registers_deployments_and_leaves_schedules_on(
    prefect_harness: None, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    path = feeds_file(tmp_path, "https://a.example/rss", "https://b.example/feed.json")
    env = dict(os.environ, PREFECT_API_URL=str(PREFECT_API_URL.value()))
    serve = subprocess.Popen(
        [NEWSFACTS, "serve", "--config", str(path), "--db", f"sqlite:///{tmp_path / 's.db'}"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    names: list[str] = []
    try:
        deadline = time.monotonic() + 60
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline and len(names) < 2:
                time.sleep(0.5)
                names = sorted(
                    d.name
                    for d in client.read_deployments()
                    if d.name in ("feed-0", "feed-1") and d.parameters.get("config") == str(path)
                )
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=30)
    assert names == ["feed-0", "feed-1"]
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("newsfacts-ingest/feed-0")
    assert not deployment.paused  # pause_on_shutdown=False: a restart goes on as before
    assert deployment.schedules[0].active


# --------------------------------------------------------------------------- the commands


def test_ingest_command_json_then_nothing(
    tmp_path: Path, site: FeedSite, local_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = site.add_articles(3)
    site.route("/rss.xml", site.feed_route(lambda: site.rss(paths)))
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["ingest", site.url("/rss.xml"), "--db", db, "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert sorted(x["url"] for x in lines) == sorted(site.url(p) for p in paths)
    assert {"input", "title", "organizations", "roles", "money", "error", "feed"} <= set(lines[0])
    assert all(x["error"] is None and x["organizations"] for x in lines)

    assert main(["ingest", site.url("/rss.xml"), "--db", db, "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing new: no objects
    assert "not-modified" in captured.err


def test_ingest_command_sources_from_the_feeds_file(
    tmp_path: Path,
    site: FeedSite,
    local_env: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paths = site.add_articles(2)
    site.route("/a.xml", lambda r: Reply(200, site.rss(paths[:1]), "application/rss+xml"))
    site.route("/b.xml", lambda r: Reply(200, site.rss(paths[1:]), "application/rss+xml"))
    path = feeds_file(tmp_path, site.url("/a.xml"), site.url("/b.xml"))
    db = f"sqlite:///{tmp_path / 'feeds.db'}"
    monkeypatch.chdir(tmp_path)  # ./feeds.toml is the default
    assert main(["ingest", "feed-1", "--db", db]) == 0
    assert "feed-1" in capsys.readouterr().out
    assert len(rows(db, Article)) == 1
    assert main(["ingest", "--config", str(path), "--db", db]) == 0
    out = capsys.readouterr().out
    assert "feed-0" in out
    assert len(rows(db, Article)) == 2
    assert main(["ingest", "nonsense", "--db", db]) == 2


def test_ingest_command_exit_status_and_failures_command(
    tmp_path: Path, site: FeedSite, local_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = site.add_articles(1)
    site.route("/rss.xml", lambda r: Reply(200, site.rss([*paths, "/gone"]), "application/rss+xml"))
    db = f"sqlite:///{tmp_path / 'fail.db'}"
    assert main(["ingest", site.url("/rss.xml"), "--db", db]) == 1
    capsys.readouterr()
    assert main(["failures", "--db", db, "--json"]) == 1
    [failure] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert failure["input"] == site.url("/gone")
    assert (failure["kind"], failure["stage"], failure["attempts"]) == ("article", "fetch", 1)
    assert "HTTP 404" in failure["reason"]
    assert main(["failures", "--db", db]) == 1
    assert "HTTP 404" in capsys.readouterr().out

    site.pages["/gone"] = site.pages[paths[0]].replace(b"story number 0", b"story number 99")
    assert main(["failures", "--db", db, "--retry"]) == 0
    assert "no open failures" in capsys.readouterr().out
    assert {e.status for e in rows(db, Entry)} == {"stored"}
    with Store(db) as store:
        assert all(f.resolved_at is not None for f in store.failures())


def test_serve_needs_a_feeds_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["serve"]) == 2
    assert "no feeds file" in capsys.readouterr().err
    assert main(["deploy", "--pool", "p"]) == 2
