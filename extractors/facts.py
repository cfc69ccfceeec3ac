"""Plain fact types: what the extractors find in one document.

These are ordinary dataclasses, so the storage layer, the CLI and tests can use
them without spaCy. Character offsets are into the cleaned text the document
was built from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Mention:
    """One occurrence of a name in the text."""

    text: str
    start: int
    end: int
    sentence: str


@dataclass(slots=True)
class Organization:
    """A distinct organisation with every mention of it (aliases merged)."""

    name: str
    mentions: list[Mention] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Person:
    name: str
    mentions: list[Mention] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Role:
    """A person holding a title, at an organisation when the text names one."""

    person: str
    role: str
    org: str | None
    evidence: str  # the sentence that supports the fact
    start: int  # span of the whole pattern that matched, in the text
    end: int
    pattern: str  # which rule found it, for reviewers


@dataclass(frozen=True, slots=True)
class Money:
    text: str  # as written, e.g. "$80 billion"
    amount: Decimal  # scale applied, never a float
    currency: str  # ISO 4217
    context: str
    start: int
    end: int
    qualifier: str | None = None  # "about", "more than", ...
    unit: str | None = None  # "per share", ...
    range: str | None = None  # "low" / "high" for the ends of a range


@dataclass(slots=True)
class Facts:
    organizations: list[Organization] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    money: list[Money] = field(default_factory=list)
