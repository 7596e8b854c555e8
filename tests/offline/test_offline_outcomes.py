"""The input layer: CSV and JSONL files, column mapping, the n-tier form, records, and error messages."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from tiered.offline.outcomes import BacktestInputError, OutcomeRecord, outcomes_from_columns, outcomes_from_records
from tiered.offline.readers import read_columns, read_outcomes

TWO_TIER = (
    "id,confidence,cheap_correct,deep_correct,cheap_cost_usd,deep_cost_usd,group\n"
    "a,0.9,1,1,0.001,0.01,x\n"
    "b,,0,1,0.001,0.01,y\n"
    "c,0.2,true,false,0.002,0.02,x\n"
)


def test_two_tier_csv(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text(TWO_TIER)
    out = read_outcomes(path)
    assert out.form == "two-tier" and out.n == 3 and out.tiers == 2
    assert out.has_confidence[:, 0].tolist() == [True, False, True]
    assert out.confidence[1, 0] == -np.inf
    assert out.correct.tolist() == [[True, True], [False, True], [True, False]]
    # triage cost defaults to the cheap cost; the all-cheap price is the cheap cost.
    assert out.cost[:, 0].tolist() == [0.001, 0.001, 0.002]
    assert out.plain_cost.tolist() == [0.001, 0.001, 0.002]
    assert out.groups is not None and out.groups.tolist() == ["x", "y", "x"]
    assert out.ids is not None and out.ids.tolist() == ["a", "b", "c"]


def test_triage_cost_column_and_gzip(tmp_path: Path) -> None:
    path = tmp_path / "o.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("confidence,cheap_correct,deep_correct,cheap_cost_usd,deep_cost_usd,triage_cost_usd\n")
        handle.write("0.5,1,1,0.001,0.01,0.003\n")
    out = read_outcomes(path)
    assert out.cost[0].tolist() == [0.003, 0.01]
    assert out.plain_cost.tolist() == [0.001]
    assert out.ids is None and out.groups is None


def test_jsonl_with_missing_keys_and_column_map(tmp_path: Path) -> None:
    path = tmp_path / "o.jsonl"
    rows = [
        {"score": 0.8, "ok": True, "deep_ok": True, "c": 0.001, "d": 0.01},
        {"ok": False, "deep_ok": True, "c": 0.001, "d": 0.01},  # no score: never ships
        {"score": None, "ok": 0, "deep_ok": 1, "c": 0.001, "d": 0.01},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    rename = {
        "confidence": "score",
        "cheap_correct": "ok",
        "deep_correct": "deep_ok",
        "cheap_cost_usd": "c",
        "deep_cost_usd": "d",
    }
    out = read_outcomes(path, rename=rename)
    assert out.has_confidence[:, 0].tolist() == [True, False, False]
    assert out.correct[:, 0].tolist() == [True, False, False]


def test_n_tier_form() -> None:
    cols = {
        "confidence_0": ["0.9", "0.1"],
        "confidence_1": ["0.5", ""],
        "correct_0": ["1", "0"],
        "correct_1": ["0", "1"],
        "correct_2": ["1", "1"],
        "cost_usd_0": ["1", "1"],
        "cost_usd_1": ["2", "2"],
        "cost_usd_2": ["3", "3"],
    }
    out = outcomes_from_columns(cols)
    assert out.form == "n-tier" and out.tiers == 3
    assert out.confidence.shape == (2, 2)
    assert out.has_confidence.tolist() == [[True, True], [True, False]]
    assert out.plain_cost.tolist() == [1.0, 1.0]


def test_records_round_trip_to_the_same_outcomes() -> None:
    records = [
        OutcomeRecord("q1", (0.9,), (True, True), (0.001, 0.01), group="g"),
        OutcomeRecord("q2", (None,), (False, True), (0.002, 0.01), first_tier_plain_cost_usd=0.0015),
    ]
    out = outcomes_from_records(records, source="log")
    assert out.form == "two-tier" and out.source == "log"
    assert out.has_confidence[:, 0].tolist() == [True, False]
    assert out.plain_cost.tolist() == [0.001, 0.0015]
    assert out.groups is not None and out.groups.tolist() == ["g", ""]


@pytest.mark.parametrize(
    ("cols", "message"),
    [
        ({"confidence": ["0.5"]}, "lacks the column"),
        (
            {
                "confidence": ["0.5"],
                "cheap_correct": ["2"],
                "deep_correct": ["1"],
                "cheap_cost_usd": ["0"],
                "deep_cost_usd": ["0"],
            },
            "correctness must be 0/1",
        ),
        (
            {
                "confidence": ["0.5"],
                "cheap_correct": ["1"],
                "deep_correct": [""],
                "cheap_cost_usd": ["0"],
                "deep_cost_usd": ["0"],
            },
            "is blank",
        ),
        (
            {
                "confidence": ["high"],
                "cheap_correct": ["1"],
                "deep_correct": ["1"],
                "cheap_cost_usd": ["0"],
                "deep_cost_usd": ["0"],
            },
            "not a number",
        ),
        (
            {
                "confidence": ["0.5"],
                "cheap_correct": ["1"],
                "deep_correct": ["1"],
                "cheap_cost_usd": ["-1"],
                "deep_cost_usd": ["0"],
            },
            "negative",
        ),
        (
            {"confidence_0": ["0.5"], "correct_0": ["1"], "correct_2": ["1"], "cost_usd_0": ["1"], "cost_usd_2": ["1"]},
            "without gaps",
        ),
        ({"confidence_0": ["0.5"], "correct_0": ["1"], "correct_1": ["1"], "cost_usd_0": ["1"]}, "lacks cost_usd_1"),
        ({"confidence": []}, "no rows"),
    ],
)
def test_bad_columns_say_what_is_wrong(cols: dict[str, list[str]], message: str) -> None:
    with pytest.raises(BacktestInputError, match=message):
        outcomes_from_columns(cols)


def test_rename_to_a_missing_column() -> None:
    with pytest.raises(BacktestInputError, match="no column 'score'"):
        outcomes_from_columns({"a": ["1"]}, rename={"confidence": "score"})


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(BacktestInputError, match="cannot tell the format"):
        read_columns(tmp_path / "o.txt")
    with pytest.raises(BacktestInputError, match="Cannot read"):
        read_columns(tmp_path / "absent.csv")
    ragged = tmp_path / "r.csv"
    ragged.write_text("a,b\n1\n")
    with pytest.raises(BacktestInputError, match="row 1 has 1 cells"):
        read_columns(ragged)
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"a": 1}\n[1]\n')
    with pytest.raises(BacktestInputError, match="line 2"):
        read_columns(bad)
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(BacktestInputError, match="empty"):
        read_columns(empty)
