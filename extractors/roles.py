"""Roles: a named person holding a title, at an organisation when one is named.

Token patterns over the repaired entities (see entities.py) and a title
lexicon (data/titles.json). Each pattern names a construction that news
writing uses across publishers:

- premodifier:  "IBM chief executive Arvind Krishna", "Prime Minister Keir Starmer",
                "Meta's president Nick Clegg"
- title_at_org: "the head of global affairs at Meta Nick Clegg"
- appositive:   "Nick Clegg, head of global affairs at Meta",
                "Arvind Krishna, IBM's chief executive"
- title_of_org_comma_name: "The head of Transnet's engineering centre, Tauqeer Ahmed,"
- title_comma_name: "the company's CEO, Abdulaziz Jaafar, told ..." (set off by
                punctuation or a verb of saying)
- who_is:       "Jim Cantrell, who ... is now CEO of Phantom Space", "X joined Strava as
                chief product officer", "Harris has been Biden's vice president"
- role_as:      "Kevin Murphy in his role as NASA chief science data"
- led_by:       "Sam Altman-led OpenAI" (leader), "Musk-owned X" (owner)

The organisation of a title comes from the text before it ("IBM", "the company's",
"the resort's" -> the story's organisation of that kind, "fisheries bureau" -> the one
organisation with those words, "..., led by chairman"), and a company title with no
organisation ("Co-founder Michael Horvath") takes its sentence's one organisation or
the story's company (pattern name + "_company"). Roles name organisations as the
organisation list does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from extractors.entities import normalize_org, normalize_person
from extractors.facts import Person, Role
from extractors.lexicon import DATA_DIR, read_json, read_list
from extractors.titles import Title, TitleFinder

# "the resort's general manager": nouns that stand for the article's organisation
OWNER_NOUNS = {"company", "firm", "resort", "hotel", "team", "club", "school", "business"}
SALIENT_WINDOW = 3
APPOINT_VERBS = {"named", "appointed", "hired", "promoted", "tapped", "elected", "picked"}
TITLE_QUALIFIERS = {"former", "acting", "interim"}
SAYING_VERBS = {"said", "says", "told", "tells", "added", "adds", "wrote", "noted", "explained"}
JOIN_VERBS = {"join", "joins", "joined", "joining", "rejoined", "rejoins"}
LED_BY_VERBS = {"led", "headed", "chaired", "run", "founded"}
AGE_WORDS = {"year", "years", "month", "months"}
COPULAS = {"is", "was", "has", "had", "became", "remains", "serves", "served"}
ORG_PREPOSITIONS = {"at", "of", "for", "with", "from"}
BREAK_TAGS = {"VBZ", "VBD", "VBP", "MD", "IN", "CC", "WDT", "WP", ",", ".", ":", "-LRB-", "-RRB-"}

# add(person, title, org, first_token, end_token, pattern_name)
AddRole = Callable[[Span, str, Span | None, int, int, str], None]

if not Doc.has_extension("newsfacts_roles"):
    Doc.set_extension("newsfacts_roles", default=None)


class RoleFinder:
    def __init__(self, data_dir: Path = DATA_DIR) -> None:
        self.titles = TitleFinder(data_dir)
        self.owner_nouns = set(read_list("org_type_nouns.txt", data_dir)) | OWNER_NOUNS
        kinds = read_json("owner_kinds.json", data_dir)
        self.owner_kinds: dict[str, list[str]] = {
            k: v for k, v in kinds.items() if not k.startswith("_")
        }
        self.led_verbs = self.titles.led_verbs
        self.honorifics = self.titles.honorifics

    def __call__(self, doc: Doc) -> Doc:
        people: list[Person] = doc._.newsfacts_people or []
        names = {m.start: p.name for p in people for m in p.mentions}
        # a role names its organisation as the organisation list does ("Harris" in
        # "Harris senior adviser" is the Harris campaign; "OBR" is its full name)
        org_names = {m.start: o.name for o in doc._.newsfacts_orgs or [] for m in o.mentions}
        persons = {e.start: e for e in doc.ents if e.label_ == "PERSON"}
        orgs_by_end = {e.end: e for e in doc.ents if e.label_ == "ORG"}
        orgs_by_start = {e.start: e for e in doc.ents if e.label_ == "ORG"}
        roles: dict[tuple[str, str, str | None], Role] = {}

        def add(
            person: Span, title: str, org: Span | None, first: int, last: int, how: str
        ) -> None:
            name = names.get(person.start_char) or normalize_person(person.text)
            org_name = None
            if org is not None:
                org_name = org_names.get(org.start_char) or normalize_org(org.text)
            title = " ".join(title.split())
            if not name or not title or (" " not in name and name not in names.values()):
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

        for title in self.titles.find(doc):
            after = self._skip_honorifics(doc, title.end)
            # "<ORG> <title> <PERSON>" / "<ORG>'s <title> <PERSON>" / "<title> <PERSON>"
            # "a President Connolly might ...": a hypothetical holder, not a role
            hypothetical = (
                title.start > 0
                and doc[title.start - 1].lower_ in ("a", "an")
                and doc[title.start].text[:1].isupper()
            )
            if after in persons and hypothetical:
                continue
            if after in persons:
                person = persons[after]
                org, parts, first = self._premodifier(doc, title, orgs_by_end)
                for part in parts:
                    held, how = self._or_company(doc, title, part, org, orgs_by_end, "premodifier")
                    add(person, part, held, first, person.end, how)
                    # "MEPs Mick Wallace and Clare Daly": the title covers both
                    k = person.end
                    if k + 1 < len(doc) and doc[k].lower_ == "and" and k + 1 in persons:
                        other = persons[k + 1]
                        add(other, part, held, first, other.end, how)
                continue
            # "<title> at <ORG> <PERSON>"
            if title.end < len(doc) and doc[title.end].lower_ in ORG_PREPOSITIONS:
                org = _org_after(doc, title.end + 1, orgs_by_start)
                # a one-word "person" glued to the organisation is the rest of its name
                # ("head of Google Cloud sales"), not "the head of global affairs at Meta
                # Nick Clegg"
                if org is not None and org.end in persons and len(persons[org.end]) > 1:
                    named = persons[org.end]
                    for part in title.parts:
                        add(named, part, org, title.start, named.end, "title_at_org")
                    continue
                # "The head of Transnet's engineering centre of excellence, Tauqeer Ahmed,"
                comma = _past_unit(doc, org.end) if org is not None else None
                if org is not None and comma is not None and comma + 1 in persons:
                    named = persons[comma + 1]
                    for part in title.parts:
                        add(named, part, org, title.start, named.end, "title_of_org_comma_name")
                    continue
            # "<ORG>'s chief economist, <PERSON>" / "the company's CEO, <PERSON>"
            if (
                title.end + 1 < len(doc)
                and doc[title.end].text == ","
                and title.end + 1 in persons
                and _set_off(doc, persons[title.end + 1].end)
            ):
                named = persons[title.end + 1]
                org, first = self._org_of_title(doc, title, orgs_by_end)
                for part in title.parts:
                    add(named, part, org, first, named.end, "title_comma_name")
                continue
            # "<PERSON>, [a] [<ORG>['s]] <title> [at <ORG>]"
            holder, at = self._appositive(doc, title, orgs_by_end, orgs_by_start, persons)
            if holder is not None:
                first, last = holder.start, max(title.end, at.end if at is not None else 0)
                for part in title.parts:
                    held, how = self._or_company(doc, title, part, at, orgs_by_end, "appositive")
                    add(holder, part, held, first, last, how)

        for person in list(persons.values()):
            self._title_inside_name(doc, person, orgs_by_end, add)
            self._who_is(doc, person, orgs_by_start, add)
            self._role_as(doc, person, orgs_by_start, add)
            self._led_by(doc, person, orgs_by_start, add)
            self._appointed(doc, person, orgs_by_start, add)
        doc._.newsfacts_roles = sorted(roles.values(), key=lambda r: r.start)
        return doc

    def _skip_honorifics(self, doc: Doc, i: int) -> int:
        """'Prime Minister Datuk Seri Anwar Ibrahim', 'exercise representative Colonel Stuart
        Glenn': the name starts after honorifics and military ranks."""
        skip = self.honorifics | self.titles.ranks | {"seri"}
        while i < len(doc) and (doc[i].lower_ in skip or doc[i].lower_.rstrip(".") in skip):
            i += 1
        return i

    def _appositive(
        self,
        doc: Doc,
        title: Title,
        orgs_by_end: dict[int, Span],
        orgs_by_start: dict[int, Span],
        persons: dict[int, Span],
    ) -> tuple[Span | None, Span | None]:
        k = title.start
        org = _org_before(doc, k, orgs_by_end)
        if org is not None:
            k = org.start
        else:
            k, implicit = self._owner_before(doc, k)
            if implicit:
                org = _salient_org(doc, k, orgs_by_end, self.owner_kinds)
            else:
                # "Ana Escrogima, the U.S. ambassador to Oman": a country's office, no org;
                # "Jamieson Greer, Trump's nominee": a person's possessive names no org
                first = k
                if k > 1 and doc[k - 1].tag_ == "POS" and doc[k - 2].ent_type_ == "PERSON":
                    k -= 1
                while k > max(0, first - 4) and doc[k - 1].tag_ in ("NNP", "NNPS"):
                    k -= 1
        while k > 0 and doc[k - 1].tag_ in ("DT", "PRP$"):
            k -= 1
        if k < 2 or doc[k - 1].text != ",":
            return None, None
        person = next((p for p in persons.values() if p.end == k - 1), None)
        if person is None:
            return None, None
        if org is None and title.end < len(doc) and doc[title.end].lower_ in ORG_PREPOSITIONS:
            org = _org_after(doc, title.end + 1, orgs_by_start)
        return person, org

    def _premodifier(
        self, doc: Doc, title: Title, orgs_by_end: dict[int, Span]
    ) -> tuple[Span | None, tuple[str, ...], int]:
        """The organisation of a title before a name, the title's parts, and where the
        match starts."""
        org, first = self._org_of_title(doc, title, orgs_by_end)
        parts = title.parts
        if org is None:
            org = _led_by_org(doc, title.start, orgs_by_end)
        if org is None:
            org = _described_org(doc, title.start, orgs_by_end)
        if org is None and len(parts) == 1:
            # "Google Search lead Liz Reid": a division's name between the organisation
            # and the title belongs to the title
            owner = _org_before(doc, title.start - 1, orgs_by_end)
            if owner is not None and _is_division(doc[title.start - 1]):
                org, first = owner, owner.start
                parts = (f"{doc[title.start - 1].text} {parts[0]}",)
        # "Former Nissan chairman Carlos Ghosn": the word before the organisation
        # qualifies the title
        if org is not None and first > 0 and doc[first - 1].lower_ in TITLE_QUALIFIERS:
            parts = tuple(f"{doc[first - 1].lower_} {p}" for p in parts)
            first -= 1
        return org, parts, first

    def _or_company(
        self,
        doc: Doc,
        title: Title,
        part: str,
        org: Span | None,
        orgs_by_end: dict[int, Span],
        how: str,
    ) -> tuple[Span | None, str]:
        """The organisation of a role, and the pattern that found it. A company title with
        no organisation at it ("chief product officer Matt Salazar", "Co-founder Michael
        Horvath") is held at the one organisation its sentence names, or, when the sentence
        names none, at the story's company; never when the title says "of"/"at" something
        that is not a named organisation ("the co-founder of a London-based consultancy")."""
        if org is not None or not self.titles.is_company_title(part):
            return org, how
        if title.end < len(doc) and doc[title.end].lower_ in ORG_PREPOSITIONS:
            return None, how
        sent = doc[title.start].sent
        # an organisation right before another title is that title's ("former YouTube
        # executive Michael Martin"), not this one's
        named = {
            normalize_org(e.text): e
            for e in sent.ents
            if e.label_ == "ORG" and self.titles.title_at(doc, _past_possessive(doc, e.end)) is None
        }
        if len(named) > 1:
            return None, how
        company = (
            next(iter(named.values()))
            if named
            else _salient_org(doc, title.start, orgs_by_end, self.owner_kinds)
        )
        return company, (how + "_company" if company is not None else how)

    def _org_of_title(
        self, doc: Doc, title: Title, orgs_by_end: dict[int, Span]
    ) -> tuple[Span | None, int]:
        """The organisation named or implied right before a title, and where the match
        starts: "IBM chief executive", "IBM's chief executive", "the company's CEO"."""
        org = _org_before(doc, title.start, orgs_by_end)
        if org is not None:
            return org, org.start
        owner, implicit = self._owner_before(doc, title.start)
        return (
            _salient_org(doc, owner, orgs_by_end, self.owner_kinds) if implicit else None
        ), title.start

    @staticmethod
    def _orgs_by_end(doc: Doc) -> dict[int, Span]:
        return {e.end: e for e in doc.ents if e.label_ == "ORG"}

    def _owner_before(self, doc: Doc, k: int) -> tuple[int, bool]:
        """Skip back over "the company's 26-year-old" / "its" before a title. The flag says
        the organisation is only implied ("the company's CEO")."""
        j = k
        while j > 0 and (
            doc[j - 1].tag_ in ("JJ", "CD", "HYPH")
            or doc[j - 1].text == "-"
            or (doc[j - 1].lower_ in AGE_WORDS and j < k and doc[j].text == "-")  # 26-year-old
        ):
            j -= 1
        if j > 0 and doc[j - 1].lower_ in ("its", "their"):
            return j - 1, True
        if (
            j > 2
            and doc[j - 1].tag_ == "POS"
            and doc[j - 2].lower_ in self.owner_nouns
            and doc[j - 3].lower_ == "the"
        ):
            return j - 3, True
        return k, False

    def _title_inside_name(
        self, doc: Doc, person: Span, orgs_by_end: dict[int, Span], add: AddRole
    ) -> None:
        """The model often makes the title part of the name: "King Charles",
        "Vice President Kamala Harris" tagged as one PERSON."""
        title = self.titles.title_at(doc, person.start, in_names=True)
        if title is None or not (person.start < title.end < person.end):
            return
        name = doc[self._skip_honorifics(doc, title.end) : person.end]
        if len(name) == 0 or not all(t.text[:1].isupper() for t in name):
            return
        org = _org_before(doc, title.start, orgs_by_end)
        for part in title.parts:
            add(name, part, org, title.start, person.end, "title_in_name")

    def _who_is(self, doc: Doc, person: Span, orgs_by_start: dict[int, Span], add: AddRole) -> None:
        """ "<PERSON>, who ... is now CEO of <ORG>" / "<PERSON> has been Biden's vice
        president" / "<PERSON> is the party's leader"."""
        i = person.end
        if i + 2 < len(doc) and doc[i].text == "," and doc[i + 1].lower_ == "who":
            k, limit = i + 2, i + 16
        elif i + 1 < len(doc) and doc[i].lower_ in COPULAS:
            k, limit = i, i + 3  # the copula right after the name
        elif i + 1 < len(doc) and doc[i].lower_ in JOIN_VERBS:
            k, limit = i, i + 10  # "<PERSON> joined <ORG> as <title>"
        else:
            return
        while k < min(len(doc), limit) and doc[k].text not in (".", ";", "”", '"'):
            if doc[k].lower_ in ("is", "was", "became", "as", "been") or doc[k].tag_ in (
                "VBZ",
                "VBD",
            ):
                j = k + 1
                while j < len(doc) and doc[j].lower_ in ("now", "also", "currently", "still"):
                    j += 1
                while j < len(doc) and doc[j].tag_ in ("DT", "PRP$"):
                    j += 1
                # "IBM's chief executive" names the organisation; "Biden's vice president"
                # (a person's possessive) does not
                owner = None
                if j + 1 < len(doc) and doc[j].ent_type_ in ("PERSON", "ORG"):
                    label, first = doc[j].ent_type_, j
                    while j < len(doc) and doc[j].ent_type_ == label and doc[j].tag_ != "POS":
                        j += 1
                    if j < len(doc) and doc[j].tag_ == "POS":
                        owner = doc[first:j] if label == "ORG" else None
                        j += 1
                    else:
                        j = first
                # "the party's president": the organisation is only implied
                implied = (
                    j + 1 < len(doc)
                    and doc[j].lower_ in self.owner_nouns
                    and doc[j + 1].tag_ == "POS"
                )
                if implied:
                    j += 2
                title = self.titles.title_at(doc, j)
                if title is not None:
                    org = owner
                    if org is None and implied:
                        org = _salient_org(doc, k, self._orgs_by_end(doc), self.owner_kinds)
                    if org is None and doc[k].lower_ == "as":
                        org = _joined(doc, k, self._orgs_by_end(doc))
                    if (
                        org is None
                        and title.end < len(doc)
                        and doc[title.end].lower_ in ORG_PREPOSITIONS
                    ):
                        org = _org_after(doc, title.end + 1, orgs_by_start)
                    for part in title.parts:
                        add(person, part, org, person.start, title.end, "who_is")
                    return
            k += 1

    def _appointed(
        self, doc: Doc, person: Span, orgs_by_start: dict[int, Span], add: AddRole
    ) -> None:
        """ "Unilever named Fernando Fernandez as its new chief executive", "the board
        appointed Jane Roe chief financial officer": the organisation that names is the
        employer (none when a person names: "Biden named X ambassador")."""
        verb = person.start - 1
        if verb < 1 or doc[verb].lower_ not in APPOINT_VERBS:
            return
        k = person.end
        if k < len(doc) and doc[k].lower_ == "as":
            k += 1
        implied = k < len(doc) and doc[k].lower_ in ("its", "their")
        while k < len(doc) and (doc[k].tag_ in ("DT", "PRP$") or doc[k].lower_ in ("new", "next")):
            k += 1
        title = self.titles.title_at(doc, k)
        if title is None:
            return
        org = None
        if title.end < len(doc) and doc[title.end].lower_ in ORG_PREPOSITIONS:
            org = _org_after(doc, title.end + 1, orgs_by_start)
        if org is None:
            org = _subject_org(doc, verb, orgs_by_start)
        if org is None and implied:
            org = _salient_org(doc, verb, self._orgs_by_end(doc), self.owner_kinds)
        for part in title.parts:
            add(person, part, org, verb, title.end, "appointed")

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


