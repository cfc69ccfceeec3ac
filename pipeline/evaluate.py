"""Measure extraction accuracy against hand-annotated articles (`newsfacts eval`).

A corpus folder holds `<id>.html` (or `<id>.txt`) pages and `<id>.json` annotations in the
format of `../shared/corpus/dev/` (see its README). Each article runs through fetch + clean
+ extract (nothing is stored) and its facts are scored against the annotation:

- organisations, roles (person, title, org) triples, person-organisation pairs and money
  figures: precision, recall and F1 from true/false positives and false negatives summed
  over all articles (micro average); the matching rules are the `*_match` / `score_*`
  functions below;
- body text: 4-gram shingle precision/recall/F1 of the cleaned text against the annotated
  `body_text`, computed the way the public article-extraction-benchmark does
  (scrapinghub/article-extraction-benchmark, evaluate.py).

The scores are pinned as floors in a baseline file (`tests/eval_baseline.json`) that the
test suite enforces; `update_baseline` raises floors and refuses to lower one without a
reason.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from extractors.facts import Facts, Money, Organization, Role
from pipeline.config import Settings
from pipeline.documents import CleanDocument, StageError

if TYPE_CHECKING:
    from pipeline.extract import Extractor

log = logging.getLogger(__name__)

SYNONYMS_FILE = Path(__file__).with_name("eval_synonyms.json")
INPUT_SUFFIXES = (".html", ".htm", ".txt")  # first one present wins
FACT_TYPES = ("organizations", "roles", "person_org", "money")
METRICS = (*FACT_TYPES, "body")  # the F1 scores a baseline pins
TITLE_JACCARD = 0.5  # titles match when their token sets overlap at least this much
MONEY_REL_TOLERANCE = Decimal("1e-6")
SHINGLE_N = 4
GATE_TOLERANCE = 0.0005  # a score may sit this far under its floor (float noise)

G = TypeVar("G")
P = TypeVar("P")


# --- counting --------------------------------------------------------------------------


def precision_score(tp: float, fp: float, fn: float) -> float:
    """tp / (tp + fp); 1.0 when nothing was predicted or missed, 0.0 when nothing predicted.

    The same conventions as the article-extraction-benchmark's `precision_score`.
    """
    if fp == fn == 0:
        return 1.0
    if tp == fp == 0:
        return 0.0
    return tp / (tp + fp)


def recall_score(tp: float, fp: float, fn: float) -> float:
    """tp / (tp + fn), with the same conventions as `precision_score`."""
    if fp == fn == 0:
        return 1.0
    if tp == fn == 0:
        return 0.0
    return tp / (tp + fn)


def f1_score(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


@dataclass(slots=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __iadd__(self, other: Counts) -> Counts:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        return self

    @property
    def precision(self) -> float:
        return precision_score(self.tp, self.fp, self.fn)

    @property
    def recall(self) -> float:
        return recall_score(self.tp, self.fp, self.fn)

    @property
    def f1(self) -> float:
        return f1_score(self.precision, self.recall)

    def to_json(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass(slots=True)
class TypeScore:
    """One fact type in one article: the counts and, for reading, what was missed or wrong."""

    counts: Counts = field(default_factory=Counts)
    missed: list[str] = field(default_factory=list)  # gold facts no prediction matched
    false_positives: list[str] = field(default_factory=list)
    unit_agree: int = 0  # money only: matched figures whose `unit` agrees too


# --- names -----------------------------------------------------------------------------

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
_POSSESSIVE = re.compile(r"(?:'s|(?<=s)')$")
_JOINING_PUNCT = re.compile(r"[.']")  # removed: "U.S." = "US"
_OTHER_PUNCT = re.compile(r"[^\w\s]|_")  # become spaces: "France-Presse" = "France Presse"
_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})


def _fold(text: str) -> str:
    """NFKC, accents removed, case-folded, curly apostrophes made straight."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.casefold().translate(_APOSTROPHES)


