"""Fetch stage: turn a source (URL, file or stdin) into a RawDocument.

Sources:

- an ``http://`` or ``https://`` URL, fetched with httpx. Redirects are followed here,
  not by httpx, so that every hop goes through the same checks (scheme, private
  addresses, loop detection, hop limit);
- a path to a ``.html``/``.htm`` file (kind "html") or a ``.txt`` file (kind "text");
  any other existing file is sniffed;
- ``-`` for standard input, sniffed likewise.

Every failure is a ``StageError("fetch", source, reason)`` whose reason says what to
do about it. Failures that may go away on their own (timeouts, connection errors, 429,
5xx) are ``TransientFetchError`` so that callers retry only those.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import random
import re
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO, Literal, TypeVar

import httpx

from pipeline.config import Settings
from pipeline.documents import RawDocument, StageError

log = logging.getLogger(__name__)

Kind = Literal["html", "text"]

HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
TEXT_SUFFIXES = frozenset({".txt"})
HTML_MEDIA_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_MEDIA_TYPES = frozenset({"text/plain"})

ACCEPT = "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8,*/*;q=0.1"
FEED_ACCEPT = (
    "application/rss+xml,application/atom+xml,application/feed+json,application/rdf+xml,"
    "application/xml;q=0.9,text/xml;q=0.9,application/json;q=0.8,text/html;q=0.5,*/*;q=0.1"
)
# Media types that can hold a feed, a sitemap (maybe gzipped) or a page to discover one in.
FEED_MEDIA_TYPES = frozenset(
    {
        "application/gzip",
        "application/x-gzip",
        "application/octet-stream",
        "application/json",
        "application/xml",
        "text/xml",
        "text/plain",
        "text/html",
        "application/xhtml+xml",
    }
)

# Called with each request's URL (every redirect hop) just before it is sent: the place for
# robots.txt checks and per-host rate limits (pipeline.polite). It may wait, or raise
# StageError to refuse the request.
Gate = Callable[[httpx.URL], None]
_R = TypeVar("_R")

# Retry policy of fetch_with_retries.
BACKOFF_BASE = 1.0  # seconds before the first retry; doubles each time, plus jitter
BACKOFF_CAP = 30.0
RETRY_AFTER_CAP = 30.0  # never wait longer than this, whatever the server asks

METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, ...
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    }
)

ALLOW_PRIVATE_HINT = (
    "set NEWSFACTS_ALLOW_PRIVATE_ADDRESSES=1 (setting allow_private_addresses) "
    "to allow local and private addresses"
)

_MB = 1024 * 1024
_LIMIT_HINT = "(setting max_bytes / NEWSFACTS_MAX_BYTES)"
_HTML_START = re.compile(rb"<(?:!doctype\s+html|html|head|body|meta|title|article|div|p|h[1-6])\b")
_HTML_ANYWHERE = re.compile(rb"<(?:html|head|body)\b")


class TransientFetchError(StageError):
    """A fetch failure that may go away by itself: worth retrying later."""

    def __init__(self, source: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__("fetch", source, reason)
        self.retry_after = retry_after  # seconds the server asked us to wait, if it said


@dataclass(slots=True)
class FeedResponse:
    """A feed or sitemap as fetched: ``status`` 200 with the body, or 304 without."""

    url: str  # final URL after redirects
    status: int
    content: bytes
    media_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- public API


def make_client(settings: Settings) -> httpx.Client:
    """One HTTP client to share across fetches (connection pooling, one User-Agent).

    Redirects are off: ``fetch`` follows them itself so that every hop is checked.
    TLS certificates are always verified.
    """
    languages = ", ".join([*settings.languages, "*;q=0.5"])
    return httpx.Client(
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.connect_timeout,
        ),
        headers={
            "User-Agent": settings.user_agent,
            "Accept": ACCEPT,
            "Accept-Language": languages,
        },
        follow_redirects=False,
        verify=True,
    )


def fetch(
    source: str,
    settings: Settings,
    client: httpx.Client | None = None,
    stdin: BinaryIO | None = None,
    *,
    gate: Gate | None = None,
) -> RawDocument:
    """Read one source into a RawDocument, or raise StageError("fetch", ...).

    ``gate`` is called before every HTTP request (each redirect hop), see ``Gate``.
    """
    if source == "-":
        return _fetch_stdin(source, settings, stdin if stdin is not None else sys.stdin.buffer)
    scheme = _url_scheme(source)
    if scheme in {"http", "https"}:
        if client is not None:
            return _fetch_url(source, settings, client, gate)
        with make_client(settings) as own_client:
            return _fetch_url(source, settings, own_client, gate)
    if scheme is not None:
        raise StageError(
            "fetch", source, f"unsupported URL scheme {scheme!r}: only http and https URLs"
        )
    return _fetch_file(source, settings)


def fetch_feed(
    url: str,
    settings: Settings,
    client: httpx.Client,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    gate: Gate | None = None,
) -> FeedResponse:
    """GET a feed, sitemap or robots.txt, conditionally when validators are given.

    The same checks as ``fetch`` on every hop (schemes, private addresses, redirect loops
    and limits); the body is capped at ``settings.max_feed_bytes``. A 304 answer comes back
    as status 304 with no body. Errors are StageError("fetch", ...), transient ones
    TransientFetchError (with the server's Retry-After).
    """
    headers = {"Accept": FEED_ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return _follow(url, settings, client, _read_feed, gate=gate, headers=headers)


def fetch_with_retries(
    source: str,
    settings: Settings,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RawDocument:
    """``fetch``, retrying transient failures up to ``settings.fetch_retries`` times.

    Waits grow exponentially with jitter; a server's Retry-After is honoured, capped at
    RETRY_AFTER_CAP seconds. Permanent failures (4xx, bad content, too big) raise at once.
    """
    if client is None and _url_scheme(source) in {"http", "https"}:
        with make_client(settings) as own_client:
            return fetch_with_retries(source, settings, own_client, sleep)
    attempt = 0
    while True:
        try:
            return fetch(source, settings, client)
        except TransientFetchError as exc:
            if attempt >= settings.fetch_retries:
                raise
            delay = retry_delay(attempt, exc.retry_after)
            attempt += 1
            log.info(
                "retrying %s in %.1f s (attempt %d of %d): %s",
                source,
                delay,
                attempt,
                settings.fetch_retries,
                exc.reason,
            )
            sleep(delay)


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number ``attempt + 1``."""
    if retry_after is not None:
        return max(0.0, min(retry_after, RETRY_AFTER_CAP))
    base = min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)
    return base + random.uniform(0, BACKOFF_BASE)