def _salient_org(
    doc: Doc, i: int, orgs_by_end: dict[int, Span], owner_kinds: dict[str, list[str]]
) -> Span | None:
    """The organisation "the company" refers to: of those named in the three sentences
    before token i's sentence, the one the article names most often (the story's
    company, not one mentioned in passing), the nearest on a tie. "the resort's" and
    other owner nouns of a kind (data/owner_kinds.json) first look for an organisation
    of that kind named anywhere before."""
    sent_start = doc[i].sent.start if i < len(doc) else len(doc)
    counts: dict[str, int] = {}
    for org in orgs_by_end.values():
        key = normalize_org(org.text)
        counts[key] = counts.get(key, 0) + 1
    kind_words = next(
        (owner_kinds[t.lower_] for t in doc[i : i + 3] if t.lower_ in owner_kinds), None
    )
    if kind_words:
        kind = [
            o
            for end, o in orgs_by_end.items()
            if end <= sent_start and any(t.text in kind_words for t in o)
        ]
        if kind:
            return max(kind, key=lambda o: (counts[normalize_org(o.text)], o.end))
    starts = [s.start for s in doc.sents if s.start < sent_start]
    limit = starts[-SALIENT_WINDOW] if len(starts) >= SALIENT_WINDOW else 0
    # "the company" was introduced before its sentence; an organisation in the same
    # sentence is usually something else ("launch with SpaceX, the company's CEO said")
    before = [o for end, o in orgs_by_end.items() if limit <= o.start and end <= sent_start]
    same = [o for end, o in orgs_by_end.items() if sent_start <= o.start and end <= i]
    if before:
        return max(before, key=lambda o: (counts[normalize_org(o.text)], o.end))
    if not same:
        return None
    # within the sentence, the organisation it is about comes first ("Goldman Sachs
    # analysts expect the Federal Reserve to cut, ... the bank's chief economist said")
    return max(same, key=lambda o: (counts[normalize_org(o.text)], -o.start))


