"""`tiered eval` against the fake upstream: live and `--batch` round trips, the resumable cache, judges, CLI.

The fake's inline directives script each tier's confidence, answer and token counts per item, so every
column of the expected backtest rows is known exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
import typer
from typer.testing import CliRunner

from tiered.accounting import INSTRUCTION_TOKENS, WRAPPER_TOKENS
from tiered.config import Settings, TierSettings, load_settings
from tiered.decision import TokenUsage
from tiered.errors import ConfigError
from tiered.fake_upstream import FakeUpstream, Rule, Scenario
from tiered.offline import commands as backtest_commands
from tiered.offline.eval_cache import EvalCache
from tiered.offline.eval_command import evaluate
from tiered.offline.eval_dataset import EvalItem, parse_item
from tiered.offline.eval_output import outcome_rows, write_outcomes
from tiered.offline.eval_plan import EvalOutcome
from tiered.offline.eval_run import EvalConfig, EvalRun, run_eval
from tiered.offline.readers import read_outcomes
from tiered.pricing import default_price_book
from tiered.router import Router

KEY = "sk-ant-test-0000"
HAIKU, SONNET, OPUS = "claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"
USAGE = {HAIKU: (1000, 40), SONNET: (900, 120), OPUS: (800, 200)}


def env_of(upstream: FakeUpstream) -> dict[str, str]:
    # No retries: a scripted fault fails its call at once, and the tests stay fast.
    return {
        "ANTHROPIC_BASE_URL": upstream.url,
        "ANTHROPIC_API_KEY": KEY,
        "TIERED_PROVIDERS__ANTHROPIC__MAX_RETRIES": "0",
    }


@pytest.fixture
def settings(upstream: FakeUpstream) -> Settings:
    return load_settings(environ=env_of(upstream))


def script(model: str, *, confidence: float | None = None, answer: str | None = "", extra: str = "") -> str:
    """Directive items for one model: its confidence, answer (None: null) and fixed token counts."""
    scope = model.split("-")[1]  # haiku, sonnet, opus
    parts = [f"{scope}:input_tokens={USAGE[model][0]}", f"{scope}:output_tokens={USAGE[model][1]}"]
    if confidence is not None:
        parts.append(f"{scope}:confidence={confidence}")
    if answer is None:
        parts.append(f"{scope}:answer=null")
    elif answer:
        parts.append(f"{scope}:answer={json.dumps(answer)}")
    if extra:
        parts.append(extra)
    return " ".join(parts)


def line(ident: str, *scripts: str, reference: Any, grader: str = "exact", **extra: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "prompt": f"[[fake {' '.join(scripts)}]] Question {ident}?",
        "reference": reference,
        "grader": grader,
        **extra,
    }


# id -> (line, expected confidence, cheap right, deep right, tier answering at the route's 0.8)
CASES: dict[str, tuple[dict[str, Any], float | None, bool, bool, int]] = {
    "q1": (
        line(
            "q1",
            script(HAIKU, confidence=0.9, answer="42"),
            script(OPUS, answer="The answer is 42."),
            reference=42,
            grader="numeric",
        ),
        0.9,
        True,
        True,
        0,
    ),
    "q2": (
        line(
            "q2",
            script(HAIKU, confidence=0.3, answer=None),
            script(OPUS, answer="B"),
            reference="B",
            grader="multiple_choice",
            group="mc",
        ),
        None,
        False,
        True,
        1,
    ),
    "q3": (
        line("q3", script(HAIKU, confidence=0.95, answer="Lyon"), script(OPUS, answer="Paris."), reference="Paris"),
        0.95,
        False,
        True,
        0,
    ),
    "q4": (
        line("q4", script(HAIKU, confidence=0.6, answer="Paris"), script(OPUS, answer="paris"), reference="Paris"),
        0.6,
        True,
        True,
        1,
    ),
    "q5": (
        line(
            "q5",
            script(HAIKU, confidence=0.9, answer="Paris", extra="haiku:fault=not_json"),
            script(OPUS, answer="Rome"),
            reference="Paris",
        ),
        None,
        False,
        False,
        1,
    ),
}


def items_of(lines: list[dict[str, Any]]) -> list[EvalItem]:
    return [parse_item(raw, default_id=str(i)) for i, raw in enumerate(lines)]


def cost(model: str, input_tokens: int, output_tokens: int) -> float:
    value = default_price_book().cost(model, TokenUsage(input_tokens, output_tokens))
    assert value is not None
    return value


def config_for(settings: Settings, route: str = "default", **extra: Any) -> EvalConfig:
    tiers = settings.route(route)
    extra.setdefault("judge", TierSettings(model=tiers.tiers[-1].model))
    return EvalConfig(route_name=route, route=tiers, poll_initial_s=0.02, **extra)


async def evaluate_items(
    settings: Settings, items: list[EvalItem], cache_path: Path, progress: Any = None, **extra: Any
) -> EvalRun:
    with EvalCache(cache_path) as cache:
        return await run_eval(items, settings, config_for(settings, **extra), cache, progress=progress)


def check_two_tier_rows(run: EvalRun, *, batch: bool) -> None:
    assert run.failures == ()
    by_id = {o.id: o for o in run.outcomes}
    assert sorted(by_id) == sorted(CASES)
    triage = cost(HAIKU, *USAGE[HAIKU])
    deep = cost(OPUS, *USAGE[OPUS])
    plain = cost(HAIKU, USAGE[HAIKU][0] - INSTRUCTION_TOKENS, USAGE[HAIKU][1] - WRAPPER_TOKENS)
    for ident, (raw, confidence, cheap_ok, deep_ok, tier) in CASES.items():
        row = by_id[ident]
        assert row.confidence == (confidence,), ident
        assert row.correct == (cheap_ok, deep_ok), ident
        assert row.cascade_tier == tier, ident
        assert row.cost_usd == pytest.approx((triage, deep))
        assert row.plain_cost_usd == pytest.approx(plain)
        assert row.paid_usd == pytest.approx((triage + deep) * (0.5 if batch else 1.0))
        assert row.group == raw.get("group")
        assert row.grading_usd == 0.0


@pytest.mark.anyio
async def test_live_round_trip(settings: Settings, upstream: FakeUpstream, tmp_path: Path) -> None:
    items = items_of([case[0] for case in CASES.values()])
    run = await evaluate_items(settings, items, tmp_path / "cache.jsonl")
    check_two_tier_rows(run, batch=False)
    calls = upstream.requests
    assert len(calls) == 2 * len(items) and all(c.path == "/v1/messages" for c in calls)
    assert sum(c.is_triage for c in calls) == len(items)
    assert run.calls_made == 2 * len(items)

    # The rows round-trip through the backtest reader.
    out = tmp_path / "outcomes.csv"
    write_outcomes(run.outcomes, run.tiers, out)
    outcomes = read_outcomes(out)
    assert outcomes.form == "two-tier" and outcomes.n == len(items)
    order = [o.id for o in run.outcomes]
    assert list(outcomes.ids) == order  # type: ignore[arg-type]
    assert outcomes.correct.tolist() == [list(o.correct) for o in run.outcomes]
    assert outcomes.has_confidence[:, 0].tolist() == [o.confidence[0] is not None for o in run.outcomes]
    assert list(outcomes.groups) == ["mc" if i == "q2" else "" for i in order]  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_calls_are_the_ones_the_router_makes(settings: Settings, upstream: FakeUpstream, tmp_path: Path) -> None:
    """Eval sends each tier exactly the body the live cascade sends it."""
    raw = CASES["q4"][0]  # escalated at 0.8: the router calls both tiers
    router = Router(settings)
    try:
        await router.create(parse_item(raw, default_id="x").request(1024))
    finally:
        await router.aclose()

    # the router streams its triage (to cut a low confidence early); eval reads it whole: same body otherwise
    def bodies() -> list[dict[str, object]]:
        return [{k: v for k, v in c.body.items() if k != "stream"} for c in upstream.requests]

    routed = bodies()
    upstream.reset()
    await evaluate_items(settings, items_of([raw]), tmp_path / "cache.jsonl")
    assert bodies() == routed


@pytest.mark.anyio
async def test_batch_round_trip(settings: Settings, upstream: FakeUpstream, tmp_path: Path) -> None:
    upstream.scenario = Scenario(batch_delay_s=0.15)
    items = items_of([case[0] for case in CASES.values()])
    run = await evaluate_items(settings, items, tmp_path / "cache.jsonl", batch=True)
    check_two_tier_rows(run, batch=True)
    assert run.paid_usd == pytest.approx(run.standard_usd / 2)
    calls = upstream.requests
    assert not [c for c in calls if c.path == "/v1/messages"]  # nothing went live
    created = [c for c in calls if c.method == "POST" and c.path == "/v1/messages/batches"]
    assert len(created) == 2
    triage_batch, final_batch = (c.body["requests"] for c in created)
    assert {r["params"]["model"] for r in triage_batch} == {HAIKU}
    assert {r["params"]["model"] for r in final_batch} == {OPUS}
    assert all("output_config" in r["params"] for r in triage_batch)
    # the final batch is sent only once the triage batch has ended (polled, then read)
    first_results = next(i for i, c in enumerate(calls) if c.path.endswith("/results"))
    assert calls.index(created[1]) > first_results
    polls = [c for c in calls if c.method == "GET" and c.path.count("/") == 4]
    assert len(polls) > 2  # in_progress at first: polled with backoff


@pytest.mark.anyio
async def test_cache_resumes_without_paying_twice(upstream: FakeUpstream, tmp_path: Path) -> None:
    settings = load_settings(environ=env_of(upstream))
    items = items_of([case[0] for case in CASES.values()])
    upstream.scenario = Scenario(rules=(Rule(contains="Question q3?", model="opus", fault={"kind": "overloaded"}),))
    cache_path = tmp_path / "cache.jsonl"
    first = await evaluate_items(settings, items, cache_path)
    assert [f.id for f in first.failures] == ["q3"]
    assert "final call to tier 1" in first.failures[0].message and "overloaded" in first.failures[0].message.lower()
    assert len(first.outcomes) == 4

    upstream.scenario = Scenario()
    upstream.reset()
    second = await evaluate_items(settings, items, cache_path)
    check_two_tier_rows(second, batch=False)
    assert [(c.body["model"], "q3" in json.dumps(c.body)) for c in upstream.requests] == [(OPUS, True)]
    assert second.calls_made == 1

    upstream.reset()
    third = await evaluate_items(settings, items, cache_path)
    assert upstream.requests == [] and third.outcomes == second.outcomes


@pytest.mark.anyio
async def test_live_concurrency_is_bounded(settings: Settings, upstream: FakeUpstream, tmp_path: Path) -> None:
    upstream.scenario = Scenario(ttft_ms=40)
    lines = [
        line(f"c{i}", script(HAIKU, confidence=0.9, answer="x"), script(OPUS, answer="x"), reference="x")
        for i in range(9)
    ]
    run = await evaluate_items(settings, items_of(lines), tmp_path / "cache.jsonl", concurrency=3)
    assert len(run.outcomes) == 9
    spans = [(r.started_at, r.started_at + (r.duration_ms or 0) / 1000) for r in upstream.requests]
    # How many calls were open at the middle of each call (middles are far from the sub-millisecond gap
    # between one call's end being logged and the same worker's next call starting).
    open_at = [sum(a <= (start + end) / 2 <= b for a, b in spans) for start, end in spans]
    assert 1 < max(open_at) <= 3


def test_cache_skips_a_torn_line(tmp_path: Path) -> None:
    from tiered.offline.eval_plan import CallReply

    path = tmp_path / "cache.jsonl"
    with EvalCache(path) as cache:
        cache.put("k1", CallReply({"content": []}))
    with path.open("ab") as handle:
        handle.write(b'{"v":1,"kind":"reply","key":"k2","bo')  # cut short by a crash
    with EvalCache(path) as cache:
        assert "k1" in cache and "k2" not in cache and cache.skipped_lines == 1
        cache.put("k3", CallReply({"content": []}, batch=True))
    reopened = EvalCache(path)
    assert sorted(reopened.replies()) == ["k1", "k3"] and reopened.get("k3") == CallReply({"content": []}, batch=True)


@pytest.mark.anyio
async def test_batch_resumes_a_submitted_batch(settings: Settings, upstream: FakeUpstream, tmp_path: Path) -> None:
    upstream.scenario = Scenario(batch_delay_s=0.5)
    items = items_of([case[0] for case in CASES.values()])
    cache_path = tmp_path / "cache.jsonl"

    class Interrupt:
        """Stops the run as soon as the triage batch reports that it is processing."""

        def __init__(self, scope: anyio.CancelScope) -> None:
            self.scope = scope

        def start(self, phase: str, total: int) -> None:
            return None

        def update(self, phase: str, completed: int, note: str = "") -> None:
            if phase == "triage" and "in_progress" in note:
                self.scope.cancel()

    with anyio.CancelScope() as scope:
        await evaluate_items(settings, items, cache_path, progress=Interrupt(scope), batch=True)
    assert scope.cancelled_caught
    submitted = [c for c in upstream.requests if c.method == "POST"]
    assert len(submitted) == 1
    run = await evaluate_items(settings, items, cache_path, batch=True)
    check_two_tier_rows(run, batch=True)
    created = [c for c in upstream.requests if c.method == "POST"]
    assert len(created) == 2  # the triage batch was polled again, not submitted again
    assert {r["params"]["model"] for r in created[1].body["requests"]} == {OPUS}


@pytest.mark.anyio
async def test_batch_failures_are_retried_by_a_rerun(
    settings: Settings, upstream: FakeUpstream, tmp_path: Path
) -> None:
    items = items_of([case[0] for case in CASES.values()])
    upstream.scenario = Scenario(rules=(Rule(contains="Question q2?", model="haiku", fault={"kind": "api_error"}),))
    cache_path = tmp_path / "cache.jsonl"
    first = await evaluate_items(settings, items, cache_path, batch=True)
    assert [f.id for f in first.failures] == ["q2"] and "api_error" in first.failures[0].message
    upstream.scenario = Scenario()
    upstream.reset()
    second = await evaluate_items(settings, items, cache_path, batch=True)
    check_two_tier_rows(second, batch=True)
    (created,) = [c for c in upstream.requests if c.method == "POST"]
    assert [r["params"]["model"] for r in created.body["requests"]] == [HAIKU]


@pytest.mark.anyio
async def test_three_tier_route_calls_every_tier(settings: Settings, upstream: FakeUpstream, tmp_path: Path) -> None:
    lines = [
        line(
            "a",
            script(HAIKU, confidence=0.4, answer="Rome"),
            script(SONNET, confidence=0.85, answer="Paris"),
            script(OPUS, answer="Paris"),
            reference="Paris",
        ),
        line(
            "b",
            script(HAIKU, confidence=0.9, answer="Paris"),
            script(SONNET, confidence=0.2, answer=None),
            script(OPUS, answer="Lyon"),
            reference="Paris",
        ),
    ]
    run = await evaluate_items(settings, items_of(lines), tmp_path / "cache.jsonl", route="three-tier")
    assert run.failures == () and run.tiers == 3
    by_id = {o.id: o for o in run.outcomes}
    assert by_id["a"].confidence == (0.4, 0.85) and by_id["a"].correct == (False, True, True)
    assert by_id["a"].cascade_tier == 1
    assert by_id["b"].confidence == (0.9, None) and by_id["b"].correct == (True, False, False)
    assert by_id["b"].cascade_tier == 0
    expected = (cost(HAIKU, *USAGE[HAIKU]), cost(SONNET, *USAGE[SONNET]), cost(OPUS, *USAGE[OPUS]))
    assert by_id["a"].cost_usd == pytest.approx(expected)
    assert len(upstream.requests) == 6
    out = tmp_path / "three.jsonl"
    write_outcomes(run.outcomes, 3, out)
    outcomes = read_outcomes(out)
    assert outcomes.form == "n-tier" and outcomes.tiers == 3
    assert outcomes.correct.tolist() == [list(o.correct) for o in run.outcomes]
    assert outcomes.cost.ravel().tolist() == pytest.approx([c for o in run.outcomes for c in o.cost_usd])


def judge_rules(*verdicts: tuple[str, bool]) -> tuple[Rule, ...]:
    return tuple(
        Rule(
            model="sonnet",
            contains=f"<answer>\n{answer}\n</answer>",
            answer=json.dumps({"reason": "compared", "correct": ok}),
            usage={"input_tokens": 300, "output_tokens": 20},
        )
        for answer, ok in verdicts
    )


@pytest.mark.anyio
@pytest.mark.parametrize("batch", [False, True])
async def test_judge_grader(settings: Settings, upstream: FakeUpstream, tmp_path: Path, batch: bool) -> None:
    upstream.scenario = Scenario(rules=judge_rules(("The city of Paris", True), ("Lyon", False)))
    lines = [
        line(
            "j1",
            script(HAIKU, confidence=0.9, answer="Lyon"),
            script(OPUS, answer="The city of Paris"),
            reference="Paris",
            grader="judge",
        ),
        line(
            "j2",
            script(HAIKU, confidence=0.9, answer="The city of Paris"),
            script(OPUS, answer="The city of Paris"),
            reference="Paris",
            grader="judge",
        ),
    ]
    judge = TierSettings(model=SONNET)
    run = await evaluate_items(settings, items_of(lines), tmp_path / "cache.jsonl", judge=judge, batch=batch)
    assert run.failures == ()
    by_id = {o.id: o for o in run.outcomes}
    assert by_id["j1"].correct == (False, True) and by_id["j2"].correct == (True, True)
    # j1 has two distinct answers, j2 one answer given by both tiers: three judge calls in all
    one_call = cost(SONNET, 300, 20) * (0.5 if batch else 1.0)
    assert by_id["j1"].grading_usd == pytest.approx(2 * one_call)
    assert by_id["j2"].grading_usd == pytest.approx(one_call)
    if not batch:
        assert len([c for c in upstream.requests if c.body["model"] == SONNET]) == 3
    else:
        phases = [c.body["requests"] for c in upstream.requests if c.method == "POST"]
        assert [len(p) for p in phases] == [2, 2, 3]
        assert {r["params"]["model"] for r in phases[2]} == {SONNET}


@pytest.mark.anyio
async def test_an_unreadable_verdict_leaves_the_item_without_a_row(
    settings: Settings, upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.scenario = Scenario(rules=(Rule(model="sonnet", answer="I think it is fine"),))
    lines = [
        line(
            "j",
            script(HAIKU, confidence=0.9, answer="Paris"),
            script(OPUS, answer="Paris"),
            reference="Paris",
            grader="judge",
        )
    ]
    run = await evaluate_items(settings, items_of(lines), tmp_path / "cache.jsonl", judge=TierSettings(model=SONNET))
    assert run.outcomes == () and "no readable verdict" in run.failures[0].message


@pytest.mark.anyio
async def test_refusals_up_front(settings: Settings, tmp_path: Path) -> None:
    items = items_of([CASES["q1"][0]])
    openai_route = settings.model_copy(
        update={
            "routes": {
                "mixed": settings.route("default").model_copy(
                    update={"tiers": (TierSettings(model="openai:gpt-4o-mini"), TierSettings(model=OPUS))}
                )
            }
        }
    )
    with pytest.raises(ConfigError, match="Message Batches API"):
        await evaluate_items(openai_route, items, tmp_path / "c.jsonl", route="mixed", batch=True)
    unpriced = settings.model_copy(
        update={
            "routes": {
                "odd": settings.route("default").model_copy(
                    update={"tiers": (TierSettings(model="fake-model-x"), TierSettings(model=OPUS))}
                )
            }
        }
    )
    with pytest.raises(ConfigError, match="no price for fake-model-x"):
        await evaluate_items(unpriced, items, tmp_path / "c.jsonl", route="odd")


def test_summary_matches_the_rows() -> None:
    from tiered.offline.eval_output import run_summary

    rows = (
        EvalOutcome("a", None, (0.9,), (True, True), (0.001, 0.01), 0.0008, 0, 0.011, 0.0),
        EvalOutcome("b", None, (0.2,), (False, False), (0.001, 0.01), 0.0008, 1, 0.011, 0.0),
    )
    summary = run_summary(EvalRun("default", 2, rows, (), False, 4))
    assert summary["cascade"] == pytest.approx(
        {
            "escalation_rate": 0.5,
            "accuracy": 0.5,
            "final_tier_accuracy": 0.5,
            "cost_per_call_usd": (0.001 + 0.011) / 2,
            "final_tier_cost_per_call_usd": 0.01,
            "savings_vs_deep": 1 - 0.006 / 0.01,
        }
    )
    assert outcome_rows(rows, 2)[0] == {
        "id": "a",
        "confidence": 0.9,
        "cheap_correct": 1,
        "deep_correct": 1,
        "cheap_cost_usd": 0.0008,
        "deep_cost_usd": 0.01,
        "triage_cost_usd": 0.001,
    }


app = typer.Typer()
app.command("eval")(evaluate)
app.command("backtest")(backtest_commands.backtest)
runner = CliRunner()


def test_cli_round_trip(upstream: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "cwd"  # e.g. a clone's working tree: the outputs go beside the data set instead
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    dataset = tmp_path / "qa.jsonl"
    dataset.write_text("".join(json.dumps(case[0]) + "\n" for case in CASES.values()), encoding="utf-8")
    env = {**env_of(upstream), "COLUMNS": "200"}
    result = runner.invoke(app, ["eval", str(dataset), "--route", "default", "--json"], env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["items"] == 5 and summary["failed"] == 0
    assert summary["output"] == str(tmp_path / "qa.default.outcomes.csv")
    assert list(elsewhere.iterdir()) == []
    monkeypatch.chdir(tmp_path)
    assert summary["cascade"]["escalation_rate"] == pytest.approx(3 / 5)
    assert summary["cascade"]["accuracy"] == pytest.approx(3 / 5)  # q1, q2, q4 right as answered at 0.8
    assert (tmp_path / "qa.default.outcomes.cache.jsonl").exists()
    backtest = runner.invoke(app, ["backtest", "qa.default.outcomes.csv", "--json", "--thresholds", "0.5,0.8,0.99"])
    assert backtest.exit_code == 0, backtest.output
    assert json.loads(backtest.stdout)["n"] == 5

    upstream.reset()
    again = runner.invoke(app, ["eval", str(dataset), "--batch", "--poll-interval", "0.01", "--limit", "2"], env=env)
    assert again.exit_code == 0, again.output
    assert "resuming" in again.output and "at standard rates" in again.output
    assert upstream.requests == []  # cached replies are reused whatever the mode


def test_cli_reports_incomplete_items(upstream: FakeUpstream, tmp_path: Path) -> None:
    upstream.scenario = Scenario(rules=(Rule(contains="Question q1?", model="opus", fault={"kind": "api_error"}),))
    dataset = tmp_path / "qa.jsonl"
    dataset.write_text(json.dumps(CASES["q1"][0]) + "\n" + json.dumps(CASES["q3"][0]) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["eval", str(dataset), "-o", str(out)], env=env_of(upstream))
    assert result.exit_code == 1
    assert "no row for q1" in result.output and "rerun the same command" in result.output
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["q3"]
    bad = runner.invoke(app, ["eval", str(dataset), "--grader", "fuzzy"], env=env_of(upstream))
    assert bad.exit_code == 2 and "--grader must be one of" in bad.output


def test_cli_interrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def interrupted(*args: Any, **kwargs: Any) -> EvalRun:
        raise KeyboardInterrupt

    monkeypatch.setattr("tiered.offline.eval_run.run_eval", interrupted)
    dataset = tmp_path / "qa.jsonl"
    dataset.write_text(json.dumps(CASES["q1"][0]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", str(dataset), "-o", str(tmp_path / "o.csv")], env={"COLUMNS": "200"})
    assert result.exit_code == 130 and "rerun the same command to resume" in result.output


def test_progress_is_drawn(upstream: FakeUpstream, tmp_path: Path) -> None:
    dataset = tmp_path / "qa.jsonl"
    dataset.write_text(json.dumps(CASES["q1"][0]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", str(dataset), "-o", str(tmp_path / "o.csv")], env=env_of(upstream))
    assert result.exit_code == 0, result.output
    assert "items" in result.output and "1/1" in result.output  # the bar's final state
