"""`newsfacts diff --html FILE`: the comparison as one self-contained HTML page.

A summary, an index of the articles that differ, then per article the facts added,
removed and changed side by side (OLD | NEW, the changed fields marked) with their
evidence sentences, and the two texts with their entities highlighted by spaCy's
displaCy: entities of facts only OLD has are struck through, those only NEW has are
outlined green, changed ones amber. Each fact links to its first mention in the text.

Safety: the page runs no script and loads nothing. Everything that comes from an
article (names, titles, text, URLs) is escaped: Jinja2 autoescaping for the page,
displaCy's own escaping for the texts; only http(s) URLs become links; and a
Content-Security-Policy forbids scripts and remote content should anything slip by.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup
from spacy import displacy

from pipeline.review import (
    FACT_LABELS,
    ArticleDiff,
    ArticleRecord,
    DiffReport,
    FactChange,
    FactDict,
    Side,
    evidence_of,
)

# displaCy's own colours for these labels
ENTITY_COLORS = {"ORG": "#7aecec", "PERSON": "#aa9cfc", "MONEY": "#e4e7d2"}
ENTITY_LABELS = {"organizations": "ORG", "people": "PERSON", "money": "MONEY"}
STATE_MARKS = {"same": "", "added": " +", "removed": " −", "changed": " ~"}
STATUS_LABELS = {
    "changed": "changed",
    "unchanged": "unchanged",
    "only_old": "only in OLD",
    "only_new": "only in NEW",
}
SIGNS = {"added": "+", "removed": "−", "changed": "~"}
ENT_TEMPLATE = (
    '<mark class="entity {state}" id="{anchor}" title="{tip}" style="background: {bg}">'
    '{text}<span class="entity-label">{label}</span></mark>'
)
MAX_ARTICLES = 2000  # sections in one page; the index says when there were more


def render_html(
    report: DiffReport,
    *,
    generated: datetime | None = None,
    csp: bool = True,
    max_articles: int = MAX_ARTICLES,
) -> str:
    """The report page. `csp=False` leaves out the Content-Security-Policy (tests use it to
    check that escaping alone keeps article content inert)."""
    env = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    template = env.from_string(_resource("report.html"))
    summary = report.summary()
    different = report.different()
    shown = different[:max_articles]
    views = [_article_view(n, a, report.types) for n, a in enumerate(shown, 1)]
    for i, view in enumerate(views):
        view["prev"] = views[i - 1]["anchor"] if i > 0 else None
        view["next"] = views[i + 1]["anchor"] if i + 1 < len(views) else None
    unchanged = [
        {"title": a.label, "where": a.record.url or a.record.input or ""}
        for a in report.articles
        if a.status == "unchanged"
    ]
    return template.render(
        page_title=f"newsfacts diff: {report.old.describe} → {report.new.describe}",
        generated=(generated or datetime.now(UTC)).isoformat(timespec="seconds"),
        csp=csp,
        css=Markup(_resource("report.css")),  # our own file, not escaped
        fact_types=[FACT_LABELS[t] for t in report.types],
        type_labels=[FACT_LABELS[t] for t in report.types],
        sides=[_side_view("OLD", report.old), _side_view("NEW", report.new)],
        summary=summary,
        fact_summary=[{"label": FACT_LABELS[t], **summary.facts[t]} for t in report.types],
        articles=views,
        truncated=len(different) if len(different) > len(shown) else 0,
        unchanged=unchanged,
        legend=_legend(),
    )


def _resource(name: str) -> str:
    return files("pipeline").joinpath(name).read_text(encoding="utf-8")


def _side_view(name: str, side: Side) -> dict[str, Any]:
    labels = {
        "run_id": "run",
        "database": "database",
        "kind": "kind",
        "started_at": "started",
        "status": "status",
        "code_version": "code version",
        "model": "model",
        "config_hash": "config hash",
        "files": "golden files",
    }
    details = [(labels.get(k, k), v) for k, v in side.details.items()]
    if side.repeated:
        details.append(("repeated records", f"{side.repeated} ignored (the last one is used)"))
    return {"name": name, "describe": side.describe, "count": len(side.records), "details": details}


def _legend() -> list[dict[str, str]]:
    return [
        {"text": "IBM", "label": "ORG", "state": "same", "bg": ENTITY_COLORS["ORG"]},
        {"text": "Jane Doe", "label": "PERSON", "state": "same", "bg": ENTITY_COLORS["PERSON"]},
        {"text": "$5 million", "label": "MONEY", "state": "same", "bg": ENTITY_COLORS["MONEY"]},
        {"text": "only in NEW", "label": "ORG +", "state": "added", "bg": ENTITY_COLORS["ORG"]},
        {"text": "only in OLD", "label": "ORG −", "state": "removed", "bg": ENTITY_COLORS["ORG"]},
        {"text": "changed", "label": "ORG ~", "state": "changed", "bg": ENTITY_COLORS["ORG"]},
    ]


def safe_href(url: str | None) -> str | None:
    """A URL fit for a link: http(s) only (never javascript:, data:, file:, ...)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