def _is_division(token: Token) -> bool:
    return token.tag_ in ("NNP", "NNPS") and token.is_title and not token.ent_type_


def _set_off(doc: Doc, i: int) -> bool:
    """A name in apposition ends at punctuation or a verb of saying ("the company's CEO,
    Abdulaziz Jaafar, told ..."); "In replacing Biden as the party's nominee, Harris
    breathed new life ..." is a clause before its subject, not an appositive."""
    return i >= len(doc) or doc[i].is_punct or doc[i].lower_ in SAYING_VERBS


def _described_org(doc: Doc, i: int, orgs_by_end: dict[int, Span]) -> Span | None:
    """ "fisheries bureau spokesman Nazario Briguera" after "the Philippine Bureau of
    Fisheries and Aquatic Resources": lower-case nouns before a title that are all words
    of one organisation named in the article stand for that organisation."""
    k = i
    while k > 0 and doc[k - 1].is_lower and doc[k - 1].tag_ in ("NN", "NNS"):
        k -= 1
    nouns = {t.lower_.removesuffix("s") for t in doc[k:i]}
    if not nouns:
        return None
    found: dict[str, Span] = {}
    for org in orgs_by_end.values():
        words = {t.lower_.removesuffix("s") for t in org}
        if len(org) > len(nouns) and nouns <= words:
            found.setdefault(normalize_org(org.text), org)
    return next(iter(found.values())) if len(found) == 1 else None


