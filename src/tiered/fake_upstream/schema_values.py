"""A small JSON Schema value generator: a deterministic value that fits the schema a caller asked for.

It covers what structured outputs allow in practice: object, array, string (with enum and a few formats),
number, integer, boolean, null, const, enum, anyOf/oneOf/allOf, type lists and local ``$ref``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Final

from tiered.fake_upstream.words import words

__all__ = ["schema_value"]

_MAX_DEPTH: Final = 8
_FORMATS: Final[dict[str, str]] = {
    "date-time": "2025-01-02T03:04:05Z",
    "date": "2025-01-02",
    "time": "03:04:05",
    "email": "someone@example.com",
    "uri": "https://example.com/a",
    "uuid": "123e4567-e89b-42d3-a456-426614174000",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
}


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    node: Any = root
    if ref.startswith("#"):
        for part in ref.lstrip("#").strip("/").split("/"):
            if not part:
                continue
            node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def _string(schema: Mapping[str, Any], rng: random.Random) -> str:
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt]
    min_length = int(schema.get("minLength", 0))
    max_length = int(schema.get("maxLength", 10_000))
    text = words(rng, rng.randint(1, 4), sentence=False)
    while len(text) < min_length:
        text += " " + words(rng, 1, sentence=False)
    return text[:max_length]


def _number(schema: Mapping[str, Any], rng: random.Random, *, integer: bool) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    high = schema.get("maximum", schema.get("exclusiveMaximum", max(low, 0) + 100))
    if "exclusiveMinimum" in schema and "minimum" not in schema:
        low += 1 if integer else 0.01
    if "exclusiveMaximum" in schema and "maximum" not in schema:
        high -= 1 if integer else 0.01
    if integer:
        return rng.randint(int(low), max(int(low), int(high)))
    return round(rng.uniform(float(low), float(max(low, high))), 2)


def _object(schema: Mapping[str, Any], rng: random.Random, root: Mapping[str, Any], depth: int) -> Any:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return {}
    return {name: _value(sub, rng, root, depth + 1) for name, sub in properties.items() if isinstance(sub, Mapping)}


def _array(schema: Mapping[str, Any], rng: random.Random, root: Mapping[str, Any], depth: int) -> Any:
    items = schema.get("items")
    min_items = int(schema.get("minItems", 1))
    max_items = int(schema.get("maxItems", max(min_items, 3)))
    count = rng.randint(min_items, max(min_items, min(max_items, 3)))
    if not isinstance(items, Mapping):
        return [_string({}, rng) for _ in range(count)]
    return [_value(items, rng, root, depth + 1) for _ in range(count)]


def _value(schema: Mapping[str, Any], rng: random.Random, root: Mapping[str, Any], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return None
    if isinstance(schema.get("$ref"), str):
        return _value(_resolve(schema["$ref"], root), rng, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return rng.choice(enum)
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            usable = [o for o in options if isinstance(o, Mapping) and o.get("type") != "null"]
            return _value(rng.choice(usable) if usable else options[0], rng, root, depth + 1)
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and all_of:
        merged: dict[str, Any] = {}
        for part in all_of:
            if isinstance(part, Mapping):
                merged.update(part)
        return _value(merged, rng, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or ["null"]
        kind = kinds[0]
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        return _object(schema, rng, root, depth)
    if kind == "array":
        return _array(schema, rng, root, depth)
    if kind == "integer":
        return _number(schema, rng, integer=True)
    if kind == "number":
        return _number(schema, rng, integer=False)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return _string(schema, rng)


def schema_value(schema: Mapping[str, Any], rng: random.Random) -> Any:
    """A value that fits ``schema``; the same ``rng`` state gives the same value."""
    return _value(schema, rng, schema, 0)
