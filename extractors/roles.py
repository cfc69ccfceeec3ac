"""Roles: a named person holding a title, at an organisation when one is named.

Token patterns over the repaired entities (see entities.py) and a title
lexicon (data/titles.json). Each pattern names a construction that news
writing uses across publishers:

- premodifier:  "IBM chief executive Arvind Krishna", "Prime Minister Keir Starmer",
                "Meta's president Nick Clegg"
- title_at_org: "the head of global affairs at Meta Nick Clegg"
- appositive:   "Nick Clegg, head of global affairs at Meta",
                "Arvind Krishna, IBM's chief executive"
- role_as:      "Kevin Murphy in his role as NASA chief science data"
- led_by:       "Sam Altman-led OpenAI" (leader), "Musk-owned X" (owner)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from extractors.entities import normalize_org, normalize_person
from extractors.facts import Person, Role
from extractors.lexicon import DATA_DIR, read_json

ORG_PREPOSITIONS = {"at", "of", "for", "with", "from"}
BREAK_TAGS = {"VBZ", "VBD", "VBP", "MD", "IN", "CC", "WDT", "WP", ",", ".", ":", "-LRB-", "-RRB-"}

# add(person, title, org, first_token, end_token, pattern_name)
AddRole = Callable[[Span, str, Span | None, int, int, str], None]

if not Doc.has_extension("newsfacts_roles"):
    Doc.set_extension("newsfacts_roles", default=None)


@dataclass(frozen=True, slots=True)
class _Title:
    start: int
    end: int
    text: str


class RoleFinder:
    def __init__(self, data_dir: Path = DATA_DIR) -> None:
        data = read_json("titles.json", data_dir)
        self.heads = set(data["heads"])
        self.modifiers = set(data["modifiers"])
        self.led_verbs: dict[str, str] = data["led_verbs"]

    def __call__(self, doc: Doc) -> Doc:
        people: list[Person] = doc._.newsfacts_people or []
        names = {m.start: p.name for p in people for m in p.mentions}
        self._names = names
        persons = {e.start: e for e in doc.ents if e.label_ == "PERSON"}
        orgs_by_end = {e.end: e for e in doc.ents if e.label_ == "ORG"}
        orgs_by_start = {e.start: e for e in doc.ents if e.label_ == "ORG"}
        roles: dict[tuple[str, str, str | None], Role] = {}

        def add(
            person: Span, title: str, org: Span | None, first: int, last: int, how: str
        ) -> None:
            name = self._names.get(person.start_char) or normalize_person(person.text)
            org_name = normalize_org(org.text) if org is not None else None
            title = " ".join(title.split())
            if not name or not title:
                return
            key = (name, title.lower(), org_name)
            if key not in roles:
                span = doc[first:last]
                roles[key] = Role(
                    person=name,
                    role=title,
                    org=org_name,
                    evidence=span.sent.text.strip(),
                    start=span.start_char,
                    end=span.end_char,
                    pattern=how,
                )

        for title in self._titles(doc):
            # "<ORG> <title> <PERSON>" / "<ORG>'s <title> <PERSON>" / "<title> <PERSON>"
            if title.end in persons:
                person = persons[title.end]
                org = _org_before(doc, title.start, orgs_by_end)
                first = org.start if org is not None else title.start
                add(person, title.text, org, first, person.end, "premodifier")
                continue
            # "<title> at <ORG> <PERSON>"
            if title.end < len(doc) and doc[title.end].lower_ in ORG_PREPOSITIONS:
                org = orgs_by_start.get(title.end + 1) or orgs_by_start.get(title.end + 2)
                if org is not None and org.end in persons:
                    named = persons[org.end]
                    add(named, title.text, org, title.start, named.end, "title_at_org")
                    continue
            # "<PERSON>, [the] [<ORG>['s]] <title> [at <ORG>]"
            holder, at = self._appositive(doc, title, orgs_by_end, orgs_by_start)
            if holder is not None:
                first, last = holder.start, max(title.end, at.end if at is not None else 0)
                add(holder, title.text, at, first, last, "appositive")

        for person in persons.values():
            self._role_as(doc, person, orgs_by_start, add)
            self._led_by(doc, person, orgs_by_start, add)
        doc._.newsfacts_roles = sorted(roles.values(), key=lambda r: r.start)
        return doc

    def _titles(self, doc: Doc) -> list[_Title]:
        """Runs of title words ending on a head word, plus "of <lower-case words>"."""
        found = []
        i = 0
        words = self.heads | self.modifiers
        while i < len(doc):
            tok = doc[i]
            if tok.lower_ not in words or tok.ent_type_ in ("PERSON", "ORG"):
                i += 1
                continue
            j, last_head = i, -1
            while j < len(doc) and doc[j].ent_type_ not in ("PERSON", "ORG"):
                low = doc[j].lower_
                if low in self.heads:
                    last_head = j
                elif low not in self.modifiers and not (low == "-" and j > i):
                    break
                j += 1
            if last_head < 0:
                i = j if j > i else i + 1
                continue
            end = last_head + 1
            # "head of global affairs": of/for + lower-case words that are not an organisation
            if end + 1 < len(doc) and doc[end].lower_ in ("of", "for"):
                k = end + 1
                while k < len(doc) and k - end <= 4 and _is_lower_word(doc[k]):
                    k += 1
                if k > end + 1:
                    end = k
            found.append(_Title(i, end, doc[i:end].text))
            i = end
        return found

    def _appositive(
        self,
        doc: Doc,
        title: _Title,
        orgs_by_end: dict[int, Span],
        orgs_by_start: dict[int, Span],
    ) -> tuple[Span | None, Span | None]:
        k = title.start
        org = _org_before(doc, k, orgs_by_end)
        if org is not None:
            k = org.start
        while k > 0 and doc[k - 1].tag_ in ("DT", "PRP$"):
            k -= 1
        if k < 2 or doc[k - 1].text != ",":
            return None, None
        before = doc[k - 2]
        person = next((e for e in doc.ents if e.label_ == "PERSON" and e.end == before.i + 1), None)
        if person is None:
            return None, None
        if org is None and title.end < len(doc) and doc[title.end].lower_ in ORG_PREPOSITIONS:
            org = orgs_by_start.get(title.end + 1) or orgs_by_start.get(title.end + 2)
            if org is not None and org.start == title.end + 2 and doc[title.end + 1].tag_ != "DT":
                org = None
        return person, org

    @staticmethod
    def _role_as(doc: Doc, person: Span, orgs_by_start: dict[int, Span], add: AddRole) -> None:
        """ "<PERSON> in his role as [<ORG>] <words>"."""
        i = person.end
        words = [t.lower_ for t in doc[i : i + 4]]
        if len(words) < 4 or words[0] != "in" or words[2] not in ("role", "capacity"):
            return
        if words[1] not in ("his", "her", "their") or words[3] != "as":
            return
        k = i + 4
        while k < len(doc) and doc[k].tag_ == "DT":
            k += 1
        org = orgs_by_start.get(k)
        if org is not None:
            k = org.end
        start = k
        while k < len(doc) and doc[k].tag_ not in BREAK_TAGS and doc[k].ent_type_ != "PERSON":
            k += 1
        if k > start:
            add(person, doc[start:k].text, org, person.start, k, "role_as")

    def _led_by(self, doc: Doc, person: Span, orgs_by_start: dict[int, Span], add: AddRole) -> None:
        """ "<PERSON>-led <ORG>"."""
        i = person.end
        if i + 2 >= len(doc) or doc[i].text not in ("-", "–"):
            return
        role = self.led_verbs.get(doc[i + 1].lower_)
        org = orgs_by_start.get(i + 2)
        if role and org is not None:
            add(person, role, org, person.start, org.end, "led_by")


def _org_before(doc: Doc, i: int, orgs_by_end: dict[int, Span]) -> Span | None:
    """The organisation right before token i: "<ORG> ..." or "<ORG>'s ..."."""
    if i > 0 and doc[i - 1].tag_ == "POS":
        i -= 1
    return orgs_by_end.get(i)


def _is_lower_word(t: Token) -> bool:
    return t.is_lower and t.is_alpha and t.tag_ in ("JJ", "NN", "NNS", "VBG") and t.ent_type_ == ""


@Language.factory(
    "newsfacts_roles",
    requires=["doc.ents", "doc._.newsfacts_people"],
    assigns=["doc._.newsfacts_roles"],
    default_config={"data_dir": None},
)
def make_role_finder(nlp: Language, name: str, data_dir: str | None) -> RoleFinder:
    return RoleFinder(Path(data_dir) if data_dir else DATA_DIR)
