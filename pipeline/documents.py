"""The documents that flow between the stages, and the per-input error."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Stage = Literal["feed", "fetch", "decode", "clean", "extract", "store"]  # "feed": a feed or sitemap


class StageError(Exception):
    """One input failed at one stage. The batch goes on with the next input."""

    def __init__(self, stage: Stage, source: str, reason: str) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.source = source
        self.reason = reason

    def __reduce__(self) -> tuple[type[StageError], tuple[Stage, str, str]]:
        # Results cross process boundaries (worker pools): pickle as a plain StageError.
        return (StageError, (self.stage, self.source, self.reason))


@dataclass(slots=True)
class RawDocument:
    """Bytes as fetched, before decoding."""

    source: str  # what the user gave: a path, a URL or "-"
    url: str | None  # final URL after redirects; None for files and stdin
    content: bytes
    kind: Literal["html", "text"]
    content_type: str | None = None
    charset: str | None = None  # declared by the HTTP header, if any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class CleanDocument:
    """Main text and metadata of one article, ready for extraction."""

    source: str
    url: str | None
    text: str  # body only, without the title
    content_hash: str  # sha256 of the normalised body text
    kind: Literal["html", "text"]
    title: str | None = None
    author: str | None = None
    published: date | None = None
    language: str | None = None
    site: str | None = None
