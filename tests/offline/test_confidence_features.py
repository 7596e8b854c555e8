"""The no-extra-call features of a triage (tiered.confidence.features) on fixed inputs."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from tiered.confidence import FEATURE_NAMES, REQUEST_KINDS, SignalInput, features
from tiered.confidence.features import arithmetic_checks

SRC = str(Path(__file__).resolve().parents[2] / "src")


def named(signal: SignalInput) -> dict[str, float]:
    values = features(signal)
    assert len(values) == len(FEATURE_NAMES)
    return dict(zip(FEATURE_NAMES, values, strict=True))


def test_a_worked_answer_with_a_final_number() -> None:
    answer = "She has 6 boxes of 7 eggs: 6 * 7 = <<6*7=42>>42 eggs.\n#### 42\n"
    f = named(SignalInput(answer=answer, request_text="6 boxes of 7 eggs. How many eggs?", kind="math"))
    assert f["final_answer_marker"] == 1.0
    assert f["final_answer_numeric"] == 1.0
    assert f["arithmetic_checks"] == pytest.approx(math.log1p(2))  # the annotation and "6 * 7 = ..."
    assert f["arithmetic_error_share"] == 0.0
    assert f["request_numbers_used"] == 1.0
    assert f["answer_log_lines"] == pytest.approx(math.log1p(2))
    assert f["answer_log_chars"] == pytest.approx(math.log1p(len(answer)))
    assert f["hedges"] == 0.0 and f["refusal"] == 0.0 and f["self_corrections"] == 0.0
    assert f["kind_math"] == 1.0 and sum(f[f"kind_{k}"] for k in REQUEST_KINDS) == 1.0


def test_wrong_arithmetic_is_counted_and_fractions_are_not_misread() -> None:
    assert arithmetic_checks("2 + 2 = 5, then 10 x 3 = 30 and (3 + 4) * 2 = 14") == (3, 1)
    # "2 + 1/2 = 5/2" must not be read as "2 + 1/2 = 5"
    assert arithmetic_checks("2 + 1/2 = 5/2 bolts") == (0, 0)
    assert arithmetic_checks("<<1,200/4=300>> and $1,200 / 4 = $300") == (2, 0)
    assert arithmetic_checks("1/3 = 0.333") == (1, 0)  # rounding within 1% is right
    assert arithmetic_checks("no numbers here = none") == (0, 0)
    assert arithmetic_checks("<<2**9=512>> <<7/0=1>>") == (0, 0)  # powers and division by zero are skipped


def test_hedges_refusals_self_corrections_and_repetition() -> None:
    f = named(SignalInput(answer="I think it is maybe 4. Wait, actually I can't be sure."))
    assert f["hedges"] == pytest.approx(math.log1p(2))
    assert f["self_corrections"] == pytest.approx(math.log1p(2))
    assert f["refusal"] == 1.0
    assert f["final_answer_marker"] == 0.0
    looped = named(SignalInput(answer="a b c a b c a b c"))
    assert looped["repetition"] == pytest.approx(1 - 3 / 7)
    assert named(SignalInput(answer=""))["repetition"] == 0.0


def test_stated_confidence_request_and_conversation() -> None:
    f = named(SignalInput(answer="7", stated_confidence=None, request_text="3 apples and 4 pears", turns=3))
    assert f["stated_confidence"] == 0.0 and f["has_stated_confidence"] == 0.0
    assert f["request_numbers_used"] == 0.0
    assert f["request_log_numbers"] == pytest.approx(math.log1p(2))
    assert f["conversation_log_turns"] == pytest.approx(math.log1p(3))
    assert f["kind_chat"] == 1.0
    clipped = named(SignalInput(answer="x", stated_confidence=1.7, kind="poetry"))
    assert clipped["stated_confidence"] == 1.0 and clipped["has_stated_confidence"] == 1.0
    assert clipped["kind_other"] == 1.0
    assert named(SignalInput(answer="x", stated_confidence=float("nan")))["has_stated_confidence"] == 0.0
    # no numbers asked about: nothing to miss
    assert named(SignalInput(answer="hello", request_text="say hello"))["request_numbers_used"] == 1.0


def test_features_are_pure_and_ordered() -> None:
    signal = SignalInput(answer="The answer is 12.", stated_confidence=0.9, request_text="What is 3 * 4?")
    assert features(signal) == features(signal)
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    f = named(signal)
    assert f["final_answer_numeric"] == 1.0 and f["stated_confidence"] == 0.9


def test_imports_stay_light() -> None:
    """The features are for the hot path: no numpy; the learned model loads scikit-learn only when it fits."""
    code = (
        "import sys\n"
        "import tiered.confidence\n"
        "assert not [m for m in ('numpy', 'scipy', 'sklearn') if m in sys.modules]\n"
        "import tiered.confidence.learned, tiered.confidence.metrics\n"
        "assert 'sklearn' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": SRC}, timeout=60)
