"""The strategy interface the pure policy reads, and the learned model file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tiered.cascade.policy import Reply, TriageRead, cascade, early_read, judge
from tiered.cascade.stream_parse import TriageStreamParser
from tiered.confidence.features import FEATURE_NAMES, SignalInput, features
from tiered.confidence.linear import LinearConfidence
from tiered.confidence.model_file import ModelFile, load_learned, read_model_file, write_model_file
from tiered.confidence.strategy import (
    Learned,
    RequestFacts,
    Scorer,
    SelfReport,
    bind,
    request_facts,
    request_kind,
)
from tiered.config import RouteSettings
from tiered.decision import EscalationReason
from tiered.quality.transcript import parse_request_text, request_text

HEDGE_INDEX = FEATURE_NAMES.index("hedges")


def hedge_model() -> LinearConfidence:
    """P(right) falls with hedging only: 0.5 at no hedges' mean, far lower with one."""
    n = len(FEATURE_NAMES)
    coef = [0.0] * n
    coef[HEDGE_INDEX] = -4.0
    return LinearConfidence(FEATURE_NAMES, (0.0,) * n, (1.0,) * n, tuple(coef), 2.0)


REQUEST = {"model": "x", "max_tokens": 50, "messages": [{"role": "user", "content": "How many legs have 3 cats?"}]}


def test_self_report_is_the_stated_confidence_through_its_map() -> None:
    read = TriageRead(confidence=0.9, answer_kind="string", answer="12")
    assert SelfReport().score(read, RequestFacts()) == 0.9
    assert SelfReport(lambda c: c / 2).score(read, RequestFacts()) == 0.45
    verdict = judge(read, 0.5, bind(SelfReport(lambda c: c / 2), REQUEST))
    assert (verdict.ship, verdict.reason, verdict.confidence, verdict.score) == (
        False,
        EscalationReason.LOW_CONFIDENCE,
        0.9,
        0.45,
    )


def test_learned_scores_the_features_of_answer_and_request() -> None:
    model = hedge_model()
    strategy = Learned(model, version=3)
    facts = request_facts(REQUEST)
    assert facts == RequestFacts("How many legs have 3 cats?", 1, "math")
    plain = TriageRead(confidence=0.99, answer_kind="string", answer="Twelve legs.")
    hedged = TriageRead(confidence=0.99, answer_kind="string", answer="Maybe twelve, I think.")
    expected = model(features(SignalInput("Twelve legs.", 0.99, facts.text, facts.turns, facts.kind)))
    assert strategy.score(plain, facts) == pytest.approx(expected)
    assert strategy.score(hedged, facts) < 0.5 < strategy.score(plain, facts)
    scorer = bind(strategy, REQUEST)
    assert isinstance(scorer, Scorer) and scorer.needs_answer
    assert judge(plain, 0.8, scorer).ship
    verdict = judge(hedged, 0.8, scorer)
    assert (verdict.ship, verdict.reason, verdict.confidence) == (False, EscalationReason.LOW_CONFIDENCE, 0.99)


def test_live_facts_read_the_request_as_training_reads_the_stored_one() -> None:
    request = {
        "model": "x",
        "max_tokens": 5,
        "tools": [{"name": "t", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": [{"type": "text", "text": "and now?"}]},
        ],
    }
    live = request_facts(request)
    from tiered.confidence.strategy import facts_of_stored

    assert live == facts_of_stored(parse_request_text(request_text(request))) == RequestFacts("and now?", 2, "tools")
    assert request_kind("def f(): pass", False) == "code"
    assert request_kind("Tell me a story", False) == "chat"


def test_bind_passes_maps_through_and_reads_the_request_only_when_needed() -> None:
    def halve(c: float) -> float:
        return c / 2

    assert bind(None, REQUEST) is None
    assert bind(halve, REQUEST) is halve
    bound = bind(SelfReport(), {"not": "a request"})
    assert isinstance(bound, Scorer) and bound.facts == RequestFacts()


def test_early_read_waits_for_the_whole_answer_when_the_score_needs_it() -> None:
    scorer = bind(Learned(hedge_model()), REQUEST)
    assert isinstance(scorer, Scorer)
    parser = TriageStreamParser()
    text = '{"confidence": 0.1, "answer": "Twelve'
    parser.feed(text)
    # a stated 0.1 would cut a self-report triage now; the learned score waits for the answer
    assert early_read(parser, "Twelve", 0.8, None) is not None
    assert early_read(parser, "Twelve", 0.8, scorer) is None
    parser.feed(' legs."}')
    read = early_read(parser, "Twelve legs.", 0.8, scorer)
    assert read is not None and read.answer == "Twelve legs." and read.confidence == 0.1


def test_cascade_binds_the_tier_strategy_and_carries_it_on_the_triage_call() -> None:
    route = RouteSettings.model_validate({"tiers": ["claude-haiku-4-5", "claude-opus-4-7"], "threshold": 0.8})
    plan = cascade(REQUEST, route, {0: Learned(hedge_model())})
    call = next(plan)
    assert isinstance(call.calibrate, Scorer) and call.calibrate.facts.text == "How many legs have 3 cats?"
    read = TriageRead(confidence=0.2, answer_kind="string", answer="Twelve legs.")
    with pytest.raises(StopIteration) as stop:
        plan.send(Reply(triage=read))
    step = stop.value.value
    assert step.kind == "ship" and step.verdicts[0].score == pytest.approx(call.calibrate.score(read))
    plain = cascade(REQUEST, route, {})
    assert next(plain).calibrate is None


def test_model_file_round_trip_pin_and_refusals(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    write_model_file(path, ModelFile(4, hedge_model(), "default", 0, {"auroc": 0.7}))
    back = read_model_file(path)
    assert (back.version, back.model, back.route, back.metrics) == (4, hedge_model(), "default", {"auroc": 0.7})
    assert load_learned(path, 4).version == 4
    with pytest.raises(ValueError, match="holds version 4, the route pins version 5"):
        load_learned(path, 5)
    doc = json.loads(path.read_text())
    doc["model"]["names"] = doc["model"]["names"][::-1]
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="other features"):
        read_model_file(path)
    path.write_text("{}")
    with pytest.raises(ValueError, match="not a tiered-confidence-model"):
        read_model_file(path)


def test_config_picks_the_strategy_per_tier_and_needs_a_model_for_learned(tmp_path: Path) -> None:
    route = RouteSettings.model_validate(
        {"tiers": ["a", "b", "c"], "confidence": "learned", "confidence_model": tmp_path / "m.json"}
    )
    assert route.confidence_for(0) == ("learned", tmp_path / "m.json", None)
    assert route.confidence_for(1) == ("self_report", None, None)
    with pytest.raises(ValueError, match="needs a confidence_model"):
        RouteSettings.model_validate({"tiers": ["a", "b"], "confidence": "learned"})
    tiers = [{"model": "a"}, {"model": "b", "confidence": "learned", "confidence_model": "x.json"}, "c"]
    own = RouteSettings.model_validate({"tiers": tiers})
    assert own.confidence_for(1) == ("learned", Path("x.json"), None)
