"""One JSON shape for a role and a money figure, whether it comes from the extractors
(extractors.facts) or from the database (models.RoleFact / MoneyFact): both have the
same attribute names."""

from __future__ import annotations

from typing import Any


def role_json(r: Any) -> dict[str, Any]:
    return {
        "person": r.person,
        "role": r.role,
        "org": r.org,
        "evidence": r.evidence,
        "start": r.start,
        "end": r.end,
        "pattern": r.pattern,
    }


def money_json(m: Any) -> dict[str, Any]:
    return {
        "text": m.text,
        "amount": format(m.amount, "f"),  # exact decimal as a string, never a float
        "currency": m.currency,
        "context": m.context,
        "qualifier": m.qualifier,
        "unit": m.unit,
        "range": m.range,
        "start": m.start,
        "end": m.end,
    }