def _past_unit(doc: Doc, i: int) -> int | None:
    """The comma that ends "<ORG>['s <lower-case unit words>]" from token i, if any:
    "Transnet's engineering centre of excellence," -> the comma's index."""
    if i < len(doc) and doc[i].tag_ == "POS":
        i += 1
        while i < len(doc) and (
            (doc[i].is_lower and doc[i].is_alpha and doc[i].tag_ not in BREAK_TAGS)
            or doc[i].lower_ == "of"
            or doc[i].text in ("-", "–")
        ):
            i += 1
    return i if i < len(doc) and doc[i].text == "," else None


def _subject_org(doc: Doc, verb: int, orgs_by_start: dict[int, Span]) -> Span | None:
    """The organisation that does what token `verb` says in its sentence: the nearest
    one before it, with no person in between."""
    for k in range(verb - 1, doc[verb].sent.start - 1, -1):
        if doc[k].ent_type_ == "PERSON":
            return None
        if k in orgs_by_start:
            return orgs_by_start[k]
    return None


def _joined(doc: Doc, k: int, orgs_by_end: dict[int, Span]) -> Span | None:
    """ "... left Epic Games to join Strava as chief product officer": the organisation
    joined right before the "as" at token k."""
    org = orgs_by_end.get(k)
    if org is None or org.start == 0 or doc[org.start - 1].lower_ not in JOIN_VERBS:
        return None
    return org