def normalize_name(name: str) -> str:
    """The comparison form of an organisation or person name.

    Case-folded, accents removed, a trailing possessive ("Meta's", "Reuters'") dropped,
    full stops and apostrophes removed ("U.S." = "US"), other punctuation made a space,
    whitespace collapsed and a leading "the" dropped ("The Associated Press" =
    "Associated Press").
    """
    text = _POSSESSIVE.sub("", _fold(name).strip())
    text = _OTHER_PUNCT.sub(" ", _JOINING_PUNCT.sub("", text))
    tokens = text.split()
    if len(tokens) > 1 and tokens[0] == "the":
        tokens = tokens[1:]
    return " ".join(tokens)


def org_keys(name: str, aliases: Iterable[str] = ()) -> frozenset[str]:
    """Every normalised form an organisation goes by: its name and its aliases."""
    return frozenset(k for k in (normalize_name(n) for n in (name, *aliases)) if k)


def person_match(predicted: str, gold: str) -> bool:
    """Same person: the normalised full names are equal, or the surnames (last tokens,
    ignoring Jr/Sr/II/III/IV) are equal, case-insensitively."""
    p, g = normalize_name(predicted), normalize_name(gold)
    if not p or not g:
        return False
    return p == g or _surname(p) == _surname(g)


def _surname(normalized: str) -> str:
    tokens = normalized.split()
    while len(tokens) > 1 and tokens[-1] in _NAME_SUFFIXES:
        tokens.pop()
    return tokens[-1]


# --- titles ----------------------------------------------------------------------------


@cache
def title_synonyms(path: Path = SYNONYMS_FILE) -> dict[tuple[str, ...], str]:
    """Phrase (as a token tuple) -> canonical token, from `eval_synonyms.json`."""
    data = json.loads(path.read_text(encoding="utf-8"))
    table: dict[tuple[str, ...], str] = {}
    for canonical, phrases in data.items():
        if canonical.startswith("_"):
            continue
        for phrase in (canonical, *phrases):
            table[tuple(_title_tokens(phrase))] = canonical
    return table


def _title_tokens(title: str) -> list[str]:
    return _OTHER_PUNCT.sub(" ", _JOINING_PUNCT.sub("", _fold(title))).split()


def normalize_title(title: str, synonyms: Mapping[tuple[str, ...], str] | None = None) -> str:
    """Case-folded, punctuation made spaces ("Editor-in-Chief" = "editor in chief") and
    synonym phrases replaced by their canonical token, longest phrase first
    ("chief executive officer" -> "ceo"). Words such as "former" or "acting" are kept."""
    table = title_synonyms() if synonyms is None else synonyms
    longest = max((len(k) for k in table), default=0)
    tokens = _title_tokens(title)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for n in range(min(longest, len(tokens) - i), 0, -1):
            canonical = table.get(tuple(tokens[i : i + n]))
            if canonical is not None:
                out.append(canonical)
                i += n
                break
        else:
            out.append(tokens[i])
            i += 1
    return " ".join(out)


def title_match(predicted: str, gold: str) -> bool:
    """Titles match when equal after `normalize_title`, or when their token sets overlap
    with a Jaccard index of at least 0.5 ("former ceo" ~ "chief executive",
    "vice president" ~ "senior vice president")."""
    p, g = normalize_title(predicted), normalize_title(gold)
    if p == g:
        return True
    ps, gs = set(p.split()), set(g.split())
    return bool(ps | gs) and len(ps & gs) / len(ps | gs) >= TITLE_JACCARD


# --- annotations -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GoldRole:
    person: str
    role: str
    org: str | None
    org_implicit: bool = False
    optional: bool = False


@dataclass(frozen=True, slots=True)
class GoldMoney:
    text: str
    amount: Decimal
    currency: str
    unit: str | None = None
    optional: bool = False


