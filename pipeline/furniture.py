"""Page furniture around the article body: find it in the page, drop it from the text.

trafilatura finds the article's region well but keeps some furniture that sits inside
it: the deck under the headline, fact boxes, pull quotes, related links, captions,
newsletter calls and credit lines. The rules here remove those by pattern, not by
publisher. Their words and line patterns live in ``furniture.json`` next to this file,
so a rule change is a data diff.

Two steps, around trafilatura:

- before: ``mark_furniture`` marks boxes (by class/id words), decks and paragraphs
  that are nothing but a link (related-story links) with ``PRUNE_ATTRIBUTE``; the clean
  stage passes ``PRUNE_XPATH`` to trafilatura, which drops them before extraction;
- after: ``restore_paragraphs`` puts back body paragraphs trafilatura dropped for
  their many inline links, and the line filters drop the headline, an opening
  key-points list, boilerplate lines and lone date lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml.html import HtmlElement

RULES_FILE = Path(__file__).with_name("furniture.json")
PRUNE_ATTRIBUTE = "data-newsfacts-furniture"
PRUNE_XPATH = f"//*[@{PRUNE_ATTRIBUTE}]"

# A box that holds more than this share of the page's paragraph words is the story.
MAX_BOX_SHARE = 0.7
# Tags whose class words are never taken as a box: the story's own containers.
STORY_TAGS = frozenset({"html", "body", "article", "main"})
# Lines longer than this are prose, never a boilerplate line.
MAX_BOILERPLATE_WORDS = 60
# A heading longer than this is a paragraph set in a heading tag, and stays.
MAX_HEADING_WORDS = 25
MAX_BOLD_HEADING_WORDS = 15
# A dropped paragraph is put back only if it reads like body text.
MIN_RESTORED_WORDS = 8
SENTENCE_END = tuple(".!?\"'”’)")
# A line matches the start of a split paragraph only if it is this long (characters).
MIN_PREFIX_CHARS = 20

_CLASS_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_WORD = re.compile(r"\w+")
_DATE_LINE = re.compile(
    r"^(?:\d{1,2}:\d{2}\s*[A-Z]{2,4},?\s*)?"
    r"(?:[A-Za-z]+\.? \d{1,2},? \d{4}|\d{1,2} [A-Za-z]+\.? \d{4})"
    r"(?:,?\s*\d{1,2}:\d{2}\s*(?:[AaPp]\.?[Mm]\.?)?\s*[A-Z]{0,4})?$"
)


@lru_cache(maxsize=1)
def _rules() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    return data


def _word_pattern(words: Iterable[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?:^|-)(?:{alternatives})(?:-|$)")


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], list[re.Pattern[str]]]:
    rules = _rules()
    boilerplate = [
        re.compile(rule["pattern"], re.IGNORECASE)
        for rule in rules["boilerplate_lines"]["patterns"]
    ]
    return (
        _word_pattern(rules["box_words"]["words"]),
        _word_pattern(rules["deck_words"]["words"]),
        _word_pattern(rules["other_story_words"]["words"]),
        boilerplate,
    )


def class_words(element: HtmlElement) -> list[str]:
    """Each class/id token as lower-case words joined by '-' ("imageCaption" -> "image-caption")."""
    tokens = f"{element.get('class') or ''} {element.get('id') or ''}".split()
    return ["-".join(w.lower() for w in _CLASS_WORD.findall(token)) for token in tokens]


def _matches(element: HtmlElement, pattern: re.Pattern[str]) -> bool:
    return any(pattern.search(token) for token in class_words(element))


def _word_count(element: HtmlElement) -> int:
    return len(" ".join(element.itertext()).split())


# --------------------------------------------------------------------------- before extraction


def mark_furniture(tree: HtmlElement) -> int:
    """Mark boxes, decks and link-only paragraphs for pruning; return how many."""
    box, deck, _, _ = _patterns()
    total = sum(_word_count(p) for p in tree.iter("p")) or 1
    marked = 0
    for element in tree.iter():
        if not isinstance(element.tag, str) or element.tag in STORY_TAGS:
            continue
        if (_matches(element, box) or _matches(element, deck)) and not _holds_story(element, total):
            element.set(PRUNE_ATTRIBUTE, "box")
            marked += 1
        elif element.tag in {"p", "li", "h2", "h3", "h4"} and _only_link(element):
            element.set(PRUNE_ATTRIBUTE, "link")
            marked += 1
    return marked


def _holds_story(element: HtmlElement, total_words: int) -> bool:
    """A wrapper of the story whose class happens to say "comments-enabled", "share"..."""
    if next(element.iter("h1", "article", "main"), None) is not None:
        return True
    return _word_count(element) > MAX_BOX_SHARE * total_words


def _only_link(element: HtmlElement) -> bool:
    """A paragraph or list item whose whole text is link text: a related-story link."""
    words = _word_count(element)
    return words > 0 and sum(_word_count(a) for a in element.iter("a")) >= words


def is_marked(element: HtmlElement) -> bool:
    if element.get(PRUNE_ATTRIBUTE):
        return True
    return any(a.get(PRUNE_ATTRIBUTE) for a in element.iterancestors())


def _other_story_box(element: HtmlElement) -> bool:
    _, _, other_story, _ = _patterns()
    return element.tag in {"aside", "nav", "footer"} or _matches(element, other_story)


def in_furniture_box(element: HtmlElement) -> bool:
    """Inside a box about other stories or comments (or nav, aside, footer)."""
    return any(_other_story_box(node) for node in (element, *element.iterancestors()))


# --------------------------------------------------------------------------- after extraction


def norm(text: str | None) -> str:
    """Words only, lower case: how two renderings of one paragraph are compared."""
    return " ".join(_WORD.findall(text or "")).lower()


def restore_paragraphs(tree: HtmlElement, lines: list[str]) -> list[str]:
    """Put back body paragraphs that extraction dropped from between two kept ones.

    trafilatura drops a paragraph whose text is mostly inline links; in an article that
    links a lot, that is body text. A paragraph is put back when it sits (in page
    order) between two extracted paragraphs, in the same kind of container (tag and
    class) as extracted ones, reads like prose and is not furniture.
    """
    keys = [norm(line) for line in lines]
    present = "\n".join(keys)
    found: list[tuple[HtmlElement, str, int | None]] = []
    for p in tree.iter("p"):
        key = norm(p.text_content())
        if key and not is_marked(p):
            found.append((p, key, _last_line(keys, key)))
    hits = [i for i, (_, _, last) in enumerate(found) if last is not None]
    if len(hits) < 2:
        return lines
    body_kinds = {_kind(p) for p, _, last in found if last is not None}
    inserts: dict[int, list[str]] = {}
    previous = found[hits[0]][2]
    for p, key, last in found[hits[0] : hits[-1] + 1]:
        if last is not None:
            previous = last
            continue
        text = " ".join(p.text_content().split())
        if (
            previous is not None
            and _kind(p) in body_kinds
            and len(text.split()) >= MIN_RESTORED_WORDS
            and text.endswith(SENTENCE_END)
            and key not in present
        ):
            inserts.setdefault(previous, []).append(text)
    if not inserts:
        return lines
    restored: list[str] = []
    for i, line in enumerate(lines):
        restored.append(line)
        restored.extend(inserts.get(i, []))
    return restored


def _kind(p: HtmlElement) -> tuple[str, str]:
    parent = p.getparent()
    return ("", "") if parent is None else (str(parent.tag), parent.get("class") or "")


def _last_line(keys: list[str], key: str) -> int | None:
    """Index of the last extracted line of this paragraph (extraction may split at <br>)."""
    for i, line in enumerate(keys):
        if line and (line == key or (len(line) >= MIN_PREFIX_CHARS and key.startswith(line + " "))):
            while i + 1 < len(keys) and keys[i + 1] and keys[i + 1] in key:
                i += 1
            return i
    return None


def drop_headlines(lines: list[str], headlines: Iterable[str | None]) -> list[str]:
    """Leading lines that repeat the headline (h1, og:title, JSON-LD headline, title)."""
    known = {norm(h) for h in headlines if h} - {""}
    start = 0
    while start < len(lines) and norm(lines[start]) in known:
        start += 1
    return lines[start:]


def subheadings(tree: HtmlElement) -> set[str]:
    """The page's section headings (h2-h6), normalised: they structure the article but are
    not its body, like the headline ("What is the OBR?", "A design overhaul")."""
    found = set()
    for heading in tree.iter("h2", "h3", "h4", "h5", "h6"):
        text = norm(heading.text_content())
        if text and len(text.split()) <= MAX_HEADING_WORDS:
            found.add(text)
    # "<p><b>American skiers in Portugal seek European resort prices</b></p>": a short
    # paragraph that is all bold and is no sentence is a heading too (a bold lede is long
    # and ends like a sentence, and stays)
    for para in tree.iter("p"):
        children = list(para)
        whole = para.text_content().strip()
        if (
            len(children) == 1
            and children[0].tag in ("b", "strong")
            and not (para.text or "").strip()
            and not (children[0].tail or "").strip()
            and 0 < len(whole.split()) <= MAX_BOLD_HEADING_WORDS
            and not whole.endswith((".", ":", ";", ","))
        ):
            found.add(norm(whole))
    return found


def drop_subheadings(lines: list[str], headings: set[str]) -> list[str]:
    return [line for line in lines if norm(line) not in headings]


def drop_key_points(lines: list[str]) -> list[str]:
    """A bullet list that opens the body, before its first paragraph: a key-points summary."""
    start = 0
    while start < len(lines) and lines[start].startswith("- "):
        start += 1
    return lines[start:] if start < len(lines) else lines


def is_boilerplate(line: str) -> bool:
    """A line of site furniture: newsletter call, credit line, ad label, copyright..."""
    if len(line.split()) > MAX_BOILERPLATE_WORDS:
        return False
    *_, boilerplate = _patterns()
    return any(pattern.search(line) for pattern in boilerplate)


def is_date_line(line: str) -> bool:
    """A line that is only a date (and time): the page's dateline, not body."""
    return bool(_DATE_LINE.match(line))
