"""Shared pytest fixtures."""

from __future__ import annotations

import gzip
import os
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

# Prefect keeps its state under PREFECT_HOME (default ~/.prefect): tests use a throw-away
# folder, and never a developer's Prefect server. Set before anything imports prefect.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="newsfacts-prefect-")
os.environ.pop("PREFECT_API_URL", None)

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

# --- databases ---------------------------------------------------------------
#
# `db_url` gives every test that asks for it a fresh, empty database: an SQLite
# file in tmp_path, and a throw-away PostgreSQL database when
# NEWSFACTS_TEST_POSTGRES_URL points at a server, e.g.
#
#   NEWSFACTS_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test
#
# The URL's user must be allowed to CREATE DATABASE; the database it names is only
# used to create and drop the throw-away one.

POSTGRES_ENV = "NEWSFACTS_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new empty database, once per backend; nothing migrated yet."""
    if request.param == "sqlite":
        # a folder that does not exist yet: the engine factory has to create it
        yield f"sqlite:///{tmp_path / 'db' / 'newsfacts.db'}"
        return
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}=postgresql+psycopg://user@host/db")
    yield from _throwaway_postgres(server)


def _throwaway_postgres(server: str) -> Iterator[str]:
    url = make_url(server)
    name = f"newsfacts_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                # FORCE: a test that forgot to close its engine must not leak the database
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


# --- Prefect ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect API for the whole session (flow tests of test_flow.py and
    test_ingest_flow.py share it)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


# --- local HTTP server ---------------------------------------------------------
#
# `http_server` is a real threaded HTTP server on 127.0.0.1 (random port) for the fetch
# tests: no mocks, no internet. Routes are picked by the first path segment, see
# `_ServerHandler.ROUTES`. Routes whose behaviour changes between hits (`/flaky/<key>`,
# `/ratelimited/<key>`) count hits per full path, so give each test its own key.

SERVER_ARTICLE_HTML = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Harbour bridge reopens after repairs | Local Test Gazette</title>
<meta property="og:title" content="Harbour bridge reopens after repairs"></head>
<body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
<article>
<h1>Harbour bridge reopens after repairs</h1>
<p class="byline">By Jane Doe</p>
<time datetime="2024-03-14">March 14, 2024</time>
<p>The harbour bridge reopened to traffic on Thursday morning after six months of repairs
to its steel deck, ending long detours for commuters on both sides of the bay.</p>
<p>Engineers replaced more than two hundred corroded plates and repainted the main span.
The work finished two weeks ahead of the schedule that was set last autumn.</p>
<p>Cyclists will get a separate lane from next month, when the last barriers are moved
and the new lights along the footpath are switched on.</p>
</article>
<footer>Contact us · Privacy</footer>
</body>
</html>
"""
SERVER_PLAIN_TEXT = "A plain text article.\nIt has two lines.\n"


class LocalServer:
    """What tests get from `http_server`: URLs and per-path hit counts."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self.hits: Counter[str] = Counter()
        self.release = threading.Event()  # wakes up the slow routes at teardown
        self._lock = threading.Lock()
        host, port = server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def hit(self, path: str) -> int:
        with self._lock:
            self.hits[path] += 1
            return self.hits[path]