@dataclass(slots=True)
class Annotation:
    """One `<id>.json` of the corpus (only the fields the scores use)."""

    id: str
    organizations: list[str] = field(default_factory=list)
    optional_organizations: list[str] = field(default_factory=list)
    org_aliases: dict[str, list[str]] = field(default_factory=dict)
    roles: list[GoldRole] = field(default_factory=list)
    money: list[GoldMoney] = field(default_factory=list)
    body_text: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any], id: str | None = None) -> Annotation:
        return cls(
            id=id or str(data.get("id", "")),
            organizations=list(data.get("organizations", [])),
            optional_organizations=list(data.get("optional_organizations", [])),
            org_aliases={k: list(v) for k, v in data.get("org_aliases", {}).items()},
            roles=[
                GoldRole(
                    person=r["person"],
                    role=r["role"],
                    org=r.get("org"),
                    org_implicit=bool(r.get("org_implicit", False)),
                    optional=bool(r.get("optional", False)),
                )
                for r in data.get("roles", [])
            ],
            money=[
                GoldMoney(
                    text=m.get("text", ""),
                    amount=Decimal(str(m["amount"])),
                    currency=str(m["currency"]).upper(),
                    unit=m.get("unit"),
                    optional=bool(m.get("optional", False)),
                )
                for m in data.get("money", [])
            ],
            body_text=data.get("body_text") or None,
        )

    @classmethod
    def load(cls, path: Path) -> Annotation:
        # parse_float=Decimal: amounts such as 3.5 stay exact
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        return cls.from_json(data, id=path.stem)

    def gold_org_keys(self, name: str) -> frozenset[str]:
        return org_keys(name, self.org_aliases.get(name, ()))


# --- matching --------------------------------------------------------------------------


def max_matching(
    gold: Sequence[G], predicted: Sequence[P], matches: Callable[[P, G], bool]
) -> dict[int, int]:
    """A largest one-to-one matching (predicted index -> gold index), by augmenting paths.

    One prediction stands for at most one gold fact and the other way round, so a
    prediction that could match two gold facts never hides a second, better pairing.
    """
    edges = [[g for g, gold_item in enumerate(gold) if matches(p, gold_item)] for p in predicted]
    owner: dict[int, int] = {}  # gold index -> predicted index

    def augment(p: int, seen: set[int]) -> bool:
        for g in edges[p]:
            if g in seen:
                continue
            seen.add(g)
            if g not in owner or augment(owner[g], seen):
                owner[g] = p
                return True
        return False

    for p in range(len(predicted)):
        augment(p, set())
    return {p: g for g, p in owner.items()}


def _score(
    gold: Sequence[G],
    optional: Sequence[G],
    predicted: Sequence[P],
    matches: Callable[[P, G], bool],
    show_gold: Callable[[G], str],
    show_predicted: Callable[[P], str],
) -> TypeScore:
    """The rule shared by every fact type.

    Gold and predicted facts are paired one-to-one (`max_matching`): each pair is a true
    positive, each unpaired gold fact a false negative. An unpaired prediction is ignored
    when it matches an optional gold fact, or a gold fact that another prediction already
    matched (the same fact found twice, e.g. under an alias); otherwise it is a false
    positive.
    """
    pairs = max_matching(gold, predicted, matches)
    score = TypeScore()
    score.counts.tp = len(pairs)
    paired_gold = set(pairs.values())
    for g, gold_item in enumerate(gold):
        if g not in paired_gold:
            score.counts.fn += 1
            score.missed.append(show_gold(gold_item))
    for p, item in enumerate(predicted):
        if p in pairs:
            continue
        if any(matches(item, o) for o in optional) or any(matches(item, o) for o in gold):
            continue
        score.counts.fp += 1
        score.false_positives.append(show_predicted(item))
    return score


@dataclass(frozen=True, slots=True)
class _GoldOrg:
    name: str
    keys: frozenset[str]


@dataclass(frozen=True, slots=True)
class _PredOrg:
    name: str
    keys: frozenset[str]


def _predicted_orgs(organizations: Sequence[Organization]) -> list[_PredOrg]:
    seen: set[frozenset[str]] = set()
    out = []
    for org in organizations:
        keys = org_keys(org.name, org.aliases)
        if keys and keys not in seen:
            seen.add(keys)
            out.append(_PredOrg(org.name, keys))
    return out


