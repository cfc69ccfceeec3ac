"""Fetching feeds politely, against real HTTP servers on 127.0.0.1 (tests/feedsite.py):
conditional GET, robots.txt, per-host pacing and concurrency, Retry-After, retries only
where they help, and servers that misbehave."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from pipeline.config import Settings
from pipeline.documents import StageError
from pipeline.fetch import TransientFetchError, fetch, fetch_feed, make_client
from pipeline.polite import Politeness, product_token
from tests.feedsite import FeedSite, Reply, Request

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'


@pytest.fixture
def settings() -> Settings:
    return Settings(
        allow_private_addresses=True,
        host_delay=0.0,
        connect_timeout=1.0,
        read_timeout=0.5,
        fetch_retries=2,
        max_feed_bytes=200_000,
    )


@pytest.fixture
def site() -> Iterator[FeedSite]:
    with FeedSite() as s:
        yield s


@pytest.fixture
def client(settings: Settings) -> Iterator[httpx.Client]:
    with make_client(settings) as c:
        yield c


def polite_get(polite: Politeness, url: str, **kwargs: str | None) -> int:
    response = polite.call(
        url, lambda: fetch_feed(url, polite.settings, polite.client, gate=polite.gate, **kwargs)
    )
    return response.status


# --------------------------------------------------------------------------- conditional GET


def test_conditional_get_gets_304(site: FeedSite, settings: Settings, client: httpx.Client) -> None:
    site.route("/rss.xml", site.feed_route(lambda: RSS))
    first = fetch_feed(site.url("/rss.xml"), settings, client)
    assert (first.status, first.content) == (200, RSS)
    assert first.etag
    assert first.last_modified
    again = fetch_feed(
        site.url("/rss.xml"), settings, client, etag=first.etag, last_modified=first.last_modified
    )
    assert (again.status, again.content) == (304, b"")
    sent = site.requests[-1].headers
    assert sent["if-none-match"] == first.etag
    assert sent["if-modified-since"] == first.last_modified
    assert "application/rss+xml" in sent["accept"]
    assert sent["user-agent"].startswith("newsfacts/")


def test_feed_fetch_checks_type_size_and_addresses(
    site: FeedSite, settings: Settings, client: httpx.Client
) -> None:
    site.route("/png", lambda r: Reply(200, b"\x89PNG\r\n\x1a\n", "image/png"))
    site.route("/huge", lambda r: Reply(200, b"<rss>" + b" " * 300_000, "application/rss+xml"))
    site.route("/gz", lambda r: Reply(200, b"\x1f\x8b...", "application/x-gzip"))
    with pytest.raises(StageError, match="image/png is not a feed"):
        fetch_feed(site.url("/png"), settings, client)
    with pytest.raises(StageError, match="over the 200000 bytes limit"):
        fetch_feed(site.url("/huge"), settings, client)
    assert fetch_feed(site.url("/gz"), settings, client).status == 200  # gzipped sitemap
    with pytest.raises(StageError, match="loopback"):
        fetch_feed(site.url("/gz"), settings.replace(allow_private_addresses=False), client)


def test_redirect_loop_and_redirect_to_a_private_address(
    site: FeedSite, settings: Settings, client: httpx.Client
) -> None:
    site.route("/a", lambda r: Reply(302, headers={"Location": "/b"}))
    site.route("/b", lambda r: Reply(302, headers={"Location": "/a"}))
    with pytest.raises(StageError, match="redirect loop"):
        fetch_feed(site.url("/a"), settings, client)


# --------------------------------------------------------------------------- robots.txt


def test_robots_disallow_applies_to_our_token_and_is_read_once(
    settings: Settings, client: httpx.Client
) -> None:
    robots = "User-agent: *\nDisallow: /private\n\nUser-agent: newsfacts\nDisallow: /no-nf\n"
    with FeedSite(robots=robots) as site:
        site.route("/feed", lambda r: Reply(200, RSS, "application/rss+xml"))
        site.route("/private/feed", lambda r: Reply(200, RSS, "application/rss+xml"))
        polite = Politeness(settings, client)
        assert polite_get(polite, site.url("/feed")) == 200
        assert polite_get(polite, site.url("/private/feed")) == 200  # only for "*"
        with pytest.raises(StageError, match=r"robots.txt .* disallows /no-nf/x for newsfacts"):
            polite_get(polite, site.url("/no-nf/x"))
        assert site.hits("/robots.txt") == 1
        assert site.hits("/no-nf/x") == 0


def test_robots_checked_on_every_redirect_hop(settings: Settings, client: httpx.Client) -> None:
    with FeedSite(robots="User-agent: *\nDisallow: /secret\n") as site:
        site.route("/go", lambda r: Reply(301, headers={"Location": "/secret/page"}))
        polite = Politeness(settings, client)
        with pytest.raises(StageError, match="disallows /secret/page"):
            fetch(site.url("/go"), settings, client, gate=polite.gate)
        assert site.hits("/secret/page") == 0


def test_missing_robots_allows_and_broken_robots_stops_everything(
    settings: Settings, client: httpx.Client
) -> None:
    with FeedSite(robots=None) as site:  # robots.txt is a 404
        site.route("/feed", lambda r: Reply(200, RSS, "application/rss+xml"))
        assert polite_get(Politeness(settings, client), site.url("/feed")) == 200
    with FeedSite(robots=None) as site:
        site.route("/robots.txt", lambda r: Reply(503, b"down", "text/plain"))
        site.route("/feed", lambda r: Reply(200, RSS, "application/rss+xml"))
        polite = Politeness(settings.replace(fetch_retries=0), client)
        with pytest.raises(
            TransientFetchError, match=r"robots\.txt of 127\.0\.0\.1 cannot be read"
        ):
            polite_get(polite, site.url("/feed"))
        assert site.hits("/feed") == 0


def test_crawl_delay_spaces_requests(settings: Settings, client: httpx.Client) -> None:
    with FeedSite(robots="User-agent: *\nCrawl-delay: 0.3\n") as site:
        site.route("/feed", lambda r: Reply(200, RSS, "application/rss+xml"))
        polite = Politeness(settings, client)
        for _ in range(3):
            polite_get(polite, site.url("/feed"))
        times = [r.at for r in site.requests if r.path == "/feed"]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.28
        assert polite.delay(site.url("/feed")) == pytest.approx(0.3)


def test_product_token() -> None:
    assert product_token("newsfacts/0.1 (news fact extraction; +https://x)") == "newsfacts"


# --------------------------------------------------------------------------- pacing


def test_one_host_never_gets_two_requests_at_once(
    site: FeedSite, settings: Settings, client: httpx.Client
) -> None:
    busy = 0
    most = 0
    lock = threading.Lock()

    def slow(request: Request) -> Reply:
        nonlocal busy, most
        with lock:
            busy += 1
            most = max(most, busy)
        time.sleep(0.05)
        with lock:
            busy -= 1
        return Reply(200, RSS, "application/rss+xml")

    site.route("/feed", slow)
    polite = Politeness(settings, client)
    threads = [
        threading.Thread(target=polite_get, args=(polite, site.url("/feed"))) for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert site.hits("/feed") == 6
    assert most == 1


# --------------------------------------------------------------------------- retries


def test_5xx_then_success_is_retried(
    site: FeedSite, settings: Settings, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pipeline.polite.retry_delay", lambda attempt, after=None: 0.05)
    site.route(
        "/feed",
        lambda r: Reply(503 if site.hits("/feed") == 1 else 200, RSS, "application/rss+xml"),
    )
    assert polite_get(Politeness(settings, client), site.url("/feed")) == 200
    assert site.hits("/feed") == 2


def test_4xx_is_not_retried(site: FeedSite, settings: Settings, client: httpx.Client) -> None:
    with pytest.raises(StageError, match="HTTP 404") as info:
        polite_get(Politeness(settings, client), site.url("/gone"))
    assert not isinstance(info.value, TransientFetchError)
    assert site.hits("/gone") == 1


def test_retry_after_pauses_the_host(
    site: FeedSite, settings: Settings, client: httpx.Client
) -> None:
    site.route(
        "/feed",
        lambda r: (
            Reply(200, RSS, "application/rss+xml")
            if site.hits("/feed") > 1
            else Reply(429, b"slow down", "text/plain", {"Retry-After": "1"})
        ),
    )
    site.route("/other", lambda r: Reply(200, RSS, "application/rss+xml"))
    polite = Politeness(settings, client)
    started = time.monotonic()
    assert polite_get(polite, site.url("/feed")) == 200
    assert polite_get(polite, site.url("/other")) == 200
    first, second = (r.at for r in site.requests if r.path == "/feed")
    assert second - first >= 0.95
    assert time.monotonic() - started < 3


def test_a_long_retry_after_is_not_waited_for(
    site: FeedSite, settings: Settings, client: httpx.Client
) -> None:
    site.route("/feed", lambda r: Reply(503, b"busy", "text/plain", {"Retry-After": "3600"}))
    site.route("/other", lambda r: Reply(200, RSS, "application/rss+xml"))
    polite = Politeness(settings, client)
    started = time.monotonic()
    with pytest.raises(TransientFetchError) as info:
        polite_get(polite, site.url("/feed"))
    assert info.value.retry_after == 3600
    with pytest.raises(TransientFetchError, match="asked us to wait"):
        polite_get(polite, site.url("/other"))  # the whole host waits, without a request
    assert site.hits("/feed") == 1
    assert site.hits("/other") == 0
    assert time.monotonic() - started < 1


def test_slow_server_and_connection_reset_are_transient(
    site: FeedSite, settings: Settings, client: httpx.Client
) -> None:
    site.route("/slow", lambda r: Reply(200, RSS, "application/rss+xml", delay=2.0))
    site.route("/reset", lambda r: Reply(reset=True))
    polite = Politeness(settings.replace(fetch_retries=0), client)
    with pytest.raises(TransientFetchError, match="timed out"):
        polite_get(polite, site.url("/slow"))
    with pytest.raises(TransientFetchError):
        polite_get(polite, site.url("/reset"))
