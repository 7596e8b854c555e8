"""Keep-alive soak: 2,000 requests with 50-500 KB bodies over 8 kept-alive connections, zero non-200s.

The load a long-prompt application puts on the proxy (issue #16: one read holding a whole request was counted
as request head, and about one long prompt in ten got a 431 after its upstream call had started). Each
connection's requests are sequential, as an SDK client's are; the connections run side by side.
"""

from __future__ import annotations

import http.client
import json
import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import pytest

from tiered.config import load_settings
from tiered.fake_upstream import FakeUpstream, Scenario
from tiered.server.thread import ProxyThread

REQUESTS: Final = 2_000
CONNECTIONS: Final = 8
HEADERS: Final = {"x-api-key": "sk-ant-soak", "anthropic-version": "2023-06-01", "content-type": "application/json"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    """A fake that forgets its requests quickly: 2,000 long prompts would otherwise stay in its log."""
    with FakeUpstream(Scenario(), log_limit=16) as upstream:
        yield upstream


@pytest.fixture(scope="module")
def soak_proxy(fake: FakeUpstream) -> Iterator[ProxyThread]:
    with ProxyThread(load_settings(environ={"ANTHROPIC_BASE_URL": fake.url}), use_store=False) as running:
        yield running
    assert running.error is None


def bodies(seed: int, count: int) -> Iterator[bytes]:
    """``count`` Messages requests of 50-500 KB, alike in shape, different in size."""
    sizes = random.Random(seed)
    filler = "lorem ipsum dolor sit amet " * 20_000  # 540 KB to cut prompts from
    for n in range(count):
        prompt = f"{seed}/{n} " + filler[: sizes.randint(50_000, 500_000) - 120]
        body = {"model": "claude-haiku-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": prompt}]}
        yield json.dumps(body).encode()


def one_connection(proxy: ProxyThread, seed: int) -> Counter[int]:
    host, port = proxy.url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    seen: Counter[int] = Counter()
    try:
        for body in bodies(seed, REQUESTS // CONNECTIONS):
            conn.request("POST", "/v1/messages", body, HEADERS)
            response = conn.getresponse()
            response.read()
            seen[response.status] += 1
            if response.will_close:  # an error closed it: go on, on a new connection, to count the rest
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
    finally:
        conn.close()
    return seen


def test_keepalive_soak(soak_proxy: ProxyThread, fake: FakeUpstream) -> None:
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        results = list(pool.map(lambda seed: one_connection(soak_proxy, seed), range(CONNECTIONS)))
    total = sum(results, Counter[int]())
    assert total == Counter({200: REQUESTS})
    fake.wait_idle(10)
