"""Feed ingestion end to end: a real site on 127.0.0.1, the real model, real databases.

New entries are stored once, a second poll stores and extracts nothing, the same story
under two URLs is stored once with an alias, failures are kept and retried where a retry
can help, and a killed ingestion loses and repeats nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from extractors.facts import Facts
from models import Article, Entry, Failure, OrganizationFact, Source
from pipeline.config import Settings
from pipeline.documents import CleanDocument, StageError
from pipeline.extract import Extractor, Skipped
from pipeline.ingest import Ingestor, IngestReport, ingest
from pipeline.ledger import Ledger
from pipeline.sources import SourceConfig, source_from_url
from pipeline.store import Store
from tests.feedsite import FeedSite, Reply, Request, article_html, gzipped

ROOT = Path(__file__).resolve().parent.parent
NEWSFACTS = str(Path(sys.executable).with_name("newsfacts"))


class CountingExtractor(Extractor):
    """The real extractor, counting the documents it is given."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.seen = 0

    def extract_many(self, docs: Sequence[CleanDocument]) -> list[Facts | Skipped | StageError]:
        self.seen += len(docs)
        return super().extract_many(docs)


@pytest.fixture(scope="module")
def extractor() -> CountingExtractor:
    return CountingExtractor(Settings())


@pytest.fixture
def site() -> Iterator[FeedSite]:
    with FeedSite() as s:
        yield s


