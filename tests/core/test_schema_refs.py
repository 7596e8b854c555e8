"""Hoisting a caller's ``$defs``/``definitions`` into the triage schema: every local reference still resolves,
and to the same schema it meant in the caller's document."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tiered.cascade.schema_refs import hoist_definitions, local_refs, pointer_ref, pointer_segments
from tiered.cascade.triage import build_triage_request, triage_schema


def resolve(root: Any, ref: str) -> Any:
    """The node ``ref`` points at in ``root``; raises ``LookupError`` when it does not resolve."""
    segments = pointer_segments(ref)
    if segments is None:
        raise LookupError(f"not a local pointer: {ref}")
    node = root
    for part in segments:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise LookupError(f"{ref} does not resolve")
    return node


def unresolved(root: dict[str, Any]) -> list[str]:
    """The local references of ``root`` that do not resolve in it (what the API answers 400 for)."""
    missing = []
    for ref in local_refs(root):
        try:
            resolve(root, ref)
        except LookupError:
            missing.append(ref)
    return missing


def expand(node: Any, root: Any, depth: int = 6) -> Any:
    """``node`` with each reference replaced by what it points at (to ``depth`` levels of references): two
    schemas that mean the same expand the same, whatever their definitions are called."""
    if isinstance(node, list):
        return [expand(item, root, depth) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: expand(value, root, depth) for key, value in node.items() if key not in ("$ref", "$defs", "definitions")
    }
    if isinstance(node.get("$ref"), str):
        out["$ref"] = "..." if depth == 0 else expand(resolve(root, node["$ref"]), root, depth - 1)
    return out


def answer_of(schema: dict[str, Any]) -> Any:
    return schema["properties"]["answer"]["anyOf"][0]


def answer_meaning(schema: dict[str, Any], depth: int = 6) -> Any:
    """What the triage schema's answer means (a root moved into ``$defs`` is referenced from the answer)."""
    answer = answer_of(schema)
    if set(answer) == {"$ref"}:
        answer = resolve(schema, answer["$ref"])
    return expand(answer, schema, depth)


PYDANTIC_NESTED = {
    "$defs": {
        "Address": {
            "properties": {"city": {"title": "City", "type": "string"}},
            "required": ["city"],
            "title": "Address",
            "type": "object",
            "additionalProperties": False,
        }
    },
    "properties": {
        "name": {"title": "Name", "type": "string"},
        "home": {"$ref": "#/$defs/Address"},
        "others": {"items": {"$ref": "#/$defs/Address"}, "type": "array"},
    },
    "required": ["name", "home", "others"],
    "title": "Person",
    "type": "object",
    "additionalProperties": False,
}


def test_pydantic_defs_move_to_the_root_and_resolve() -> None:
    schema = triage_schema(PYDANTIC_NESTED)
    assert unresolved(schema) == []
    assert schema["$defs"] == PYDANTIC_NESTED["$defs"]
    answer = answer_of(schema)
    assert "$defs" not in answer and answer["properties"]["home"] == {"$ref": "#/$defs/Address"}
    assert list(schema["properties"]) == ["confidence", "answer"] and schema["additionalProperties"] is False
    assert answer_meaning(schema) == expand(PYDANTIC_NESTED, PYDANTIC_NESTED)


def test_schema_without_refs_is_nested_unchanged() -> None:
    caller = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    schema = triage_schema(caller)
    assert answer_of(schema) == caller and "$defs" not in schema


def test_defs_and_definitions_with_the_same_name_both_survive() -> None:
    caller = {
        "$defs": {"Item": {"type": "string"}},
        "definitions": {"Item": {"type": "integer"}, "Other": {"$ref": "#/$defs/Item"}},
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/Item"}, "b": {"$ref": "#/definitions/Item"}},
    }
    schema = triage_schema(caller)
    assert unresolved(schema) == []
    assert set(schema["$defs"]) == {"Item", "Item_2", "Other"}
    assert answer_of(schema)["properties"]["b"] == {"$ref": "#/$defs/Item_2"}
    assert schema["$defs"]["Other"] == {"$ref": "#/$defs/Item"}
    assert answer_meaning(schema) == expand(caller, caller)


