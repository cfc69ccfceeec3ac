"""How results look to people (rich tables) and to programs (the JSON contract)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from extractors.facts import Facts
from pipeline.factjson import money_json, role_json
from pipeline.runner import Result


def facts_json(facts: Facts) -> dict[str, list[dict[str, Any]]]:
    return {
        "organizations": [
            {
                "name": o.name,
                "mentions": len(o.mentions),
                "aliases": sorted(a for a in o.aliases if a != o.name),
                "spans": [[m.start, m.end] for m in o.mentions],
            }
            for o in facts.organizations
        ],
        "people": [
            {
                "name": p.name,
                "mentions": len(p.mentions),
                "spans": [[m.start, m.end] for m in p.mentions],
            }
            for p in facts.people
        ],
        "roles": [role_json(r) for r in facts.roles],
        "money": [money_json(m) for m in facts.money],
    }


def result_json(result: Result) -> dict[str, Any]:
    """One object of the `newsfacts run --json` contract (see design.md)."""
    doc = result.doc
    obj: dict[str, Any] = {
        "input": result.source,
        "url": doc.url if doc else None,
        "title": doc.title if doc else None,
        "author": doc.author if doc else None,
        "published": doc.published.isoformat() if doc and doc.published else None,
        "language": doc.language if doc else None,
        "site": doc.site if doc else None,
        "content_hash": doc.content_hash if doc else None,
        "text": doc.text if doc else None,
        "error": str(result.error) if result.error else None,
        "skipped": result.skipped,
        "article_id": result.article_id,
    }
    facts = result.facts if result.facts is not None and result.error is None else Facts()
    obj.update(facts_json(facts))
    return obj


def render(console: Console, result: Result) -> None:
    """A human summary of one input: organisations, people with roles, money."""
    if result.error is not None:
        console.print(f"[bold red]✗ {result.source}[/]  {result.error}")
        return
    doc, facts = result.doc, result.facts or Facts()
    title = (doc.title if doc else None) or result.source
    meta = " · ".join(
        x
        for x in (
            doc.author if doc else None,
            str(doc.published) if doc and doc.published else None,
        )
        if x
    )
    console.print(f"[bold green]✓[/] [bold]{title}[/]" + (f"  [dim]{meta}[/]" if meta else ""))
    if result.skipped:
        console.print(f"  [yellow]skipped:[/] {result.skipped}")
        return
    orgs = Table(title="Organisations", title_justify="left", show_edge=False)
    orgs.add_column("organisation")
    orgs.add_column("mentions", justify="right")
    for o in facts.organizations:
        orgs.add_row(o.name, str(len(o.mentions)))
    roles = Table(title="People and roles", title_justify="left", show_edge=False)
    for col in ("person", "role", "organisation"):
        roles.add_column(col)
    with_role = set()
    for r in facts.roles:
        roles.add_row(r.person, r.role, r.org or "—")
        with_role.add(r.person)
    for p in facts.people:
        if p.name not in with_role:
            roles.add_row(p.name, "—", "—")
    money = Table(title="Money", title_justify="left", show_edge=False)
    for col in ("as written", "amount", "currency", "context"):
        money.add_column(col)
    for m in facts.money:
        amount = f"{m.amount:,f}" + (f" ({m.range})" if m.range else "")
        money.add_row(m.text, amount, m.currency, m.context)
    for table, rows in (
        (orgs, facts.organizations),
        (roles, facts.roles or facts.people),
        (money, facts.money),
    ):
        if rows:
            console.print(table)
    console.print()