class _ServerHandler(BaseHTTPRequestHandler):
    server_version = "newsfacts-test/1.0"
    local: LocalServer  # set on the subclass made by the fixture

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        count = self.local.hit(path)
        segments = path.strip("/").split("/")
        route = self.ROUTES.get(segments[0], _ServerHandler.not_found)
        route(self, segments[1:], count)

    def send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str, status: int = 302) -> None:
        self.send(status, b"", headers={"Location": location})

    # routes -----------------------------------------------------------------

    def article(self, rest: list[str], count: int) -> None:
        self.send(200, SERVER_ARTICLE_HTML.encode())

    def plain(self, rest: list[str], count: int) -> None:
        self.send(200, SERVER_PLAIN_TEXT.encode(), "text/plain; charset=utf-8")

    def notype(self, rest: list[str], count: int) -> None:
        self.send(200, SERVER_ARTICLE_HTML.encode(), content_type=None)

    def latin1(self, rest: list[str], count: int) -> None:
        page = SERVER_ARTICLE_HTML.replace('<meta charset="utf-8">', "")
        page = page.replace("Engineers replaced", "Ingénieurs café: engineers replaced")
        self.send(200, page.encode("latin-1"), "text/html; charset=ISO-8859-1")

    def gzipped(self, rest: list[str], count: int) -> None:
        body = gzip.compress(SERVER_ARTICLE_HTML.encode())
        self.send(200, body, headers={"Content-Encoding": "gzip"})

    def headers_echo(self, rest: list[str], count: int) -> None:
        lines = [f"{name}: {value}" for name, value in self.headers.items()]
        self.send(200, "\n".join(lines).encode(), "text/plain; charset=utf-8")

    def not_found(self, rest: list[str], count: int) -> None:
        self.send(404, b"<html><body><p>No such page</p></body></html>")

    def server_error(self, rest: list[str], count: int) -> None:
        self.send(500, b"<html><body><p>Oops</p></body></html>")

    def always_503(self, rest: list[str], count: int) -> None:
        self.send(503, b"<html><body><p>Busy</p></body></html>")

    def flaky(self, rest: list[str], count: int) -> None:
        if count == 1:
            self.send(503, b"<html><body><p>Busy</p></body></html>")
        else:
            self.article(rest, count)

    def ratelimited(self, rest: list[str], count: int) -> None:
        if count == 1:
            self.send(429, b"slow down", "text/plain", headers={"Retry-After": "7"})
        else:
            self.article(rest, count)

    def slow(self, rest: list[str], count: int) -> None:
        self.local.release.wait(2.0)  # longer than the tests' read timeout
        self.article(rest, count)

    def slow_body(self, rest: list[str], count: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(b"<html><body><p>The start of a page")
        self.wfile.flush()
        self.local.release.wait(2.0)

    def empty(self, rest: list[str], count: int) -> None:
        self.send(200, b"")

    def loop(self, rest: list[str], count: int) -> None:
        self.redirect("/loop")

    def loop_a(self, rest: list[str], count: int) -> None:
        self.redirect("/loop-b")

    def loop_b(self, rest: list[str], count: int) -> None:
        self.redirect(self.local.url("/loop-a"))

    def chain(self, rest: list[str], count: int) -> None:
        step = int(rest[0]) if rest and rest[0].isdigit() else 0
        self.redirect(f"/chain/{step + 1}")

    def redirect_to_article(self, rest: list[str], count: int) -> None:
        self.redirect("article", 301)  # relative to /redirect: resolves to /article

    def redirect_ftp(self, rest: list[str], count: int) -> None:
        self.redirect("ftp://127.0.0.1/article.html")

    def pdf(self, rest: list[str], count: int) -> None:
        self.send(200, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "application/pdf")

    def image(self, rest: list[str], count: int) -> None:
        self.send(200, PNG_BYTES, "image/png")

    def huge(self, rest: list[str], count: int) -> None:
        """2 MiB of HTML without a Content-Length: only streaming can catch it."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        chunk = b"<p>" + b"filler text " * 5000 + b"</p>\n"
        try:
            for _ in range(2 * 1024 * 1024 // len(chunk) + 1):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: that is the point

    def huge_declared(self, rest: list[str], count: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(50 * 1024 * 1024))
        self.end_headers()

    ROUTES: ClassVar[dict[str, Callable[[_ServerHandler, list[str], int], None]]] = {
        "article": article,
        "plain": plain,
        "notype": notype,
        "latin1": latin1,
        "gzip": gzipped,
        "headers": headers_echo,
        "missing": not_found,
        "error": server_error,
        "always-503": always_503,
        "flaky": flaky,
        "ratelimited": ratelimited,
        "slow": slow,
        "slow-body": slow_body,
        "empty": empty,
        "loop": loop,
        "loop-a": loop_a,
        "loop-b": loop_b,
        "chain": chain,
        "redirect": redirect_to_article,
        "redirect-ftp": redirect_ftp,
        "pdf": pdf,
        "image": image,
        "huge": huge,
        "huge-declared": huge_declared,
    }


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up early is expected here, not a failure


# The first bytes of a real PNG file (signature, IHDR chunk, start of IDAT).
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00"
    b"\x00\x1f\xf3\xffa\x00\x00\x00\x19tEXtSoftware\x00Adobe ImageReadyq\xc9e<\x00\x00\x02"
    b"\x1fIDATx\xda\x8c\x93\xcfkSA\x10\xc7\xbf\xf3\xf6\xbd\x97\x97\x1f\x8d\x04\xd2\x86\xd6"
    b"\x16\x94\x16\x11\xc4\x83\x87\x82\x07\x0f\x9e<\x08\xe2\x1f\xe0\xc1\x8b'\x0f\x1e\xfc\x03"
)


@pytest.fixture(scope="session")
def http_server() -> Iterator[LocalServer]:
    """A threaded HTTP server on 127.0.0.1, random port, for the whole session."""
    server = _QuietServer(("127.0.0.1", 0), _ServerHandler)
    local = LocalServer(server)
    server.RequestHandlerClass = type("Handler", (_ServerHandler,), {"local": local})
    thread = threading.Thread(target=server.serve_forever, name="http-server", daemon=True)
    thread.start()
    try:
        yield local
    finally:
        local.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
