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
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO, Literal

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
) -> RawDocument:
    """Read one source into a RawDocument, or raise StageError("fetch", ...)."""
    if source == "-":
        return _fetch_stdin(source, settings, stdin if stdin is not None else sys.stdin.buffer)
    scheme = _url_scheme(source)
    if scheme in {"http", "https"}:
        if client is not None:
            return _fetch_url(source, settings, client)
        with make_client(settings) as own_client:
            return _fetch_url(source, settings, own_client)
    if scheme is not None:
        raise StageError(
            "fetch", source, f"unsupported URL scheme {scheme!r}: only http and https URLs"
        )
    return _fetch_file(source, settings)


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


def _fetch_url(source: str, settings: Settings, client: httpx.Client) -> RawDocument:
    url = source
    seen: set[str] = set()
    for _hop in range(settings.max_redirects + 1):
        checked = _check_url(source, url, settings)
        seen.add(str(checked.copy_with(fragment=None)))
        try:
            request = client.build_request("GET", checked)
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
            return _read_response(source, response, settings, client)
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
    if not 200 <= status < 300:
        reason = f"HTTP {status} {_phrase(response)}"
        if url != source:
            reason += f" at {url}"
        if status in {408, 429} or status >= 500:
            raise TransientFetchError(
                source, reason, _retry_after(response.headers.get("retry-after"))
            )
        raise StageError("fetch", source, reason)

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

    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_bytes:
        raise StageError(
            "fetch",
            source,
            f"response is {int(declared) / _MB:.1f} MB, over the {_limit(settings)} limit "
            f"{_LIMIT_HINT}",
        )
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():  # decompressed: a gzip bomb hits the cap too
            size += len(chunk)
            if size > settings.max_bytes:
                raise StageError(
                    "fetch",
                    source,
                    f"response is over the {_limit(settings)} limit {_LIMIT_HINT}",
                )
            chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise _transport_error(source, url, client, exc) from None
    content = b"".join(chunks)
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
    if settings.max_bytes >= _MB:
        return f"{settings.max_bytes / _MB:.1f}".removesuffix(".0") + " MB"
    return f"{settings.max_bytes} bytes"
