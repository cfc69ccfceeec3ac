"""Role titles in text: "chief executive", "head of global affairs", "Sen.",
"senior North American economist", "director and senior economist".

A title is a run of title words (data/titles.json: modifiers, lower-case nouns and
adjectives, nationality words) that ends on a head word, optionally followed by
"of"/"for" and a few lower-case words. "and" joins two titles of one person.
Hyphenated compounds ("co-founder", "Editor-in-Chief") count as one word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from spacy.tokens import Doc, Token

from extractors.lexicon import DATA_DIR, read_json

FILLER_TAGS = {"JJ", "NN", "NNS", "VBN"}
# Words that cannot describe an organisation ("at", "the", "and", "who", ...)
NOT_DESCRIPTOR = {"IN", "DT", "CC", "TO", "PRP", "PRP$", "WDT", "WP", "MD", ",", "."}


@dataclass(frozen=True, slots=True)
class Title:
    start: int
    end: int
    text: str
    parts: tuple[str, ...]  # "director and senior economist" -> two titles


class TitleFinder:
    def __init__(self, data_dir: Path = DATA_DIR) -> None:
        data = read_json("titles.json", data_dir)
        self.heads = set(data["heads"])
        self.modifiers = set(data["modifiers"])
        self.led_verbs: dict[str, str] = data["led_verbs"]
        self.honorifics = {h.lower() for h in data["honorifics"]}
        self.ranks = {r.lower() for r in data.get("ranks", [])}
        company = data.get("company_titles", {})
        self.company_heads = set(company.get("heads", []))
        self.company_patterns = [re.compile(p) for p in company.get("patterns", [])]

    def is_company_title(self, title: str) -> bool:
        """'CEO', 'co-founder', 'chief product officer': a title only a company has."""
        words = title.lower().split()
        if not words:
            return False
        text = " ".join(words)
        return words[-1] in self.company_heads or any(
            p.fullmatch(text) or p.fullmatch(" ".join(words[1:])) for p in self.company_patterns
        )

    def find(self, doc: Doc) -> list[Title]:
        found: list[Title] = []
        i = 0
        while i < len(doc):
            title = self.title_at(doc, i)
            if title is None:
                i += 1
                continue
            found.append(title)
            i = title.end
        return found

    def _word(self, doc: Doc, i: int) -> tuple[str, int]:
        """The word at token i and where it ends: 'co-founder' and 'Editor-in-Chief' are one."""
        k = i + 1
        while (
            k + 1 < len(doc)
            and doc[k].text in ("-", "–")
            and doc[k - 1].whitespace_ == ""
            and doc[k].whitespace_ == ""
            and doc[k + 1].is_alpha
        ):
            k += 2
        return doc[i:k].text.lower(), k

    def _is_head(self, word: str) -> bool:
        return word in self.heads or word.split("-")[-1] in self.heads

    def _is_modifier(self, word: str) -> bool:
        return word in self.modifiers or all(w in self.modifiers for w in word.split("-"))

    def title_at(self, doc: Doc, i: int, in_names: bool = False) -> Title | None:
        """The title starting at token i, if any. With `in_names`, title words the model
        put inside a person's name ("King Charles") count too."""
        parts: list[tuple[int, int]] = []
        start = i
        while True:
            part = self._one_title(doc, i, in_names)
            if part is None:
                break
            parts.append(part)
            i = part[1]
            # "director and senior economist", "senior vice president and head of hotels"
            if i + 1 < len(doc) and doc[i].lower_ in ("and", "&"):
                nxt = self._one_title(doc, i + 1, in_names)
                if nxt is not None:
                    i += 1
                    continue
            break
        if not parts:
            return None
        texts = tuple(_title_text(doc, a, b) for a, b in parts)
        return Title(start, parts[-1][1], " and ".join(texts), texts)

    def _one_title(self, doc: Doc, i: int, in_names: bool = False) -> tuple[int, int] | None:
        stop = ("ORG", "GPE") if in_names else ("PERSON", "ORG", "GPE")
        j, last_head = i, -1
        while j < len(doc) and j - i < 8:
            tok = doc[j]
            if tok.ent_type_ in stop or (tok.is_punct and tok.text not in "-–"):
                break
            word, k = self._word(doc, j)
            if self._is_head(word):
                last_head = k
            elif not (
                self._is_modifier(word)
                or tok.ent_type_ == "NORP"
                or (tok.is_lower and tok.tag_ in FILLER_TAGS and (j > i or _after_name(doc, i)))
            ):
                break
            j = k
        if last_head < 0 or not _starts_title(doc[i]):
            return None
        end = last_head
        # "head of global affairs", "minister of mines and energy", "Secretary of State":
        # of/for + lower-case words (title-case after a title-case head), not an organisation
        if end + 1 < len(doc) and doc[end].lower_ in ("of", "for", "in"):
            titled = doc[end - 1].is_title
            k = end + 1
            while k < len(doc) and k - end <= 5:
                tok = doc[k]
                if (
                    _is_lower_word(tok)
                    or (titled and tok.is_title and tok.ent_type_ == "")
                    or tok.ent_type_ == "NORP"  # "managing director for Canadian rates"
                    or (tok.is_upper and tok.is_alpha and len(tok) <= 4 and k > end + 1)  # "AI"
                    or (
                        tok.lower_ == "and"
                        and k + 1 < len(doc)
                        and _is_lower_word(doc[k + 1])
                        and self._one_title(doc, k + 1) is None  # "... and macro strategist"
                    )
                ):
                    k += 1
                    continue
                # "nominee for United States trade representative": a country's name
                # inside the title, when a lower-case title follows it
                g = k
                while (
                    g < len(doc)
                    and doc[g].tag_ in ("NNP", "NNPS")
                    and doc[g].ent_type_
                    in (
                        "",
                        "GPE",
                    )
                ):
                    g += 1
                inner = self._one_title(doc, g) if g > k else None
                if inner is not None and doc[g].is_lower:
                    k = inner[1]
                break
            # "CEO of launch startup Phantom Space": the words describe the organisation
            m = k
            while (
                m < min(k + 2, len(doc)) and doc[m].is_lower and doc[m].tag_ not in NOT_DESCRIPTOR
            ):
                m += 1
            followed_by_org = m < len(doc) and doc[m].ent_type_ == "ORG"
            if k > end + 1 and doc[k - 1].lower_ != "and" and not followed_by_org:
                end = k
        return i, end


def _after_name(doc: Doc, i: int) -> bool:
    """Token i follows an organisation name: "Transnet pipelines executive"."""
    if i == 0:
        return False
    prev = doc[i - 1]
    return prev.ent_type_ == "ORG" or prev.tag_ in ("NNP", "NNPS", "POS") or prev.text == ")"


def _title_text(doc: Doc, a: int, b: int) -> str:
    """The title as written, without a leading nationality ('former Irish ambassador' keeps
    'former', drops 'Irish': the country is not part of the position)."""
    words = list(doc[a:b])
    n = 0
    while n < len(words) and words[n].lower_ in ("former", "acting", "then"):
        n += 1
    lead, rest = words[:n], words[n:]
    while len(rest) > 1 and rest[0].ent_type_ == "NORP":
        rest = rest[1:]
    text = "".join(t.text_with_ws for t in lead + rest).strip()
    return text or doc[a:b].text


def _starts_title(tok: Token) -> bool:
    return tok.tag_ not in ("DT", "PRP$", "IN", "CC")


def _is_lower_word(t: Token) -> bool:
    return t.is_lower and t.is_alpha and t.tag_ in ("JJ", "NN", "NNS", "VBG") and t.ent_type_ == ""
