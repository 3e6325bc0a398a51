"""Deciding a Q object on values already in hand, for rules stated once as Q objects.

A rule the database evaluates (in a filter, an annotation, a statement compiled from them) must sometimes
be decided on rows read before: a bulk write reads many rows under one lock and writes them in one
statement. `holds` decides the same Q on those values as the ORM's SQL does, so the rule is not restated
in Python. Only the look-ups rules use are known; any other is an error rather than a guess.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import Expression, F, Q

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "exact": operator.eq,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


def holds(condition: Q, values: Mapping[str, Any]) -> bool:
    """Whether `condition` holds for a row whose fields have `values` (keyed as in the Q's look-ups).

    As in the ORM's SQL, a comparison with NULL (None) holds for nothing, and a negation is its opposite
    (Django writes `NOT (a = b AND a IS NOT NULL)`).
    """
    if condition.connector not in (Q.AND, Q.OR):
        raise ValueError(f"unsupported connector {condition.connector}")
    results = []
    children: list[Any] = list(condition.children)
    for child in children:
        if isinstance(child, Q):
            results.append(holds(child, values))
            continue
        lookup, expected = child
        name, _, kind = lookup.rpartition("__")
        if kind not in (*_COMPARISONS, "isnull", "in"):
            name, kind = lookup, "exact"
        results.append(_compare(kind, values[name], expected))
    result = all(results) if condition.connector == Q.AND else any(results)
    return not result if condition.negated else result


def _compare(kind: str, value: Any, expected: Any) -> bool:
    if isinstance(expected, Expression | F):
        raise TypeError(f"only values can be compared here, not {expected!r}")
    if kind == "isnull":
        return (value is None) == bool(expected)
    if kind == "in":
        return value is not None and value in expected
    if value is None or expected is None:  # Django turns `= None` into IS NULL
        return value is None and expected is None and kind == "exact"
    return _COMPARISONS[kind](value, expected)
