"""Fetch stage: files, stdin and a real HTTP server on 127.0.0.1 (see conftest.py)."""

from __future__ import annotations

import io
import socket
import time
import uuid
from pathlib import Path

import pytest

from pipeline.clean import clean
from pipeline.config import Settings
from pipeline.documents import StageError
from pipeline.fetch import (
    RETRY_AFTER_CAP,
    TransientFetchError,
    fetch,
    fetch_with_retries,
    looks_like_html,
    make_client,
    retry_delay,
    unsafe_address_reason,
)
from tests.conftest import PNG_BYTES, SERVER_ARTICLE_HTML, SERVER_PLAIN_TEXT, LocalServer

SAMPLE_HTML = Path(__file__).parent.parent / "samples" / "ai_alliance" / "article.html"


@pytest.fixture
def settings() -> Settings:
    """Local addresses allowed (the test server is on 127.0.0.1), small limits."""
    return Settings(
        allow_private_addresses=True,
        connect_timeout=1.0,
        read_timeout=0.3,
        max_redirects=3,
        fetch_retries=2,
        max_bytes=256 * 1024,
    )


def _fetch_error(source: str, settings: Settings) -> StageError:
    with pytest.raises(StageError) as info:
        fetch(source, settings)
    assert info.value.stage == "fetch"
    assert info.value.source == source
    return info.value


# --------------------------------------------------------------------------- files


def test_html_file(settings: Settings) -> None:
    raw = fetch(str(SAMPLE_HTML), settings)
    assert raw.kind == "html"
    assert raw.url is None
    assert raw.content == SAMPLE_HTML.read_bytes()


def test_txt_file_is_text_even_with_tags(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("<p>written about HTML</p>\n", encoding="utf-8")
    assert fetch(str(path), settings).kind == "text"


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"<!DOCTYPE html><html><body><p>x</p></body></html>", "html"),
        (b"\xef\xbb\xbf  <html lang='en'><p>x</p></html>", "html"),
        (b"<div class='story'><p>A fragment</p></div>", "html"),
        (b"Just some words.\nOn two lines.", "text"),
        (b"a < b and b > c", "text"),
    ],
)
def test_other_files_are_sniffed(
    tmp_path: Path, settings: Settings, content: bytes, kind: str
) -> None:
    path = tmp_path / "saved.page"
    path.write_bytes(content)
    assert fetch(str(path), settings).kind == kind


def test_missing_file(tmp_path: Path, settings: Settings) -> None:
    source = str(tmp_path / "nope.html")
    assert _fetch_error(source, settings).reason == f"file not found: {source}"


