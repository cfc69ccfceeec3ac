"""Feed parsing, URL canonicalisation and the feeds file: plain logic, no network."""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.canonical import (
    NotHttpUrlError,
    canonical_url,
    is_tracking_param,
    page_canonical,
)
from pipeline.config import ConfigError
from pipeline.documents import StageError
from pipeline.feeds import discover_feeds, parse_date, parse_feed
from pipeline.sources import load_feeds, parse_interval, source_from_url

FEEDS = Path(__file__).resolve().parent.parent / "samples" / "feeds"
BASE = "https://news.example.org/business/rss.xml"


# --------------------------------------------------------------------------- formats


def test_rss2() -> None:
    feed = parse_feed((FEEDS / "rss2.xml").read_bytes(), BASE)
    assert (feed.kind, feed.title, feed.language, feed.invalid) == (
        "rss",
        "Harbour Gazette: business",
        "en",
        1,  # the mailto: link
    )
    assert [e.url for e in feed.entries] == [
        "https://news.example.org/business/harbour-bank-northern-ledger",  # utm_* dropped
        "https://news.example.org/business/relative-story",  # relative, fragment dropped
        "https://news.example.org/business/guid-only",  # a permalink guid, host lower-cased
    ]
    first = feed.entries[0]
    assert first.published == datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    assert first.title == "Harbour Bank buys Northern Ledger for £2.1 billion"
    assert first.marker is None  # RSS has no "updated": a pubDate is not a change marker


def test_atom() -> None:
    feed = parse_feed((FEEDS / "atom.xml").read_bytes(), "https://quay.example.com/feed.atom")
    assert feed.kind == "atom"
    assert [e.url for e in feed.entries] == [
        "https://quay.example.com/2024/03/port-authority-chief",  # rel=alternate, not replies
        "https://quay.example.com/2024/03/second-story?page=2",  # fbclid dropped, page kept
    ]
    assert feed.entries[0].published == datetime(2024, 3, 6, 6, 0, tzinfo=UTC)
    assert feed.entries[0].marker == "2024-03-06T07:45:00+01:00"


def test_rss1_rdf() -> None:
    feed = parse_feed((FEEDS / "rss1.rdf").read_bytes(), "https://ledger.example.net/rss")
    assert feed.kind == "rdf"
    assert [e.url for e in feed.entries] == [
        "https://ledger.example.net/a/one",
        "https://ledger.example.net/a/two",
    ]
    assert feed.entries[1].published == datetime(2024, 3, 2, 10, 0, tzinfo=UTC)


def test_json_feed() -> None:
    feed = parse_feed((FEEDS / "feed.json").read_bytes(), "https://dockside.example.com/feed.json")
    assert (feed.kind, feed.language, feed.invalid) == ("json", "en", 1)
    first, second = feed.entries
    assert first.url == "https://dockside.example.com/news/crane-contract"
    assert first.published == datetime(2024, 3, 7, 14, 0, tzinfo=UTC)
    assert first.marker == "2024-03-07T11:00:00-05:00"
    assert (second.url, second.language) == (
        "https://dockside.example.com/news/id-is-the-url",
        "fr",
    )


def test_sitemap_takes_the_page_loc_not_the_image_loc() -> None:
    feed = parse_feed((FEEDS / "sitemap.xml").read_bytes(), "https://www.example.com/sitemap.xml")
    assert feed.kind == "sitemap"
    assert [e.url for e in feed.entries] == [
        "https://www.example.com/stories/tide-mill",
        "https://www.example.com/stories/image-first",
    ]
    assert feed.invalid == 1  # "not a url": sitemaps list absolute URLs only
    assert feed.entries[0].marker == "2024-03-04"
    assert feed.entries[1].published == datetime(2024, 3, 5, 10, 15, tzinfo=UTC)


def test_sitemap_index() -> None:
    feed = parse_feed((FEEDS / "sitemap_index.xml").read_bytes(), "https://www.example.com/x")
    assert feed.kind == "sitemapindex"
    assert [(s.url, s.lastmod) for s in feed.sitemaps] == [
        ("https://www.example.com/sitemaps/2024-03.xml", "2024-03-05T10:15:00+00:00"),
        ("https://www.example.com/sitemaps/2024-02.xml.gz", "2024-02-29"),
    ]