def settings_for(db: str, **changes: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db,
        "allow_private_addresses": True,
        "host_delay": 0.0,
        "read_timeout": 2.0,
        "fetch_retries": 0,
        "batch_size": 8,
        "retry_backoff": 60.0,
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


def run(
    sources: list[SourceConfig], settings: Settings, extractor: CountingExtractor
) -> tuple[IngestReport, int]:
    before = extractor.seen
    report = ingest(sources, settings, extractor=extractor)
    return report, extractor.seen - before


def asked(site: FeedSite, since: int) -> list[str]:
    """Paths requested since request number ``since``, robots.txt aside (read once a run)."""
    return [r.path for r in site.requests[since:] if r.path != "/robots.txt"]


def rows(db: str, table: type) -> list:  # type: ignore[type-arg]
    with Store(db) as store, Session(store.engine) as session:
        return list(session.exec(select(table)).all())


# --------------------------------------------------------------------------- polls


def test_second_poll_stores_and_extracts_nothing(
    db_url: str, site: FeedSite, extractor: CountingExtractor
) -> None:
    paths = site.add_articles(12)
    site.route("/rss.xml", site.feed_route(lambda: site.rss(paths)))
    source = source_from_url(site.url("/rss.xml"), name="harbour")
    settings = settings_for(db_url)

    report, extracted = run([source], settings, extractor)
    [first] = report.sources
    assert (first.status, first.listed, first.new, first.stored, first.failed) == (
        "changed",
        12,
        12,
        12,
        0,
    )
    assert extracted == 12
    articles = rows(db_url, Article)
    assert sorted(a.canonical_url for a in articles) == sorted(site.url(p) for p in paths)
    assert {e.status for e in rows(db_url, Entry)} == {"stored"}

    hits = len(site.requests)
    report, extracted = run([source], settings, extractor)
    [second] = report.sources
    assert (second.status, second.new, second.stored) == ("not-modified", 0, 0)
    assert extracted == 0
    assert report.run_id is None  # no extraction run for a poll with nothing new
    assert asked(site, hits) == ["/rss.xml"]  # a 304, and nothing else


def test_feed_without_validators_new_items_only(
    tmp_path: Path, site: FeedSite, extractor: CountingExtractor
) -> None:
    db = f"sqlite:///{tmp_path / 'n.db'}"
    paths = site.add_articles(5)
    listed = paths[:3]
    site.route("/rss.xml", lambda r: Reply(200, site.rss(listed), "application/rss+xml"))
    source = source_from_url(site.url("/rss.xml"))
    settings = settings_for(db)
    assert run([source], settings, extractor)[0].sources[0].stored == 3
    assert run([source], settings, extractor)[0].sources[0].status == "unchanged"  # same body
    listed = paths  # two new items on top
    report, extracted = run([source], settings, extractor)
    assert (report.sources[0].new, report.sources[0].stored, extracted) == (2, 2, 2)
    assert sum(site.hits(p) for p in paths) == 5  # every article fetched exactly once


def test_same_story_under_two_urls_is_stored_once_with_aliases(
    db_url: str, site: FeedSite, extractor: CountingExtractor
) -> None:
    page = article_html(40).replace('<link rel="canonical" href="/news/story-40">', "")
    site.pages["/news/story-40"] = page.encode()
    site.pages["/syndicated/story-40"] = page.encode()  # same text, another URL
    site.route("/moved", lambda r: Reply(301, headers={"Location": "/news/story-40"}))
    links = ["/news/story-40", "/syndicated/story-40", "/moved"]
    site.route("/rss.xml", lambda r: Reply(200, site.rss(links), "application/rss+xml"))
    report, extracted = run(
        [source_from_url(site.url("/rss.xml"))], settings_for(db_url), extractor
    )
    counts = report.sources[0]
    assert (counts.new, counts.stored, counts.duplicates + counts.unchanged) == (3, 1, 2)
    assert extracted == 1
    [article] = rows(db_url, Article)
    assert article.canonical_url == site.url("/news/story-40")
    with Store(db_url) as store:
        aliases = {a.url: a.reason for a in Ledger(store).aliases()}
    assert aliases == {
        site.url("/syndicated/story-40"): "same-text",
        site.url("/moved"): "redirect",
    }
    assert {e.article_id for e in rows(db_url, Entry)} == {article.id}


def test_rel_canonical_and_tracking_parameters(
    tmp_path: Path, site: FeedSite, extractor: CountingExtractor
) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    site.pages["/amp/story-7"] = article_html(7).encode()  # says rel=canonical /news/story-7
    site.route("/rss.xml", lambda r: Reply(200, site.rss(["/amp/story-7"]), "application/rss+xml"))
    run([source_from_url(site.url("/rss.xml"))], settings_for(db), extractor)
    [entry] = rows(db, Entry)
    assert entry.url == site.url("/amp/story-7")  # ?utm_source=rss&utm_medium=feed dropped
    [article] = rows(db, Article)
    assert article.canonical_url == site.url("/news/story-7")


def test_updated_entry_is_fetched_again_and_reextracted_only_if_its_text_changed(
    tmp_path: Path, site: FeedSite, extractor: CountingExtractor
) -> None:
    db = f"sqlite:///{tmp_path / 'u.db'}"
    site.add_articles(2)
    stamp = {"value": "2024-03-01T10:00:00Z"}

    def atom(_request: object) -> Reply:
        entries = "".join(
            f"<entry><title>S{i}</title><id>urn:s{i}</id>"
            f'<link href="{site.url(f"/news/story-{i}")}"/>'
            f"<updated>{stamp['value']}</updated></entry>"
            for i in range(2)
        )
        body = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>{entries}</feed>'
        return Reply(200, body.encode(), "application/atom+xml")

    site.route("/atom", atom)
    source = source_from_url(site.url("/atom"))
    settings = settings_for(db)
    assert run([source], settings, extractor)[0].sources[0].stored == 2
    stamp["value"] = "2024-03-02T10:00:00Z"  # the feed says both changed; one really did
    site.pages["/news/story-1"] = article_html(1, extra="A correction was added.").encode()
    report, extracted = run([source], settings, extractor)
    counts = report.sources[0]
    assert (counts.changed, counts.stored, counts.unchanged, extracted) == (2, 1, 1, 1)
    assert len(rows(db, Article)) == 2  # updated in place


# --------------------------------------------------------------------------- failures


@pytest.fixture
def other_site() -> Iterator[FeedSite]:
    """A second host (another port): politeness is per host."""
    with FeedSite() as s:
        yield s


def test_failures_are_recorded_and_retried_only_when_it_can_help(
    tmp_path: Path, site: FeedSite, other_site: FeedSite, extractor: CountingExtractor
) -> None:
    db = f"sqlite:///{tmp_path / 'f.db'}"
    site.add_articles(1)
    site.route("/pdf", lambda r: Reply(200, b"%PDF-1.7", "application/pdf"))
    # a 503 with Retry-After on the other host pauses that host only
    busy = {"reply": Reply(503, b"busy", "text/plain", {"Retry-After": "120"})}
    other_site.route("/busy", lambda r: busy["reply"])
    links = ["/news/story-0", "/gone", other_site.url("/busy"), "/pdf"]
    site.route("/rss.xml", lambda r: Reply(200, site.rss(links), "application/rss+xml"))
    source = source_from_url(site.url("/rss.xml"))
    settings = settings_for(db, max_attempts=2)
    report, _ = run([source], settings, extractor)
    counts = report.sources[0]
    assert (counts.stored, counts.failed, counts.retrying) == (1, 2, 1)
    assert report.failed
    entries = {e.url.rsplit("/", 1)[1]: e for e in rows(db, Entry)}
    assert entries["gone"].status == "failed"
    assert "HTTP 404" in (entries["gone"].last_error or "")
    waiting = entries["busy"]
    assert waiting.status == "pending"
    assert waiting.next_attempt_at is not None  # not before the server's Retry-After
    assert (waiting.next_attempt_at - waiting.last_seen_at).total_seconds() >= 119
    failures = {f.source.rsplit("/", 1)[1]: f for f in rows(db, Failure)}
    assert set(failures) == {"gone", "busy", "pdf"}
    assert failures["pdf"].stage == "fetch"

    # the next poll retries nothing: 404 is permanent, /busy is not due yet
    hits = len(site.requests)
    run([source], settings, extractor)
    assert asked(site, hits) == ["/rss.xml"]
    assert other_site.hits("/busy") == 1

    # `newsfacts failures --retry`: the servers are fixed, everything is fetched again now
    site.pages["/gone"] = article_html(50).encode()
    busy["reply"] = Reply(200, article_html(51).encode())
    from pipeline.retry import open_failures, retry_failures

    assert {r["kind"] for r in open_failures(settings)} == {"article"}
    retry_failures(settings)
    assert [r["input"].rsplit("/", 1)[1] for r in open_failures(settings)] == ["pdf"]
    assert {e.url.rsplit("/", 1)[1]: e.status for e in rows(db, Entry)} == {
        "story-0": "stored",
        "gone": "stored",
        "busy": "stored",
        "pdf": "failed",
    }


def test_transient_failures_give_up_after_max_attempts(
    tmp_path: Path, site: FeedSite, extractor: CountingExtractor
) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    site.route("/flaky", lambda r: Reply(500, b"oops", "text/plain"))
    site.route("/rss.xml", lambda r: Reply(200, site.rss(["/flaky"]), "application/rss+xml"))
    settings = settings_for(db, max_attempts=2, retry_backoff=0.0)
    source = source_from_url(site.url("/rss.xml"))
    assert run([source], settings, extractor)[0].sources[0].retrying == 1
    assert run([source], settings, extractor)[0].sources[0].failed == 1  # second and last try
    run([source], settings, extractor)
    assert site.hits("/flaky") == 2
    [failure] = rows(db, Failure)
    assert failure.attempts == 2


def test_feed_failures_are_kept_and_cleared(
    tmp_path: Path, site: FeedSite, extractor: CountingExtractor
) -> None:
    db = f"sqlite:///{tmp_path / 'ff.db'}"
    feed = {"body": b"<html><body>not a feed</body></html>", "type": "text/html"}
    site.route("/feed", lambda r: Reply(200, feed["body"], feed["type"]))
    source = source_from_url(site.url("/feed"))
    report, _ = run([source], settings_for(db), extractor)
    assert report.sources[0].status == "failed"
    assert "without a <link" in (report.sources[0].error or "")
    [failure] = rows(db, Failure)
    assert (failure.stage, failure.resolved_at) == ("feed", None)
    feed.update(body=site.rss([]), type="application/rss+xml")
    assert run([source], settings_for(db), extractor)[0].sources[0].status == "changed"
    [failure] = rows(db, Failure)
    assert failure.resolved_at is not None


def test_hostile_feed_is_refused(
    tmp_path: Path, site: FeedSite, extractor: CountingExtractor
) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    bomb = (ROOT / "samples" / "feeds" / "billion_laughs.xml").read_bytes()
    site.route("/rss.xml", lambda r: Reply(200, bomb, "application/rss+xml"))
    report, _ = run([source_from_url(site.url("/rss.xml"))], settings_for(db), extractor)
    assert report.sources[0].status == "failed"
    assert "refused hostile XML" in (report.sources[0].error or "")
    assert rows(db, Entry) == []


def test_robots_disallowed_article_is_a_permanent_failure(
    tmp_path: Path, extractor: CountingExtractor
) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    with FeedSite(robots="User-agent: *\nDisallow: /members/\n") as site:
        site.pages["/members/story"] = article_html(3).encode()
        site.route(
            "/rss.xml", lambda r: Reply(200, site.rss(["/members/story"]), "application/rss+xml")
        )
        report, _ = run([source_from_url(site.url("/rss.xml"))], settings_for(db), extractor)
        assert report.sources[0].failed == 1
        assert site.hits("/members/story") == 0
    [entry] = rows(db, Entry)
    assert "robots.txt" in (entry.last_error or "")


# --------------------------------------------------------------------------- formats and options


def test_sitemap_index_children_and_news_language_filter(
    tmp_path: Path, site: FeedSite, extractor: CountingExtractor
) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    site.add_articles(4)

    def urlset(paths: list[str], lang: str = "en") -> bytes:
        items = "".join(
            f"<url><loc>{site.url(p)}</loc><news:news><news:publication><news:name>T</news:name>"
            f"<news:language>{lang}</news:language></news:publication>"
            "<news:publication_date>2024-03-07</news:publication_date>"
            "<news:title>x</news:title></news:news></url>"
            for p in paths
        )
        return (
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{items}</urlset>'
        ).encode()

    index = (
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.url('/news.xml')}</loc><lastmod>2024-03-07</lastmod></sitemap>"
        f"<sitemap><loc>{site.url('/old.xml.gz')}</loc><lastmod>2024-03-01</lastmod></sitemap>"
        "</sitemapindex>"
    ).encode()
    site.route("/index.xml", site.feed_route(lambda: index, "application/xml"))
    site.route("/news.xml", site.feed_route(lambda: urlset(["/news/story-0", "/news/story-1"])))
    site.route(
        "/old.xml.gz",
        lambda r: Reply(200, gzipped(urlset(["/news/story-2"]) + b""), "application/x-gzip"),
    )
    site.pages["/fr/story"] = article_html(9).encode()
    french = urlset(["/fr/story"], lang="fr")
    site.route("/old.xml.gz", lambda r: Reply(200, gzipped(french), "application/x-gzip"))
    source = source_from_url(site.url("/index.xml"), languages=["en"])
    report, _ = run([source], settings_for(db), extractor)
    counts = report.sources[0]
    assert (counts.kind, counts.listed, counts.filtered, counts.stored) == ("sitemapindex", 3, 1, 2)
    assert len(rows(db, Source)) == 3  # the index and its two sitemaps
    assert site.hits("/fr/story") == 0

    hits = len(site.requests)
    report, extracted = run([source], settings_for(db), extractor)
    assert report.sources[0].status == "not-modified"
    assert extracted == 0
    # unchanged index: its known sitemaps are asked again, conditionally
    assert sorted(asked(site, hits)) == [
        "/index.xml",
        "/news.xml",
        "/old.xml.gz",
    ]


