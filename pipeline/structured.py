"""What a page says about itself: JSON-LD (schema.org) and meta tags.

Publishers describe their article in machine-readable form for search engines: a
schema.org ``NewsArticle`` (or ``Article``, ``ReportageNewsArticle``, ``BlogPosting``, ...)
in a ``<script type="application/ld+json">`` block, alone, in a list or inside an
``@graph``, and ``<meta>`` tags (Open Graph ``article:published_time``, Dublin Core,
...). This module reads them; ``pipeline.clean`` decides what to use.

The publication date comes only from such page-level declarations, from a ``<time>``
element outside links and outside boxes of other stories, or from the page's own URL:
never from the dates of related-article links, teasers or comments, which is where a
page-wide date search (trafilatura's htmldate) goes wrong. No date is better than the
date of another story.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from email.utils import parsedate_to_datetime
from typing import Any

from lxml import etree
from lxml.html import HtmlElement, fragment_fromstring

from pipeline.furniture import in_furniture_box

log = logging.getLogger(__name__)

# schema.org types of a news or blog article (lower case), including the subtypes of
# NewsArticle. Their properties describe the page's own story.
ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "backgroundnewsarticle",
        "reviewnewsarticle",
        "askpublicnewsarticle",
        "satiricalarticle",
        "blogposting",
        "socialmediaposting",
        "liveblogposting",
        "report",
    }
)
PERSON_TYPES = frozenset({"person"})

# <meta> names/properties that declare the page's publication date, most specific first.
DATE_META_KEYS = (
    "article:published_time",
    "og:article:published_time",
    "og:published_time",
    "datepublished",
    "article.published",
    "article_date_original",
    "publication_date",
    "publish-date",
    "publish_date",
    "publishdate",
    "pubdate",
    "parsely-pub-date",
    "sailthru.date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "dcterms.date",
    "dcterms.created",
    "date",
)

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_URL_DATE = re.compile(r"/((?:19|20)\d{2})[/-](\d{1,2})[/-](\d{1,2})(?:/|[-_]|\b)")
_SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)+$")
_URLISH = re.compile(r"https?:|www\.|\.(?:com|org|net|co\.\w\w)\b", re.I)
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|\|)\s*")


@dataclass(slots=True)
class PageData:
    """The article as the page declares it; every field may be missing."""

    article_body: str | None = None  # JSON-LD articleBody, paragraphs separated by "\n\n"
    headline: str | None = None
    published: date | None = None
    authors: list[str] = field(default_factory=list)  # people only, in page order
    publisher: str | None = None
    headlines: set[str] = field(default_factory=set)  # h1, og:title, twitter:title, headline


def read_page(tree: HtmlElement, url: str | None = None) -> PageData:
    """Everything the page declares about its article (JSON-LD first, then meta tags)."""
    data = PageData()
    articles = list(_article_objects(tree))
    for obj in articles:
        body = obj.get("articleBody")
        if data.article_body is None and isinstance(body, str) and body.strip():
            data.article_body = _plain_paragraphs(body)
        if data.headline is None:
            data.headline = _text(obj.get("headline")) or _text(obj.get("name"))
        if data.published is None:
            data.published = parse_date(obj.get("datePublished")) or parse_date(
                obj.get("dateCreated")
            )
        if not data.authors:
            data.authors = _people(obj.get("author"))
        if data.publisher is None:
            publisher = obj.get("publisher")
            data.publisher = _text(publisher.get("name") if isinstance(publisher, dict) else None)
    meta = _meta(tree)
    if data.published is None:
        data.published = next(
            (d for d in (parse_date(meta.get(key)) for key in DATE_META_KEYS) if d), None
        )
    if data.published is None:
        data.published = _time_element_date(tree)
    if data.published is None and url:
        data.published = url_date(url)
    data.headlines = {
        h
        for h in (
            data.headline,
            meta.get("og:title"),
            meta.get("twitter:title"),
            *(_text(h1.text_content()) for h1 in tree.iter("h1")),
        )
        if h
    }
    return data


def parse_date(value: Any) -> date | None:
    """The calendar date of an ISO 8601 or RFC 2822 timestamp, as written (no tz shift)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    match = _ISO_DATE.match(value)
    if match:
        try:
            return date(*(int(part) for part in match.groups()))
        except ValueError:
            return None
    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError, IndexError):
        return None


def url_date(url: str) -> date | None:
    """A /2024/03/07/ or /2024-03-07- date in the page's own URL path."""
    match = _URL_DATE.search(url)
    if not match:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def clean_authors(value: str | None) -> list[str]:
    """Author names from a "A; B" string: no URLs or slugs, no repeats."""
    if not value:
        return []
    return _dedupe(_AUTHOR_SPLIT.split(value))


# --------------------------------------------------------------------------- helpers


def _article_objects(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        text = script.text or ""
        try:
            data = json.loads(text, strict=False)
        except ValueError:
            log.debug("unreadable JSON-LD block skipped")
            continue
        for obj in _objects(data):
            if _types(obj) & ARTICLE_TYPES:
                yield obj


def _objects(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every JSON-LD node: the block itself, list items, @graph members, mainEntity."""
    if depth > 4:
        return
    if isinstance(data, list):
        for item in data:
            yield from _objects(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity"):
            if key in data:
                yield from _objects(data[key], depth + 1)


def _types(obj: dict[str, Any]) -> set[str]:
    value = obj.get("@type")
    values = value if isinstance(value, list) else [value]
    return {v.lower().rsplit("/", 1)[-1] for v in values if isinstance(v, str)}


def _people(value: Any) -> list[str]:
    """Names of the Person authors (organisations as authors are not people)."""
    items = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict):
            types = _types(item)
            if types and not types & PERSON_TYPES:
                continue
            name = _text(item.get("name"))
            if name:
                names.append(name)
    return _dedupe(names)


def _dedupe(names: list[str]) -> list[str]:
    kept: list[str] = []
    seen: set[str] = set()
    for raw in names:
        name = " ".join(raw.split())
        if not name or _URLISH.search(name) or _SLUG.match(name):
            continue
        key = " ".join(re.findall(r"\w+", name.lower()))
        if key and key not in seen:
            seen.add(key)
            kept.append(name)
    return kept


def _plain_paragraphs(body: str) -> str:
    """JSON-LD articleBody as plain paragraphs (some publishers put HTML in it)."""
    text = html.unescape(body)
    if re.search(r"<(?:p|br|div)\b", text, re.I):
        try:
            root = fragment_fromstring(text, create_parent="div")
        except (etree.ParserError, ValueError):
            root = None
        if root is not None:
            for br in root.iter("br"):
                br.tail = "\n" + (br.tail or "")
            for block in root.iter("p", "div", "li", "h2", "h3", "h4"):
                block.tail = "\n" + (block.tail or "")
            text = root.text_content()
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n\n".join(line for line in lines if line)


def _meta(tree: HtmlElement) -> dict[str, str]:
    found: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        content = meta.get("content")
        if key and content and key not in found:
            found[key] = content.strip()
    return found


def _time_element_date(tree: HtmlElement) -> date | None:
    """The first dated <time> (or itemprop=datePublished) of the page's own story.

    Skips elements inside links and inside boxes of other stories or comments (related
    articles, teasers, rankings, comment threads), whose dates are not the article's.
    """
    candidates = tree.xpath("//time[@datetime] | //*[@itemprop='datePublished']")
    for element in candidates:
        if any(a.tag == "a" for a in element.iterancestors()) or in_furniture_box(element):
            continue
        found = parse_date(element.get("datetime") or element.get("content"))
        if found:
            return found
    return None


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(html.unescape(value).split()) or None