def score_organizations(gold: Annotation, predicted: Sequence[Organization]) -> TypeScore:
    """Organisations, set-based per article.

    A prediction matches a gold organisation when any of its forms (its name or one of its
    aliases) equals any form of the gold one (its name or an `org_aliases` entry), both
    normalised by `normalize_name`. Each gold organisation counts once. A prediction that
    matches an optional organisation (or one already counted) is ignored; one that matches
    nothing is a false positive.
    """
    required = [_GoldOrg(n, gold.gold_org_keys(n)) for n in dict.fromkeys(gold.organizations)]
    optional = [
        _GoldOrg(n, gold.gold_org_keys(n)) for n in dict.fromkeys(gold.optional_organizations)
    ]
    return _score(
        required,
        optional,
        _predicted_orgs(predicted),
        lambda p, g: bool(p.keys & g.keys),
        lambda g: g.name,
        lambda p: p.name,
    )


@dataclass(frozen=True, slots=True)
class _PredRole:
    person: str
    role: str
    org: str | None
    org_keys: frozenset[str]


def _predicted_roles(
    roles: Sequence[Role], organizations: Sequence[Organization]
) -> list[_PredRole]:
    """Predicted roles, deduplicated; a role's org also goes by the aliases the extractor
    merged into the organisation of that name."""
    known = [org_keys(o.name, o.aliases) for o in organizations]
    seen: set[tuple[str, str, str | None]] = set()
    out = []
    for role in roles:
        keys: frozenset[str] = frozenset()
        if role.org is not None:
            keys = org_keys(role.org)
            keys = keys.union(*(k for k in known if k & keys))
        key = (
            normalize_name(role.person),
            normalize_title(role.role),
            normalize_name(role.org or ""),
        )
        if key not in seen:
            seen.add(key)
            out.append(_PredRole(role.person, role.role, role.org, keys))
    return out


def _org_match(
    predicted: _PredRole, gold_org: str | None, implicit: bool, gold: Annotation
) -> bool:
    """Gold null must be predicted null; a named gold org must be matched through its
    forms; an `org_implicit` gold org accepts either the named org or null."""
    if gold_org is None:
        return predicted.org is None
    if predicted.org is None:
        return implicit
    return bool(predicted.org_keys & gold.gold_org_keys(gold_org))


def score_roles(
    gold: Annotation, roles: Sequence[Role], organizations: Sequence[Organization] = ()
) -> TypeScore:
    """Roles as (person, title, org) triples; optional gold roles are left out.

    A predicted role matches a gold role when the person matches (`person_match`), the
    org matches (`_org_match`) and the titles match (`title_match`).
    """

    def matches(p: _PredRole, g: GoldRole) -> bool:
        return (
            person_match(p.person, g.person)
            and _org_match(p, g.org, g.org_implicit, gold)
            and title_match(p.role, g.role)
        )

    return _score(
        [r for r in gold.roles if not r.optional],
        [r for r in gold.roles if r.optional],
        _predicted_roles(roles, organizations),
        matches,
        lambda g: f"{g.person} · {g.role} · {g.org or '—'}",
        lambda p: f"{p.person} · {p.role} · {p.org or '—'}",
    )


def score_person_org(
    gold: Annotation, roles: Sequence[Role], organizations: Sequence[Organization] = ()
) -> TypeScore:
    """Person-organisation pairs: (person, org) of the non-optional gold roles whose org
    is not null (implicit orgs included), against the pairs of the predicted roles that
    name an org. Person and org match as for roles; the title plays no part."""

    def pairs(items: Iterable[GoldRole]) -> list[GoldRole]:
        out: dict[tuple[str, str | None], GoldRole] = {}
        for r in items:
            if r.org is not None:
                out.setdefault((normalize_name(r.person), r.org), r)
        return list(out.values())

    predicted: dict[tuple[str, str], _PredRole] = {}
    for p in _predicted_roles(roles, organizations):
        if p.org is not None:
            predicted.setdefault((normalize_name(p.person), normalize_name(p.org)), p)

    def matches(p: _PredRole, g: GoldRole) -> bool:
        return person_match(p.person, g.person) and _org_match(p, g.org, False, gold)

    return _score(
        pairs(r for r in gold.roles if not r.optional),
        pairs(r for r in gold.roles if r.optional),
        list(predicted.values()),
        matches,
        lambda g: f"{g.person} · {g.org}",
        lambda p: f"{p.person} · {p.org}",
    )


