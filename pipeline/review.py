"""Comparing two sets of extraction results, article by article and fact by fact.

Pure logic, no I/O: `pipeline.review_load` reads the two sides (JSON lines, golden
files, stored runs), `pipeline.review_terminal` and `pipeline.report` show the result.

    report = compare(old_records, new_records, old_side, new_side)
    report.summary().changed, report.to_json()

Articles pair up by the stored article (two runs of one database), else canonical
URL, else the input they came from, else the content hash of their text. Within an
article, facts pair up first when equal, then by looser keys per fact type (a role
of the same person at the same organisation whose title changed, a money figure
written the same way whose amount changed, ...); what is left is added or removed.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from typing import Any, Literal

FactDict = dict[str, Any]
FACT_TYPES = ("organizations", "people", "roles", "money")
FACT_LABELS = {
    "organizations": "organisations",
    "people": "people",
    "roles": "roles",
    "money": "money",
}
# The fields a fact is compared on. Evidence sentences, spans and the rule that found
# a fact are shown to the reviewer but are not the fact: a text edit elsewhere in the
# article moves every span without changing any fact.
COMPARED_FIELDS: dict[str, tuple[str, ...]] = {
    "organizations": ("name", "mentions", "aliases"),
    "people": ("name", "mentions"),
    "roles": ("person", "role", "org"),
    "money": ("text", "amount", "currency", "qualifier", "unit", "range"),
}
Op = Literal["added", "removed", "changed"]
Status = Literal["changed", "unchanged", "only_old", "only_new"]


class ReviewError(ValueError):
    """A record that cannot be read as an extraction result."""


# --- records ----------------------------------------------------------------------


@dataclass(slots=True)
class ArticleRecord:
    """One article's extraction result on one side of a comparison."""

    input: str | None = None
    url: str | None = None
    content_hash: str | None = None
    title: str | None = None
    text: str | None = None
    published: str | None = None
    site: str | None = None
    error: str | None = None
    skipped: str | None = None
    facts: dict[str, list[FactDict]] = field(default_factory=dict)
    origin: str = ""  # where it was read: "new.jsonl:12", "run 4", a golden file
    identity: str | None = None  # equal on both sides = the same stored article
    article_id: int | None = None
    run_id: int | None = None
    raw: dict[str, Any] | None = None  # the JSON object it was read from, if any

    @property
    def label(self) -> str:
        return self.title or self.url or self.input or self.content_hash or self.origin

    def count(self) -> dict[str, int]:
        return {t: len(self.facts.get(t, [])) for t in FACT_TYPES}


def record_from_json(obj: Any, origin: str) -> ArticleRecord:
    """An ArticleRecord from one object of the `run --json` contract (or a golden file).

    Missing fact lists are empty; keys this module does not know are kept in `raw`.
    """
    if not isinstance(obj, dict):
        raise ReviewError(f"{origin}: expected a JSON object, got {type(obj).__name__}")
    record = ArticleRecord(
        input=_opt_str(obj, "input", origin),
        url=_opt_str(obj, "url", origin),
        content_hash=_opt_str(obj, "content_hash", origin),
        title=_opt_str(obj, "title", origin),
        text=_opt_str(obj, "text", origin),
        published=_opt_str(obj, "published", origin),
        site=_opt_str(obj, "site", origin),
        error=_opt_str(obj, "error", origin),
        skipped=_opt_str(obj, "skipped", origin),
        origin=origin,
        raw=obj,
    )
    if record.input is None and record.url is None and record.content_hash is None:
        raise ReviewError(f"{origin}: no input, url or content_hash to identify the article")
    record.facts = normalize_facts(obj, origin)
    return record


def normalize_facts(obj: Mapping[str, Any], origin: str = "") -> dict[str, list[FactDict]]:
    """The four fact lists of a result object, each fact with every compared field."""
    facts: dict[str, list[FactDict]] = {}
    for fact_type in FACT_TYPES:
        items = obj.get(fact_type) or []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ReviewError(f"{origin}: {fact_type!r} must be a list of objects")
        facts[fact_type] = [_normalize(fact_type, dict(i)) for i in items]
    return facts


