"""Model-specific ``anthropic-beta`` flags, as data for the pure policy: a request whose beta the cheap tier
does not take is not triaged there (reason ``capability``, with the beta and the model in the detail)."""

from __future__ import annotations

from typing import Any

from tiered.cascade.betas import beta_list, betas_of, unsupported_beta
from tiered.cascade.fit import misfit
from tiered.cascade.policy import Reply, cascade
from tiered.config import RouteSettings
from tiered.decision import AttemptRole, EscalationReason

TASK_BUDGETS = "task-budgets-2026-03-13"
TWO = RouteSettings.model_validate({"tiers": ["claude-haiku-4-5", "claude-opus-4-7"]})
REQUEST: dict[str, Any] = {"model": "tiered", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}


def test_the_header_is_read_as_a_list_in_any_case() -> None:
    assert beta_list(" a-1 ,, b-2 ") == ("a-1", "b-2") and beta_list(None) == ()
    assert betas_of({"Anthropic-Beta": "x-1,y-2"}) == ("x-1", "y-2")
    assert betas_of({"anthropic-beta": TASK_BUDGETS}) == (TASK_BUDGETS,) and betas_of(None) == ()


def test_task_budgets_are_taken_by_the_models_their_page_lists() -> None:
    assert unsupported_beta([TASK_BUDGETS], "claude-haiku-4-5") == TASK_BUDGETS
    assert unsupported_beta([TASK_BUDGETS], "claude-haiku-4-5-20251001") == TASK_BUDGETS  # a dated alias
    assert unsupported_beta([TASK_BUDGETS], "claude-opus-4-7") is None
    assert unsupported_beta(["files-api-2025-04-14"], "claude-haiku-4-5") is None  # not model-specific
    assert unsupported_beta([TASK_BUDGETS], "my-fine-tune") is None  # unknown model: its upstream decides


def test_misfit_names_the_beta_and_the_model() -> None:
    why = misfit(REQUEST, "claude-haiku-4-5", betas=[TASK_BUDGETS])
    assert why is not None and why.feature == "anthropic-beta"
    assert why.detail == f"claude-haiku-4-5 does not take the {TASK_BUDGETS} beta"
    assert misfit(REQUEST, "claude-haiku-4-5") is None


def test_a_request_with_a_beta_haiku_does_not_take_skips_triage() -> None:
    plan = cascade(REQUEST, TWO, betas=[TASK_BUDGETS])
    call = next(plan)
    assert call.role is AttemptRole.FINAL and call.model == "claude-opus-4-7"
    try:
        plan.send(Reply())
    except StopIteration as stop:
        step = stop.value
    assert step.reason is EscalationReason.CAPABILITY
    assert step.detail == (
        f"anthropic-beta: claude-haiku-4-5 does not take the {TASK_BUDGETS} beta; answered by claude-opus-4-7"
    )


def test_without_the_beta_the_request_is_triaged() -> None:
    assert next(cascade(REQUEST, TWO)).role is AttemptRole.TRIAGE
    assert next(cascade(REQUEST, TWO, betas=["files-api-2025-04-14"])).role is AttemptRole.TRIAGE
