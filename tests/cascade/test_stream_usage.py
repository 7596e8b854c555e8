"""A relayed stream closed early through ``aclose()`` (a server whose client went away) records the relayed
content's estimate, as one that ends by itself does."""

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


async def test_aclose_mid_relay_records_the_relayed_estimate(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(settings)
    request = {
        "model": "tiered",
        "max_tokens": 8000,
        "stream": True,
        "messages": [{"role": "user", "content": "[[fake haiku:confidence=0.1 opus:tokens=3000 opus:tps=1000]] q"}],
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
    assert final.usage_estimated and final.reported_usage is not None
    assert final.usage.output_tokens >= tokens_for_chars(len(_text(b"".join(chunks)))) > 1
    assert final.usage.input_tokens == final.reported_usage["input_tokens"] > 0