def amount_match(a: Decimal, b: Decimal) -> bool:
    """Equal within a relative tolerance of 1e-6 (exact Decimal arithmetic)."""
    return abs(a - b) <= MONEY_REL_TOLERANCE * max(abs(a), abs(b))


@dataclass(frozen=True, slots=True)
class _Figure:
    amount: Decimal
    currency: str
    text: str
    units: frozenset[str | None]


def _figures(items: Iterable[tuple[Decimal, str, str, str | None]]) -> list[_Figure]:
    grouped: dict[tuple[Decimal, str], list[tuple[str, str | None]]] = {}
    for amount, currency, text, unit in items:
        grouped.setdefault((amount.normalize(), currency.upper()), []).append((text, unit))
    return [
        _Figure(amount, currency, seen[0][0], frozenset(_unit(u) for _, u in seen))
        for (amount, currency), seen in grouped.items()
    ]


_UNIT_WORDS = {"a": "per", "an": "per", "each": "per"}


def _unit(unit: str | None) -> str | None:
    if not unit:
        return None
    return " ".join(_UNIT_WORDS.get(t, t) for t in _title_tokens(unit)) or None


def unit_agrees(predicted: Iterable[str | None], gold: Iterable[str | None]) -> bool:
    """Units agree when both have none, or the predicted unit's words all occur in the
    gold unit ("per share" ~ "per share"; "a day" ~ "per day ski pass")."""
    for p in predicted:
        for g in gold:
            if p is None and g is None:
                return True
            if p is not None and g is not None and set(p.split()) <= set(g.split()):
                return True
    return False


def score_money(gold: Annotation, predicted: Sequence[Money]) -> TypeScore:
    """Money, set-based per article on (amount, currency): repeated mentions count once.

    Amounts match within a relative tolerance of 1e-6 (`amount_match`) and currencies
    (ISO codes) must be equal. The `unit` is not required to match; matched figures whose
    unit agrees too are counted in `unit_agree`. Predictions that match an optional gold
    figure are ignored.
    """
    required = _figures(
        (m.amount, m.currency, m.text, m.unit) for m in gold.money if not m.optional
    )
    required_keys = {(f.amount, f.currency) for f in required}
    optional = [
        f
        for f in _figures((m.amount, m.currency, m.text, m.unit) for m in gold.money if m.optional)
        if (f.amount, f.currency) not in required_keys
    ]
    figures = _figures((m.amount, m.currency, m.text, m.unit) for m in predicted)

    def matches(p: _Figure, g: _Figure) -> bool:
        return p.currency == g.currency and amount_match(p.amount, g.amount)

    def show(f: _Figure) -> str:
        return f"{f.text} = {format(f.amount, 'f')} {f.currency}"

    score = _score(required, optional, figures, matches, show, show)
    pairs = max_matching(required, figures, matches)
    score.unit_agree = sum(
        1 for p, g in pairs.items() if unit_agrees(figures[p].units, required[g].units)
    )
    return score


# --- body text -------------------------------------------------------------------------

# As in the article-extraction-benchmark: tokens are runs of Unicode word characters,
# case kept; all other characters (spaces, punctuation) only separate tokens.
_TOKEN = re.compile(r"\w+")


def body_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text or "")


def shingles(text: str, n: int = SHINGLE_N) -> Counter[tuple[str, ...]]:
    """The multiset of n-token shingles (every run of n consecutive tokens). A text of
    fewer than n tokens is one shorter shingle; an empty text has none."""
    tokens = body_tokens(text)
    return Counter(
        tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n]
    )


