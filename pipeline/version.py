"""What produced a set of facts: code version and a hash of the settings and rules."""

from __future__ import annotations

import hashlib
import json
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from extractors.lexicon import rules_fingerprint
from pipeline.config import Settings

ROOT = Path(__file__).resolve().parent.parent
# Settings that change what the extractors produce (not where things are stored).
EXTRACTION_SETTINGS = ("model", "languages", "dollar", "sentences")


@cache
def code_version() -> str:
    """`git describe` in a checkout, else the installed package version."""
    try:
        base = version("newsfacts")
    except PackageNotFoundError:
        base = "0+unknown"
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return base
    described = out.stdout.strip()
    return f"{base}+g{described}" if described else base


def config_hash(settings: Settings) -> str:
    relevant = {name: getattr(settings, name) for name in EXTRACTION_SETTINGS}
    payload = json.dumps(relevant, sort_keys=True, default=list) + rules_fingerprint()
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
