"""URL canonicalisation: one spelling per article URL, so "seen before" is a string lookup.

``canonical_url`` lower-cases the scheme and host (IDNA for international names), drops
default ports, fragments and empty queries, normalises percent-escapes, removes dot
segments and removes tracking parameters (``utm_*``, ``fbclid``, ... listed in
``tracking_params.txt`` next to this file: rules are data). It never guesses beyond that:
``www.`` stays, query parameter order stays, a trailing slash stays, because sites do
serve different pages for those.

``page_canonical`` reads ``<link rel="canonical">`` from a page's head and accepts it only
when it is a plausible canonical of that page (same site, not the home page), since
broken templates that point every article at the home page are common.
"""

from __future__ import annotations

import re
from functools import cache
from html.parser import HTMLParser
from importlib.resources import files
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters that never need escaping in a path (RFC 3986 unreserved + sub-delims + ":@/").
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_HEAD_BYTES = 256 * 1024  # <link rel="canonical"> lives in the head: read no further


class NotHttpUrlError(ValueError):
    """The text is not an absolute http(s) URL."""


@cache
def tracking_params() -> tuple[frozenset[str], tuple[str, ...]]:
    """(exact names, name prefixes) of tracking query parameters, lower case."""
    text = files("pipeline").joinpath("tracking_params.txt").read_text(encoding="utf-8")
    names: set[str] = set()
    prefixes: list[str] = []
    for line in text.splitlines():
        item = line.split("#", 1)[0].strip().lower()
        if not item:
            continue
        if item.endswith("*"):
            prefixes.append(item[:-1])
        else:
            names.add(item)
    return frozenset(names), tuple(prefixes)


def is_tracking_param(name: str) -> bool:
    names, prefixes = tracking_params()
    key = name.lower()
    return key in names or key.startswith(prefixes)


def canonical_url(url: str, base: str | None = None) -> str:
    """The canonical spelling of an absolute http(s) URL (relative ones need ``base``).

    Raises NotHttpUrlError for anything else (mailto:, javascript:, no host, ...).
    """
    text = url.strip()
    if base is not None:
        text = urljoin(base, text)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # a bad port or a bracketed host that is not IPv6
        raise NotHttpUrlError(f"not a valid URL: {url!r} ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise NotHttpUrlError(f"not an http(s) URL: {url!r}")
    host = _host(parts.hostname or "")
    if not host:
        raise NotHttpUrlError(f"URL has no host: {url!r}")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    if parts.username or parts.password:
        raise NotHttpUrlError(f"URL with a user name or password is not accepted: {url!r}")
    path = _path(parts.path)
    query = _query(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def try_canonical_url(url: str | None, base: str | None = None) -> str | None:
    """``canonical_url``, or None when the text is no http(s) URL."""
    if not url:
        return None
    try:
        return canonical_url(url, base)
    except NotHttpUrlError:
        return None


def host_of(url: str) -> str:
    """Host name of a URL (lower case, IDNA), e.g. for per-host politeness."""
    return _host(urlsplit(url).hostname or "")


def same_site(a: str, b: str) -> bool:
    """Same host, ignoring a leading ``www.``."""
    return host_of(a).removeprefix("www.") == host_of(b).removeprefix("www.")


def page_canonical(content: bytes, page_url: str) -> str | None:
    """The page's ``<link rel="canonical">``, canonicalised, when it is believable.

    Refused (None): no such link, not http(s), another site, or the site's home page.
    """
    finder = _CanonicalFinder()
    head = content[:_HEAD_BYTES].decode("utf-8", errors="replace")
    try:
        finder.feed(head)
        finder.close()
    except _FoundError:
        pass
    href = finder.href
    if not href:
        return None
    found = try_canonical_url(href, base=page_url)
    if found is None or not same_site(found, page_url):
        return None
    if urlsplit(found).path in {"", "/"} and urlsplit(page_url).path not in {"", "/"}:
        return None  # a template that points every page at the home page
    return found


# --------------------------------------------------------------------------- parts


def _host(hostname: str) -> str:
    host = hostname.strip().rstrip(".").lower()
    if not host or ":" in host:  # IPv6 literal: already lower case
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _path(path: str) -> str:
    if not path:
        return "/"
    path = _remove_dot_segments(path)
    # Escape what must be escaped, decode escapes of characters that need none and
    # upper-case the others: one spelling for each path.
    return _ESCAPE.sub(_normalise_escape, quote(path, safe=_PATH_SAFE + "%"))


def _normalise_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(0)[1:], 16))
    if char.isascii() and (char.isalnum() or char in "-._~"):
        return char
    return match.group(0).upper()


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, for absolute paths."""
    out: list[str] = []
    segments = path.split("/")
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == ".":
            if last:
                out.append("")
            continue
        if segment == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
            continue
        out.append(segment)
    result = "/".join(out)
    return result if result.startswith("/") else "/" + result


def _query(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not is_tracking_param(k)]
    if len(kept) == len(pairs) and "+" not in query and ";" not in query:
        return _ESCAPE.sub(_normalise_escape, query)  # nothing to drop: keep it as written
    return urlencode(kept, quote_via=quote, safe="/:@!$'()*,~")


class _FoundError(Exception):
    """Raised to stop parsing once the answer is known."""


class _CanonicalFinder(HTMLParser):
    """Stops at the first <link rel="canonical"> or at <body>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            raise _FoundError
        if tag != "link":
            return
        values = {k.lower(): (v or "") for k, v in attrs}
        rels = values.get("rel", "").lower().split()
        if "canonical" in rels and values.get("href", "").strip():
            self.href = values["href"].strip()
            raise _FoundError