# --- one article -----------------------------------------------------------------------


@dataclass(slots=True)
class _Pane:
    html: Markup | None
    note: str | None
    links: dict[int, str]  # id(fact) -> anchor of its first highlighted mention


def _article_view(n: int, article: ArticleDiff, types: Sequence[str]) -> dict[str, Any]:
    anchor = f"a{n}"
    states = _fact_states(article)
    old_pane = _pane(article.old, states, f"{anchor}-old", "old")
    new_pane = _pane(article.new, states, f"{anchor}-new", "new")
    record = article.record
    where: list[tuple[str, str, str | None]] = []
    if record.url:
        where.append(("url", record.url, safe_href(record.url)))
    inputs = {r.input for r in (article.old, article.new) if r is not None and r.input}
    for name, side in (("OLD", article.old), ("NEW", article.new)):
        if side is not None and side.input and side.input != side.url:
            label = "input" if len(inputs) == 1 else f"{name} input"
            where.append((label, side.input, safe_href(side.input)))
            if len(inputs) == 1:
                break
    for name, side in (("OLD", article.old), ("NEW", article.new)):
        if side is not None and side.origin:
            where.append((f"{name} from", side.origin, None))
    if article.paired_by:
        where.append(("paired by", article.paired_by, None))
    return {
        "n": n,
        "anchor": anchor,
        "title": record.title or record.url or record.input or "(untitled)",
        "status": article.status,
        "status_label": STATUS_LABELS[article.status],
        "where": where,
        "notes": _notes(article),
        "counts": [article.counts()[t] for t in types],
        "groups": _groups(article, types, old_pane, new_pane),
        "panes": _panes(article, old_pane, new_pane, anchor),
    }


def _notes(article: ArticleDiff) -> list[dict[str, str]]:
    notes = []
    old, new = article.old, article.new
    if old is not None and old.error:
        fixed = new is not None and not new.error
        notes.append({"cls": "fixed" if fixed else "error", "text": f"OLD failed: {old.error}"})
    if new is not None and new.error:
        notes.append({"cls": "error", "text": f"NEW failed: {new.error}"})
    if article.error_changed:
        notes.append(
            {"cls": "", "text": "A failed input is compared on its error, not fact by fact."}
        )
    if old is not None and old.skipped:
        notes.append({"cls": "", "text": f"OLD skipped: {old.skipped}"})
    if new is not None and new.skipped:
        notes.append({"cls": "", "text": f"NEW skipped: {new.skipped}"})
    if article.text_changed:
        notes.append(
            {
                "cls": "",
                "text": "The text changed between OLD and NEW (another content hash): "
                "facts are compared, not their positions.",
            }
        )
    return notes


def _fact_states(article: ArticleDiff) -> dict[int, str]:
    """id(fact dict) -> its state in the text: added, removed or changed (else same)."""
    states: dict[int, str] = {}
    for change in article.changes:
        for fact in (change.old, change.new):
            if fact is not None:
                states[id(fact)] = change.op
    return states


def _pane(record: ArticleRecord | None, states: dict[int, str], prefix: str, side: str) -> _Pane:
    if record is None:
        return _Pane(None, None, {})
    if record.error:
        return _Pane(None, f"Failed: {record.error}", {})
    text = record.text
    if text is None:
        return _Pane(None, "The text this side read is not available.", {})
    candidates: list[tuple[int, int, str, FactDict]] = []
    for fact_type, label in ENTITY_LABELS.items():
        for fact in record.facts.get(fact_type, []):
            for start, end in _fact_spans(fact):
                candidates.append((start, end, label, fact))
    if not _spans_fit(text, record):
        body = displacy.render(
            {"text": text, "ents": [], "title": None}, style="ent", manual=True, jupyter=False
        )
        return _Pane(
            Markup(body),  # displaCy escapes the text
            "The facts' offsets do not fit this text, so nothing is highlighted.",
            {},
        )
    candidates.sort(key=lambda c: (c[0], -(c[1] - c[0])))
    ents: list[dict[str, Any]] = []
    links: dict[int, str] = {}
    last_end = 0
    for start, end, label, fact in candidates:
        if start < last_end:  # displaCy draws no overlapping entities: the first wins
            continue
        state = states.get(id(fact), "same")
        anchor = f"{prefix}-e{len(ents)}"
        links.setdefault(id(fact), anchor)
        tip = _tip(label, fact, state, side)
        ents.append(
            {
                "start": start,
                "end": end,
                "label": label + STATE_MARKS[state],
                "params": {
                    "state": state,
                    "anchor": anchor,
                    "tip": html.escape(tip, quote=True),
                    "bg": ENTITY_COLORS[label],
                },
            }
        )
        last_end = end
    for role in record.facts.get("roles", []):
        inside = next(
            (
                e
                for e in ents
                if e["start"] < role.get("end", -1) and role.get("start", -1) < e["end"]
            ),
            None,
        )
        if inside is not None:
            links[id(role)] = inside["params"]["anchor"]
    body = displacy.render(
        {"text": text, "ents": ents, "title": None},
        style="ent",
        manual=True,
        jupyter=False,
        options={"template": ENT_TEMPLATE},
    )
    return _Pane(Markup(body), None, links)  # displaCy escaped the text, we the params


