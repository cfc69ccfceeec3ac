"""Money: currency amounts as exact Decimals with an ISO 4217 currency.

Finds "$80 billion", "US$3.50 a share", "€5m", "R20bn to R50bn", "$40-50 billion",
"about 2 million euros" and "95 cents" in the text with a pattern built from
data/currencies.json, parses the amount without ever going through float, and
keeps the qualifier ("about"), the unit ("per share") and a context window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from spacy.language import Language
from spacy.tokens import Doc

from extractors.facts import Money
from extractors.lexicon import DATA_DIR, read_json

# newsfacts_dollar: the currency of a bare "$" when the caller knows it;
# newsfacts_publication: (site name, page URL) of the article, when the caller knows them
for _name in ("newsfacts_money", "newsfacts_dollar", "newsfacts_publication"):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)

NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
CONTEXT_LEFT_TAGS = {"JJ", "JJR", "JJS", "VBN", "NN", "NNS", "NNP", "NNPS", "CD", "HYPH"}
CONTEXT_STOP_TAGS = {"VBZ", "VBD", "VBP", "MD", "WDT", "WP", ".", ",", ":", "-LRB-", "-RRB-"}


def _alternation(items: list[str]) -> str:
    return "|".join(re.escape(i) for i in sorted(items, key=len, reverse=True))


@dataclass(frozen=True)
class _Figure:
    amount: Decimal
    currency: str


UNIT_ABBREVIATIONS = {"yr": "year", "mo": "month", "hr": "hour", "wk": "week"}


class MoneyParser:
    """Pure text -> Money figures. Usable without spaCy (context is the caller's job)."""

    def __init__(self, data: dict[str, Any], dollar: str = "USD") -> None:
        self.prefixes: dict[str, str] = dict(data["prefixes"])
        self.prefixes["$"] = dollar
        self.codes = set(data["codes"])
        self.words: dict[str, str] = data["words"]
        self.subunits: dict[str, list[Any]] = data["subunits"]
        self.scales: dict[str, int] = data["scales"]
        self.qualifiers: list[str] = data["qualifiers"]
        self.units: list[str] = data["units"]
        prefix = _alternation([*self.prefixes, *self.codes])
        scale = _alternation(list(self.scales))
        word = _alternation([*self.words, *self.subunits])
        amount = rf"(?:{NUMBER})(?:[\s-]?(?i:{scale})\b)?"
        # A prefix that is a letter ("R", "RM", "USD") must not be the end of a word.
        pre = rf"(?<![A-Za-z])(?P<cur>{prefix})\s?"
        self.prefixed = re.compile(
            rf"(?P<neg>[-−–]\s?)?{pre}(?P<a>{amount})"
            rf"(?:\s?(?:-|–|to)\s?(?:(?P=cur)\s?)?(?P<b>{amount}))?"
            rf"(?:\s(?P<code>{_alternation(sorted(self.codes))})\b)?",
        )
        scaled = _alternation(list(data.get("scaled_prefixes", {})))
        self.scaled_prefixes: dict[str, str] = dict(data.get("scaled_prefixes", {}))
        self.scaled = re.compile(
            rf"(?<![A-Za-z])(?P<cur>{scaled})\s?(?P<a>(?:{NUMBER})[\s-]?(?i:{scale})\b)"
            r"(?P<b>(?!))?"  # no ranges: the group only keeps the shape of the others
        )
        self.suffixed = re.compile(
            rf"(?<![\w$£€¥₹.])(?P<a>{amount})(?:\s?(?:-|–|to)\s?(?P<b>{amount}))?"
            rf"[\s-](?P<word>{word})\b",  # "2 million euros", "a 10-million-euro fine"
            re.IGNORECASE,
        )
        self.scale_re = re.compile(rf"^(?P<n>{NUMBER})[\s-]?(?P<s>{scale})?$", re.IGNORECASE)
        countries: dict[str, list[str]] = {
            k: v for k, v in data.get("dollar_countries", {}).items() if not k.startswith("_")
        }
        self.dollar_words = {
            code: re.compile(rf"(?<!\w)(?:{_alternation(words)})(?!\w)")
            for code, words in countries.items()
        }
        self.dollar_domains: dict[str, str] = {
            k: v for k, v in data.get("dollar_domains", {}).items() if not k.startswith("_")
        }
        self.qualifier_re = re.compile(rf"\b({_alternation(self.qualifiers)})\s*$", re.IGNORECASE)
        self.unit_re = re.compile(
            rf"^(?:\s(?:a|an|per|each)\s|/|-(?:a|an|per)-)"
            rf"({_alternation([*self.units, *UNIT_ABBREVIATIONS])})\b"
            r"(?!\s+(?:ago|earlier|later|before)\b)",  # "$5 million a year ago" has no unit
            re.IGNORECASE,
        )

    def amount(self, text: str) -> tuple[Decimal, bool]:
        """'80 billion' -> (Decimal('80000000000'), True). The flag says a scale was given."""
        m = self.scale_re.match(text.strip())
        if m is None:
            raise ValueError(f"not an amount: {text!r}")
        try:
            value = Decimal(m.group("n").replace(",", ""))
        except InvalidOperation:
            raise ValueError(f"not an amount: {text!r}") from None
        scale = m.group("s")
        if scale:
            value = value.scaleb(self.scales[scale.lower()])
        return _plain(value), bool(scale)

    def dollar_of(self, text: str, default: str) -> str:
        """The dollar a bare '$' means in this story: Canadian words outnumbering US words
        in a Canadian story make it CAD, and so on; otherwise the default."""
        counts = {code: len(rx.findall(text)) for code, rx in self.dollar_words.items()}
        us = counts.pop("USD", 0)
        best = max(counts, key=lambda c: counts[c], default=None)
        if best is not None and counts[best] >= 3 and counts[best] > us:
            return best
        # a Canadian site's story about Washington: the story's words win over the site's
        if default != "USD" and us >= 3 and us > counts.get(default, 0):
            return "USD"
        return default

    def publication_dollar(self, site: str | None, url: str | None) -> str | None:
        """The dollar of the publication, when its address or name says: a site under .ca
        or .com.au, "Ottawa Citizen", "The West Australian". None when they do not."""
        host = urlsplit(url).hostname if url else None
        if host:
            found = self.dollar_domains.get(host.rsplit(".", 1)[-1])
            if found:
                return found
        if site:
            named = {code for code, rx in self.dollar_words.items() if rx.search(site)}
            if len(named) == 1:
                return named.pop()
        return None

    def find(self, text: str, dollar: str | None = None) -> list[Money]:
        found: list[Money] = []
        bare = dollar or self.prefixes["$"]
        taken: list[tuple[int, int]] = []
        for m in self.prefixed.finditer(text):
            cur = m.group("cur").strip()
            currency = bare if cur == "$" else self.prefixes.get(cur)
            currency = currency or (cur if cur in self.codes else None)
            if m.group("code"):
                currency = m.group("code")
            if currency is None:
                continue
            found.extend(self._figures(text, m, currency, negative=bool(m.group("neg"))))
            taken.append(m.span())
        for m in self.scaled.finditer(text) if self.scaled_prefixes else ():
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            found.extend(self._figures(text, m, self.scaled_prefixes[m.group("cur")]))
            taken.append(m.span())
        for m in self.suffixed.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            word = m.group("word").lower()
            if word in self.subunits:
                currency, per = self.subunits[word]
                figures = self._figures(text, m, str(currency), divide=int(per))
            else:
                figures = self._figures(text, m, self.words[word])
            found.extend(figures)
        order = {None: 0, "low": 0, "high": 1}
        return sorted(found, key=lambda f: (f.start, order[f.range]))

    def _figures(
        self, text: str, m: re.Match[str], currency: str, negative: bool = False, divide: int = 1
    ) -> list[Money]:
        try:
            low, low_scaled = self.amount(m.group("a"))
            high = self.amount(m.group("b")) if m.group("b") else None
        except ValueError:
            return []
        start = m.start("cur") if "cur" in m.re.groupindex and m.group("cur") else m.start()
        if negative:
            start = m.start()
        end = m.end()
        unit_m = self.unit_re.match(text[end : end + 30])
        unit = None
        if unit_m:  # "$35 an hour", "$12/month", "$80/yr"
            word = unit_m.group(1).lower()
            unit = f"per {UNIT_ABBREVIATIONS.get(word, word)}"
        qual_m = self.qualifier_re.search(text[max(0, start - 20) : start])
        qualifier = qual_m.group(1).lower() if qual_m else None
        written = text[start:end]
        sign = Decimal(-1) if negative else Decimal(1)
        if high is None:
            return [
                Money(
                    written, _plain(sign * low / divide), currency, "", start, end, qualifier, unit
                )
            ]
        high_value, high_scaled = high
        if not low_scaled and high_scaled:
            # "$40-50 billion": the low end takes the high end's scale.
            low = self._rescale(m.group("a"), m.group("b"))
        if low >= high_value or text[max(0, start - 5) : start].lower().endswith("from "):
            # "from $5m to $3m" is a change between two figures, not a range.
            second = m.start("b")
            cur = m.group("cur") if "cur" in m.re.groupindex else None
            if cur and text[second - len(cur) : second] == cur:
                second -= len(cur)
            return [
                Money(
                    m.group(0)[: m.end("a") - m.start()],
                    _plain(sign * low / divide),
                    currency,
                    "",
                    start,
                    m.end("a"),
                    qualifier,
                    None,
                ),
                Money(
                    text[second:end],
                    _plain(high_value / divide),
                    currency,
                    "",
                    second,
                    end,
                    None,
                    unit,
                ),
            ]
        return [
            Money(written, _plain(low / divide), currency, "", start, end, qualifier, unit, "low"),
            Money(
                written,
                _plain(high_value / divide),
                currency,
                "",
                start,
                end,
                qualifier,
                unit,
                "high",
            ),
        ]

    def _rescale(self, low: str, high: str) -> Decimal:
        scale = self.scale_re.match(high.strip())
        assert scale is not None
        return self.amount(f"{low.strip()} {scale.group('s')}")[0]


def _plain(value: Decimal) -> Decimal:
    """Drop exponent noise: Decimal('1.5E+9') -> Decimal('1500000000')."""
    value = value.normalize()
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value


def context_window(doc: Doc, start_char: int, end_char: int) -> str:
    """The noun phrase around a figure and the rest of its clause.

    "... with a combined $80 billion annual allocation towards research and development."
    -> "combined $80 billion annual allocation towards research and development"
    """
    span = doc.char_span(start_char, end_char, alignment_mode="expand")
    if span is None:
        return doc.text[start_char:end_char]
    sent = span.sent
    i = span.start
    while i > sent.start and doc[i - 1].tag_ in CONTEXT_LEFT_TAGS and span.start - i < 4:
        i -= 1
    j = span.end
    while j < sent.end and doc[j].tag_ not in CONTEXT_STOP_TAGS and j - span.end < 12:
        if doc[j].is_space:
            break
        j += 1
    return doc[i:j].text.strip()


class MoneyFinder:
    def __init__(self, data_dir: Path = DATA_DIR, dollar: str = "USD", infer: bool = True) -> None:
        self.parser = MoneyParser(read_json("currencies.json", data_dir), dollar=dollar)
        self.dollar = dollar
        self.infer = infer

    def __call__(self, doc: Doc) -> Doc:
        figures = []
        text = doc.text
        # The caller may know the dollar (doc._.newsfacts_dollar); else the story's own
        # words decide, else the publication's country (doc._.newsfacts_publication: a
        # Canadian site's "$" is CAD), else the configured default.
        default = self.dollar
        if doc._.newsfacts_publication:
            default = self.parser.publication_dollar(*doc._.newsfacts_publication) or default
        dollar = doc._.newsfacts_dollar or (
            self.parser.dollar_of(text, default) if self.infer else self.dollar
        )
        for f in self.parser.find(text, dollar=dollar):
            ctx = context_window(doc, f.start, f.end)
            figures.append(
                Money(
                    f.text,
                    f.amount,
                    f.currency,
                    ctx,
                    f.start,
                    f.end,
                    f.qualifier,
                    f.unit,
                    f.range,
                )
            )
        doc._.newsfacts_money = figures
        return doc


@Language.factory(
    "newsfacts_money",
    requires=["token.tag"],
    assigns=["doc._.newsfacts_money"],
    default_config={"data_dir": None, "dollar": "USD", "infer_dollar": True},
)
def make_money_finder(
    nlp: Language, name: str, data_dir: str | None, dollar: str, infer_dollar: bool
) -> MoneyFinder:
    return MoneyFinder(Path(data_dir) if data_dir else DATA_DIR, dollar=dollar, infer=infer_dollar)
