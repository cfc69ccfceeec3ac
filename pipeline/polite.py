"""Manners towards the sites we read: robots.txt, per-host pacing, Retry-After.

One ``Politeness`` object per process is shared by every fetch (threads included):

- robots.txt is read once per host (cached for ``robots_ttl``) and obeyed: Disallow rules
  for our product token ("newsfacts", from the User-Agent), Crawl-delay and Request-rate.
  As RFC 9309 says, a robots.txt that does not exist (4xx) allows everything, and one
  that cannot be read (5xx, time-out) disallows everything for now: the fetch fails as
  transient and is retried later.
- requests to one host are spaced by ``host_delay`` (or the longer delay robots.txt asks
  for, capped at ``max_crawl_delay``) and at most ``host_concurrency`` run at once, while
  different hosts go in parallel.
- a 429/503 with Retry-After (and any transient failure) pauses the whole host, not just
  the URL. A pause longer than ``RETRY_AFTER_CAP`` is not waited out: the fetch fails as
  transient with the server's delay, and ingestion schedules the retry for later.

Every check runs on each redirect hop too, through ``pipeline.fetch``'s ``gate``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
from protego import Protego

from pipeline.config import Settings
from pipeline.documents import StageError
from pipeline.fetch import (
    RETRY_AFTER_CAP,
    TransientFetchError,
    fetch_feed,
    retry_delay,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: at least 500 KiB must be read
ROBOTS_RETRY_SECONDS = 300.0  # an unreachable robots.txt is asked again after this


@dataclass(slots=True)
class _Robots:
    rules: Protego | None  # None: everything allowed (no robots.txt)
    expires: float
    unreachable: str | None = None  # why robots.txt could not be read: nothing allowed


@dataclass(slots=True)
class _Host:
    lock: threading.Lock = field(default_factory=threading.Lock)
    robots_lock: threading.Lock = field(default_factory=threading.Lock)
    next_at: float = 0.0  # monotonic time of the next request slot
    paused_until: float = 0.0  # Retry-After / back-off
    slots: threading.Semaphore | None = None
    robots: _Robots | None = None


def host_key(url: httpx.URL | str) -> str:
    """scheme://host:port, the unit of politeness."""
    u = url if isinstance(url, httpx.URL) else httpx.URL(url)
    port = u.port or (443 if u.scheme == "https" else 80)
    return f"{u.scheme}://{u.host}:{port}"


def product_token(user_agent: str) -> str:
    """The robots.txt name of a User-Agent: "newsfacts" of "newsfacts/0.1 (...)"."""
    return user_agent.split("/", 1)[0].split()[0] if user_agent.strip() else "*"


