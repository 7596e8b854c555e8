from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiered.cascade.stream_parse import TriageStreamParser, parse_triage_object, parse_triage_text


def feed_all(text: str, cuts: list[int], *, structured: bool = False) -> tuple[TriageStreamParser, str]:
    parser = TriageStreamParser(structured_answer=structured)
    answer = ""
    last = 0
    for cut in [*sorted(set(c for c in cuts if 0 < c < len(text))), len(text)]:
        parser.feed(text[last:cut])
        answer += parser.take_answer()
        last = cut
    return parser, answer


@pytest.mark.parametrize(
    "answer",
    ["plain", 'quote " and \\ backslash', "new\nline\ttab", "unicode é 漢字 🎉", "", "a/b", "\u0001 ctrl"],
)
def test_decodes_string_answers_split_anywhere(answer: str) -> None:
    text = json.dumps({"confidence": 0.91, "answer": answer})
    for step in (1, 2, 3, 7):
        parser, decoded = feed_all(text, list(range(0, len(text), step)))
        assert parser.failed is None
        assert parser.confidence == pytest.approx(0.91)
        assert parser.answer_kind == "string"
        assert decoded == answer
        assert parser.done


def test_ascii_escaped_surrogate_pairs() -> None:
    text = json.dumps({"confidence": 1, "answer": "emoji 🎉 and 𝄞"}, ensure_ascii=True)
    parser, decoded = feed_all(text, list(range(len(text))))
    assert decoded == "emoji 🎉 and 𝄞"


def test_confidence_known_before_answer() -> None:
    parser = TriageStreamParser()
    parser.feed('{"confidence": 0.42')
    assert parser.confidence is None  # the number could still continue
    parser.feed(", ")
    assert parser.confidence == pytest.approx(0.42)
    assert parser.answer_kind is None


def test_null_answer() -> None:
    parser, decoded = feed_all('{"confidence": 0.1, "answer": null}', [5, 20, 31, 33])
    assert parser.answer_kind == "null"
    assert decoded == ""
    assert parser.done


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Sure! The answer is 4", "not a JSON object"),
        ('{"confidence": 1.5, "answer": "x"}', "outside"),
        ('{"confidence": -0.1, "answer": "x"}', "outside"),
        ('{"confidence": "high", "answer": "x"}', "JSON number"),
        ('{"confidence": 0.9}', "missing key"),
        ('{"confidence": 0.9, "answer": "x", "extra": 1}', "unexpected key"),
        ('{"confidence": 01, "answer": "x"}', "JSON number"),
        ('{"confidence": 0.9, "answer": "bad \\q escape"}', "bad escape"),
        ('{"confidence": 0.9, "answer": "x"} trailing', "text after"),
    ],
)
def test_failures_are_reported_not_raised(text: str, problem: str) -> None:
    parser, _ = feed_all(text, list(range(0, len(text), 3)))
    assert parser.failed is not None
    assert problem in parser.failed


def test_other_key_order_buffers() -> None:
    parser, _ = feed_all('{"answer": "x", "confidence": 0.9}', [3, 9])
    assert parser.buffering
    assert parser.failed is None
    assert parse_triage_text(parser.text) == (0.9, "string", "x", None)


def test_structured_answer_passes_json_through() -> None:
    inner = {"name": "Ada", "tags": ["a", "b}"], "n": 3}
    text = json.dumps({"confidence": 0.95, "answer": inner})
    parser, decoded = feed_all(text, list(range(0, len(text), 2)), structured=True)
    assert json.loads(decoded) == inner
    assert parser.done
    # a string answer under a caller's schema stays JSON text
    parser, decoded = feed_all(json.dumps({"confidence": 0.9, "answer": "x\ny"}), [4, 30], structured=True)
    assert json.loads(decoded) == "x\ny"


def test_scalar_json_answers() -> None:
    parser, decoded = feed_all('{"confidence": 0.9, "answer": 42}', [10, 31], structured=True)
    assert decoded == "42"
    assert parser.done


def test_parse_triage_object_rules() -> None:
    assert parse_triage_object({"confidence": True, "answer": "x"})[3] == "confidence is not a number"
    assert parse_triage_object({"confidence": float("nan"), "answer": "x"})[3] is not None
    assert parse_triage_object([1, 2])[3] == "reply is not a JSON object"
    assert parse_triage_object({"confidence": 0.5, "answer": {"a": 1}}) == (0.5, "json", '{"a":1}', None)


@settings(max_examples=400, deadline=None)
@given(st.text(), st.lists(st.integers(min_value=0, max_value=200)))
def test_parser_never_raises_on_arbitrary_text(text: str, cuts: list[int]) -> None:
    parser, _ = feed_all(text, cuts)
    parse_triage_text(text)
    assert parser.failed is None or isinstance(parser.failed, str)


@settings(max_examples=300, deadline=None)
@given(
    st.floats(min_value=0, max_value=1, allow_nan=False),
    st.one_of(st.none(), st.text()),
    st.lists(st.integers(min_value=0, max_value=400)),
    st.booleans(),
)
def test_stream_and_whole_parse_agree(conf: float, answer: str | None, cuts: list[int], ascii_only: bool) -> None:
    text = json.dumps({"confidence": conf, "answer": answer}, ensure_ascii=ascii_only)
    parser, decoded = feed_all(text, cuts)
    assert parser.failed is None, parser.failed
    assert parser.confidence == conf
    whole = parse_triage_text(text)
    assert whole[0] == conf
    if answer is None:
        assert parser.answer_kind == "null"
    else:
        assert decoded == answer == whole[2]