def test_google_news_sitemap() -> None:
    feed = parse_feed((FEEDS / "news_sitemap.xml").read_bytes(), "https://www.example.com/n.xml")
    english, french = feed.entries
    assert english.title == "Shipyard lands a ferry order worth €300 million"
    assert english.language == "en"
    assert english.published == datetime(2024, 3, 7, 5, 30, tzinfo=UTC)
    assert french.language == "fr"


def test_gzipped_sitemap() -> None:
    data = gzip.compress((FEEDS / "sitemap.xml").read_bytes())
    assert len(parse_feed(data, "https://www.example.com/s.xml.gz").entries) == 2


def test_gzip_bomb_stops_at_the_limit() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * 5_000_000 + b"</urlset>")
    with pytest.raises(StageError, match="unpacks to more than"):
        parse_feed(bomb, "https://example.com/bomb.xml.gz", max_bytes=1_000_000)


# --------------------------------------------------------------------------- hostile XML


@pytest.mark.parametrize("name", ["billion_laughs.xml", "external_entity.xml"])
def test_hostile_xml_is_refused_without_expansion(name: str) -> None:
    started = time.perf_counter()
    with pytest.raises(StageError) as info:
        parse_feed((FEEDS / name).read_bytes(), "https://example.com/feed.xml")
    assert info.value.stage == "feed"
    assert "refused" in info.value.reason
    assert "root:" not in str(info.value)  # nothing of /etc/passwd
    assert time.perf_counter() - started < 1.0


def test_hostile_xml_is_refused_gzipped_and_malformed_too() -> None:
    bomb = (FEEDS / "billion_laughs.xml").read_bytes()
    with pytest.raises(StageError, match="refused"):
        parse_feed(gzip.compress(bomb), "https://example.com/feed.xml.gz")
    malformed = bomb.replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="nope"?>')
    with pytest.raises(StageError, match="refused"):
        parse_feed(malformed, "https://example.com/feed.xml")


def test_external_dtd_reference_is_not_fetched_but_the_feed_is_read() -> None:
    # rss2.xml declares the Netscape RSS 0.91 DTD by URL, as old feeds do: not loaded.
    assert len(parse_feed((FEEDS / "rss2.xml").read_bytes(), BASE).entries) == 3


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a feed"),
        (b"just some text, no feed here", "not a feed"),
        (b'{"not": "a feed"}', "JSON Feed"),
        (b"{broken json", "not valid JSON"),
        (b"<urlset><url><loc>https://e.com/a</loc></url>", "not well-formed"),
    ],
)
def test_not_a_feed(body: bytes, reason: str) -> None:
    with pytest.raises(StageError, match=reason) as info:
        parse_feed(body, "https://example.com/feed")
    assert info.value.stage == "feed"


def test_malformed_rss_is_read_leniently() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T & T</title>'
        b"<item><title>A</title><link>https://example.com/a?x=1&y=2</link></item>"
        b"</channel></rss>"
    )
    feed = parse_feed(body, "https://example.com/rss")
    assert [e.url for e in feed.entries] == ["https://example.com/a?x=1&y=2"]


# --------------------------------------------------------------------------- discovery


