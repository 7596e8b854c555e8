"""A stream closed early through ``aclose()`` (a server whose client went away), relayed from the final tier or
shipped from a triage, records an estimate of the content sent, flagged as one."""

from __future__ import annotations

import json

import pytest

from tiered.accounting import tokens_for_chars
from tiered.config import Settings
from tiered.fake_upstream import FakeUpstream
from tiered.router import Router

pytestmark = pytest.mark.anyio


def _text(raw: bytes) -> str:
    out = []
    for block in raw.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
        if lines.get("event") == "content_block_delta":
            delta = json.loads(lines["data"])["delta"]
            out.append(delta.get("text", ""))
    return "".join(out)


@pytest.mark.parametrize(
    ("prompt", "model"),
    [
        ("[[fake haiku:confidence=0.1 opus:tokens=3000 opus:tps=1000]] q", "claude-opus-4-7"),
        ("[[fake confidence=0.9 tokens=3000 tps=1000]] q", "claude-haiku-4-5"),
    ],
    ids=["relayed", "shipped"],
)
async def test_aclose_mid_answer_records_an_estimate_of_what_was_sent(
    settings: Settings, upstream: FakeUpstream, prompt: str, model: str
) -> None:
    router = Router(settings)
    request = {
        "model": "tiered",
        "max_tokens": 8000,
        "stream": True,
        "messages": [{"role": "user", "content": prompt}],
    }
    try:
        routed = router.stream(request)
        await routed.start()
        chunks: list[bytes] = []
        iterator = aiter(routed)
        while len(_text(b"".join(chunks))) < 400:
            chunks.append(await anext(iterator))
        await routed.aclose()
    finally:
        await router.aclose()
    upstream.wait_idle()
    assert routed.decision is not None and routed.decision.error_status == 499
    final = routed.decision.attempts[-1]
    assert final.model == model and final.usage_estimated and final.reported_usage is not None
    assert final.usage.output_tokens >= tokens_for_chars(len(_text(b"".join(chunks)))) > 1
    assert final.usage.input_tokens == final.reported_usage["input_tokens"] > 0
