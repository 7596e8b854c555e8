"""Audit sampling: reproducible, at the configured rate, and unbiased when stratified."""

from __future__ import annotations

import random
from dataclasses import replace

from scipy import stats
from tests.quality._quality_helpers import escalated, shipped

from tiered.config import load_settings
from tiered.quality.bounds import effective_counts
from tiered.quality.sampler import AuditSampler, audit_draw, inclusion_probability
from tiered.quality.transcript import parse_request_text, render_transcript, request_text
from tiered.router import new_decision_id


def sampler(**route: object) -> AuditSampler:
    return AuditSampler(load_settings(overrides={f"routes.default.{k}": v for k, v in route.items()}))


def test_rate_holds_statistically() -> None:
    n, rate = 200_000, 0.01
    picked = sum(audit_draw(f"dec_{i:016x}") < rate for i in range(n))
    # two-sided exact binomial test: a correct sampler fails this once in a million runs
    assert stats.binomtest(picked, n, rate).pvalue > 1e-6, picked
    # and the draws are uniform on [0, 1) as a whole, not only below 1%
    draws = [audit_draw(f"x{i}") for i in range(20_000)]
    assert stats.kstest(draws, "uniform").pvalue > 1e-6


def test_real_ids_at_the_default_rate() -> None:
    s = sampler()
    n = 100_000
    picked = sum(s.pick(shipped(new_decision_id())) is not None for _ in range(n))
    assert stats.binomtest(picked, n, 0.01).pvalue > 1e-6, picked


def test_reproducible_and_only_shipped_answers() -> None:
    s = sampler(audit_rate=0.5)
    ids = [f"dec_{i:04d}" for i in range(400)]
    first = [s.pick(shipped(i)) is not None for i in ids]
    again = [
        AuditSampler(load_settings(overrides={"routes.default.audit_rate": 0.5})).pick(shipped(i)) is not None
        for i in ids
    ]
    assert first == again  # another replica agrees
    assert 150 < sum(first) < 250
    assert all(s.pick(escalated(i)) is None for i in ids)
    assert all(sampler(audit_rate=1.0).pick(shipped(i, route="no-such-route")) is None for i in ids[:10])
    assert all(sampler(audit_rate=0.0).pick(shipped(i)) is None for i in ids)
    pick = sampler(audit_rate=1.0).pick(shipped("dec_x"))
    assert pick is not None and pick.probability == 1.0 and pick.weight == 1.0 and pick.sampler == "uniform"


def test_strata_probability_and_weight() -> None:
    settings = load_settings(
        overrides={
            "routes.default.audit_rate": 0.01,
            "routes.default.audit_strata": [{"margin": 0.1, "rate": 0.2}, {"margin": 0.02, "rate": 0.5}],
        }
    )
    route = settings.route("default")
    assert inclusion_probability(route, shipped("a", confidence=0.81, threshold=0.8)) == (0.5, "stratified")
    assert inclusion_probability(route, shipped("b", confidence=0.85, threshold=0.8)) == (0.2, "stratified")
    assert inclusion_probability(route, shipped("c", confidence=0.95, threshold=0.8)) == (0.01, "uniform")
    s = AuditSampler(settings)
    picks = [p for i in range(5000) if (p := s.pick(shipped(f"d{i}", confidence=0.81))) is not None]
    assert stats.binomtest(len(picks), 5000, 0.5).pvalue > 1e-6
    assert {p.weight for p in picks} == {0.01 / 0.5}


def test_strata_use_the_calibrated_score_and_fall_back_to_the_raw_confidence() -> None:
    """The threshold judges the calibrated score, so the margin is ``score - threshold``; an old row without a
    score falls back to its raw confidence."""
    settings = load_settings(
        overrides={"routes.default.audit_rate": 0.01, "routes.default.audit_strata": [{"margin": 0.05, "rate": 0.5}]}
    )
    route = settings.route("default")
    # raw 0.99 is far above the threshold, but its calibrated score 0.82 is just past it: near, so oversampled
    near = replace(shipped("a", confidence=0.99, threshold=0.8), score=0.82)
    assert inclusion_probability(route, near) == (0.5, "stratified")
    # and the other way round: a raw 0.81 calibrated up to 0.95 is far from the threshold
    far = replace(shipped("b", confidence=0.81, threshold=0.8), score=0.95)
    assert inclusion_probability(route, far) == (0.01, "uniform")
    old = shipped("c", confidence=0.81, threshold=0.8)
    assert old.score is None and inclusion_probability(route, old) == (0.5, "stratified")
    assert inclusion_probability(route, replace(old, confidence=None)) == (0.01, "uniform")


def test_stratified_estimate_is_unbiased() -> None:
    """Wrong answers concentrate near the threshold; oversampling there with weights recovers the true rate,
    while the unweighted share of the sample overstates it."""
    settings = load_settings(
        overrides={"routes.default.audit_rate": 0.05, "routes.default.audit_strata": [{"margin": 0.05, "rate": 0.5}]}
    )
    s = AuditSampler(settings)
    rng = random.Random(7)
    population = []
    for i in range(60_000):
        confidence = 0.8 + rng.random() * 0.2
        p_wrong = 0.25 if confidence < 0.85 else 0.02
        population.append((f"dec_{i}", confidence, rng.random() < p_wrong))
    truth = sum(w for _, _, w in population) / len(population)
    sample = []
    for ident, confidence, wrong in population:
        pick = s.pick(shipped(ident, confidence=confidence, threshold=0.8))
        if pick is not None:
            sample.append((pick.weight, wrong))
    rate, _, n_eff = effective_counts(sample)
    naive = sum(w for _, w in sample) / len(sample)
    assert abs(rate - truth) < 0.01, (rate, truth)
    assert naive > truth + 0.05  # what the weights are for
    assert n_eff < len(sample)


def test_transcript_round_trip() -> None:
    request = {
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "Look:"}, {"type": "image", "source": {"data": "AAAA"}}],
            },
            {"role": "assistant", "content": "An image of a cat."},
            {"role": "user", "content": "Its colour?"},
        ],
        "tools": [{"name": "lookup", "input_schema": {}}],
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
    }
    text = request_text(request)
    assert "AAAA" not in text
    stored = parse_request_text(text)
    assert stored.system == "Be brief."
    assert [m.role for m in stored.messages] == ["user", "assistant", "user"]
    assert stored.messages[0].text == "Look:\n[image]"
    assert stored.tools == ("lookup",)
    shown = render_transcript(stored)
    assert "[system]\nBe brief." in shown and "[user]\nIts colour?" in shown and "JSON schema" in shown
    # text stored in another shape is one user message
    assert parse_request_text("plain text").messages[0].text == "plain text"
