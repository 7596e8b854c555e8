"""An evaluation grades a triage answer as it would ship: cut at the caller's first stop sequence (the triage
call itself goes without them, see tiered.cascade.stop_sequences)."""

from __future__ import annotations

import json

from tiered.offline.eval_plan import CallReply, PlannedCall, read_tiers
from tiered.offline.eval_prices import EvalPricer
from tiered.pricing import default_price_book


def _triage_reply(answer: str) -> CallReply:
    text = json.dumps({"confidence": 0.9, "answer": answer})
    body = {
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }
    return CallReply(body)


def _call(stops: tuple[str, ...]) -> PlannedCall:
    return PlannedCall("k", "triage", 0, "claude-haiku-4-5", "anthropic", {}, stop_sequences=stops)


def test_a_triage_answer_is_graded_up_to_the_first_stop_sequence() -> None:
    pricer = EvalPricer(default_price_book())
    (cut,) = read_tiers([_call(("\n\n",))], {"k": _triage_reply("Paris.\n\nMore text the caller cut off.")}, pricer)
    assert cut.answer == "Paris."
    (whole,) = read_tiers([_call(())], {"k": _triage_reply("Paris.\n\nMore.")}, pricer)
    assert whole.answer == "Paris.\n\nMore."
