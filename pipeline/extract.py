"""The extract stage: one spaCy pipeline per process, documents in batches."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from spacy.tokens import Doc

from extractors.build import build_nlp, facts_of, model_name, model_version
from extractors.facts import Facts
from pipeline.config import Settings
from pipeline.documents import CleanDocument, StageError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Skipped:
    """A document that was not extracted on purpose (e.g. a language the model does not read)."""

    reason: str


class Extractor:
    """Holds the spaCy pipeline. Build it once and reuse it for every batch."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.nlp = build_nlp(settings.model, dollar=settings.dollar, sentences=settings.sentences)
        self.model_name = model_name(self.nlp)
        self.model_version = model_version(self.nlp)

    def skip_reason(self, doc: CleanDocument) -> str | None:
        lang = doc.language
        if lang and self.settings.languages and lang not in self.settings.languages:
            wanted = ", ".join(self.settings.languages)
            return (
                f"language {lang!r} is not one the model reads ({wanted}); extraction skipped "
                f"(setting languages / NEWSFACTS_LANGUAGES)"
            )
        return None

    def extract_many(self, docs: Sequence[CleanDocument]) -> list[Facts | Skipped | StageError]:
        """Facts per document, in order. One bad document never fails the others."""
        out: list[Facts | Skipped | StageError] = []
        todo: list[int] = []
        for i, doc in enumerate(docs):
            reason = self.skip_reason(doc)
            out.append(Skipped(reason) if reason else Facts())
            if reason is None:
                todo.append(i)
        try:
            results = [
                facts_of(d)
                for d in self.nlp.pipe(
                    (self._doc(docs[i]) for i in todo), batch_size=self.settings.nlp_batch_size
                )
            ]
        except Exception:  # one document broke the batch: isolate it
            log.warning("batch extraction failed; retrying the %d documents one by one", len(todo))
            results = [self._one(docs[i]) for i in todo]  # type: ignore[misc]
        for i, facts in zip(todo, results, strict=True):
            out[i] = facts
        return out

    def _doc(self, doc: CleanDocument) -> Doc:
        """The text as a spaCy Doc that knows its publication (for the dollar of a bare
        "$")."""
        out = self.nlp.make_doc(doc.text)
        out._.newsfacts_publication = (doc.site, doc.url)
        return out

    def _one(self, doc: CleanDocument) -> Facts | StageError:
        try:
            return facts_of(self.nlp(self._doc(doc)))
        except Exception as exc:
            log.exception("extraction failed for %s", doc.source)
            return StageError("extract", doc.source, f"{type(exc).__name__}: {exc}")
