"""Request-shape rules of the Messages API that hold whatever the model: structured outputs and citations.

Each rule cites where the real API's behaviour is documented. Where the exact message is not documented the
comment says so and the text is a faithful paraphrase.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["check_shape", "schema_problem"]

_STRUCTURED: Final = "https://platform.claude.com/docs/en/build-with-claude/structured-outputs"

# "JSON Schema limitations" of structured outputs (_STRUCTURED#json-schema-limitations): numerical constraints
# (minimum, maximum, multipleOf, ...) and string constraints (minLength, maxLength) are not supported, nor array
# constraints beyond minItems 0 or 1. The API names them per type, sorted: "For 'number' type, properties
# maximum, minimum are not supported" / "For 'array' type, property 'maxItems' is not supported" (messages
# quoted in public issues of API users; the docs do not print them).
_UNSUPPORTED: Final[dict[str, frozenset[str]]] = {
    "number": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}),
    "integer": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}),
    "string": frozenset({"minLength", "maxLength"}),
    "array": frozenset({"maxItems", "uniqueItems", "contains"}),
}
_SUBSCHEMA_LISTS: Final = ("anyOf", "allOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAPS: Final = ("properties", "$defs", "definitions", "patternProperties")
_SUBSCHEMAS: Final = ("items", "not", "additionalProperties")


def _resolve(root: dict[str, Any], ref: str) -> Any:
    """The schema a local ``#/...`` JSON pointer names from ``root``, or ``None``."""
    node: Any = root
    for raw in ref[2:].split("/") if ref != "#" else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _ref_problem(root: dict[str, Any], ref: Any, stack: tuple[str, ...]) -> str | None:
    # Only local references are supported ("External $ref references" are not) and a reference resolves from
    # the schema's root, where $defs/definitions live: _STRUCTURED#json-schema-limitations. Recursive schemas
    # are not supported either. The messages are paraphrases: the docs do not print them.
    if not isinstance(ref, str) or not ref.startswith("#"):
        return f"$ref {ref!r} is not supported: only local references ('#/...') are allowed"
    if ref in stack:
        return f"recursive schemas are not supported ($ref {ref!r})"
    if ref != "#" and not ref.startswith("#/"):
        return f"$ref {ref!r} could not be resolved"
    target = _resolve(root, ref)
    if not isinstance(target, dict):
        return f"$ref {ref!r} could not be resolved"
    return None


def _keyword_problem(node: dict[str, Any]) -> str | None:
    kinds = node.get("type")
    for kind in kinds if isinstance(kinds, list) else [kinds]:
        found = sorted(k for k in _UNSUPPORTED.get(kind, ()) if k in node) if isinstance(kind, str) else []
        if kind == "array" and isinstance(node.get("minItems"), int) and node["minItems"] > 1:
            found = sorted([*found, "minItems"])
        if len(found) == 1:
            return f"For '{kind}' type, property '{found[0]}' is not supported"
        if found:
            return f"For '{kind}' type, properties {', '.join(found)} are not supported"
    # additionalProperties may only be false on objects (_STRUCTURED#json-schema-limitations); paraphrase.
    extra = node.get("additionalProperties")
    if extra is not None and extra is not False:
        return "For 'object' type, 'additionalProperties' must be explicitly set to false"
    return None


def _children(node: dict[str, Any]) -> list[Any]:
    children: list[Any] = [node[k] for k in _SUBSCHEMAS if isinstance(node.get(k), dict)]
    for key in _SUBSCHEMA_LISTS:
        if isinstance(node.get(key), list):
            children += node[key]
    for key in _SUBSCHEMA_MAPS:
        if isinstance(node.get(key), dict):
            children += node[key].values()
    return children


def _walk(root: dict[str, Any], node: Any, stack: tuple[str, ...]) -> str | None:
    if not isinstance(node, dict):
        return None
    if "$ref" in node:
        problem = _ref_problem(root, node["$ref"], stack)
        if problem:
            return problem
        return _walk(root, _resolve(root, node["$ref"]), (*stack, node["$ref"]))
    problem = _keyword_problem(node)
    if problem:
        return problem
    for child in _children(node):
        problem = _walk(root, child, stack)
        if problem:
            return problem
    return None


def schema_problem(schema: Any) -> str | None:
    """What the real API rejects in a structured-output (or strict tool) JSON schema; ``None`` if nothing."""
    if not isinstance(schema, dict):
        return "schema: Input should be an object"
    return _walk(schema, schema, ())


def _format_problem(where: str, fmt: Any) -> str | None:
    if not isinstance(fmt, dict):
        return f"{where}: Input should be an object"
    if fmt.get("type") != "json_schema":
        return f"{where}.type: Input should be 'json_schema'"
    problem = schema_problem(fmt.get("schema"))
    return f"{where}.schema: {problem}" if problem else None


def _cites(body: dict[str, Any]) -> bool:
    """Citations enabled on a user-provided document (``document`` or ``search_result`` block)."""
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict) or block.get("type") not in ("document", "search_result"):
                continue
            citations = block.get("citations")
            if isinstance(citations, dict) and citations.get("enabled") is True:
                return True
    return False


def _tools_problem(body: dict[str, Any]) -> str | None:
    # Strict tool use applies the same schema subset to a tool's input_schema:
    # https://platform.claude.com/docs/en/agents-and-tools/tool-use/strict-tool-use
    for i, tool in enumerate(body.get("tools") or []):
        if isinstance(tool, dict) and tool.get("strict") is True:
            problem = schema_problem(tool.get("input_schema"))
            if problem:
                return f"tools.{i}.custom: {problem}"
    return None


def check_shape(body: dict[str, Any]) -> str | None:
    """The 400 message the real API answers a validated Messages body with for its shape; ``None`` if none."""
    config = body.get("output_config")
    current = config.get("format") if isinstance(config, dict) else None
    legacy = body.get("output_format")
    if current is not None and legacy is not None:
        # The deprecated output_format and output_config.format are one setting
        # (https://platform.claude.com/docs/en/about-claude/models/migration-guide, "Migrate to
        # output_config.format"); the SDKs refuse both with this message (anthropic-sdk-typescript
        # src/resources/beta/messages/messages.ts, transformOutputFormat). The API's own text is not
        # documented; the SDK's is used.
        return (
            "Both output_format and output_config.format were provided. "
            "Please use only output_config.format (output_format is deprecated)."
        )
    problem = (_format_problem("output_config.format", current) if current is not None else None) or (
        _format_problem("output_format", legacy) if legacy is not None else None
    )
    if problem:
        return problem
    if (current is not None or legacy is not None) and _cites(body):
        # "If you enable citations on any user-provided document (document blocks or search_result blocks) and
        # also include the output_config.format parameter (or the deprecated output_format parameter), the API
        # returns a 400 error": https://platform.claude.com/docs/en/build-with-claude/citations
        # The message is a paraphrase: the docs do not print it.
        return "Citations are not supported together with structured outputs (output_config.format)."
    return _tools_problem(body)
