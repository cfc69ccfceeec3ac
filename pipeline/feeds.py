"""Read feeds and sitemaps into entry URLs, safely.

Formats: RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom (through feedparser), JSON Feed 1.0/1.1,
XML sitemaps, sitemap indexes and Google News sitemaps (streamed with defusedxml), any of
the XML ones gzipped. An HTML page is searched for ``<link rel="alternate">`` feeds
(auto-discovery).

Hostile XML never gets expanded: before any parser sees a document, defusedxml reads its
prolog and refuses entity declarations (billion laughs, quadratic blow-up) and external
entities or DTDs (file and network reads). Everything else stays as lenient as real feeds
need (feedparser reads feeds that are not well-formed XML).

Every problem is a ``StageError("feed", url, reason)``.
"""

from __future__ import annotations

import email.utils
import io
import json
import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
import feedparser
from defusedxml import DefusedXmlException

from pipeline.canonical import try_canonical_url
from pipeline.documents import StageError

log = logging.getLogger(__name__)

MAX_ENTRIES = 50_000  # a sitemap may list at most 50,000 URLs (sitemaps.org)
FEED_LINK_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/rdf+xml",
    "application/json",
)
_GZIP_MAGIC = b"\x1f\x8b"
_XML_ROOT = re.compile(rb"<\s*(?:[A-Za-z_][\w.-]*:)?(rss|feed|RDF|urlset|sitemapindex)\b")
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_LANGUAGE = re.compile(r"\s*([A-Za-z]{2,3})(?:[-_]|\s*$)")
NEWS_NS = "{http://www.google.com/schemas/sitemap-news/0.9}"


@dataclass(slots=True, frozen=True)
class FeedEntry:
    """One article a feed lists."""

    url: str  # canonical
    title: str | None = None
    published: datetime | None = None
    marker: str | None = None  # the feed's "updated"/lastmod: a new value means changed
    language: str | None = None


@dataclass(slots=True, frozen=True)
class SitemapRef:
    """A child sitemap listed by a sitemap index."""

    url: str
    lastmod: str | None = None
    modified: datetime | None = None


@dataclass(slots=True)
class ParsedFeed:
    kind: str  # rss, atom, rdf, json, sitemap, sitemapindex, html
    title: str | None = None
    language: str | None = None
    entries: list[FeedEntry] = field(default_factory=list)
    sitemaps: list[SitemapRef] = field(default_factory=list)
    alternates: list[str] = field(default_factory=list)  # feeds an HTML page links to
    invalid: int = 0  # entries without a usable http(s) link