def unsafe_address_reason(address: str) -> str | None:
    """Why fetching from this IP address is refused, or None when it is a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "the cloud metadata address"
    checks = [
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "not a public address"),
    ]
    return next((reason for flagged, reason in checks if flagged), None)


def looks_like_html(data: bytes) -> bool:
    """Sniff the first bytes: does this look like an HTML page or fragment?"""
    head = data[:4096]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", errors="ignore").encode("ascii", errors="ignore")
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if _HTML_START.match(head):
        return True
    if head.startswith(b"<?xml") or head.startswith(b"<!--"):
        return _HTML_ANYWHERE.search(head) is not None
    return False


# --------------------------------------------------------------------------- files


def _fetch_file(source: str, settings: Settings) -> RawDocument:
    path = Path(source)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise StageError("fetch", source, f"file not found: {source}") from None
    except OSError as exc:
        raise StageError("fetch", source, f"cannot read {source}: {exc.strerror}") from None
    if path.is_dir():
        raise StageError("fetch", source, f"{source} is a directory, not a file")
    if stat.st_size == 0:
        raise StageError("fetch", source, f"file is empty: {source}")
    if stat.st_size > settings.max_bytes:
        raise StageError(
            "fetch",
            source,
            f"file is {stat.st_size / _MB:.1f} MB, over the {_limit(settings)} limit {_LIMIT_HINT}",
        )
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise StageError("fetch", source, f"cannot read {source}: {exc.strerror}") from None
    suffix = path.suffix.lower()
    if suffix in HTML_SUFFIXES:
        kind: Kind = "html"
    elif suffix in TEXT_SUFFIXES:
        kind = "text"
    else:
        kind = _sniff_kind(content)
    log.debug("read %s: %d bytes, %s", source, len(content), kind)
    return RawDocument(source=source, url=None, content=content, kind=kind)


def _fetch_stdin(source: str, settings: Settings, stream: BinaryIO) -> RawDocument:
    content = stream.read(settings.max_bytes + 1)
    if not content:
        raise StageError("fetch", source, "standard input is empty")
    if len(content) > settings.max_bytes:
        raise StageError(
            "fetch",
            source,
            f"standard input is over the {_limit(settings)} limit {_LIMIT_HINT}",
        )
    return RawDocument(source=source, url=None, content=content, kind=_sniff_kind(content))


def _sniff_kind(content: bytes) -> Kind:
    return "html" if looks_like_html(content) else "text"


# --------------------------------------------------------------------------- URLs


def _url_scheme(source: str) -> str | None:
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", source)
    return match.group(1).lower() if match else None


def _fetch_url(
    source: str, settings: Settings, client: httpx.Client, gate: Gate | None = None
) -> RawDocument:
    return _follow(source, settings, client, _read_response, gate=gate)


def _follow(
    source: str,
    settings: Settings,
    client: httpx.Client,
    read: Callable[[str, httpx.Response, Settings, httpx.Client], _R],
    *,
    gate: Gate | None = None,
    headers: dict[str, str] | None = None,
) -> _R:
    """GET ``source``, following redirects hop by hop (each one checked), then ``read``."""
    url = source
    seen: set[str] = set()
    for _hop in range(settings.max_redirects + 1):
        checked = _check_url(source, url, settings)
        seen.add(str(checked.copy_with(fragment=None)))
        if gate is not None:
            gate(checked)
        try:
            request = client.build_request("GET", checked, headers=headers)
            response = client.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise _transport_error(source, str(checked), client, exc) from None
        try:
            location = response.headers.get("location")
            if response.is_redirect and location:
                try:
                    target = response.url.join(location)
                except httpx.InvalidURL:
                    raise StageError(
                        "fetch", source, f"redirect from {checked} to an invalid URL: {location}"
                    ) from None
                log.debug("redirect %d %s -> %s", response.status_code, checked, target)
                if str(target.copy_with(fragment=None)) in seen:
                    raise StageError("fetch", source, f"redirect loop at {target}")
                url = str(target)
                continue
            return read(source, response, settings, client)
        finally:
            response.close()
    raise StageError(
        "fetch",
        source,
        f"too many redirects (more than {settings.max_redirects}); "
        "raise max_redirects / NEWSFACTS_MAX_REDIRECTS if the site needs more",
    )


def _check_url(source: str, url: str, settings: Settings) -> httpx.URL:
    """Parse one hop's URL; refuse other schemes and, by default, private addresses."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise StageError("fetch", source, f"invalid URL {url}: {exc}") from None
    if parsed.scheme not in {"http", "https"}:
        raise StageError(
            "fetch",
            source,
            f"unsupported URL scheme {parsed.scheme!r} in {url}: only http and https URLs",
        )
    if not parsed.host:
        raise StageError("fetch", source, f"URL has no host name: {url}")
    if not settings.allow_private_addresses:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        host = parsed.raw_host.decode("ascii")
        for address in _resolve(source, host, port):
            reason = unsafe_address_reason(address)
            if reason is not None:
                shown = host if host == address else f"{host} ({address})"
                raise StageError(
                    "fetch",
                    source,
                    f"refusing to fetch {url}: {shown} is {reason}; {ALLOW_PRIVATE_HINT}",
                )
    return parsed