def test_feed_discovered_from_the_home_page(
    tmp_path: Path, site: FeedSite, extractor: CountingExtractor
) -> None:
    db = f"sqlite:///{tmp_path / 'd.db'}"
    paths = site.add_articles(2)
    home = (
        b'<html><head><link rel="alternate" type="application/rss+xml" href="/feed.rss">'
        b"</head><body></body></html>"
    )
    site.static("/", home)
    site.route("/feed.rss", site.feed_route(lambda: site.rss(paths)))
    source = source_from_url(site.url("/"))
    assert run([source], settings_for(db), extractor)[0].sources[0].stored == 2
    [state] = rows(db, Source)
    assert state.feed_url == site.url("/feed.rss")
    hits = len(site.requests)
    run([source], settings_for(db), extractor)
    assert asked(site, hits) == ["/feed.rss"]  # the home page is not asked


def test_max_items_takes_the_newest(
    tmp_path: Path, site: FeedSite, extractor: CountingExtractor
) -> None:
    db = f"sqlite:///{tmp_path / 'm.db'}"
    paths = site.add_articles(5)
    site.route("/rss.xml", lambda r: Reply(200, site.rss(paths), "application/rss+xml"))
    source = source_from_url(site.url("/rss.xml"), max_items=2)
    report, _ = run([source], settings_for(db), extractor)
    assert (report.sources[0].filtered, report.sources[0].stored) == (3, 2)
    assert sorted(e.url for e in rows(db, Entry)) == [site.url(p) for p in paths[:2]]