def _normalize(fact_type: str, fact: FactDict) -> FactDict:
    if fact_type == "organizations":
        name = str(fact.get("name", ""))
        fact["name"] = name
        fact["mentions"] = int(fact.get("mentions") or len(fact.get("spans") or []))
        fact["aliases"] = sorted({str(a) for a in fact.get("aliases") or []} - {name})
    elif fact_type == "people":
        fact["name"] = str(fact.get("name", ""))
        fact["mentions"] = int(fact.get("mentions") or len(fact.get("spans") or []))
    elif fact_type == "roles":
        for key in ("person", "role", "org", "evidence"):
            fact.setdefault(key, None)
    else:
        for key in ("text", "amount", "currency", "context", "qualifier", "unit", "range"):
            fact.setdefault(key, None)
        if fact["amount"] is not None:
            fact["amount"] = str(fact["amount"])
    return fact


def _opt_str(obj: Mapping[str, Any], key: str, origin: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and key not in ("text", "title"):
        return str(value)
    raise ReviewError(f"{origin}: {key!r} must be a string or null, got {type(value).__name__}")


# --- pairing articles --------------------------------------------------------------

PairedBy = Literal["article", "url", "input", "content hash"]


def input_key(value: str | None, root: Path | None = None) -> str | None:
    """What an input is compared on: URLs as they are; paths normalised and made
    relative to `root` (default: the working directory) when they lie under it; `-`
    (standard input) is no identity at all."""
    if not value or value == "-":
        return None
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", value):
        return value
    path = Path(os.path.normpath(value))
    base = root if root is not None else Path.cwd()
    if path.is_absolute() and path.is_relative_to(base):
        path = path.relative_to(base)
    return PurePosixPath(path.as_posix()).as_posix()


def dedupe(
    records: Iterable[ArticleRecord], root: Path | None = None
) -> tuple[list[ArticleRecord], int]:
    """Drop records that repeat an earlier article of the same side (the later one wins,
    e.g. JSON lines appended by two runs); return the rest and how many were dropped."""
    kept: dict[tuple[str, str], int] = {}
    out: list[ArticleRecord | None] = []
    dropped = 0
    for record in records:
        keys = _keys(record, root)
        earlier = next((kept[k] for k in keys if k in kept), None)
        if earlier is not None:
            out[earlier] = None
            dropped += 1
        for k in keys:
            kept[k] = len(out)
        out.append(record)
    return [r for r in out if r is not None], dropped


def _keys(record: ArticleRecord, root: Path | None) -> list[tuple[str, str]]:
    keys = []
    if record.identity:
        keys.append(("article", record.identity))
    if record.url:
        keys.append(("url", record.url))
    key = input_key(record.input, root)
    if key:
        keys.append(("input", key))
    if record.content_hash:
        keys.append(("content hash", record.content_hash))
    return keys


def pair_records(
    old: Sequence[ArticleRecord], new: Sequence[ArticleRecord], root: Path | None = None
) -> list[tuple[ArticleRecord | None, ArticleRecord | None, PairedBy | None]]:
    """Pair the articles of two sides, in NEW's order, then OLD's unpaired ones.

    Passes, each over what is still unpaired: the same stored article; the same
    canonical URL; the same input (unless both have different URLs); the same text.
    """
    match: dict[int, tuple[int, PairedBy]] = {}  # new index -> (old index, how)
    old_taken: set[int] = set()

    def run_pass(how: PairedBy, key_of: Callable[[ArticleRecord], str | None]) -> None:
        index: dict[str, list[int]] = defaultdict(list)
        for i, record in enumerate(old):
            key = key_of(record)
            if i not in old_taken and key:
                index[key].append(i)
        for j, record in enumerate(new):
            key = key_of(record)
            if j in match or not key:
                continue
            for i in index.get(key, []):
                if i in old_taken:
                    continue
                if how == "input" and old[i].url and record.url and old[i].url != record.url:
                    continue
                match[j] = (i, how)
                old_taken.add(i)
                break

    run_pass("article", lambda r: r.identity)
    run_pass("url", lambda r: r.url)
    run_pass("input", lambda r: input_key(r.input, root))
    run_pass("content hash", lambda r: r.content_hash)

    pairs: list[tuple[ArticleRecord | None, ArticleRecord | None, PairedBy | None]] = []
    for j, record in enumerate(new):
        if j in match:
            i, how = match[j]
            pairs.append((old[i], record, how))
        else:
            pairs.append((None, record, None))
    pairs.extend((record, None, None) for i, record in enumerate(old) if i not in old_taken)
    return pairs


# --- comparing facts ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FactChange:
    """One fact added, removed, or changed (`fields`: the compared fields that differ)."""

    type: str
    op: Op
    old: FactDict | None
    new: FactDict | None
    fields: tuple[str, ...] = ()

    @property
    def fact(self) -> FactDict:
        fact = self.new if self.new is not None else self.old
        assert fact is not None
        return fact

    def to_json(self) -> dict[str, Any]:
        if self.op == "changed":
            return {"old": self.old, "new": self.new, "fields": list(self.fields)}
        return dict(self.fact)


def compare_value(fact_type: str, fact: FactDict, name: str) -> Any:
    """A compared field as it is compared: amounts as decimals, aliases as a tuple."""
    value = fact.get(name)
    if name == "amount" and value is not None:
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return str(value)
    if name == "aliases":
        return tuple(value or ())
    return value


def fact_key(fact_type: str, fact: FactDict) -> tuple[Any, ...]:
    return tuple(compare_value(fact_type, fact, f) for f in COMPARED_FIELDS[fact_type])


def _fold(value: Any) -> str:
    return " ".join(str(value or "").casefold().split())


def _overlap(a: FactDict, b: FactDict) -> bool:
    sa, sb = _spans(a), _spans(b)
    return any(s1 < e2 and s2 < e1 for s1, e1 in sa for s2, e2 in sb)


def _spans(fact: FactDict) -> list[tuple[int, int]]:
    if isinstance(fact.get("start"), int) and isinstance(fact.get("end"), int):
        return [(fact["start"], fact["end"])]
    return [(s[0], s[1]) for s in fact.get("spans") or [] if len(s) == 2]


def _names(fact: FactDict) -> set[str]:
    return {_fold(fact.get("name"))} | {_fold(a) for a in fact.get("aliases") or []}


def _same_surname(a: FactDict, b: FactDict, _same_text: bool) -> bool:
    ta, tb = _fold(a.get("name")).split(), _fold(b.get("name")).split()
    if not ta or not tb or ta[-1] != tb[-1]:
        return False
    return len(ta) == 1 or len(tb) == 1 or ta[0] == tb[0]


Pairing = Callable[[FactDict, FactDict, bool], bool]  # (old, new, same text) -> pair?

# Looser pairings per type, tried in order on what exact matching left over. A pair
# found here is a *changed* fact; whatever no pass pairs is added or removed.
PAIRINGS: dict[str, tuple[Pairing, ...]] = {
    "organizations": (
        lambda a, b, _: a["name"] == b["name"],
        lambda a, b, _: _fold(a["name"]) == _fold(b["name"]),
        lambda a, b, _: bool(_names(a) & _names(b)),
        lambda a, b, same: same and _overlap(a, b),
    ),
    "people": (
        lambda a, b, _: a["name"] == b["name"],
        lambda a, b, _: _fold(a["name"]) == _fold(b["name"]),
        _same_surname,
    ),
    "roles": (
        lambda a, b, _: (
            _fold(a["person"]) == _fold(b["person"]) and _fold(a["org"]) == _fold(b["org"])
        ),
        lambda a, b, _: (
            _fold(a["person"]) == _fold(b["person"]) and _fold(a["role"]) == _fold(b["role"])
        ),
        lambda a, b, same: same and _fold(a["person"]) == _fold(b["person"]) and _overlap(a, b),
    ),
    "money": (
        lambda a, b, same: same and _spans(a) == _spans(b) and bool(_spans(a)),
        lambda a, b, _: a["text"] == b["text"] and a.get("context") == b.get("context"),
        lambda a, b, _: a["text"] == b["text"],
        lambda a, b, _: fact_key("money", a)[1:3] == fact_key("money", b)[1:3],
        lambda a, b, same: same and _overlap(a, b),
    ),
}
# Pairings that only apply when they are unambiguous: one candidate on each side.
UNIQUE_PAIRINGS: dict[str, Pairing] = {
    "roles": lambda a, b, _: _fold(a["person"]) == _fold(b["person"]),
}


def diff_facts(
    fact_type: str, old: Sequence[FactDict], new: Sequence[FactDict], same_text: bool
) -> tuple[list[FactChange], int]:
    """The changes between two lists of one fact type, and how many facts are unchanged."""
    old_left = list(range(len(old)))
    by_key: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for j, fact in enumerate(new):
        by_key[fact_key(fact_type, fact)].append(j)
    new_taken: set[int] = set()
    unchanged = 0
    rest = []
    for i in old_left:
        candidates = by_key.get(fact_key(fact_type, old[i]))
        if candidates:
            new_taken.add(candidates.pop(0))
            unchanged += 1
        else:
            rest.append(i)
    old_left = rest
    new_left = [j for j in range(len(new)) if j not in new_taken]

    changes: list[FactChange] = []
    pairings = list(PAIRINGS.get(fact_type, ()))
    for pairing in pairings:
        still: list[int] = []
        for i in old_left:
            found = next((k for k in new_left if pairing(old[i], new[k], same_text)), None)
            if found is None:
                still.append(i)
                continue
            new_left.remove(found)
            changes.append(_changed(fact_type, old[i], new[found]))
        old_left = still
    unique = UNIQUE_PAIRINGS.get(fact_type)
    if unique is not None:
        still = []
        for i in old_left:
            olds = [k for k in old_left if unique(old[i], old[k], same_text)]
            news = [j for j in new_left if unique(old[i], new[j], same_text)]
            if len(olds) == 1 and len(news) == 1:
                new_left.remove(news[0])
                changes.append(_changed(fact_type, old[i], new[news[0]]))
            else:
                still.append(i)
        old_left = still

    changes.extend(FactChange(fact_type, "removed", old[i], None) for i in old_left)
    changes.extend(FactChange(fact_type, "added", None, new[j]) for j in new_left)
    order = {"removed": 0, "added": 1, "changed": 2}
    changes.sort(key=lambda c: (order[c.op], _position(c.fact)))
    return changes, unchanged


def _changed(fact_type: str, old: FactDict, new: FactDict) -> FactChange:
    fields = tuple(
        f
        for f in COMPARED_FIELDS[fact_type]
        if compare_value(fact_type, old, f) != compare_value(fact_type, new, f)
    )
    return FactChange(fact_type, "changed", old, new, fields)


def _position(fact: FactDict) -> tuple[int, str]:
    spans = _spans(fact)
    return (min(s for s, _ in spans) if spans else 1 << 62, str(fact))


# --- articles and the whole comparison ----------------------------------------------


@dataclass(slots=True)
class ArticleDiff:
    old: ArticleRecord | None
    new: ArticleRecord | None
    paired_by: PairedBy | None = None
    changes: list[FactChange] = field(default_factory=list)
    unchanged: dict[str, int] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        if self.old is None:
            return "only_new"
        if self.new is None:
            return "only_old"
        if self.changes or self.error_changed or self.skipped_changed:
            return "changed"
        return "unchanged"

    @property
    def error_changed(self) -> bool:
        return self.old is not None and self.new is not None and self.old.error != self.new.error

    @property
    def skipped_changed(self) -> bool:
        return (
            self.old is not None and self.new is not None and self.old.skipped != self.new.skipped
        )

    @property
    def text_changed(self) -> bool:
        if self.old is None or self.new is None:
            return False
        if self.old.content_hash and self.new.content_hash:
            return self.old.content_hash != self.new.content_hash
        return (
            self.old.text is not None
            and self.new.text is not None
            and self.old.text != self.new.text
        )

    @property
    def record(self) -> ArticleRecord:
        record = self.new if self.new is not None else self.old
        assert record is not None
        return record

    @property
    def label(self) -> str:
        return self.record.label

    def counts(self) -> dict[str, dict[str, int]]:
        out = {t: {"added": 0, "removed": 0, "changed": 0} for t in FACT_TYPES}
        for change in self.changes:
            out[change.type][change.op] += 1
        return out

    def changes_of(self, fact_type: str, op: Op | None = None) -> list[FactChange]:
        return [c for c in self.changes if c.type == fact_type and (op is None or c.op == op)]


def diff_article(
    old: ArticleRecord | None,
    new: ArticleRecord | None,
    paired_by: PairedBy | None = None,
    types: Sequence[str] = FACT_TYPES,
) -> ArticleDiff:
    """The fact changes of one article. An article only on one side has all its facts
    added (or removed); an input that failed on either side is compared on its error,
    not fact by fact (a failure is not an article without facts)."""
    diff = ArticleDiff(old, new, paired_by)
    if old is not None and new is not None and (old.error or new.error):
        return diff
    same_text = old is not None and new is not None and not diff.text_changed
    for fact_type in types:
        old_facts = old.facts.get(fact_type, []) if old is not None and not old.error else []
        new_facts = new.facts.get(fact_type, []) if new is not None and not new.error else []
        changes, unchanged = diff_facts(fact_type, old_facts, new_facts, same_text)
        diff.changes.extend(changes)
        diff.unchanged[fact_type] = unchanged
    return diff


@dataclass(slots=True)
class Side:
    """What one side of the comparison is: `describe` says it to people."""

    spec: str  # as the user gave it
    kind: Literal["jsonl", "golden", "run", "stdin"]
    describe: str
    details: dict[str, str] = field(default_factory=dict)  # run metadata, file names, ...
    records: list[ArticleRecord] = field(default_factory=list)
    repeated: int = 0  # records dropped because a later one was the same article


@dataclass(slots=True)
class Summary:
    old_articles: int
    new_articles: int
    compared: int  # paired
    changed: int  # paired and different
    only_old: int
    only_new: int
    text_changed: int  # paired, with another text
    failed: int  # paired, failed in NEW only
    fixed: int  # paired, failed in OLD only
    facts: dict[str, dict[str, int]]  # type -> added/removed/changed/unchanged

    @property
    def different(self) -> bool:
        return bool(self.changed or self.only_old or self.only_new)

    def to_json(self) -> dict[str, Any]:
        return {
            "articles": {
                "old": self.old_articles,
                "new": self.new_articles,
                "compared": self.compared,
                "changed": self.changed,
                "unchanged": self.compared - self.changed,
                "only_old": self.only_old,
                "only_new": self.only_new,
                "text_changed": self.text_changed,
                "failed_in_new": self.failed,
                "fixed_in_new": self.fixed,
            },
            "facts": self.facts,
        }


@dataclass(slots=True)
class DiffReport:
    old: Side
    new: Side
    articles: list[ArticleDiff]
    types: tuple[str, ...] = FACT_TYPES

    def summary(self) -> Summary:
        facts = {t: {"added": 0, "removed": 0, "changed": 0, "unchanged": 0} for t in self.types}
        for article in self.articles:
            for change in article.changes:
                facts[change.type][change.op] += 1
            for fact_type, n in article.unchanged.items():
                facts[fact_type]["unchanged"] += n
        paired = [a for a in self.articles if a.old is not None and a.new is not None]
        return Summary(
            old_articles=len(self.old.records),
            new_articles=len(self.new.records),
            compared=len(paired),
            changed=sum(1 for a in paired if a.status == "changed"),
            only_old=sum(1 for a in self.articles if a.status == "only_old"),
            only_new=sum(1 for a in self.articles if a.status == "only_new"),
            text_changed=sum(1 for a in paired if a.text_changed),
            failed=sum(1 for a in paired if a.new is not None and a.new.error and not _err(a.old)),
            fixed=sum(1 for a in paired if a.old is not None and a.old.error and not _err(a.new)),
            facts=facts,
        )

    def different(self) -> list[ArticleDiff]:
        return [a for a in self.articles if a.status != "unchanged"]

    def to_json(self, *, unchanged: bool = False) -> dict[str, Any]:
        return {
            "old": _side_json(self.old),
            "new": _side_json(self.new),
            "fact_types": list(self.types),
            "summary": self.summary().to_json(),
            "articles": [
                article_json(a) for a in self.articles if unchanged or a.status != "unchanged"
            ],
        }


def _err(record: ArticleRecord | None) -> bool:
    return record is not None and bool(record.error)


def _side_json(side: Side) -> dict[str, Any]:
    return {"spec": side.spec, "kind": side.kind, "describe": side.describe, **side.details}


def _record_json(record: ArticleRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "origin": record.origin,
        "input": record.input,
        "url": record.url,
        "title": record.title,
        "content_hash": record.content_hash,
        "error": record.error,
        "skipped": record.skipped,
        "article_id": record.article_id,
        "run_id": record.run_id,
    }


def article_json(article: ArticleDiff) -> dict[str, Any]:
    changes: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for change in article.changes:
        per_type = changes.setdefault(change.type, {"added": [], "removed": [], "changed": []})
        per_type[change.op].append(change.to_json())
    return {
        "status": article.status,
        "paired_by": article.paired_by,
        "title": article.record.title,
        "url": article.record.url,
        "input": article.record.input,
        "text_changed": article.text_changed,
        "old": _record_json(article.old),
        "new": _record_json(article.new),
        "changes": changes,
    }


def compare(
    old: Side,
    new: Side,
    types: Sequence[str] = FACT_TYPES,
    root: Path | None = None,
) -> DiffReport:
    """Compare the records of two sides: pair the articles, diff their facts."""
    unknown = [t for t in types if t not in FACT_TYPES]
    if unknown:
        raise ValueError(f"unknown fact type {unknown[0]!r}; known: {', '.join(FACT_TYPES)}")
    articles = [
        diff_article(o, n, how, types) for o, n, how in pair_records(old.records, new.records, root)
    ]
    return DiffReport(old, new, articles, tuple(types))


# --- evidence -------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?][\"”’)]?\s+|\n+")


def evidence_of(fact_type: str, fact: FactDict, text: str | None, limit: int = 320) -> str | None:
    """The sentence behind a fact: a role's evidence, a money figure's context, else the
    sentence around the first mention (when the text the spans point into is at hand).
    A sentence longer than `limit` is cut around the fact's name or figure."""
    focus = fact.get("person") or fact.get("name") or fact.get("text")
    own = fact.get("context") if fact_type == "money" else fact.get("evidence")
    if isinstance(own, str) and own.strip():
        return _shorten(own, limit, focus)
    spans = _spans(fact)
    if not text or not spans:
        return None
    start, end = min(spans)
    if not 0 <= start < end <= len(text):
        return None
    begin = 0
    for m in _SENTENCE_END.finditer(text, 0, start):
        begin = m.end()
    stop = _SENTENCE_END.search(text, end)
    sentence = text[begin : stop.start() + 1 if stop else len(text)]
    return _shorten(sentence, limit, text[start:end])


def _shorten(text: str, limit: int, focus: object = None) -> str:
    """`text` on one line, at most `limit` characters, keeping `focus` in view."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    at = text.find(str(focus)) if isinstance(focus, str) and focus else -1
    if at < 0 or at + len(str(focus)) <= limit - 1:
        return text[: limit - 1].rstrip() + "…"
    begin = max(0, min(at - limit // 3, len(text) - (limit - 2)))
    window = text[begin : begin + limit - 2].strip()
    return "…" + window + ("…" if begin + limit - 2 < len(text) else "")