def _tip(label: str, fact: FactDict, state: str, side: str) -> str:
    what = {"same": "in both", "added": "only in NEW", "removed": "only in OLD"}.get(
        state, f"changed ({side} value)"
    )
    name = fact.get("name") or fact.get("text") or ""
    extra = f" = {fact['amount']} {fact['currency']}" if label == "MONEY" else ""
    return f"{label} {name}{extra}: {what}"


def _fact_spans(fact: FactDict) -> list[tuple[int, int]]:
    out = []
    spans = fact.get("spans") or [] if "spans" in fact else [[fact.get("start"), fact.get("end")]]
    for span in spans:
        if (
            isinstance(span, list | tuple)
            and len(span) == 2
            and isinstance(span[0], int)
            and isinstance(span[1], int)
        ):
            out.append((span[0], span[1]))
    return out


def _spans_fit(text: str, record: ArticleRecord) -> bool:
    """Whether the facts' offsets point into this text (a money figure's span must be
    what it says it is); else the text is another version than the one they came from."""
    for fact_type in ("organizations", "people", "roles", "money"):
        for fact in record.facts.get(fact_type, []):
            for start, end in _fact_spans(fact):
                if not 0 <= start < end <= len(text):
                    return False
    for fact in record.facts.get("money", []):
        spans = _fact_spans(fact)
        if spans and fact.get("text") and text[spans[0][0] : spans[0][1]] != fact["text"]:
            return False
    return True


def _panes(article: ArticleDiff, old: _Pane, new: _Pane, anchor: str) -> list[dict[str, Any]]:
    panes = []
    for name, record, pane, side in (
        ("OLD", article.old, old, "old"),
        ("NEW", article.new, new, "new"),
    ):
        if record is None:
            continue
        if pane.html is None and pane.note is None:
            continue
        panes.append(
            {
                "title": f"{name} text · {record.origin}",
                "html": pane.html or "",
                "note": pane.note,
                "anchor": f"{anchor}-{side}",
            }
        )
    return panes


def _groups(
    article: ArticleDiff, types: Sequence[str], old: _Pane, new: _Pane
) -> list[dict[str, Any]]:
    groups = []
    old_text = article.old.text if article.old is not None else None
    new_text = article.new.text if article.new is not None else None
    for fact_type in types:
        rows = []
        for change in article.changes_of(fact_type):
            rows.append(_row(change, old, new, old_text, new_text))
        if rows:
            groups.append({"label": FACT_LABELS[fact_type], "rows": rows})
    return groups


def _row(
    change: FactChange, old: _Pane, new: _Pane, old_text: str | None, new_text: str | None
) -> dict[str, Any]:
    t = change.type
    old_evidence = evidence_of(t, change.old, old_text) if change.old is not None else None
    new_evidence = evidence_of(t, change.new, new_text) if change.new is not None else None
    if change.op == "changed" and old_evidence == new_evidence:
        old_evidence = None  # said once, on the NEW side
    return {
        "op": change.op,
        "sign": SIGNS[change.op],
        "old": _fields(t, change.old, change.fields) if change.old is not None else None,
        "new": _fields(t, change.new, change.fields) if change.new is not None else None,
        "old_link": old.links.get(id(change.old)) if change.old is not None else None,
        "new_link": new.links.get(id(change.new)) if change.new is not None else None,
        "old_evidence": old_evidence,
        "new_evidence": new_evidence,
    }


def _fields(fact_type: str, fact: FactDict, changed: Sequence[str]) -> list[dict[str, Any]]:
    def field(key: str, value: Any, *names: str) -> dict[str, Any]:
        return {"key": key, "value": value, "changed": any(n in changed for n in names)}

    if fact_type == "organizations":
        out = [field("", fact["name"], "name")]
        if fact.get("aliases"):
            out.append(field("aka", ", ".join(fact["aliases"]), "aliases"))
        out.append(field("mentions", fact.get("mentions"), "mentions"))
        return out
    if fact_type == "people":
        return [
            field("", fact["name"], "name"),
            field("mentions", fact.get("mentions"), "mentions"),
        ]
    if fact_type == "roles":
        out = [
            field("", fact.get("person"), "person"),
            field("title", fact.get("role"), "role"),
            field("at", fact.get("org") or "(no organisation)", "org"),
        ]
        if fact.get("pattern"):
            out.append(field("rule", fact["pattern"]))
        return out
    out = [
        field("", fact.get("text"), "text"),
        field("=", f"{fact.get('amount')} {fact.get('currency')}", "amount", "currency"),
    ]
    for key in ("qualifier", "unit", "range"):
        if fact.get(key) or key in changed:
            out.append(field(key, fact.get(key) or "∅", key))
    return out
