"""Exercise ingestion on a Prefect work pool with two local process workers.

    .venv/bin/python scripts/workpool_check.py [--articles 40] [--db URL]

What it does, all on this machine:
1. starts a Prefect server (temporary PREFECT_HOME) on 127.0.0.1;
2. serves two RSS feeds of N/2 distinct article pages each (tests/feedsite.py);
3. creates a process work pool, registers one deployment per feed with
   `newsfacts deploy --pool ...`, and starts two `prefect worker start` processes;
4. triggers both deployments twice (the second poll of each feed must store 0);
5. waits for the four flow runs, then prints which worker ran which flow run and
   what the shared database holds (PostgreSQL by default: NEWSFACTS_TEST_POSTGRES_URL,
   a throw-away database; else an SQLite file).

It exits non-zero when a flow run fails, when the two workers did not both run
flows, or when an article is stored twice.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.feedsite import FeedSite  # noqa: E402

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer in {seconds:.0f} s")


def database(url: str | None) -> tuple[str, str | None]:
    """(database URL, name of a throw-away PostgreSQL database to drop afterwards)."""
    server = url or os.environ.get("NEWSFACTS_TEST_POSTGRES_URL")
    if not server:
        return f"sqlite:///{tempfile.mkdtemp()}/workpool.db", None
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = f"newsfacts_workpool_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False), name


def drop(server: str, name: str) -> None:
    from sqlalchemy import create_engine

    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--db", help="server URL for a throw-away PostgreSQL database")
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="newsfacts-workpool-")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    db_url, throwaway = database(args.db)
    env = dict(
        os.environ,
        PREFECT_HOME=home,
        PREFECT_API_URL=api,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="INFO",
        NEWSFACTS_DATABASE_URL=db_url,
        NEWSFACTS_ALLOW_PRIVATE_ADDRESSES="1",
        NEWSFACTS_HOST_DELAY="0",
    )
    procs: list[subprocess.Popen[str]] = []
    logs: list[Path] = []

    def start(cmd: list[str], name: str) -> subprocess.Popen[str]:
        log = Path(home) / f"{name}.log"
        logs.append(log)
        proc = subprocess.Popen(
            cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True
        )
        procs.append(proc)
        return proc

    def run(cmd: list[str]) -> str:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        return out.stdout + out.stderr

    try:
        start(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            "server",
        )
        t0 = time.monotonic()
        wait_for(f"{api}/health", 90)
        print(f"prefect server up in {time.monotonic() - t0:.1f} s at {api}")
        with FeedSite() as site:
            half = args.articles // 2
            feeds = []
            for k, name in enumerate(("a", "b")):
                paths = [f"/{name}/story-{i}" for i in range(half)]
                for i, path in enumerate(paths):
                    site.pages[path] = _page(name, k * half + i).encode()
                site.route(f"/{name}.xml", site.feed_route(lambda p=paths: site.rss(p)))
                feeds.append((f"feed-{name}", site.url(f"/{name}.xml")))
            config = Path(home) / "feeds.toml"
            config.write_text(
                "".join(
                    f'[[source]]\nname = "{n}"\nurl = "{u}"\ninterval = "1d"\n\n' for n, u in feeds
                )
            )
            pool = "newsfacts-check"
            run([str(BIN / "prefect"), "work-pool", "create", pool, "--type", "process"])
            print(run([str(BIN / "newsfacts"), "deploy", "--pool", pool, "--config", str(config)]))
            for i in (1, 2):
                start(
                    [
                        str(BIN / "prefect"),
                        "worker",
                        "start",
                        "--pool",
                        pool,
                        "--limit",
                        "1",
                        "--name",
                        f"worker-{i}",
                    ],
                    f"worker-{i}",
                )
            time.sleep(3)
            runs = []
            for _round in (1, 2):
                started = []
                for name, _ in feeds:
                    out = run(
                        [str(BIN / "prefect"), "deployment", "run", f"newsfacts-ingest/{name}"]
                    )
                    started.append(re.search(r"UUID: ([0-9a-f-]{36})", out).group(1))  # type: ignore[union-attr]
                runs += _wait_runs(api, started, 600)
            ok = all(state == "COMPLETED" for _, state in runs)
            workers = {}
            for log in logs:
                text = log.read_text(errors="replace")
                for fr, _ in runs:
                    if log.name.startswith("worker") and fr in text:
                        workers[fr] = log.stem
            for fr, state in runs:
                print(f"flow run {fr}: {state} on {workers.get(fr, '?')}")
            both = len(set(workers.values())) == 2
        from pipeline.store import Store

        with Store(db_url) as store:
            arts = store.articles()
            sources = [a.canonical_url or a.content_hash for a in arts]
            unique = len(sources) == len(set(sources))
            verdict = "each once" if unique else "DUPLICATES"
            print(f"database: {len(arts)} articles stored ({verdict}), {len(store.runs())} runs")
        expected = 2 * half
        print(
            json.dumps(
                {
                    "flow_runs_completed": ok,
                    "both_workers_ran_flows": both,
                    "articles": len(arts),
                    "expected": expected,
                    "unique": unique,
                }
            )
        )
        return 0 if ok and both and unique and len(arts) == expected else 1
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if throwaway:
            drop(args.db or os.environ["NEWSFACTS_TEST_POSTGRES_URL"], throwaway)


def _page(feed: str, i: int) -> str:
    from tests.feedsite import article_html

    return article_html(i, extra=f"<p>Feed {feed}, story {i}.</p>")


def _wait_runs(api: str, ids: list[str], seconds: float) -> list[tuple[str, str]]:
    deadline = time.monotonic() + seconds
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        for fr in ids:
            data = httpx.get(f"{api}/flow_runs/{fr}", timeout=5).json()
            states[fr] = data["state"]["type"] if data.get("state") else "PENDING"
        if all(s in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for s in states.values()):
            break
        time.sleep(2)
    return [(fr, states.get(fr, "?")) for fr in ids]


if __name__ == "__main__":
    raise SystemExit(main())