def body_shingle_scores(
    gold: str, predicted: str, n: int = SHINGLE_N
) -> tuple[float, float, float]:
    """(tp, fp, fn) of predicted against gold shingles, counted with multiplicity and
    normalised to sum to 1, so that a long article weighs no more than a short one."""
    true, pred = shingles(gold, n), shingles(predicted, n)
    tp = sum((true & pred).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class BodyScore:
    precision: float
    recall: float
    f1: float
    articles: int
    mean_article_f1: float

    def to_json(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "articles": self.articles,
            "mean_article_f1": round(self.mean_article_f1, 4),
        }


def body_summary(per_article: Sequence[tuple[float, float, float]]) -> BodyScore | None:
    """The benchmark's aggregate: precision is the mean over articles that predicted
    something, recall the mean over articles with gold text, F1 their harmonic mean."""
    if not per_article:
        return None
    precisions = [precision_score(*s) for s in per_article if s[0] + s[1] > 0]
    recalls = [recall_score(*s) for s in per_article if s[0] + s[2] > 0]
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    per_f1 = [f1_score(precision_score(*s), recall_score(*s)) for s in per_article]
    return BodyScore(
        precision, recall, f1_score(precision, recall), len(per_article), sum(per_f1) / len(per_f1)
    )


# --- one article, a whole corpus -------------------------------------------------------


@dataclass(slots=True)
class ArticleResult:
    id: str
    source: str
    scores: dict[str, TypeScore]
    body: tuple[float, float, float] | None = None
    error: str | None = None  # "<stage>: <reason>" when the pipeline failed on it

    @property
    def body_f1(self) -> float | None:
        if self.body is None:
            return None
        return f1_score(precision_score(*self.body), recall_score(*self.body))

    def errors_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            name: {"missed": s.missed, "false_positives": s.false_positives}
            for name, s in self.scores.items()
        }
        if self.body_f1 is not None:
            out["body"] = {"f1": round(self.body_f1, 4)}
        if self.error:
            out["error"] = self.error
        return out


def score_article(
    gold: Annotation, facts: Facts, text: str | None, source: str = "", error: str | None = None
) -> ArticleResult:
    """Every score of one article. `text` is the cleaned body (None if cleaning failed)."""
    scores = {
        "organizations": score_organizations(gold, facts.organizations),
        "roles": score_roles(gold, facts.roles, facts.organizations),
        "person_org": score_person_org(gold, facts.roles, facts.organizations),
        "money": score_money(gold, facts.money),
    }
    body = body_shingle_scores(gold.body_text, text or "") if gold.body_text else None
    return ArticleResult(gold.id, source, scores, body, error)


@dataclass(slots=True)
class EvalReport:
    corpus: str
    articles: list[ArticleResult]
    model: str = ""
    model_version: str = ""
    seconds: float = 0.0  # fetch + clean + extract of all articles
    model_load_seconds: float = 0.0

    def totals(self) -> dict[str, TypeScore]:
        out = {name: TypeScore() for name in FACT_TYPES}
        for article in self.articles:
            for name, score in article.scores.items():
                out[name].counts += score.counts
                out[name].unit_agree += score.unit_agree
        return out

    def body(self) -> BodyScore | None:
        return body_summary([a.body for a in self.articles if a.body is not None])

    def scores(self) -> dict[str, float]:
        """The F1 per metric that a baseline pins (body only when the corpus has bodies)."""
        out = {name: t.counts.f1 for name, t in self.totals().items()}
        body = self.body()
        if body is not None:
            out["body"] = body.f1
        return out

    @property
    def articles_per_second(self) -> float:
        return len(self.articles) / self.seconds if self.seconds > 0 else 0.0

    def to_json(self, show_errors: bool = False) -> dict[str, Any]:
        metrics: dict[str, Any] = {}
        for name, total in self.totals().items():
            metrics[name] = total.counts.to_json()
        metrics["money"]["unit_agree"] = self.totals()["money"].unit_agree
        body = self.body()
        if body is not None:
            metrics["body"] = body.to_json()
        out: dict[str, Any] = {
            "corpus": self.corpus,
            "model": self.model,
            "model_version": self.model_version,
            "articles": len(self.articles),
            "failed": [{"id": a.id, "error": a.error} for a in self.articles if a.error],
            "seconds": round(self.seconds, 2),
            "model_load_seconds": round(self.model_load_seconds, 2),
            "articles_per_second": round(self.articles_per_second, 2),
            "metrics": metrics,
        }
        if show_errors:
            out["errors"] = {a.id: a.errors_json() for a in self.articles}
        return out


