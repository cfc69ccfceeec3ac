"""Decode and clean stages: bytes -> text -> main article text plus metadata.

``decode`` picks the character encoding the way browsers do (byte order mark, then
the declared charset, then UTF-8) and falls back to charset_normalizer's guess;
bytes that are not text at all fail with a "decode" StageError.

``clean`` runs trafilatura on HTML (on the decoded string: no fetching, no comments)
and keeps plain text as it is. The body never contains the title; paragraphs are
separated by a blank line, like the plain-text samples.

Around trafilatura, ``pipeline.furniture`` removes page furniture inside the article
region (deck, fact boxes, pull quotes, related links, captions, credit lines, ...), and
``pipeline.structured`` reads what the page declares about itself (JSON-LD, meta
tags): the publication date, the authors, the publisher, and the JSON-LD
``articleBody`` as a fallback when trafilatura misses the body.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import re
from collections.abc import Mapping
from typing import Any

import charset_normalizer
import trafilatura
from lxml.html import HtmlElement

from pipeline import furniture
from pipeline.config import Settings
from pipeline.documents import CleanDocument, RawDocument, StageError
from pipeline.langdetect import detect_language
from pipeline.structured import PageData, clean_authors, read_page

log = logging.getLogger(__name__)

# Trafilatura options, measured on the dev corpus (30 real news pages, 4-gram shingle F1 of
# the body, see the issue on extraction accuracy): with the furniture rules of
# pipeline.furniture, the default mode keeps more body (recall 0.994) than favor_precision
# (0.962) or favor_recall (0.932) at the same precision, because the rules already drop
# what favor_precision drops and favor_precision also drops link-rich body paragraphs.
# Tables on/off and deduplicate made no difference there.
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "favor_precision": False,
    "include_comments": False,
    "include_tables": True,
    "include_images": False,
    "include_links": False,
    "deduplicate": False,
    "with_metadata": True,
    "prune_xpath": furniture.PRUNE_XPATH,
    # trafilatura's date is not used: it can come from a related story's <time> or link
    # (see pipeline.structured, which reads the date from the page's own declarations).
    "date_extraction_params": {"extensive_search": False, "original_date": True},
}

NO_TEXT_REASON = "no article text found in the page (is this an article?)"
# Trafilatura returns scraps for pages that are not articles ("Sign in", "Latest news");
# a body shorter than this many words is no article. (Plain text has no minimum.)
MIN_ARTICLE_WORDS = 15
# The page's JSON-LD articleBody replaces the extracted text only when extraction found
# less than this share of its words (a page whose body is rendered by script, or a
# template trafilatura misreads); a shorter articleBody is a teaser and never used.
STRUCTURED_BODY_SHARE = 0.25
MIN_STRUCTURED_BODY_WORDS = 50
_TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", " · ")

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: same first two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Browsers (WHATWG Encoding Standard) read these labels as the wider encoding.
_WIDER_CODEC = {
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "tis-620": "cp874",
}
_SINGLE_BYTE_DEFAULTS = frozenset({"cp1252", "ascii"})
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_CONTROL_BYTES = frozenset(set(range(0x20)) - {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1B})
_LANGUAGE_TAG = re.compile(r"\s*([A-Za-z]{2,3})(?:[-_]|\s*$)")
_NOT_A_LANGUAGE = frozenset({"mul", "und", "zxx", "mis"})


# --------------------------------------------------------------------------- decode


def decode(raw: RawDocument) -> str:
    """The document's text, or StageError("decode", ...) for bytes that are not text."""
    data = raw.content
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec)
            except UnicodeDecodeError:
                break  # a lying BOM: try the other ways
    sample = data[:8192]
    has_nul = b"\x00" in sample
    declared = [raw.charset]
    if raw.kind == "html":
        match = _META_CHARSET.search(sample)
        declared.append(match.group(1).decode("ascii") if match else None)
    codecs_to_try = [c for c in (_codec(name, has_nul) for name in declared) if c]
    wide = any(c.startswith(("utf-16", "utf-32")) for c in codecs_to_try)
    if (has_nul and not wide) or _control_share(sample) > 0.1:
        raise _binary(raw)
    if codecs_to_try and codecs_to_try[0] in _SINGLE_BYTE_DEFAULTS and _is_utf8(data):
        # Servers and CMSs stamp "ISO-8859-1"/"ascii" on pages by default; bytes that
        # are valid UTF-8 with non-ASCII characters in them are practically never meant
        # as Latin-1, so UTF-8 wins over such a declaration.
        codecs_to_try.insert(0, "utf-8")
    for codec in [*codecs_to_try, "utf-8"]:
        try:
            return data.decode(codec).removeprefix("\ufeff")
        except UnicodeDecodeError:
            log.debug("%s: not valid %s", raw.source, codec)
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise _binary(raw)
    log.info("%s: no valid declared charset, guessed %s", raw.source, best.encoding)
    return str(best).removeprefix("\ufeff")