class Politeness:
    """Per-host robots.txt, pacing and concurrency, shared by all fetches of a process."""

    def __init__(
        self,
        settings: Settings,
        client: httpx.Client,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.client = client
        self.agent = product_token(settings.user_agent)
        self._clock = clock
        self._sleep = sleep
        self._hosts: dict[str, _Host] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ public

    def gate(self, url: httpx.URL) -> None:
        """Before each request (the ``pipeline.fetch`` gate): robots.txt, then our turn."""
        host = self._host(url)
        if self.settings.respect_robots and url.path != "/robots.txt":
            self._check_robots(url, host)
        self._wait_turn(url, host)

    @contextmanager
    def slot(self, url: str) -> Iterator[None]:
        """Hold one of the host's ``host_concurrency`` slots for a whole fetch."""
        host = self._host(httpx.URL(url))
        assert host.slots is not None
        with host.slots:
            yield

    def pause(self, url: str, seconds: float) -> None:
        """No request to this URL's host for ``seconds`` (Retry-After, back-off)."""
        host = self._host(httpx.URL(url))
        with host.lock:
            host.paused_until = max(host.paused_until, self._clock() + seconds)

    def delay(self, url: str) -> float:
        """Seconds between two requests to this URL's host, robots.txt included."""
        host = self._host(httpx.URL(url))
        return self._delay(host)

    def call(self, url: str, fetch: Callable[[], T]) -> T:
        """Run ``fetch`` (one GET of ``url``) in a host slot, retrying transient failures.

        Up to ``fetch_retries`` retries, with exponential back-off and jitter or the
        server's Retry-After, during which the host is paused. A pause longer than
        ``RETRY_AFTER_CAP`` is not waited for: the TransientFetchError goes up.
        """
        attempt = 0
        while True:
            try:
                with self.slot(url):
                    return fetch()
            except TransientFetchError as exc:
                wait = retry_delay(attempt, exc.retry_after)
                if exc.retry_after is not None:
                    self.pause(url, exc.retry_after)
                if (
                    attempt >= self.settings.fetch_retries
                    or (exc.retry_after or 0) > RETRY_AFTER_CAP
                ):
                    raise
                attempt += 1
                log.info(
                    "retrying %s in %.1f s (attempt %d of %d): %s",
                    url,
                    wait,
                    attempt,
                    self.settings.fetch_retries,
                    exc.reason,
                )
                self.pause(url, wait)

    # ------------------------------------------------------------------ hosts

    def _host(self, url: httpx.URL) -> _Host:
        key = host_key(url)
        with self._lock:
            host = self._hosts.get(key)
            if host is None:
                host = _Host(
                    slots=threading.BoundedSemaphore(max(1, self.settings.host_concurrency))
                )
                self._hosts[key] = host
            return host

    def _delay(self, host: _Host) -> float:
        delay = self.settings.host_delay
        robots = host.robots
        if robots is not None and robots.rules is not None:
            asked = robots.rules.crawl_delay(self.agent)
            rate = robots.rules.request_rate(self.agent)
            if rate is not None and rate.requests:
                asked = max(asked or 0.0, rate.seconds / rate.requests)
            if asked:
                delay = max(delay, min(float(asked), self.settings.max_crawl_delay))
        return delay

    def _wait_turn(self, url: httpx.URL, host: _Host) -> None:
        with host.lock:
            now = self._clock()
            if host.paused_until - now > RETRY_AFTER_CAP:
                remaining = host.paused_until - now
                raise TransientFetchError(
                    str(url),
                    f"{url.host} asked us to wait {remaining:.0f} s more (Retry-After); "
                    "the fetch is retried later",
                    retry_after=remaining,
                )
            start = max(now, host.next_at, host.paused_until)
            host.next_at = start + self._delay(host)
        if start > now:
            log.debug("waiting %.2f s for our turn at %s", start - now, url.host)
            self._sleep(start - now)

    # ------------------------------------------------------------------ robots.txt

    def _check_robots(self, url: httpx.URL, host: _Host) -> None:
        robots = self._robots(url, host)
        if robots.unreachable is not None:
            raise TransientFetchError(
                str(url),
                f"robots.txt of {url.host} cannot be read ({robots.unreachable}); nothing is "
                "fetched from the host until it can",
            )
        if robots.rules is not None and not robots.rules.can_fetch(str(url), self.agent):
            raise StageError(
                "fetch",
                str(url),
                f"robots.txt of {url.host} disallows {url.path} for {self.agent} "
                "(setting respect_robots)",
            )

    def _robots(self, url: httpx.URL, host: _Host) -> _Robots:
        with host.robots_lock:  # one thread reads a host's robots.txt, the others wait
            robots = host.robots
            if robots is not None and robots.expires > self._clock():
                return robots
            robots = self._read_robots(url, host)
            host.robots = robots
            return robots

    def _read_robots(self, url: httpx.URL, host: _Host) -> _Robots:
        robots_url = str(url.copy_with(path="/robots.txt", query=None, fragment=None))
        settings = self.settings.replace(max_feed_bytes=ROBOTS_MAX_BYTES)
        now = self._clock()
        try:
            response = fetch_feed(
                robots_url,
                settings,
                self.client,
                gate=lambda hop: self._wait_turn(hop, self._host(hop)),
            )
        except TransientFetchError as exc:
            log.warning("robots.txt at %s cannot be read: %s", robots_url, exc.reason)
            return _Robots(
                None, now + min(ROBOTS_RETRY_SECONDS, self.settings.robots_ttl), exc.reason
            )
        except StageError as exc:
            # 4xx, too big, not text, redirect trouble: "unavailable", everything allowed
            log.info("no usable robots.txt at %s (%s): all allowed", robots_url, exc.reason)
            return _Robots(None, now + self.settings.robots_ttl)
        text = response.content.decode("utf-8", errors="replace")
        log.info("read robots.txt of %s (%d bytes)", url.host, len(response.content))
        return _Robots(Protego.parse(text), now + self.settings.robots_ttl)
