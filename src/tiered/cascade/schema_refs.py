"""Moving a caller's JSON schema inside another schema without breaking its local ``$ref``s.

A local reference (``"#/$defs/Item"``, ``"#"``) is a JSON pointer from the root of the document it is in.
The triage nests the caller's output schema under ``properties.answer``, so each of its references would
point at the wrong place. :func:`hoist_definitions` returns the caller's schema ready to nest, with

- its root ``$defs`` and ``definitions`` moved out, to be placed under ``$defs`` at the new document's root
  (renamed ``Name_2``, ``Name_3``... where a name is taken: by the host schema, or by the other keyword);
- every reference into them rewritten to ``#/$defs/<name>...``, the rest of the pointer kept;
- any other local reference (``"#"`` for a recursive root, ``"#/properties/a"``) kept working by moving the
  caller's root itself into ``$defs`` too; the nested schema is then a ``$ref`` to it.

Structured outputs accept ``$ref``, ``$defs`` and ``definitions`` but not external references
(https://platform.claude.com/docs/en/build-with-claude/structured-outputs, "JSON Schema limitations"), and
Pydantic writes every nested model as ``#/$defs/<Model>`` at the root, so hoisting keeps the caller's schema
in the form the API documents. Anything that is not a local pointer (``"other.json#/x"``, an anchor
``"#name"``) is left as written: the API refuses external references for the caller's own request too.

The walk follows the keywords that hold schemas; values of ``enum``, ``const``, ``default``, ``examples`` and
property names are data and are never rewritten. Pure code; the input is never modified.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, unquote

__all__ = ["Hoisted", "hoist_definitions", "local_refs", "pointer_ref", "pointer_segments"]

DEF_KEYWORDS: Final = ("$defs", "definitions")
ROOT_ALIAS: Final = "Answer"

# keywords whose value is a map of name -> schema, a schema, or a list of schemas (JSON Schema 2020-12 and
# draft-07, whose array form of "items" is a list)
_SCHEMA_MAPS: Final = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
_SCHEMA_VALUES: Final = frozenset(
    {
        "additionalProperties",
        "additionalItems",
        "items",
        "contains",
        "propertyNames",
        "not",
        "if",
        "then",
        "else",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentSchema",
    }
)
_SCHEMA_LISTS: Final = frozenset({"anyOf", "allOf", "oneOf", "prefixItems", "items"})
# only meaningful at a document's root: nested, "$id" would make "#/..." resolve against the nested schema
_ROOT_ONLY: Final = ("$schema", "$id")
# what a URI fragment may hold unencoded (RFC 3986 section 3.5), "/" aside: it separates pointer segments
_FRAGMENT_SAFE: Final = "-._~!$&'()*+,;=:@?"


@dataclass(frozen=True, slots=True)
class Hoisted:
    """The caller's schema to nest, and the definitions to put under ``$defs`` at the new root."""

    schema: dict[str, Any]
    defs: dict[str, Any] = field(default_factory=dict)


def _map_schema(schema: Any, rewrite: Callable[[str], str]) -> Any:
    """A copy of ``schema`` with every ``$ref`` string passed through ``rewrite``."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str):
            out[key] = rewrite(value)
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _map_schema(sub, rewrite) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_map_schema(sub, rewrite) for sub in value]
        elif key in _SCHEMA_VALUES and isinstance(value, dict):
            out[key] = _map_schema(value, rewrite)
        else:
            out[key] = value  # data (enum, const, default...) or an annotation: kept as it is
    return out


def local_refs(schema: Any) -> list[str]:
    """Every ``$ref`` string in ``schema``, in document order."""
    found: list[str] = []

    def note(ref: str) -> str:
        found.append(ref)
        return ref

    _map_schema(schema, note)
    return found


def pointer_segments(ref: str) -> list[str] | None:
    """The segments of a local JSON pointer reference (``"#/a/b~1c"`` -> ``["a", "b/c"]``), decoded as RFC 6901
    section 6 says (percent-decoding first, then ``~1`` and ``~0``); ``None`` for anything else."""
    if not ref.startswith("#"):
        return None
    pointer = unquote(ref[1:])
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        return None  # "#name": an anchor, not a pointer
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def pointer_ref(segments: list[str]) -> str:
    """The reference for ``segments`` (escaped, and percent-encoded where a URI fragment needs it)."""
    return "#" + "".join(
        "/" + quote(part.replace("~", "~0").replace("/", "~1"), safe=_FRAGMENT_SAFE) for part in segments
    )


def _fresh(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate


class _Rewriter:
    """Rewrites the caller's local references for the new document; notes when the root must move too."""

    def __init__(self, names: Mapping[tuple[str, str], str], root_alias: str) -> None:
        self.names = names  # (keyword, name) -> the name under the new root's $defs
        self.root_alias = root_alias
        self.root_used = False

    def __call__(self, ref: str) -> str:
        segments = pointer_segments(ref)
        if segments is None:
            return ref  # external, relative or an anchor: not a pointer into this schema
        if len(segments) >= 2 and segments[0] in DEF_KEYWORDS:
            new = self.names.get((segments[0], segments[1]))
            if new is not None:
                return pointer_ref(["$defs", new, *segments[2:]])
        self.root_used = True  # "#", or a pointer into the caller's root schema itself
        return pointer_ref(["$defs", self.root_alias, *segments])


def hoist_definitions(schema: Mapping[str, Any], reserved: Collection[str] = ()) -> Hoisted:
    """Prepare ``schema`` to be nested anywhere in a new document whose root ``$defs`` will hold
    :attr:`Hoisted.defs`; ``reserved`` names are already used there by the host schema."""
    taken = set(reserved)
    names: dict[tuple[str, str], str] = {}
    for keyword in DEF_KEYWORDS:
        defs = schema.get(keyword)
        if isinstance(defs, dict):
            for name in defs:
                names[(keyword, name)] = _fresh(name, taken)
    rewriter = _Rewriter(names, _fresh(ROOT_ALIAS, set(taken)))
    root = {k: v for k, v in schema.items() if not (k in DEF_KEYWORDS and isinstance(v, dict)) and k not in _ROOT_ONLY}
    hoisted: dict[str, Any] = {}
    for (keyword, name), new in names.items():
        hoisted[new] = _map_schema(schema[keyword][name], rewriter)
    nested = _map_schema(root, rewriter)
    if not rewriter.root_used:
        return Hoisted(nested, hoisted)
    hoisted[rewriter.root_alias] = nested
    return Hoisted({"$ref": f"#/$defs/{rewriter.root_alias}"}, hoisted)
