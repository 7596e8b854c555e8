"""Whether a JSON schema can be sent to OpenAI with ``strict: true``.

Strict structured outputs accept a subset of JSON Schema: an object at the root, every object closed
(``additionalProperties: false``) with all its properties required, and only some keywords. A schema outside
that subset is sent with ``strict: false`` (the model is still asked to follow it) rather than refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["is_strict_compatible"]

_KEYWORDS: Final = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "anyOf",
        "enum",
        "const",
        "description",
        "title",
        "$ref",
        "$defs",
        "definitions",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minItems",
        "maxItems",
    }
)
_MAX_DEPTH: Final = 10


def is_strict_compatible(schema: object) -> bool:
    """True when ``schema`` fits OpenAI's strict structured-outputs subset."""
    if not isinstance(schema, Mapping) or schema.get("type") != "object":
        return False
    return _check(schema, 0)


def _check(schema: object, depth: int) -> bool:
    if depth > _MAX_DEPTH or not isinstance(schema, Mapping):
        return False
    if not _KEYWORDS.issuperset(schema):
        return False
    properties = schema.get("properties")
    if properties is not None or schema.get("type") == "object":
        if not isinstance(properties, Mapping) or schema.get("additionalProperties") is not False:
            return False
        required = schema.get("required")
        if (
            not isinstance(required, list)
            or set(map(str, required)) != set(properties)
            or len(required) != len(properties)
        ):
            return False
        if not all(_check(sub, depth + 1) for sub in properties.values()):
            return False
    for key in ("$defs", "definitions"):
        defs = schema.get(key)
        if defs is not None and (
            not isinstance(defs, Mapping) or not all(_check(sub, depth + 1) for sub in defs.values())
        ):
            return False
    items = schema.get("items")
    if items is not None and not _check(items, depth + 1):
        return False
    any_of = schema.get("anyOf")
    return any_of is None or (isinstance(any_of, list) and all(_check(sub, depth + 1) for sub in any_of))
