"""A small news site on 127.0.0.1 for the ingestion tests and the benchmark: feeds,
sitemaps and article pages made here (no fetched data), plus misbehaving routes.

    with FeedSite() as site:
        site.add_articles(20)                      # /news/story-0 ... /news/story-19
        site.route("/rss.xml", site.rss_route())   # an RSS feed of them, with ETag
        url = site.url("/rss.xml")

Routes are callables ``(request) -> Reply``; ``site.requests`` logs every request
(path, headers, time) so tests can check robots.txt, conditional GETs and pacing.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from xml.sax.saxutils import escape

COMPANIES = [
    ("Harbour Bank", "Maria Lopez", "chief executive"),
    ("Northwind Logistics", "Tom Becker", "chief financial officer"),
    ("Quayside Energy", "Aisha Rahman", "chair"),
    ("Tidewater Foods", "Peter Novak", "chief operating officer"),
    ("Lighthouse Software", "Grace Kim", "chief technology officer"),
    ("Saltmarsh Mining", "Oliver Grant", "president"),
    ("Pier Nine Media", "Hannah Weiss", "managing director"),
    ("Breakwater Insurance", "Samuel Osei", "chief executive"),
]
TOPICS = ["a new plant", "its rival", "a logistics unit", "a software maker", "two ferries"]


@dataclass(slots=True)
class Request:
    path: str
    query: str
    headers: dict[str, str]
    at: float


@dataclass(slots=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    reset: bool = False  # close the connection without an answer


Route = Callable[[Request], Reply]


def article_html(i: int, extra: str = "") -> str:
    """A news page about company i: organisations, a person with a role, money."""
    org, person, role = COMPANIES[i % len(COMPANIES)]
    other, _, _ = COMPANIES[(i + 3) % len(COMPANIES)]
    amount = 10 + (i * 7) % 890
    topic = TOPICS[i % len(TOPICS)]
    day = 1 + i % 28
    paragraphs = [
        f"{org} agreed on Tuesday to pay ${amount} million for {topic}, its "
        f"{person}, the company's {role}, said in story number {i}.",
        f"{person} told analysts that the deal with {other} would add about "
        f"${amount // 10 + 1} million to annual profit by 2026 and that {org} "
        "would fund it from cash and new borrowing.",
        f"Shares of {org} rose 3 percent in morning trading. {other} declined to comment "
        "on the talks, which people familiar with the matter said had lasted several months.",
        "The harbour district has seen a wave of deals this year as companies look for "
        "scale, and regulators are expected to review the agreement before the summer.",
        f"Analysts at Pier Nine Media said the price of ${amount} million was in line with "
        f"recent deals, and that {org} could announce further purchases this year. {extra}",
    ]
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    title = f"{org} buys {topic} for ${amount} million ({i})"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | Harbour Test Times</title>
<link rel="canonical" href="/news/story-{i}">
<meta property="article:published_time" content="2024-03-{day:02d}T08:00:00Z">
</head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article><h1>{escape(title)}</h1><p class="byline">By Jane Doe</p>
{body}
</article><footer>Harbour Test Times · Contact</footer></body></html>
"""


class FeedSite:
    """A threaded HTTP server on 127.0.0.1 (random port) with programmable routes."""

    def __init__(self, robots: str | None = "User-agent: *\nAllow: /\n") -> None:
        self.routes: dict[str, Route] = {}
        self.pages: dict[str, bytes] = {}
        self.requests: list[Request] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        if robots is not None:
            self.static("/robots.txt", robots.encode(), "text/plain")
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                request = Request(
                    path, query, {k.lower(): v for k, v in self.headers.items()}, time.monotonic()
                )
                with site._lock:
                    site.requests.append(request)
                reply = site._reply(request)
                if reply.delay:
                    site.release.wait(reply.delay)
                if reply.reset:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(reply.status)
                if reply.content_type:
                    self.send_header("Content-Type", reply.content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in reply.headers:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(reply.body)

        self.server = _Server(("127.0.0.1", 0), Handler)
        host, port = self.server.server_address[:2]
        self.base = f"http://{host!s}:{port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    # ------------------------------------------------------------------ content

    def url(self, path: str) -> str:
        return self.base + path

    def _abs(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else self.url(path_or_url)

    def route(self, path: str, handler: Route) -> None:
        self.routes[path] = handler

    def static(
        self, path: str, body: bytes, content_type: str = "text/html; charset=utf-8"
    ) -> None:
        self.route(path, lambda _r: Reply(200, body, content_type))

    def add_articles(self, n: int, start: int = 0, prefix: str = "/news/story-") -> list[str]:
        paths = [f"{prefix}{i}" for i in range(start, start + n)]
        for i, path in zip(range(start, start + n), paths, strict=True):
            self.pages[path] = article_html(i).encode()
        return paths

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def rss(self, paths: list[str], *, tracking: bool = True) -> bytes:
        now = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
        query = "?utm_source=rss&amp;utm_medium=feed" if tracking else ""
        items = "\n".join(
            f"<item><title>Story {i}</title><link>{escape(self._abs(p))}{query}</link>"
            f"<pubDate>{format_datetime(now - timedelta(hours=i))}</pubDate></item>"
            for i, p in enumerate(paths)
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>Harbour Test Times</title><link>{self.base}/</link><language>en</language>"
            f"{items}</channel></rss>"
        ).encode()

    def feed_route(
        self, body: Callable[[], bytes], content_type: str = "application/rss+xml"
    ) -> Route:
        """A feed with ETag and Last-Modified that answers conditional GETs with 304."""

        def handler(request: Request) -> Reply:
            data = body()
            etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
            modified = "Sun, 10 Mar 2024 12:00:00 GMT"
            if request.headers.get("if-none-match") == etag:
                return Reply(304, b"", None, {"ETag": etag})
            return Reply(200, data, content_type, {"ETag": etag, "Last-Modified": modified})

        return handler

    def _reply(self, request: Request) -> Reply:
        handler = self.routes.get(request.path)
        if handler is not None:
            return handler(request)
        page = self.pages.get(request.path)
        if page is not None:
            return Reply(200, page)
        return Reply(404, b"<html><body><p>No such page</p></body></html>")


def gzipped(body: bytes) -> bytes:
    return gzip.compress(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass
