"""`newsfacts export`: stored articles and their facts for analysts, as JSON lines or CSV.

- JSON lines: one object per article in the `run --json` shape (so `newsfacts diff`
  reads it too), plus `article_id`, `run_id`, `first_seen` and `last_seen`.
- CSV: one row per fact, with the article's columns repeated on each row and a
  `fact` column (organization, person, role, money); columns a fact type has no use
  for are empty. Amounts are exact decimal strings.

By default each article comes with the facts of the newest run that read it; with
`run_id`, the articles that run read with the facts it found.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from pipeline.store import Store, StoredExtraction

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = (
    "run_id",
    "article_id",
    "url",
    "input",
    "title",
    "published",
    "site",
    "language",
    "fact",
    "name",
    "mentions",
    "aliases",
    "person",
    "role",
    "org",
    "text",
    "amount",
    "currency",
    "qualifier",
    "unit",
    "range",
    "evidence",
    "start",
    "end",
    "pattern",
)
FACT_NAMES = {
    "organizations": "organization",
    "people": "person",
    "roles": "role",
    "money": "money",
}


@dataclass(slots=True)
class ExportCount:
    articles: int = 0
    facts: int = 0


def article_json(extraction: StoredExtraction) -> dict[str, Any]:
    """One stored article with one run's facts, in the `run --json` shape."""
    article = extraction.article
    return {
        "input": article.source,
        "url": article.canonical_url,
        "title": article.title,
        "author": article.author,
        "published": article.published.isoformat() if article.published else None,
        "language": article.language,
        "site": article.site,
        "content_hash": extraction.content_hash,
        "text": extraction.text,
        **extraction.facts,
        "error": None,
        "skipped": None,
        "article_id": article.id,
        "run_id": extraction.run_id,
        "first_seen": article.first_seen.isoformat(),
        "last_seen": article.last_seen.isoformat(),
    }


def fact_rows(extraction: StoredExtraction) -> Iterator[dict[str, Any]]:
    """The CSV rows of one article: one per fact."""
    article = extraction.article
    base = {
        "run_id": extraction.run_id,
        "article_id": article.id,
        "url": article.canonical_url,
        "input": article.source,
        "title": article.title,
        "published": article.published.isoformat() if article.published else None,
        "site": article.site,
        "language": article.language,
    }
    for fact_type, facts in extraction.facts.items():
        for fact in facts:
            row = {**base, "fact": FACT_NAMES[fact_type]}
            if fact_type in ("organizations", "people"):
                spans = fact.get("spans") or []
                row.update(
                    name=fact["name"],
                    mentions=fact["mentions"],
                    aliases="; ".join(fact.get("aliases") or []),
                    evidence=fact.get("evidence"),
                    start=spans[0][0] if spans else None,
                    end=spans[0][1] if spans else None,
                )
            elif fact_type == "roles":
                row.update({k: fact[k] for k in ("person", "role", "org", "evidence", "pattern")})
                row.update(start=fact["start"], end=fact["end"])
            else:
                row.update(
                    {
                        k: fact[k]
                        for k in ("text", "amount", "currency", "qualifier", "unit", "range")
                    }
                )
                row.update(evidence=fact["context"], start=fact["start"], end=fact["end"])
            yield row


def export(store: Store, fmt: str, out: TextIO, run_id: int | None = None) -> ExportCount:
    """Write every stored article (or those `run_id` read) with its facts to `out`."""
    if fmt not in FORMATS:
        raise ValueError(f"export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    count = ExportCount()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    for extraction in store.extractions(run_id):
        count.articles += 1
        if writer is None:
            out.write(json.dumps(article_json(extraction), ensure_ascii=False) + "\n")
            count.facts += sum(len(v) for v in extraction.facts.values())
            continue
        for row in fact_rows(extraction):
            writer.writerow(row)
            count.facts += 1
    return count