def test_html_page_gives_its_feed_links() -> None:
    page = b"""<html><head><title>Home</title>
    <link rel="stylesheet" href="/s.css">
    <link rel="alternate" type="application/rss+xml" title="All" href="/rss.xml">
    <link rel="alternate" type="application/atom+xml" href="https://other.example.com/a.atom">
    <link rel="alternate" hreflang="fr" href="/fr/">
    </head><body><a href="/x">x</a></body></html>"""
    assert discover_feeds(page, "https://www.example.com/") == [
        "https://www.example.com/rss.xml",
        "https://other.example.com/a.atom",
    ]
    feed = parse_feed(page, "https://www.example.com/", "text/html")
    assert feed.kind == "html"
    assert feed.alternates[0] == "https://www.example.com/rss.xml"


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM:80/a/./b/../c?utm_source=x&id=3#frag", "http://example.com/a/c?id=3"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com:443/%7euser/%e2%82%ac", "https://example.com/~user/%E2%82%AC"),
        ("https://example.com:8443/a?gclid=1&fbclid=2", "https://example.com:8443/a"),
        ("https://www.example.com/news/", "https://www.example.com/news/"),  # www, slash kept
        ("https://example.com/a?b=2&a=1", "https://example.com/a?b=2&a=1"),  # order kept
        ("https://bücher.example/x y", "https://xn--bcher-kva.example/x%20y"),
        ("https://example.com/a?", "https://example.com/a"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected  # idempotent


@pytest.mark.parametrize(
    "url", ["mailto:a@example.com", "javascript:void(0)", "ftp://example.com/x", "https:///x"]
)
def test_not_http_urls_are_refused(url: str) -> None:
    with pytest.raises(NotHttpUrlError):
        canonical_url(url)


def test_tracking_params_are_data() -> None:
    assert is_tracking_param("utm_campaign")
    assert is_tracking_param("UTM_Source")
    assert is_tracking_param("fbclid")
    assert not is_tracking_param("id")


def test_page_canonical_is_believed_only_when_plausible() -> None:
    page = b'<html><head><link rel="canonical" href="/story-1"></head><body><p>x</p>'
    url = "https://www.example.com/story-1?utm_source=rss"
    assert page_canonical(page, url) == "https://www.example.com/story-1"
    home = b'<html><head><link rel="canonical" href="https://www.example.com/"></head>'
    assert page_canonical(home, url) is None  # every page pointed at the home page
    other = b'<html><head><link rel="canonical" href="https://elsewhere.example/x"></head>'
    assert page_canonical(other, url) is None
    in_body = b"<html><head></head><body><link rel='canonical' href='/other'></body>"
    assert page_canonical(in_body, url) is None


def test_parse_date() -> None:
    assert parse_date("2024-03-05") == datetime(2024, 3, 5, tzinfo=UTC)
    assert parse_date("2024-03-05T10:15:00+02:00") == datetime(2024, 3, 5, 8, 15, tzinfo=UTC)
    assert parse_date("Tue, 05 Mar 2024 09:30:00 GMT") == datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    assert parse_date("yesterday") is None


# --------------------------------------------------------------------------- feeds file


def test_feeds_file(tmp_path: Path) -> None:
    path = tmp_path / "feeds.toml"
    path.write_text(
        """
[newsfacts]
host_delay = 2.0

[defaults]
languages = ["en"]
max_items = 50

[[source]]
url = "https://news.example.org/rss.xml?utm_source=me"
name = "harbour"
interval = "15m"

[[source]]
url = "https://www.example.com/sitemap_index.xml"
cron = "0 * * * *"
timezone = "Europe/Paris"
max_items = 10
""",
        encoding="utf-8",
    )
    first, second = load_feeds(path)
    assert (first.name, first.url, first.interval) == (
        "harbour",
        "https://news.example.org/rss.xml",
        900.0,
    )
    assert (first.languages, first.max_items) == (("en",), 50)  # from [defaults]
    assert second.name == "example-com-sitemap-index-xml"  # made from the URL
    assert second.schedule == "cron 0 * * * * (Europe/Paris)"
    assert second.max_items == 10  # a source's own option wins


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[source]]\nurl = "https://a.example/rss"\ncolour = "red"\n', "unknown option"),
        ('[[source]]\nname = "x"\n', "needs a url"),
        ('[[source]]\nurl = "ftp://a.example/rss"\n', "not an http"),
        ('[[source]]\nurl = "https://a.example/rss"\ninterval = "5s"\n', "under a minute"),
        ('[[source]]\nurl = "https://a.example/rss"\ninterval = "soon"\n', "not like"),
        ('[[source]]\nurl = "https://a.example/rss"\ncron = "hourly"\n', "cron expression"),
        (
            '[[source]]\nurl = "https://a.example/rss"\ncron = "0 * * * *"\ninterval = 900\n',
            "not both",
        ),
        ('[[source]]\nurl = "https://a.example/rss"\nmax_items = 0\n', "above 0"),
        (
            '[[source]]\nurl = "https://a.example/rss"\n[[source]]\nurl = "https://a.example/rss"\n',
            "listed twice",
        ),
        ("[feeds]\n", "unknown table"),
        ("", "lists no"),
    ],
)
def test_feeds_file_errors_say_what_is_wrong(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "feeds.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_feeds(path)


def test_intervals_and_source_round_trip() -> None:
    assert [parse_interval(v, "x") for v in ("15m", 3600, "1.5h", "1d")] == [900, 3600, 5400, 86400]
    source = source_from_url("https://a.example/rss", interval="2h", languages=["en"])
    assert source.schedule == "every 2h"
    assert type(source).from_dict(source.to_dict()) == source


def test_the_example_feeds_file_is_valid() -> None:
    example = FEEDS.parent.parent / "feeds.example.toml"
    assert [s.name for s in load_feeds(example)] == [
        "example-business",
        "example-news-sitemap",
        "example-home",
    ]
