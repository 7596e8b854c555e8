"""Total cost of a scripted multi-turn, cached workload: "always triage" vs the expected-cost rule vs all-final.

    python bench/economics_sim.py [--conversations 36] [--turns 6] [--seed 7]

Each conversation has a document in its system prompt (2k to 200k tokens by the fake's count) and puts its
cache breakpoint on its last user message, as agents and chat clients do; its turns come 30 s apart, with a
pause of 6 to 20 minutes now and then (every cache goes cold). A conversation is easy (a turn escalates with
probability 0.15), hard (0.7) or beyond the cheap tier (0.97); an escalating turn is scripted as a
low-confidence Haiku triage. Every policy
replays the same script through the real router, against the fake upstream's per-model prompt cache, on a
simulated clock shared by the fake and tiered's economics. Costs are the decisions' own (genai-prices). No wall
clock is measured: the numbers are the same on any machine.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tiered.config import load_settings  # noqa: E402
from tiered.economics.advisor import Economics  # noqa: E402
from tiered.fake_upstream import FakeUpstream  # noqa: E402
from tiered.router import Router  # noqa: E402

PREFIX_TOKENS = (2_000, 8_000, 32_000, 64_000, 120_000, 200_000)
# a conversation's chance that a turn escalates: easy, hard, beyond the cheap tier (c % 3; sizes are c % 6, so
# every size meets every kind)
ESCALATION = (0.15, 0.7, 0.97)
POLICIES: dict[str, dict[str, Any]] = {
    "always triage": {"tiers": ["claude-haiku-4-5", "claude-opus-4-7"], "triage_when": "always"},
    "expected-cost rule": {"tiers": ["claude-haiku-4-5", "claude-opus-4-7"]},
    "rule + stay_up 300 s": {"tiers": ["claude-haiku-4-5", "claude-opus-4-7"], "stay_up_s": 300},
    "all final tier": {"tiers": ["claude-opus-4-7"]},
}


class SimClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True, slots=True)
class Turn:
    at: float  # seconds from the start
    conversation: int
    index: int
    escalates: bool


def script(conversations: int, turns: int, seed: int) -> list[Turn]:
    """Every turn of every conversation, in time order (conversations interleave)."""
    rng = random.Random(seed)
    out: list[Turn] = []
    for c in range(conversations):
        escalation = ESCALATION[c % len(ESCALATION)]
        at = rng.uniform(0, 600)
        for t in range(turns):
            out.append(Turn(at, c, t, rng.random() < escalation))
            at += rng.uniform(360, 1200) if rng.random() < 0.2 else 30.0
    return sorted(out, key=lambda turn: (turn.at, turn.conversation))


def request(turn: Turn, conversations: int) -> dict[str, Any]:
    size = PREFIX_TOKENS[turn.conversation % len(PREFIX_TOKENS)]
    document = f"conversation {turn.conversation} " + "abcd" * size
    messages: list[dict[str, Any]] = []
    for n in range(turn.index + 1):
        if n:
            messages.append({"role": "assistant", "content": f"answer {n}"})
        messages.append({"role": "user", "content": [{"type": "text", "text": f"question {n}"}]})
    directive = (
        "[[fake haiku:confidence=0.2 opus:tokens=200]]" if turn.escalates else "[[fake confidence=0.9 tokens=200]]"
    )
    last = messages[-1]["content"][0]
    last["text"] = f"{directive} {last['text']}"
    last["cache_control"] = {"type": "ephemeral"}
    return {"max_tokens": 400, "system": [{"type": "text", "text": document}], "messages": messages}


async def run_policy(
    route: dict[str, Any], turns: list[Turn], conversations: int, fake: FakeUpstream
) -> dict[int, float]:
    """Cost per prefix size (tokens) of the script on ``route``."""
    start = 1_900_000_000.0
    clock = SimClock(start)
    fake.app.cache.clock = clock
    fake.reset()
    settings = load_settings(
        environ={"ANTHROPIC_BASE_URL": fake.url, "TIERED_HOME": "/nonexistent"},
        overrides={"routes.sim": route},
    )
    router = Router(settings)
    router.deps = dataclasses.replace(router.deps, economics=Economics(settings, router.prices, clock=clock))
    costs: dict[int, float] = {size: 0.0 for size in PREFIX_TOKENS}
    try:
        for turn in turns:
            clock.now = start + turn.at
            routed = await router.create(request(turn, conversations), route="sim")
            size = PREFIX_TOKENS[turn.conversation % len(PREFIX_TOKENS)]
            costs[size] += routed.decision.cost_usd or 0.0
    finally:
        await router.aclose()
    return costs


async def main_async(args: argparse.Namespace) -> None:
    turns = script(args.conversations, args.turns, args.seed)
    results: dict[str, dict[int, float]] = {}
    with FakeUpstream() as fake:
        for name, route in POLICIES.items():
            results[name] = await run_policy(route, turns, args.conversations, fake)
    print(f"{args.conversations} conversations x {args.turns} turns (seed {args.seed}); cost in USD by prefix size")
    header = "policy".ljust(22) + "".join(f"{size // 1000:>9}k" for size in PREFIX_TOKENS) + "      total"
    print(header)
    for name, costs in results.items():
        cells = "".join(f"{costs[size]:>10.3f}" for size in PREFIX_TOKENS)
        print(f"{name:<22}{cells}{sum(costs.values()):>11.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=36)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
