"""Stop sequences applied to a shipped answer: whole, and streamed in pieces split anywhere."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from tiered.cascade.stop_sequences import Ending, StopCutter, ending, first_stop, stop_sequences_of
from tiered.cascade.triage import build_triage_request


def test_the_answer_ends_before_the_first_stop_sequence() -> None:
    assert ending("Paris. END and more", ["END"]) == Ending("Paris. ", "stop_sequence", "END")
    assert ending("no match here", ["END"]) == Ending("no match here", "end_turn", None)
    assert ending("no stops", []) == Ending("no stops", "end_turn", None)
    assert ending("cut", [], "max_tokens") == Ending("cut", "max_tokens", None)
    assert ending("END first", ["END"]) == Ending("", "stop_sequence", "END")


def test_first_means_complete_first() -> None:
    # "b" is complete (at index 2) before "abc" is (index 3), though "abc" starts earlier
    assert first_stop("xabcd", ["abc", "b"]) == (2, "b")
    # complete at the same character: the one that starts earlier
    assert first_stop("xabc", ["bc", "abc"]) == (1, "abc")
    assert first_stop("line one\nline two", ["\n", "two"]) == (8, "\n")
    assert first_stop("abc", ["", "z"]) is None


def test_stop_sequences_of_ignores_what_is_not_a_stop_sequence() -> None:
    assert stop_sequences_of({"stop_sequences": ["END", "", 3, "\n"]}) == ("END", "\n")
    assert stop_sequences_of({"stop_sequences": "END"}) == ()
    assert stop_sequences_of({}) == ()


def test_cutter_holds_back_what_may_begin_a_stop_sequence() -> None:
    cutter = StopCutter(["</answer>"])
    assert cutter.feed("The answer is 4") == "The ans"  # 8 characters held: they may begin "</answer>"
    assert cutter.feed(" exactly.</ans") == "wer is 4 exact"
    assert cutter.feed("wer> ignored") == "ly."
    assert cutter.matched == "</answer>"
    assert cutter.feed("more") == "" and cutter.flush() == ""


def test_cutter_without_stops_passes_text_through() -> None:
    cutter = StopCutter([])
    assert cutter.feed("abc") == "abc" and cutter.flush() == "" and cutter.matched is None


def test_cutter_flushes_the_tail_at_the_end() -> None:
    cutter = StopCutter(["STOP"])
    assert cutter.feed("all fine, ST") == "all fine,"
    assert cutter.flush() == " ST" and cutter.matched is None


def test_triage_goes_without_stop_sequences_and_the_caller_keeps_them() -> None:
    request = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 9, "stop_sequences": ["END"]}
    body = build_triage_request(request, "claude-haiku-4-5")
    assert "stop_sequences" not in body and request["stop_sequences"] == ["END"]
    assert "stop_sequences" not in build_triage_request(request, "m", "tool")


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet="ab\nXY", max_size=40),
    stops=st.lists(st.text(alphabet="ab\nX", min_size=1, max_size=4), max_size=3),
    cuts=st.lists(st.integers(0, 40), max_size=8),
)
def test_streamed_cut_equals_the_whole_cut(text: str, stops: list[str], cuts: list[int]) -> None:
    """However the answer is split, the streamed answer is the whole answer's cut, never a character past the
    stop sequence, and it reports the same stop sequence."""
    whole = ending(text, stops)
    cutter = StopCutter(stops)
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    shown = ""
    for start, end in pairwise(bounds):
        shown += cutter.feed(text[start:end])
        assert whole.text.startswith(shown)  # nothing past the stop sequence is ever shown
    if cutter.matched is None:
        shown += cutter.flush()
    assert shown == whole.text
    assert cutter.matched == whole.stop_sequence