def test_recursive_and_root_refs_move_the_root_into_defs() -> None:
    tree = {
        "type": "object",
        "properties": {"label": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#"}}},
        "$defs": {"Leaf": {"$ref": "#/properties/label"}},
    }
    schema = triage_schema(tree)
    assert unresolved(schema) == []
    assert answer_of(schema) == {"$ref": "#/$defs/Answer"}
    assert schema["$defs"]["Answer"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Answer"}
    assert schema["$defs"]["Leaf"] == {"$ref": "#/$defs/Answer/properties/label"}
    assert answer_meaning(schema) == expand(tree, tree)


def test_the_root_alias_does_not_take_a_callers_name() -> None:
    caller = {"$defs": {"Answer": {"type": "string"}}, "properties": {"a": {"$ref": "#"}}, "type": "object"}
    hoisted = hoist_definitions(caller)
    assert hoisted.schema == {"$ref": "#/$defs/Answer_2"} and set(hoisted.defs) == {"Answer", "Answer_2"}


def test_reserved_names_are_avoided() -> None:
    hoisted = hoist_definitions({"$defs": {"X": {"type": "string"}}, "$ref": "#/$defs/X"}, reserved={"X"})
    assert hoisted.schema == {"$ref": "#/$defs/X_2"} and hoisted.defs == {"X_2": {"type": "string"}}


def test_data_external_refs_and_anchors_are_left_alone() -> None:
    caller = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.com/person",
        "$defs": {"A": {"type": "string", "const": {"$ref": "#/$defs/A"}}},
        "type": "object",
        "properties": {
            "$ref": {"$ref": "#/$defs/A"},  # a property named "$ref"
            "ext": {"$ref": "https://example.com/other.json#/x"},
            "anchored": {"$ref": "#thing"},
        },
        "default": {"$ref": "#/$defs/A"},
        "enum": [{"$ref": "#/$defs/A"}],
    }
    answer = hoist_definitions(caller).schema
    # $schema and $id only belong at a document's root: nested, $id would change what "#/..." means
    assert "$schema" not in answer and "$id" not in answer
    assert answer["properties"]["ext"] == {"$ref": "https://example.com/other.json#/x"}
    assert answer["properties"]["anchored"] == {"$ref": "#thing"}
    assert answer["default"] == caller["default"] and answer["enum"] == caller["enum"]
    assert hoist_definitions(caller).defs["A"]["const"] == {"$ref": "#/$defs/A"}


def test_escaped_names_round_trip() -> None:
    caller = {
        "definitions": {"a/b": {"type": "string"}, "c~d": {"type": "integer"}, "e f": {"type": "boolean"}},
        "$defs": {"a/b": {"type": "null"}},
        "type": "object",
        "properties": {
            "x": {"$ref": "#/definitions/a~1b"},
            "y": {"$ref": "#/definitions/c~0d"},
            "z": {"$ref": "#/definitions/e%20f"},
        },
    }
    schema = triage_schema(caller)
    assert unresolved(schema) == []
    assert answer_meaning(schema) == expand(caller, caller)


def test_the_input_is_not_modified_and_the_output_is_stable() -> None:
    before = repr(PYDANTIC_NESTED)
    first = triage_schema(PYDANTIC_NESTED)
    assert repr(PYDANTIC_NESTED) == before
    # the same caller schema gives the same triage schema: structured outputs cache grammars per schema
    assert triage_schema(PYDANTIC_NESTED) == first


def test_pointer_helpers_follow_rfc6901() -> None:
    assert pointer_segments("#") == [] and pointer_segments("#anchor") is None
    assert pointer_segments("other.json#/a") is None
    assert pointer_segments("#/a~1b/c~0d/%C3%A9") == ["a/b", "c~d", "é"]
    assert pointer_ref(["$defs", "a/b", "c~d"]) == "#/$defs/a~1b/c~0d"


def test_legacy_output_format_is_read_and_sent_as_output_config() -> None:
    request = {
        "model": "tiered",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
        "output_format": {"type": "json_schema", "schema": PYDANTIC_NESTED},
        "output_config": {"effort": "low"},
    }
    body = build_triage_request(request, "claude-haiku-4-5")
    assert "output_format" not in body
    assert body["output_config"]["effort"] == "low"
    schema = body["output_config"]["format"]["schema"]
    assert unresolved(schema) == [] and answer_meaning(schema) == expand(PYDANTIC_NESTED, PYDANTIC_NESTED)
    tool_body = build_triage_request(request, "claude-haiku-4-5", "tool")
    assert "output_format" not in tool_body and tool_body["output_config"] == {"effort": "low"}
    assert unresolved(tool_body["tools"][-1]["input_schema"]) == []


# -- property: any caller schema with local references keeps its meaning -----------------------------------

NAMES = st.text(alphabet="ab_/~% é", min_size=1, max_size=3)


# a reference is drawn as a number, made into a real one once the definitions' names are known
SHAPES = st.recursive(
    st.sampled_from([{"type": "string"}, {"type": "integer"}, {"enum": ["x", 1]}])
    | st.builds(lambda n: {"$ref": n}, st.integers(0, 20)),
    lambda inner: (
        st.builds(
            lambda props: {"type": "object", "properties": {f"p{i}": p for i, p in enumerate(props)}},
            st.lists(inner, min_size=1, max_size=3),
        )
        | st.builds(lambda item: {"type": "array", "items": item}, inner)
        | st.builds(lambda options: {"anyOf": options}, st.lists(inner, min_size=1, max_size=3))
    ),
    max_leaves=6,
)


def with_refs(shape: Any, refs: list[str]) -> Any:
    if isinstance(shape, list):
        return [with_refs(item, refs) for item in shape]
    if not isinstance(shape, dict):
        return shape
    if isinstance(shape.get("$ref"), int):
        return {"$ref": refs[shape["$ref"] % len(refs)]}
    return {key: with_refs(value, refs) for key, value in shape.items()}


@st.composite
def caller_schemas(draw: st.DrawFn) -> dict[str, Any]:
    """Schemas whose references point at their definitions (under either keyword), the root or a property."""
    names = draw(st.lists(st.tuples(st.sampled_from(["$defs", "definitions"]), NAMES), max_size=4, unique=True))
    refs = [pointer_ref([keyword, name]) for keyword, name in names] + ["#", "#/properties/p0"]
    root: dict[str, Any] = {"type": "object", "properties": {"p0": draw(SHAPES), "p1": draw(SHAPES)}}
    for keyword, name in names:
        root.setdefault(keyword, {})[name] = draw(SHAPES)
    return with_refs(root, refs)  # type: ignore[no-any-return]


@settings(max_examples=100, deadline=None)
@given(caller_schemas())
def test_hoisting_keeps_every_reference_meaning_the_same(caller: dict[str, Any]) -> None:
    schema = triage_schema(caller)
    assert unresolved(schema) == []
    # nothing of the caller's is left where a reference would resolve against the wrong document
    assert "$defs" not in answer_of(schema) and "definitions" not in answer_of(schema)
    assert set(schema) <= {"type", "properties", "required", "additionalProperties", "$defs"}
    assert answer_meaning(schema, 3) == expand(caller, caller, 3)