def _codec(name: str | None, has_nul: bool) -> str | None:
    """Python codec for a declared charset label, or None if unknown or implausible."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().strip("\"'").lower()).name
    except LookupError:
        return None
    if codec.startswith(("utf-16", "utf-32")) and not has_nul:
        return "utf-8"  # an ASCII-compatible page that claims UTF-16: browsers read UTF-8
    return _WIDER_CODEC.get(codec, codec)


def _is_utf8(data: bytes) -> bool:
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _control_share(sample: bytes) -> float:
    if not sample:
        return 0.0
    return sum(byte in _CONTROL_BYTES for byte in sample) / len(sample)


def _binary(raw: RawDocument) -> StageError:
    what = "the page" if raw.url else raw.source if raw.source != "-" else "standard input"
    return StageError("decode", raw.source, f"{what} looks like binary data, not text/HTML")


# --------------------------------------------------------------------------- clean


def clean(raw: RawDocument, settings: Settings) -> CleanDocument:
    """Main text and metadata of one document, or StageError("decode"|"clean", ...)."""
    text = decode(raw)
    document = _clean_text(raw, text) if raw.kind == "text" else _clean_html(raw, text)
    if document.language and document.language not in settings.languages:
        log.info(
            "%s is in language %r, not one of the configured languages %s",
            raw.source,
            document.language,
            ", ".join(settings.languages),
        )
    return document


def content_hash(text: str) -> str:
    """sha256 hex of the text with all whitespace runs made single spaces."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def _clean_text(raw: RawDocument, text: str) -> CleanDocument:
    body = text.replace("\r\n", "\n").replace("\r", "\n").rstrip()
    if not body.strip():
        raise StageError("clean", raw.source, "no text found (the input is only whitespace)")
    return CleanDocument(
        source=raw.source,
        url=raw.url,
        text=body,
        content_hash=content_hash(body),
        kind="text",
        language=detect_language(body),
    )