def test_empty_file(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "empty.html"
    path.write_bytes(b"")
    assert "file is empty" in _fetch_error(str(path), settings).reason


def test_directory(tmp_path: Path, settings: Settings) -> None:
    assert "is a directory" in _fetch_error(str(tmp_path), settings).reason


def test_file_over_the_default_cap_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.html"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # 50 MB on disk (sparse): stat sees the size
    started = time.perf_counter()
    error = _fetch_error(str(path), Settings())
    assert time.perf_counter() - started < 1.0
    assert error.reason == (
        "file is 50.0 MB, over the 10 MB limit (setting max_bytes / NEWSFACTS_MAX_BYTES)"
    )


def test_stdin_html_and_text(settings: Settings) -> None:
    raw = fetch("-", settings, stdin=io.BytesIO(b"<html><body><p>Hi</p></body></html>"))
    assert (raw.source, raw.url, raw.kind) == ("-", None, "html")
    raw = fetch("-", settings, stdin=io.BytesIO(b"Plain words from a pipe.\n"))
    assert raw.kind == "text"
    assert raw.content == b"Plain words from a pipe.\n"


def test_stdin_empty_and_too_big(settings: Settings) -> None:
    assert "empty" in _stdin_error(b"", settings).reason
    big = b"x" * (settings.max_bytes + 1)
    assert "over the 262144 bytes limit" in _stdin_error(big, settings).reason


def _stdin_error(data: bytes, settings: Settings) -> StageError:
    with pytest.raises(StageError) as info:
        fetch("-", settings, stdin=io.BytesIO(data))
    return info.value


@pytest.mark.parametrize("source", ["ftp://example.com/a.html", "file:///etc/passwd"])
def test_unsupported_schemes(source: str, settings: Settings) -> None:
    assert "only http and https" in _fetch_error(source, settings).reason


def test_looks_like_html() -> None:
    assert looks_like_html(b"\n\n<!doctype html>\n<html>")
    assert looks_like_html("<html><p>é</p></html>".encode("utf-16"))
    assert looks_like_html(b"<?xml version='1.0'?><html xmlns='http://www.w3.org/1999/xhtml'>")
    assert not looks_like_html(b"<?xml version='1.0'?><rss version='2.0'><channel>")
    assert not looks_like_html(PNG_BYTES)


# --------------------------------------------------------------------------- HTTP


def test_article_page(http_server: LocalServer, settings: Settings) -> None:
    url = http_server.url("/article")
    raw = fetch(url, settings)
    assert raw.kind == "html"
    assert raw.url == url
    assert raw.content == SERVER_ARTICLE_HTML.encode()
    assert raw.content_type == "text/html"
    assert raw.charset == "utf-8"
    assert raw.headers["content-type"] == "text/html; charset=utf-8"
    document = clean(raw, settings)
    assert document.title == "Harbour bridge reopens after repairs"
    assert document.url == url
    assert "two hundred corroded plates" in document.text


def test_shared_client_sends_user_agent_and_accept(
    http_server: LocalServer, settings: Settings
) -> None:
    with make_client(settings) as client:
        raw = fetch(http_server.url("/headers"), settings, client)
    echoed = raw.content.decode().lower()
    assert f"user-agent: {settings.user_agent}".lower() in echoed
    assert "accept: text/html," in echoed
    assert "accept-encoding: gzip" in echoed
    assert not client.follow_redirects


def test_plain_text_gzip_and_missing_content_type(
    http_server: LocalServer, settings: Settings
) -> None:
    raw = fetch(http_server.url("/plain"), settings)
    assert (raw.kind, raw.content) == ("text", SERVER_PLAIN_TEXT.encode())
    raw = fetch(http_server.url("/gzip"), settings)
    assert raw.content == SERVER_ARTICLE_HTML.encode()  # decompressed
    raw = fetch(http_server.url("/notype"), settings)
    assert (raw.kind, raw.content_type) == ("html", None)  # sniffed


def test_declared_charset_is_recorded_and_used(
    http_server: LocalServer, settings: Settings
) -> None:
    raw = fetch(http_server.url("/latin1"), settings)
    assert raw.charset == "iso-8859-1"
    assert "Ingénieurs café" in clean(raw, settings).text


def test_redirect_is_followed_and_final_url_recorded(
    http_server: LocalServer, settings: Settings
) -> None:
    raw = fetch(http_server.url("/redirect"), settings)
    assert raw.url == http_server.url("/article")
    assert raw.source == http_server.url("/redirect")


def test_http_404_is_permanent(http_server: LocalServer, settings: Settings) -> None:
    error = _fetch_error(http_server.url("/missing"), settings)
    assert error.reason == "HTTP 404 Not Found"
    assert not isinstance(error, TransientFetchError)


def test_http_500_is_transient(http_server: LocalServer, settings: Settings) -> None:
    error = _fetch_error(http_server.url("/error"), settings)
    assert isinstance(error, TransientFetchError)
    assert error.reason == "HTTP 500 Internal Server Error"


def test_slow_response_times_out(http_server: LocalServer, settings: Settings) -> None:
    url = http_server.url("/slow")
    started = time.perf_counter()
    error = _fetch_error(url, settings)
    assert time.perf_counter() - started < 1.5
    assert isinstance(error, TransientFetchError)
    assert error.reason == f"timed out after 0.3 s reading {url}"


def test_slow_body_times_out(http_server: LocalServer, settings: Settings) -> None:
    error = _fetch_error(http_server.url("/slow-body"), settings)
    assert isinstance(error, TransientFetchError)
    assert "timed out after 0.3 s reading" in error.reason


def test_connection_refused_is_transient(settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = _fetch_error(f"http://127.0.0.1:{port}/", settings)
    assert isinstance(error, TransientFetchError)
    assert "cannot connect to 127.0.0.1" in error.reason


@pytest.mark.parametrize("path", ["/loop", "/loop-a"])
def test_redirect_loop(http_server: LocalServer, settings: Settings, path: str) -> None:
    error = _fetch_error(http_server.url(path), settings)
    assert error.reason == f"redirect loop at {http_server.url(path)}"


def test_too_many_redirects(http_server: LocalServer, settings: Settings) -> None:
    error = _fetch_error(http_server.url("/chain/0"), settings)
    assert error.reason.startswith("too many redirects (more than 3)")
    assert http_server.hits["/chain/3"] == 1
    assert http_server.hits["/chain/4"] == 0  # the 4th redirect is never followed


def test_redirect_to_another_scheme_is_refused(
    http_server: LocalServer, settings: Settings
) -> None:
    error = _fetch_error(http_server.url("/redirect-ftp"), settings)
    assert "unsupported URL scheme 'ftp'" in error.reason


@pytest.mark.parametrize(
    ("path", "media_type"), [("/pdf", "application/pdf"), ("/image", "image/png")]
)
def test_other_content_types_are_refused(
    http_server: LocalServer, settings: Settings, path: str, media_type: str
) -> None:
    error = _fetch_error(http_server.url(path), settings)
    assert error.reason == f"content type {media_type} is not HTML or text"


def test_body_over_the_cap_stops_streaming(http_server: LocalServer, settings: Settings) -> None:
    error = _fetch_error(http_server.url("/huge"), settings)
    assert error.reason == (
        "response is over the 262144 bytes limit (setting max_bytes / NEWSFACTS_MAX_BYTES)"
    )
    assert not isinstance(error, TransientFetchError)


def test_declared_length_over_the_cap(http_server: LocalServer, settings: Settings) -> None:
    error = _fetch_error(http_server.url("/huge-declared"), settings.replace(max_bytes=10 << 20))
    assert error.reason.startswith("response is 50.0 MB, over the 10 MB limit")


def test_empty_response(http_server: LocalServer, settings: Settings) -> None:
    assert "empty page" in _fetch_error(http_server.url("/empty"), settings).reason


# --------------------------------------------------------------------------- retries


def test_retry_after_503(http_server: LocalServer, settings: Settings) -> None:
    path = f"/flaky/{uuid.uuid4().hex}"
    waits: list[float] = []
    raw = fetch_with_retries(http_server.url(path), settings, sleep=waits.append)
    assert raw.content == SERVER_ARTICLE_HTML.encode()
    assert http_server.hits[path] == 2
    assert len(waits) == 1
    assert 1.0 <= waits[0] <= 2.0  # first backoff step plus jitter


def test_retry_honours_retry_after(http_server: LocalServer, settings: Settings) -> None:
    path = f"/ratelimited/{uuid.uuid4().hex}"
    waits: list[float] = []
    raw = fetch_with_retries(http_server.url(path), settings, sleep=waits.append)
    assert raw.kind == "html"
    assert waits == [7.0]


def test_retries_give_up_with_the_last_error(http_server: LocalServer, settings: Settings) -> None:
    waits: list[float] = []
    with pytest.raises(TransientFetchError, match="HTTP 503 Service Unavailable"):
        fetch_with_retries(http_server.url("/always-503"), settings, sleep=waits.append)
    assert http_server.hits["/always-503"] == 3  # one try + fetch_retries=2
    assert len(waits) == 2
    assert waits[1] > waits[0] - 1.0  # exponential: 1-2 s, then 2-3 s


def test_permanent_errors_are_not_retried(http_server: LocalServer, settings: Settings) -> None:
    path = f"/missing/{uuid.uuid4().hex}"
    waits: list[float] = []
    with pytest.raises(StageError, match="HTTP 404"):
        fetch_with_retries(http_server.url(path), settings, sleep=waits.append)
    assert http_server.hits[path] == 1
    assert waits == []


def test_retry_delay() -> None:
    assert retry_delay(0, retry_after=3600) == RETRY_AFTER_CAP
    assert retry_delay(5, retry_after=2) == 2
    assert 4.0 <= retry_delay(2) <= 5.0
    assert retry_delay(30) <= 31.0  # capped


# --------------------------------------------------------------------------- SSRF guard


def test_default_settings_refuse_loopback(http_server: LocalServer) -> None:
    url = http_server.url(f"/article/{uuid.uuid4().hex}")
    error = _fetch_error(url, Settings())
    assert "127.0.0.1 is a loopback address" in error.reason
    assert "NEWSFACTS_ALLOW_PRIVATE_ADDRESSES=1" in error.reason
    assert http_server.hits[url.removeprefix(http_server.base_url)] == 0  # never connected


def test_default_settings_refuse_names_resolving_to_loopback(http_server: LocalServer) -> None:
    port = http_server.base_url.rsplit(":", 1)[1]
    error = _fetch_error(f"http://localhost:{port}/article", Settings())
    assert "localhost" in error.reason
    assert "loopback" in error.reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("169.254.169.254", "the cloud metadata address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1%eth0", "a link-local address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("240.0.0.1", "a private address"),
        ("100.64.0.1", "not a public address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
    ],
)
def test_unsafe_address_reason(address: str, reason: str | None) -> None:
    assert unsafe_address_reason(address) == reason
