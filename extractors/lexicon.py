"""Read the rule data files that live next to the components (extractors/data/)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"


def read_list(name: str, data_dir: Path = DATA_DIR) -> list[str]:
    """One entry per line; blank lines and '#' comments are ignored."""
    lines = (data_dir / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def read_json(name: str, data_dir: Path = DATA_DIR) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((data_dir / name).read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class StopList:
    names: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if name.lower() in self.names:
            return True
        return any(p.search(name) for p in self.patterns)


@cache
def stoplist(data_dir: Path = DATA_DIR) -> StopList:
    names, patterns = set(), []
    for entry in read_list("org_stoplist.txt", data_dir):
        if entry.startswith("re:"):
            patterns.append(re.compile(entry[3:], re.IGNORECASE))
        else:
            names.add(entry.lower())
    return StopList(frozenset(names), tuple(patterns))


def rules_fingerprint(data_dir: Path = DATA_DIR) -> str:
    """A hash of every rule file, so an extraction run records which rules it used."""
    digest = hashlib.sha256()
    for path in sorted(data_dir.iterdir()):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()