def _resolve(source: str, host: str, port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host.split("%", 1)[0]))]
    except ValueError:
        pass  # a name, not an address literal
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            raise TransientFetchError(
                source, f"temporary DNS failure looking up {host}: {exc.strerror}"
            ) from None
        raise StageError(
            "fetch", source, f"cannot resolve host name {host!r} (check the URL): {exc.strerror}"
        ) from None
    # every address the name resolves to must be allowed, not just the first
    return sorted({str(info[4][0]) for info in infos})


def _read_response(
    source: str, response: httpx.Response, settings: Settings, client: httpx.Client
) -> RawDocument:
    url = str(response.url)
    status = response.status_code
    _raise_for_status(source, response)

    media_type, charset = _parse_content_type(response.headers.get("content-type"))
    kind: Kind | None
    if media_type is None:
        kind = None  # no content type: sniff the body
    elif media_type in HTML_MEDIA_TYPES:
        kind = "html"
    elif media_type in TEXT_MEDIA_TYPES:
        kind = "text"
    else:
        raise StageError("fetch", source, f"content type {media_type} is not HTML or text")

    content = _read_body(source, response, settings.max_bytes, _LIMIT_HINT, client)
    if not content:
        raise StageError("fetch", source, f"the server sent an empty page (HTTP {status})")
    log.info("fetched %s: %d bytes, %s", url, len(content), media_type or "no content type")
    return RawDocument(
        source=source,
        url=url,
        content=content,
        kind=kind or _sniff_kind(content),
        content_type=media_type,
        charset=charset,
        headers=dict(response.headers),
    )