def corpus_items(corpus_dir: Path) -> list[tuple[str, Path, Path]]:
    """(id, input page, annotation) for every `<id>.json` with an `<id>.html`/`.htm`
    (else `<id>.txt`) beside it, sorted by id."""
    items = []
    for annotation in sorted(corpus_dir.glob("*.json")):
        page = next((p for s in INPUT_SUFFIXES if (p := annotation.with_suffix(s)).is_file()), None)
        if page is None:
            log.warning("%s has no .html or .txt page beside it; not evaluated", annotation)
            continue
        items.append((annotation.stem, page, annotation))
    return items


def evaluate_corpus(
    corpus_dir: Path, settings: Settings, extractor: Extractor | None = None
) -> EvalReport:
    """Run fetch + clean + extract over the corpus (one `extract_many` batch, nothing
    stored) and score every article. Raises FileNotFoundError for a missing folder and
    ValueError when it holds no annotated article."""
    from pipeline.extract import Extractor, Skipped
    from pipeline.runner import load

    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"corpus folder {corpus_dir} does not exist")
    items = corpus_items(corpus_dir)
    if not items:
        raise ValueError(
            f"no annotated articles in {corpus_dir} (want <id>.json beside <id>.html or <id>.txt)"
        )
    golds = [Annotation.load(annotation) for _, _, annotation in items]

    started = time.perf_counter()
    if extractor is None:
        extractor = Extractor(settings)
    load_seconds = time.perf_counter() - started

    started = time.perf_counter()
    docs: list[CleanDocument | None] = []
    errors: list[str | None] = []
    for _, page, _ in items:
        try:
            docs.append(load(str(page), settings))
            errors.append(None)
        except StageError as exc:
            docs.append(None)
            errors.append(f"{exc.stage}: {exc.reason}")
    loaded = [d for d in docs if d is not None]
    outcomes = iter(extractor.extract_many(loaded))
    seconds = time.perf_counter() - started

    results = []
    for (_, page, _), gold, doc, error in zip(items, golds, docs, errors, strict=True):
        facts = Facts()
        if doc is not None:
            outcome = next(outcomes)
            if isinstance(outcome, StageError):
                error = f"{outcome.stage}: {outcome.reason}"
            elif isinstance(outcome, Skipped):
                error = f"skipped: {outcome.reason}"
            else:
                facts = outcome
        text = doc.text if doc is not None else None
        results.append(score_article(gold, facts, text, str(page), error))
    return EvalReport(
        corpus=str(corpus_dir),
        articles=results,
        model=extractor.model_name,
        model_version=extractor.model_version,
        seconds=seconds,
        model_load_seconds=load_seconds,
    )


# --- for people ------------------------------------------------------------------------

LABELS = {
    "organizations": "organisations",
    "roles": "roles (person, title, org)",
    "person_org": "person–organisation pairs",
    "money": "money (amount, currency)",
}


def render_report(console: Console, report: EvalReport, show_errors: bool = False) -> None:
    """The scores as a table; with `show_errors`, first every miss and false positive."""
    if show_errors:
        for article in report.articles:
            _render_article_errors(console, article)
    table = Table(title=f"newsfacts eval {escape(report.corpus)}", title_justify="left")
    table.add_column("fact type")
    for column in ("precision", "recall", "F1", "TP", "FP", "FN"):
        table.add_column(column, justify="right")
    totals = report.totals()
    for name, total in totals.items():
        c = total.counts
        table.add_row(
            LABELS[name],
            f"{c.precision:.3f}",
            f"{c.recall:.3f}",
            f"[bold]{c.f1:.3f}[/]",
            str(c.tp),
            str(c.fp),
            str(c.fn),
        )
    body = report.body()
    if body is not None:
        table.add_row(
            f"body text ({body.articles} articles)",
            f"{body.precision:.3f}",
            f"{body.recall:.3f}",
            f"[bold]{body.f1:.3f}[/]",
            "",
            "",
            "",
        )
    console.print(table)
    money = totals["money"]
    console.print(
        f"money: the unit agrees on {money.unit_agree} of {money.counts.tp} matched figures",
        highlight=False,
    )
    console.print(
        f"{len(report.articles)} articles in {report.seconds:.1f} s "
        f"({report.articles_per_second:.2f} articles/s; model load "
        f"{report.model_load_seconds:.1f} s more) · model {report.model} {report.model_version}",
        highlight=False,
    )
    failed = [a for a in report.articles if a.error]
    for article in failed:
        console.print(f"[red]{escape(article.id)}: {escape(article.error or '')}[/]")