def _clean_html(raw: RawDocument, text: str) -> CleanDocument:
    tree = trafilatura.load_html(text)
    if tree is None:  # trafilatura rejects bare fragments such as "<p>...</p>"
        tree = trafilatura.load_html(f"<html><body>{text}</body></html>")
    if tree is None:
        raise StageError("clean", raw.source, "the page cannot be parsed as HTML")
    declared_language = _declared_language(tree, raw.headers)
    page = read_page(tree, raw.url)
    headings = furniture.subheadings(tree)  # before extraction, which may change the tree
    furniture.mark_furniture(tree)  # before extraction: trafilatura prunes what is marked
    extracted = trafilatura.bare_extraction(tree, url=raw.url, **TRAFILATURA_OPTIONS)
    if isinstance(extracted, dict):
        extracted = None
    metadata = extracted or trafilatura.extract_metadata(tree, raw.url)
    title = _title(metadata.title if metadata else None, metadata, page)
    lines = _lines(extracted.text if extracted else None)
    lines = furniture.restore_paragraphs(tree, lines)
    lines = furniture.drop_subheadings(lines, headings)
    body = _body(lines, {title, metadata.title if metadata else None, *page.headlines})
    if page.article_body and _prefer_structured_body(body, page.article_body):
        log.info("%s: using the page's JSON-LD articleBody", raw.source)
        body = _body(page.article_body.split("\n\n"), {title, *page.headlines})
    if len(body.split()) < MIN_ARTICLE_WORDS:
        raise StageError("clean", raw.source, NO_TEXT_REASON)
    detected = detect_language(body)
    language = declared_language or detected
    if detected and detected != declared_language:
        # Templates often declare one language for the whole site (<html lang="en"> on
        # every page); detect_language only answers when the text clearly is one
        # language, so the text wins over a declaration that contradicts it.
        language = detected
    authors = page.authors or clean_authors(metadata.author if metadata else None)
    return CleanDocument(
        source=raw.source,
        url=raw.url,
        text=body,
        content_hash=content_hash(body),
        kind="html",
        title=title,
        author="; ".join(authors) or None,
        published=page.published,
        language=language,
        site=page.publisher or _tidy(metadata.sitename if metadata else None),
    )


def _lines(text: str | None) -> list[str]:
    lines = (" ".join(line.split()) for line in (text or "").splitlines())
    return [line for line in lines if line]


def _body(lines: list[str], headlines: set[str | None]) -> str:
    """Paragraphs separated by a blank line, without headline and furniture lines."""
    lines = furniture.drop_headlines(lines, headlines)
    lines = furniture.drop_key_points(lines)
    lines = [
        line
        for line in lines
        if not furniture.is_boilerplate(line) and not furniture.is_date_line(line)
    ]
    return "\n\n".join(lines)


def _prefer_structured_body(body: str, structured: str) -> bool:
    """True when extraction missed most of what the page declares as its body.

    Also when extraction already fell back to it (trafilatura's baseline reads JSON-LD
    too, but joins it into one paragraph): the structured version keeps the paragraphs.
    """
    words = len(structured.split())
    if words < MIN_STRUCTURED_BODY_WORDS:
        return False
    return len(body.split()) < STRUCTURED_BODY_SHARE * words or (
        furniture.norm(body) == furniture.norm(structured) and "\n\n" in structured
    )


def _title(value: str | None, metadata: Any, page: PageData) -> str | None:
    """The headline, without a " | Site name" or " - Site name" suffix."""
    title = _tidy(value) or page.headline
    if not title:
        return None
    sites = {
        furniture.norm(name)
        for name in (page.publisher, metadata.sitename if metadata else None)
        if name
    }
    headlines = {furniture.norm(h) for h in page.headlines} - {furniture.norm(title)}
    for separator in _TITLE_SEPARATORS:
        head, found, tail = title.rpartition(separator)
        if found and head and (furniture.norm(tail) in sites or furniture.norm(head) in headlines):
            return head.strip()
    return title


def _declared_language(tree: HtmlElement, headers: Mapping[str, str]) -> str | None:
    """Primary language subtag the page declares: <html lang>, meta tags, HTTP header."""
    candidates: list[str | None] = [
        tree.get("lang"),
        tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
    ]
    for meta in tree.iter("meta"):
        key = (meta.get("http-equiv") or meta.get("name") or meta.get("property") or "").lower()
        if key in {"content-language", "language", "dc.language", "og:locale"}:
            candidates.append(meta.get("content"))
    candidates.append(headers.get("content-language"))
    for value in candidates:
        if not value:
            continue
        match = _LANGUAGE_TAG.match(value.split(",")[0])
        if match and match.group(1).lower() not in _NOT_A_LANGUAGE:
            return match.group(1).lower()
    return None


def _tidy(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None