def _read_feed(
    source: str, response: httpx.Response, settings: Settings, client: httpx.Client
) -> FeedResponse:
    url = str(response.url)
    etag = response.headers.get("etag")
    last_modified = response.headers.get("last-modified")
    if response.status_code == HTTPStatus.NOT_MODIFIED:
        log.info("not modified: %s", url)
        return FeedResponse(url, 304, b"", None, etag, last_modified, dict(response.headers))
    _raise_for_status(source, response)
    media_type, _charset = _parse_content_type(response.headers.get("content-type"))
    if (
        media_type is not None
        and media_type not in FEED_MEDIA_TYPES
        and not media_type.endswith(("+xml", "+json", "/xml", "/json"))
    ):
        raise StageError(
            "fetch", source, f"content type {media_type} is not a feed, a sitemap or a page"
        )
    hint = "(setting max_feed_bytes / NEWSFACTS_MAX_FEED_BYTES)"
    content = _read_body(source, response, settings.max_feed_bytes, hint, client)
    log.info("fetched %s: %d bytes, %s", url, len(content), media_type or "no content type")
    return FeedResponse(
        url, response.status_code, content, media_type, etag, last_modified, dict(response.headers)
    )


def _raise_for_status(source: str, response: httpx.Response) -> None:
    """StageError for a status other than 2xx; TransientFetchError when a retry may help."""
    status = response.status_code
    if 200 <= status < 300:
        return
    url = str(response.url)
    reason = f"HTTP {status} {_phrase(response)}"
    if url != source:
        reason += f" at {url}"
    if status in {408, 429} or status >= 500:
        raise TransientFetchError(source, reason, _retry_after(response.headers.get("retry-after")))
    raise StageError("fetch", source, reason)


def _read_body(
    source: str, response: httpx.Response, limit: int, hint: str, client: httpx.Client
) -> bytes:
    """The body, decompressed, refused past ``limit`` bytes (declared or streamed)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise StageError(
            "fetch",
            source,
            f"response is {int(declared) / _MB:.1f} MB, over the {_size(limit)} limit {hint}",
        )
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():  # decompressed: a gzip bomb hits the cap too
            size += len(chunk)
            if size > limit:
                raise StageError(
                    "fetch", source, f"response is over the {_size(limit)} limit {hint}"
                )
            chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise _transport_error(source, str(response.url), client, exc) from None
    return b"".join(chunks)


def _transport_error(
    source: str, url: str, client: httpx.Client, exc: httpx.HTTPError
) -> StageError:
    """Map an httpx exception to a StageError a user can act on."""
    host = httpx.URL(url).host
    if isinstance(exc, httpx.ConnectTimeout):
        return TransientFetchError(
            source, f"timed out after {client.timeout.connect} s connecting to {host}"
        )
    if isinstance(exc, httpx.ReadTimeout):
        return TransientFetchError(source, f"timed out after {client.timeout.read} s reading {url}")
    if isinstance(exc, httpx.TimeoutException):
        return TransientFetchError(source, f"timed out talking to {host}: {type(exc).__name__}")
    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            return StageError("fetch", source, f"TLS certificate of {host} is not valid: {text}")
        return TransientFetchError(source, f"cannot connect to {host}: {text or 'refused'}")
    if isinstance(exc, httpx.DecodingError):
        return StageError("fetch", source, f"cannot decompress the response from {url}: {exc}")
    if isinstance(exc, httpx.TransportError):
        return TransientFetchError(
            source, f"connection to {host} failed: {exc or type(exc).__name__}"
        )
    return StageError("fetch", source, f"request to {url} failed: {exc}")


def _parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    if not value or not value.strip():
        return None, None
    media_type, *params = value.split(";")
    charset = None
    for param in params:
        key, _, raw = param.partition("=")
        if key.strip().lower() == "charset":
            charset = raw.strip().strip("\"'").lower() or None
    return media_type.strip().lower() or None, charset


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _phrase(response: httpx.Response) -> str:
    if response.reason_phrase:
        return response.reason_phrase
    try:
        return HTTPStatus(response.status_code).phrase
    except ValueError:
        return ""


def _limit(settings: Settings) -> str:
    return _size(settings.max_bytes)


def _size(limit: int) -> str:
    if limit >= _MB:
        return f"{limit / _MB:.1f}".removesuffix(".0") + " MB"
    return f"{limit} bytes"