def parse_feed(
    content: bytes, url: str, media_type: str | None = None, max_bytes: int = 50 * 1024**2
) -> ParsedFeed:
    """Entries of a feed, sitemap or sitemap index; feed links of an HTML page."""
    if content.startswith(_GZIP_MAGIC):
        content = _gunzip(content, url, max_bytes)
    head = content[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise StageError("feed", url, "the feed is empty")
    if head.startswith((b"{", b"[")):
        return _parse_json_feed(content, url)
    root = _XML_ROOT.search(content[:65536])
    if root is None:
        if media_type in {"text/html", "application/xhtml+xml"} or b"<html" in head.lower():
            return ParsedFeed(kind="html", alternates=discover_feeds(content, url))
        raise StageError(
            "feed", url, f"not a feed or sitemap (content type {media_type or 'not given'})"
        )
    tag = _safe_root(content, url)
    if tag == "urlset":
        return _parse_sitemap(content, url)
    if tag == "sitemapindex":
        return _parse_sitemap_index(content, url)
    return _parse_with_feedparser(content, url, media_type)


def discover_feeds(content: bytes, url: str) -> list[str]:
    """Feed URLs an HTML page declares with ``<link rel="alternate" type=...>``, in order."""
    finder = _AlternateFinder()
    try:
        finder.feed(content[: 512 * 1024].decode("utf-8", errors="replace"))
        finder.close()
    except _DoneError:
        pass
    found = [try_canonical_url(href, base=url) for href in finder.hrefs]
    return list(dict.fromkeys(u for u in found if u))


def parse_date(value: str | None) -> datetime | None:
    """A W3C/ISO 8601 or RFC 822 date as an aware UTC datetime; None if unreadable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)  # RFC 822, as in RSS
        except (TypeError, ValueError, IndexError):
            return None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def language_code(value: object) -> str | None:
    """Primary language subtag ("en" of "en-GB"), lower case."""
    if not isinstance(value, str):
        return None
    match = _LANGUAGE.match(value)
    return match.group(1).lower() if match else None


# --------------------------------------------------------------------------- XML safety


def _safe_root(content: bytes, url: str) -> str:
    """Local name of the root element, after refusing entity declarations and externals."""
    try:
        for _event, element in SafeET.iterparse(
            io.BytesIO(content), events=("start",), forbid_dtd=False
        ):
            return _local(element.tag)
    except DefusedXmlException as exc:
        raise StageError(
            "feed",
            url,
            f"refused hostile XML ({type(exc).__name__}): entity declarations "
            "and external references are not allowed in feeds",
        ) from None
    except (ParseError, LookupError, UnicodeError, ValueError):
        # Not well-formed before the root element (or an unknown encoding). Lenient
        # parsers may still read it, but never with entity declarations in it.
        if _ENTITY_DECL.search(content[:65536]):
            raise StageError(
                "feed", url, "refused XML with entity declarations (and malformed)"
            ) from None
        match = _XML_ROOT.search(content[:65536])
        return match.group(1).decode() if match else ""
    return ""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _gunzip(content: bytes, url: str, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(content, max_bytes + 1)
    except zlib.error as exc:
        raise StageError("feed", url, f"cannot decompress the gzipped feed: {exc}") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise StageError(
            "feed", url, f"the gzipped feed unpacks to more than {max_bytes} bytes (max_feed_bytes)"
        )
    return out


# --------------------------------------------------------------------------- sitemaps


def _iter_children(content: bytes, url: str, item: str) -> Iterator[dict[str, str]]:
    """Each ``<item>`` element as {local name of a child: text}, streamed and freed.

    Google News fields (``<news:news>`` descendants) come as "news:<name>"; other
    extensions (image, video) are ignored.
    """
    try:
        for _event, element in SafeET.iterparse(
            io.BytesIO(content), events=("end",), forbid_dtd=False
        ):
            if _local(element.tag) != item:
                continue
            values = {_local(child.tag): (child.text or "").strip() for child in element}
            for node in element.iter():
                if node.tag.startswith(NEWS_NS):
                    values.setdefault("news:" + _local(node.tag), (node.text or "").strip())
            yield values
            element.clear()
    except DefusedXmlException as exc:
        raise StageError("feed", url, f"refused hostile XML ({type(exc).__name__})") from None
    except (ParseError, LookupError, UnicodeError, ValueError) as exc:
        raise StageError("feed", url, f"the sitemap is not well-formed XML: {exc}") from None


def _parse_sitemap(content: bytes, url: str) -> ParsedFeed:
    feed = ParsedFeed(kind="sitemap")
    for values in _iter_children(content, url, "url"):
        loc = try_canonical_url(values.get("loc"))  # sitemaps list absolute URLs only
        if loc is None:
            feed.invalid += 1
            continue
        lastmod = values.get("lastmod") or None
        # Google News sitemaps: <news:news> with publication language, date and title.
        published = parse_date(values.get("news:publication_date")) or parse_date(lastmod)
        feed.entries.append(
            FeedEntry(
                url=loc,
                title=_text(values.get("news:title")),
                published=published,
                marker=lastmod,
                language=language_code(values.get("news:language")),
            )
        )
        if len(feed.entries) >= MAX_ENTRIES:
            log.warning("%s lists more than %d URLs; reading only those", url, MAX_ENTRIES)
            break
    return feed


def _parse_sitemap_index(content: bytes, url: str) -> ParsedFeed:
    feed = ParsedFeed(kind="sitemapindex")
    for values in _iter_children(content, url, "sitemap"):
        loc = try_canonical_url(values.get("loc"))
        if loc is None:
            feed.invalid += 1
            continue
        lastmod = values.get("lastmod") or None
        feed.sitemaps.append(SitemapRef(loc, lastmod, parse_date(lastmod)))
        if len(feed.sitemaps) >= MAX_ENTRIES:
            break
    return feed


# --------------------------------------------------------------------------- feeds


def _parse_with_feedparser(content: bytes, url: str, media_type: str | None) -> ParsedFeed:
    headers = {"content-location": url}
    if media_type:
        headers["content-type"] = media_type
    parsed = feedparser.parse(
        io.BytesIO(content),
        response_headers=headers,
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    version = str(parsed.get("version") or "")
    if not version and not parsed.entries:
        reason = parsed.get("bozo_exception") or "no RSS, Atom or RDF root element"
        raise StageError("feed", url, f"cannot read the feed: {reason}")
    if parsed.get("bozo"):
        log.info("%s is not well-formed (%s); read leniently", url, parsed.get("bozo_exception"))
    info = parsed.feed
    kind = "atom" if version.startswith("atom") else "rdf" if version.startswith("rss1") else "rss"
    if version.startswith("rss09") and b"rdf:RDF" in content[:4096]:
        kind = "rdf"
    language = language_code(info.get("language"))
    feed = ParsedFeed(kind=kind, title=_text(info.get("title")), language=language)
    for item in parsed.entries[:MAX_ENTRIES]:
        link = _entry_link(item)
        entry_url = try_canonical_url(link, base=url)
        if entry_url is None:
            feed.invalid += 1
            continue
        updated = dict.get(item, "updated")  # dict.get: no feedparser fallback to published
        feed.entries.append(
            FeedEntry(
                url=entry_url,
                title=_text(item.get("title")),
                published=_struct_time(dict.get(item, "published_parsed"))
                or _struct_time(dict.get(item, "updated_parsed")),
                marker=_text(updated),
                language=language_code(item.get("language")) or language,
            )
        )
    return feed


def _entry_link(item: Any) -> str | None:
    link = item.get("link")
    if link:
        return str(link)
    for candidate in item.get("links") or []:
        if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
            return str(candidate["href"])
    guid = item.get("id")
    if isinstance(guid, str) and guid.startswith(("http://", "https://")):
        return guid  # an RSS guid that is a permalink
    return None


def _struct_time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(v) for v in value[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text or None


def _parse_json_feed(content: bytes, url: str) -> ParsedFeed:
    try:
        data = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StageError("feed", url, f"the JSON feed is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise StageError("feed", url, 'not a JSON Feed (no "items" list)')
    version = str(data.get("version", ""))
    if "jsonfeed.org" not in version:
        log.info(
            "%s: JSON feed without a jsonfeed.org version (%r); reading it anyway", url, version
        )
    language = language_code(data.get("language"))
    feed = ParsedFeed(kind="json", title=_text(data.get("title")), language=language)
    for item in data["items"][:MAX_ENTRIES]:
        if not isinstance(item, dict):
            feed.invalid += 1
            continue
        link = item.get("url") or item.get("external_url")
        if not link and isinstance(item.get("id"), str) and item["id"].startswith("http"):
            link = item["id"]
        entry_url = try_canonical_url(link if isinstance(link, str) else None, base=url)
        if entry_url is None:
            feed.invalid += 1
            continue
        modified = item.get("date_modified")
        feed.entries.append(
            FeedEntry(
                url=entry_url,
                title=_text(item.get("title")),
                published=parse_date(_str(item.get("date_published")))
                or parse_date(_str(modified)),
                marker=_str(modified),
                language=language_code(item.get("language")) or language,
            )
        )
    return feed


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# --------------------------------------------------------------------------- discovery


class _DoneError(Exception):
    """Raised to stop parsing at <body>."""


class _AlternateFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body" and self.hrefs:
            raise _DoneError
        if tag != "link":
            return
        values = {k.lower(): (v or "").strip() for k, v in attrs}
        rels = values.get("rel", "").lower().split()
        kind = values.get("type", "").lower().split(";")[0].strip()
        if "alternate" in rels and kind in FEED_LINK_TYPES and values.get("href"):
            self.hrefs.append(values["href"])