def _led_by_org(doc: Doc, i: int, orgs_by_end: dict[int, Span]) -> Span | None:
    """ "the House Select Committee on ..., led by chairman Mike Gallagher": the
    organisation right before "(,) led/headed/chaired by" a title."""
    if i < 3 or doc[i - 1].lower_ != "by" or doc[i - 2].lower_ not in LED_BY_VERBS:
        return None
    k = i - 2
    if doc[k - 1].text == ",":
        k -= 1
    return orgs_by_end.get(k)


def _past_possessive(doc: Doc, i: int) -> int:
    return i + 1 if i < len(doc) and doc[i].tag_ == "POS" else i


def _org_after(doc: Doc, i: int, orgs_by_start: dict[int, Span]) -> Span | None:
    """The organisation a few words after an 'at': "at Danish investment company Saxo Bank"."""
    for k in range(i, min(i + 5, len(doc))):
        if k in orgs_by_start:
            return orgs_by_start[k]
        tok = doc[k]
        if tok.is_punct or tok.ent_type_ in ("PERSON", "GPE") or tok.tag_ in ("IN", "VBZ", "MD"):
            return None
        if tok.tag_ == "VBD" and not tok.is_lower:
            return None
    return None


def _org_before(doc: Doc, i: int, orgs_by_end: dict[int, Span]) -> Span | None:
    """The organisation right before token i: "<ORG> ...", "<ORG>'s ..." or
    "<ORG> (<ACRONYM>) ..."."""
    if i > 0 and doc[i - 1].tag_ == "POS":
        i -= 1
    if i > 2 and doc[i - 1].text == ")" and doc[i - 3].text == "(":
        i -= 3
    return orgs_by_end.get(i)


@Language.factory(
    "newsfacts_roles",
    requires=["doc.ents", "doc._.newsfacts_people"],
    assigns=["doc._.newsfacts_roles"],
    default_config={"data_dir": None},
)
def make_role_finder(nlp: Language, name: str, data_dir: str | None) -> RoleFinder:
    return RoleFinder(Path(data_dir) if data_dir else DATA_DIR)
