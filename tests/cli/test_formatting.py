"""The one rule for money and percentages that the CLI, the report and the dashboard share (issue #20)."""

from __future__ import annotations

import math

import pytest

from tiered.formatting import money, money_digits, percent, shared_money_digits


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (-0.0002, "-$0.000200"),
        (-0.0013, "-$0.001300"),
        (0.0, "$0.0000"),
        (0.1234, "$0.1234"),
        (12.345, "$12.35"),
        (-1234.4, "-$1,234"),
        (None, "-"),
        (math.nan, "-"),
    ],
)
def test_money_puts_the_sign_before_the_symbol_and_sizes_its_precision(value: float | None, text: str) -> None:
    assert money(value) == text


def test_amounts_shown_together_share_the_precision_of_the_largest() -> None:
    digits = shared_money_digits([1.23, 0.9917, None])
    assert digits == 2
    assert [money(v, digits=digits) for v in (1.23, 0.9917)] == ["$1.23", "$0.99"]


def test_a_negative_amount_that_rounds_to_zero_has_no_sign() -> None:
    assert money(-0.0001, digits=2) == "$0.00"


def test_money_digits_steps() -> None:
    assert [money_digits(v) for v in (250, 2.5, 0.05, 0, 0.005)] == [0, 2, 4, 4, 6]


def test_percent() -> None:
    assert percent(0.3512) == "35.1%"
    assert percent(-0.05) == "-5.0%"
    assert percent(None) == "-"