# --------------------------------------------------------------------------- processes


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        NEWSFACTS_ALLOW_PRIVATE_ADDRESSES="1",
        NEWSFACTS_HOST_DELAY="0",
        NEWSFACTS_HOST_CONCURRENCY="2",
        NEWSFACTS_BATCH_SIZE="4",
        NEWSFACTS_FETCH_WORKERS="4",
        NEWSFACTS_FETCH_RETRIES="0",
    )
    env.pop("PREFECT_API_URL", None)
    env.update(extra)
    return env


def _facts_runs_per_article(db: str) -> dict[int, int]:
    with Store(db) as store, Session(store.engine) as session:
        query = select(
            OrganizationFact.article_id, func.count(func.distinct(OrganizationFact.run_id))
        )
        return dict(session.exec(query.group_by(col(OrganizationFact.article_id))).all())  # type: ignore[arg-type]


@pytest.mark.slow
def test_killed_ingestion_loses_and_repeats_nothing(tmp_path: Path, site: FeedSite) -> None:
    db = f"sqlite:///{tmp_path / 'kill.db'}"
    n = 32
    paths = site.add_articles(n)
    for path in paths:  # slow pages: the kill lands in the middle of the work
        page = site.pages.pop(path)
        site.route(path, lambda r, page=page: Reply(200, page, delay=0.15))
    site.route("/rss.xml", site.feed_route(lambda: site.rss(paths)))
    command = [NEWSFACTS, "ingest", site.url("/rss.xml"), "--db", db]
    first = subprocess.Popen(
        command, env=_env(), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    stored = 0
    while time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.2)
        try:
            stored = len([e for e in rows(db, Entry) if e.status == "stored"])
        except Exception:  # the database is still being created
            continue
        if stored >= 8:
            break
    assert first.poll() is None, "ingestion ended before it could be killed"
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert 8 <= stored < n
    # every entry is stored with its facts, or pending (some held by the dead worker)
    before = {e.url: e.status for e in rows(db, Entry)}
    assert set(before.values()) <= {"stored", "pending"}
    done_before = {u for u, s in before.items() if s == "stored"}
    assert len(rows(db, Article)) == len(done_before)

    second = subprocess.run(
        [*command, "--json"], env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stderr
    printed = [json.loads(line)["url"] for line in second.stdout.splitlines()]
    assert set(printed).isdisjoint(done_before)  # nothing stored before is stored again
    assert len(printed) + len(done_before) == n
    entries = rows(db, Entry)
    assert {e.status for e in entries} == {"stored"}
    assert len(rows(db, Article)) == n
    assert set(_facts_runs_per_article(db).values()) == {1}  # no article extracted twice


@pytest.mark.slow
@pytest.mark.postgres
def test_two_processes_against_postgresql_store_each_article_once(site: FeedSite) -> None:
    server = os.environ.get("NEWSFACTS_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("needs NEWSFACTS_TEST_POSTGRES_URL")
    from tests.conftest import _throwaway_postgres

    n = 40
    paths = site.add_articles(n)
    for path in paths:
        page = site.pages.pop(path)
        site.route(path, lambda r, page=page: Reply(200, page, delay=0.1))
    feed = site.feed_route(lambda: site.rss(paths))
    both_polling = threading.Barrier(2, timeout=60)

    def together(request: Request) -> Reply:
        both_polling.wait()  # the feed answers once both processes asked: they overlap
        return feed(request)

    site.route("/rss.xml", together)
    databases = _throwaway_postgres(server)
    db = next(databases)
    try:
        with Store(db):
            pass  # migrate once, so both processes start on the same schema
        command = [NEWSFACTS, "ingest", site.url("/rss.xml"), "--db", db]
        procs = [
            subprocess.Popen(
                command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        assert len(rows(db, Article)) == n
        entries = rows(db, Entry)
        assert len(entries) == n
        assert {e.status for e in entries} == {"stored"}
        assert set(_facts_runs_per_article(db).values()) == {1}
        with Store(db) as store:
            runs = store.runs()
        assert sum(r.n_ok for r in runs) == n  # no entry was worked on twice
        assert len(runs) == 2
        assert all(r.n_ok > 0 for r in runs)  # and both processes did some of the work
        assert sum(site.hits(p) for p in paths) == n
    finally:
        databases.close()


def test_ingestor_works_batch_by_batch(
    db_url: str, site: FeedSite, extractor: CountingExtractor
) -> None:
    """Claims are taken a batch at a time, and released when the ingestor stops."""
    db = db_url
    paths = site.add_articles(6)
    site.route("/rss.xml", lambda r: Reply(200, site.rss(paths), "application/rss+xml"))
    settings = settings_for(db, batch_size=4)
    with Ingestor(settings, extractor=extractor) as ingestor:
        report = ingestor.poll(source_from_url(site.url("/rss.xml")))
        first = ingestor.claim(report.source_ids)
        assert len(first) == 4
        assert len(ingestor.claim(report.source_ids)) == 2
        assert ingestor.claim(report.source_ids) == []
    with Store(db) as store:
        ledger = Ledger(store)
        assert ledger.pending() == 6  # given back when the ingestor closed
