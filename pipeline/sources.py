"""The feeds file: which feeds and sitemaps to poll, how often, with which filters.

```toml
[newsfacts]                      # optional: settings, as in newsfacts.toml
database_url = "sqlite:///news.db"

[defaults]                       # optional: options every source gets unless it says
interval = "30m"

[[source]]
url = "https://example.com/rss.xml"
name = "example"                 # default: made from the URL
interval = "15m"                 # or cron = "*/15 * * * *" (+ timezone = "Europe/Paris")
languages = ["en"]               # only entries and articles in these languages
max_items = 100                  # entries read per poll, newest first
max_age_days = 7                 # entries with an older date are ignored
refetch_updated = true           # fetch an entry again when the feed says it changed
```
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from pipeline.canonical import NotHttpUrlError, canonical_url
from pipeline.config import ConfigError

DEFAULT_FEEDS_FILE = "feeds.toml"
DEFAULT_INTERVAL = 30 * 60.0
MIN_INTERVAL = 60.0
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_NAME = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One feed, sitemap, sitemap index or home page (feeds found by auto-discovery)."""

    url: str
    name: str
    interval: float | None = None  # seconds between polls (when no cron)
    cron: str | None = None
    timezone: str | None = None  # of the cron schedule; default UTC
    languages: tuple[str, ...] = ()  # empty: all languages
    max_items: int | None = None
    max_age_days: float | None = None
    refetch_updated: bool = True

    @property
    def schedule(self) -> str:
        """The schedule in words, for people."""
        if self.cron:
            return f"cron {self.cron}" + (f" ({self.timezone})" if self.timezone else "")
        return f"every {format_interval(self.interval or DEFAULT_INTERVAL)}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (Prefect flow parameters)."""
        data = asdict(self)
        data["languages"] = list(self.languages)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceConfig:
        return make_source(data, where="source")


def source_from_url(url: str, **options: Any) -> SourceConfig:
    return make_source({"url": url, **options}, where=url)


def make_source(
    data: Mapping[str, Any], where: str, defaults: Mapping[str, Any] | None = None
) -> SourceConfig:
    """Validate one source table (after ``defaults``) into a SourceConfig."""
    values = {**(defaults or {}), **data}
    for own, inherited in (("cron", "interval"), ("interval", "cron")):
        if own in data and inherited not in data:
            values.pop(inherited, None)  # a source's own schedule replaces the default one
    known = {f.name for f in fields(SourceConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    raw_url = values.get("url")
    if not isinstance(raw_url, str) or not raw_url.strip():
        raise ConfigError(f"{where}: every source needs a url")
    try:
        url = canonical_url(raw_url)
    except NotHttpUrlError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    name = values.get("name") or default_name(url)
    if not isinstance(name, str):
        raise ConfigError(f"{where}: name must be a string")
    cron = values.get("cron")
    interval = values.get("interval")
    if cron is not None and interval is not None:
        raise ConfigError(f"{where} ({name}): give interval or cron, not both")
    if cron is not None and (not isinstance(cron, str) or len(cron.split()) not in (5, 6)):
        raise ConfigError(
            f"{where} ({name}): cron must be a cron expression such as '*/15 * * * *'"
        )
    seconds = parse_interval(interval, f"{where} ({name})") if interval is not None else None
    languages = values.get("languages") or ()
    if isinstance(languages, str):
        languages = [languages]
    if not isinstance(languages, (list, tuple)) or not all(isinstance(x, str) for x in languages):
        raise ConfigError(f'{where} ({name}): languages must be a list such as ["en"]')
    return SourceConfig(
        url=url,
        name=name,
        interval=seconds,
        cron=cron,
        timezone=_optional(values, "timezone", str, where),
        languages=tuple(x.strip().lower() for x in languages if x.strip()),
        max_items=_positive(values, "max_items", int, where),
        max_age_days=_positive(values, "max_age_days", float, where),
        refetch_updated=bool(values.get("refetch_updated", True)),
    )


def load_feeds(path: str | Path) -> list[SourceConfig]:
    """The sources of a feeds file, validated (ConfigError names the problem)."""
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"feeds file {file} does not exist (see feeds.example.toml for the format)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"feeds file {file} is not valid TOML: {exc}") from None
    extra = sorted(set(data) - {"newsfacts", "defaults", "source"})
    if extra:
        raise ConfigError(
            f"feeds file {file}: unknown table(s) {', '.join(extra)}; "
            "expected [newsfacts], [defaults] and [[source]]"
        )
    defaults = data.get("defaults", {})
    tables = data.get("source", [])
    if not isinstance(defaults, dict) or not isinstance(tables, list):
        raise ConfigError(f"feeds file {file}: [defaults] is a table, [[source]] a list of tables")
    if not tables:
        raise ConfigError(f"feeds file {file} lists no [[source]]")
    sources = [
        make_source(table, f"{file}: source {i}", defaults) for i, table in enumerate(tables, 1)
    ]
    check_unique(sources, str(file))
    return sources


def has_settings(path: str | Path) -> bool:
    """Whether a feeds file also carries a [newsfacts] settings table."""
    try:
        return "newsfacts" in tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False


def check_unique(sources: Iterable[SourceConfig], where: str) -> None:
    names: dict[str, str] = {}
    urls: dict[str, str] = {}
    for s in sources:
        if s.url in urls:
            raise ConfigError(f"{where}: {s.url} is listed twice ({urls[s.url]}, {s.name})")
        if s.name in names:
            raise ConfigError(f"{where}: two sources are named {s.name!r}")
        names[s.name] = s.url
        urls[s.url] = s.name


def default_name(url: str) -> str:
    """A readable name made from a URL: "example-com-news-rss-xml"."""
    rest = url.split("://", 1)[-1].removeprefix("www.")
    return _NAME.sub("-", rest.lower()).strip("-")[:60] or "source"


def parse_interval(value: object, where: str) -> float:
    """Seconds from 900, "900", "15m", "1.5h", "1d"; at least MIN_INTERVAL."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: interval must be a number of seconds or like '15m'")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _INTERVAL.match(str(value))
        if not match:
            raise ConfigError(f"{where}: interval {value!r} is not like 900, '15m', '2h' or '1d'")
        seconds = float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
    if seconds < MIN_INTERVAL:
        raise ConfigError(f"{where}: interval {value!r} is under a minute; poll less often")
    return seconds


def format_interval(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _optional(values: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = values.get(key)
    if value is not None and not isinstance(value, kind):
        raise ConfigError(f"{where}: {key} must be a {kind.__name__}")
    return value


def _positive(values: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = values.get(key)
    if value is None:
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {key} must be a number, not {value!r}") from None
    if number <= 0 or isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be above 0")
    return number
