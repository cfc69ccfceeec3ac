"""`newsfacts diff` on a terminal: per article the facts added (+), removed (-) and
changed (~), coloured like `git diff`, then a summary.

Everything an article brings (names, titles, sentences) goes out as plain rich Text,
never as markup, with control characters removed: an article cannot restyle or
scramble a reviewer's terminal.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rich.console import Console
from rich.text import Text

from pipeline.review import (
    FACT_LABELS,
    ArticleDiff,
    DiffReport,
    FactChange,
    FactDict,
    Side,
    Summary,
    evidence_of,
)

ADDED, REMOVED, CHANGED = "green", "red", "yellow"
HEADER = "bold cyan"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

Part = tuple[str, str | None]  # (text, style)


def clean(value: object) -> str:
    """One line of display text: whitespace collapsed, control characters (ANSI escape
    sequences, bidi overrides) replaced."""
    return _CONTROL.sub("\N{REPLACEMENT CHARACTER}", " ".join(str(value).split()))


def render_diff(
    console: Console, report: DiffReport, *, stat: bool = False, evidence: bool = True
) -> None:
    _side_header(console, "---", "OLD", report.old)
    _side_header(console, "+++", "NEW", report.new)
    different = report.different()
    if stat and different:
        console.print()
    for article in different:
        if stat:
            _stat_line(console, article)
        else:
            console.print()
            _article(console, article, evidence)
    console.print()
    for line in summary_lines(report.summary(), report.types):
        console.print(line)


def _side_header(console: Console, marker: str, name: str, side: Side) -> None:
    line = Text(f"{marker} {name} ", style="bold")
    line.append(clean(side.describe), style="bold")
    extra = [f"{len(side.records)} articles"]
    if side.kind == "run":
        extra.append(f"{side.details['model']}, config {side.details['config_hash']}")
        extra.append(f"started {side.details['started_at']}")
        if side.details.get("status") != "finished":
            extra.append(side.details.get("status", ""))
    if side.repeated:
        extra.append(f"{side.repeated} repeated records ignored (the last one is used)")
    line.append("  (" + "; ".join(extra) + ")", style="dim")
    console.print(line)


def _article_header(article: ArticleDiff) -> Text:
    record = article.record
    line = Text("@@ ", style=HEADER)
    line.append(clean(record.title or record.url or record.input or "(untitled)"), style=HEADER)
    line.append(" @@", style=HEADER)
    where = record.url or record.input
    if where and where != record.title:
        line.append("  " + clean(where), style="dim")
    notes = []
    if article.status == "only_old":
        notes.append("only in OLD")
    elif article.status == "only_new":
        notes.append("only in NEW")
    elif article.paired_by not in (None, "article", "url", "input"):
        notes.append(f"paired by {article.paired_by}")
    if article.text_changed:
        notes.append("text changed")
    if notes:
        line.append("  [" + ", ".join(notes) + "]", style="magenta")
    return line


def _article(console: Console, article: ArticleDiff, evidence: bool) -> None:
    console.print(_article_header(article))
    old, new = article.old, article.new
    if article.error_changed and old is not None and new is not None:
        if old.error:
            console.print(Text("- failed: " + clean(old.error), style=REMOVED))
        if new.error:
            console.print(Text("+ failed: " + clean(new.error), style=ADDED))
        if not new.error:
            console.print(Text("  (fixed in NEW; its facts are not compared)", style="dim"))
        return
    if article.skipped_changed and old is not None and new is not None:
        if old.skipped:
            console.print(Text("- skipped: " + clean(old.skipped), style=REMOVED))
        if new.skipped:
            console.print(Text("+ skipped: " + clean(new.skipped), style=ADDED))
    if article.status in ("only_old", "only_new"):
        record = article.record
        if record.error:
            console.print(Text("  failed: " + clean(record.error), style="dim"))
            return
    current_type = None
    for change in article.changes:
        if change.type != current_type:
            current_type = change.type
            console.print(Text(" " + FACT_LABELS[change.type], style="bold"))
        console.print(fact_line(change))
        if evidence:
            seen = new if change.new is not None else old
            sentence = evidence_of(change.type, change.fact, seen.text if seen else None, 200)
            if sentence:
                console.print(Text("     “" + clean(sentence) + "”", style="dim"))


def fact_line(change: FactChange) -> Text:
    sign, style = {"added": ("+", ADDED), "removed": ("-", REMOVED), "changed": ("~", CHANGED)}[
        change.op
    ]
    line = Text(f" {sign} ", style=style)
    parts = FORMATTERS[change.type](change.old, change.new)
    for text, part_style in parts:
        line.append(text, style=part_style or style)
    return line


def _pair(
    old: FactDict | None, new: FactDict | None, render: Callable[[FactDict], str]
) -> list[Part]:
    """One field (cleaned for display): as it is, or `old → new` when it changed."""
    if old is None or new is None:
        fact = new if new is not None else old
        assert fact is not None
        return [(clean(render(fact)), None)]
    a, b = clean(render(old)), clean(render(new))
    if a == b:
        return [(a, None)]
    return [(a or "∅", f"{REMOVED} strike"), (" → ", "dim"), (b or "∅", f"bold {ADDED}")]


def _join(*groups: list[Part]) -> list[Part]:
    out: list[Part] = []
    for group in groups:
        if not group or all(not t for t, _ in group):
            continue
        if out:
            out.append((" · ", "dim"))
        out.extend(group)
    return out


def _mentions(n: object) -> str:
    return f"{n} mention" + ("" if n == 1 else "s")


def _org(old: FactDict | None, new: FactDict | None) -> list[Part]:
    return _join(
        _pair(old, new, lambda f: str(f["name"])),
        _pair(old, new, lambda f: "aka " + ", ".join(f["aliases"]) if f.get("aliases") else ""),
        _pair(old, new, lambda f: _mentions(f.get("mentions"))),
    )


def _person(old: FactDict | None, new: FactDict | None) -> list[Part]:
    return _join(
        _pair(old, new, lambda f: str(f["name"])),
        _pair(old, new, lambda f: _mentions(f.get("mentions"))),
    )


def _role(old: FactDict | None, new: FactDict | None) -> list[Part]:
    return _join(
        _pair(old, new, lambda f: str(f["person"])),
        _pair(old, new, lambda f: str(f["role"])),
        _pair(old, new, lambda f: str(f["org"]) if f.get("org") else "(no organisation)"),
    )


def _money(old: FactDict | None, new: FactDict | None) -> list[Part]:
    def extras(f: FactDict) -> str:
        bits = [f.get("qualifier"), f.get("unit"), f"{f['range']} end" if f.get("range") else None]
        return ", ".join(str(b) for b in bits if b)

    return _join(
        _pair(old, new, lambda f: str(f["text"])),
        _pair(old, new, lambda f: f"{f['amount']} {f['currency']}"),
        _pair(old, new, extras),
    )


FORMATTERS: dict[str, Callable[[FactDict | None, FactDict | None], list[Part]]] = {
    "organizations": _org,
    "people": _person,
    "roles": _role,
    "money": _money,
}


def _stat_line(console: Console, article: ArticleDiff) -> None:
    line = _article_header(article)
    counts = article.counts()
    bits = Text()
    for fact_type, c in counts.items():
        if not any(c.values()):
            continue
        if bits:
            bits.append(" · ", style="dim")
        bits.append(FACT_LABELS[fact_type] + " ")
        bits.append(f"+{c['added']}", style=ADDED)
        bits.append(" ")
        bits.append(f"-{c['removed']}", style=REMOVED)
        bits.append(" ")
        bits.append(f"~{c['changed']}", style=CHANGED)
    if article.error_changed:
        bits.append("failed in NEW" if article.new and article.new.error else "fixed in NEW")
    console.print(line)
    console.print(Text("   ").append_text(bits))


def summary_lines(summary: Summary, types: tuple[str, ...]) -> list[Text]:
    first = Text(f"{summary.compared} articles compared: ", style="bold")
    first.append(f"{summary.changed} changed", style=CHANGED if summary.changed else None)
    first.append(f", {summary.compared - summary.changed} unchanged")
    first.append(" · ")
    first.append(f"{summary.only_old} only in OLD", style=REMOVED if summary.only_old else None)
    first.append(" · ")
    first.append(f"{summary.only_new} only in NEW", style=ADDED if summary.only_new else None)
    extra = []
    if summary.text_changed:
        extra.append(f"{summary.text_changed} with another text")
    if summary.failed:
        extra.append(f"{summary.failed} failed in NEW")
    if summary.fixed:
        extra.append(f"{summary.fixed} fixed in NEW")
    if extra:
        first.append(" (" + ", ".join(extra) + ")")
    second = Text()
    for fact_type in types:
        c = summary.facts[fact_type]
        if second:
            second.append(" · ", style="dim")
        second.append(FACT_LABELS[fact_type] + " ")
        second.append(f"+{c['added']}", style=ADDED if c["added"] else "dim")
        second.append(" ")
        second.append(f"-{c['removed']}", style=REMOVED if c["removed"] else "dim")
        second.append(" ")
        second.append(f"~{c['changed']}", style=CHANGED if c["changed"] else "dim")
        second.append(f" ({c['unchanged']} same)", style="dim")
    return [first, second]