def _render_article_errors(console: Console, article: ArticleResult) -> None:
    lines: list[str] = []
    for name, score in article.scores.items():
        for item in score.missed:
            lines.append(f"  {LABELS[name].split(' (')[0]:<26} [yellow]missed[/] {escape(item)}")
        for item in score.false_positives:
            lines.append(f"  {LABELS[name].split(' (')[0]:<26} [red]false +[/] {escape(item)}")
    header = f"[bold]{escape(article.id)}[/]"
    if article.body_f1 is not None:
        header += f"  body F1 {article.body_f1:.3f}"
    if article.error:
        header += f"  [red]{escape(article.error)}[/]"
    console.print(header, highlight=False)
    for line in lines or ["  no errors"]:
        console.print(line, highlight=False)


# --- the baseline ----------------------------------------------------------------------


class BaselineError(ValueError):
    """An update would lower a floor and no reason was given."""


def floor3(score: float) -> float:
    """A score rounded down to 3 decimals (0.8768 -> 0.876), ignoring float noise."""
    return math.floor(round(score * 1000, 6)) / 1000


def read_baseline(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else {}


def dump_baseline(baseline: Mapping[str, Any]) -> str:
    return json.dumps(baseline, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def update_baseline(
    baseline: Mapping[str, Any],
    scores: Mapping[str, float],
    *,
    command: str,
    today: date,
    allow_lower: str | None = None,
) -> tuple[dict[str, Any], dict[str, tuple[float | None, float]]]:
    """The baseline with floors set to the current scores rounded down to 3 decimals.

    Returns (new baseline, {metric: (old floor, new floor)} for the floors that moved).
    Raises BaselineError when a floor would go down and `allow_lower` (the reason) is not
    given; with a reason, the lowering is recorded under `lowered` with the date.
    """
    old_floors: dict[str, float] = dict(baseline.get("floors", {}))
    new_floors = dict(old_floors)
    changes: dict[str, tuple[float | None, float]] = {}
    lowered: dict[str, dict[str, float]] = {}
    for metric in METRICS:
        if metric not in scores:
            continue
        new = floor3(scores[metric])
        old = old_floors.get(metric)
        if old is not None and new < old:
            lowered[metric] = {"from": old, "to": new}
        if old is None or new != old:
            changes[metric] = (old, new)
            new_floors[metric] = new
    if lowered and not allow_lower:
        detail = ", ".join(f"{m} {v['from']:.3f} -> {v['to']:.3f}" for m, v in lowered.items())
        raise BaselineError(
            f"refusing to lower floors ({detail}); fix the regression, or pass "
            '--allow-lower "REASON" to lower them on purpose'
        )
    out = dict(baseline)
    out["floors"] = new_floors
    out["measured"] = {m: round(s, 4) for m, s in scores.items() if m in METRICS}
    out["command"] = command
    out["date"] = today.isoformat()
    if lowered:
        out["lowered"] = [
            *baseline.get("lowered", []),
            {"date": today.isoformat(), "reason": allow_lower, "metrics": lowered},
        ]
    return out, changes


def check_floors(scores: Mapping[str, float], floors: Mapping[str, float]) -> list[str]:
    """One message per metric whose score is under its floor by more than GATE_TOLERANCE."""
    problems = []
    for metric, floor in sorted(floors.items()):
        score = scores.get(metric)
        if score is None:
            problems.append(f"{metric}: no score measured (floor {floor:.3f})")
        elif score < floor - GATE_TOLERANCE:
            problems.append(f"{metric} F1 {score:.4f} is below its floor {floor:.3f}")
    return problems
