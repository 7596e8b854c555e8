"""The providers on the lean transport: the fake upstream (uvicorn, real sockets) through ``AnthropicProvider``
and ``OpenAIProvider``, its faults mapped to tiered's errors, and the providers' own loopback tests re-run
with the lean transport in place of httpx2's default one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx2
import pytest

from tiered.errors import UpstreamConnectionError, UpstreamProtocolError, UpstreamStatusError, UpstreamTimeoutError
from tiered.fake_upstream import FakeUpstream
from tiered.providers import AnthropicProvider, HTTPProviderSettings, OpenAIProvider
from tiered.providers._transport import LeanTransport
from tiered.providers.base import StreamEvent

from . import test_anthropic_provider as anthropic_tests
from .helpers import SleepRecorder, drain
from .test_transport import anyio_backend

__all__ = ["anyio_backend"]

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
def upstream(fake: FakeUpstream) -> FakeUpstream:
    fake.reset()
    return fake


@pytest.fixture
async def transport() -> AsyncIterator[LeanTransport]:
    lean = LeanTransport()
    yield lean
    await lean.aclose()


def request(directives: str, **extra: Any) -> dict[str, Any]:
    content = f"[[fake {directives}]] What is the capital of France?"
    return {"model": "claude-haiku-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": content}], **extra}


@pytest.fixture(params=[False, True], ids=["client", "direct"])
def direct(request: pytest.FixtureRequest) -> bool:
    """Through an httpx2 client on the lean transport, or the lean transport called directly (as the server's
    providers do: no httpx2 request or response models)."""
    value: bool = request.param
    return value


def anthropic(url: str, transport: LeanTransport, direct: bool, **settings: Any) -> AnthropicProvider:
    client = httpx2.AsyncClient(transport=transport, timeout=httpx2.Timeout(settings.get("timeout_s", 10)))
    return AnthropicProvider(
        HTTPProviderSettings(url, api_key="test", **settings),
        client,
        sleep=SleepRecorder(),
        direct=transport if direct else None,
    )


async def test_json_calls_share_one_connection(upstream: FakeUpstream, transport: LeanTransport, direct: bool) -> None:
    provider = anthropic(upstream.url, transport, direct)
    for _ in range(5):
        reply = await provider.send(request("tokens=5"))
        assert reply.status == 200 and reply.body["type"] == "message" and reply.request_id
    assert transport.pool.open_connections == 1


async def test_a_stream_is_relayed_event_by_event(
    upstream: FakeUpstream, transport: LeanTransport, direct: bool
) -> None:
    async with anthropic(upstream.url, transport, direct).stream(request("tokens=20")) as stream:
        events = [event.event async for event in stream]
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert events.count("content_block_delta") == 20


@pytest.mark.parametrize("direct", [False, True], ids=["client", "direct"])
async def test_streams_read_to_message_stop_share_one_connection(
    direct: bool, upstream: FakeUpstream, transport: LeanTransport
) -> None:
    """However the reader is closed after ``message_stop`` (the body's end read or not), the connection is
    kept for the next call."""
    client = httpx2.AsyncClient(transport=transport, timeout=httpx2.Timeout(10))
    settings = HTTPProviderSettings(upstream.url, api_key="test")
    provider = AnthropicProvider(settings, client, sleep=SleepRecorder(), direct=transport if direct else None)
    for _ in range(5):
        async with provider.stream(request("tokens=20")) as stream:
            first = await anext(aiter(stream))
            events = [first.event, *(event.event for event in stream.ready())]
            events += [event.event async for event in stream]
        assert events[-1] == "message_stop"
    reply = await provider.send(request("tokens=5"))
    assert reply.status == 200
    assert transport.pool.open_connections == 1


async def test_leaving_a_stream_early_disconnects_from_the_upstream(
    upstream: FakeUpstream, transport: LeanTransport, direct: bool
) -> None:
    async with anthropic(upstream.url, transport, direct).stream(request("tokens=500 tps=50")) as stream:
        assert (await stream.__anext__()).event == "message_start"
    await upstream.wait_idle_async()
    record = upstream.requests[-1]
    assert record.disconnected and not record.completed
    assert transport.pool.open_connections == 1  # only its replacement, opened for the next request


async def test_a_dropped_stream_is_a_connection_error(
    upstream: FakeUpstream, transport: LeanTransport, direct: bool
) -> None:
    received: list[StreamEvent] = []
    with pytest.raises(UpstreamConnectionError, match="dropped the connection"):
        await drain(anthropic(upstream.url, transport, direct), request("fault=drop after=3"), received)
    assert len(received) == 3


async def test_a_stalled_stream_times_out(upstream: FakeUpstream, transport: LeanTransport, direct: bool) -> None:
    provider = anthropic(upstream.url, transport, direct, timeout_s=0.3)
    with pytest.raises(UpstreamTimeoutError, match="ReadTimeout"):
        await drain(provider, request("fault=stall after=2 hang=1"))


async def test_an_overloaded_answer_is_retried_on_the_same_connection(
    upstream: FakeUpstream, transport: LeanTransport, direct: bool
) -> None:
    provider = anthropic(upstream.url, transport, direct, max_retries=2)
    reply = await provider.send(request("fault=overloaded times=1"))
    assert reply.status == 200
    assert [r.status for r in upstream.requests] == [529, 200]
    assert transport.pool.open_connections == 1
    with pytest.raises(UpstreamStatusError) as info:
        await anthropic(upstream.url, transport, direct, max_retries=0).send(request("fault=overloaded"))
    assert info.value.status == 529


async def test_no_response_at_all_is_a_connection_error(
    upstream: FakeUpstream, transport: LeanTransport, direct: bool
) -> None:
    provider = anthropic(upstream.url, transport, direct, max_retries=0)
    with pytest.raises(UpstreamConnectionError, match="could not be reached") as info:
        await provider.send(request("fault=timeout hang=0"))
    assert isinstance(info.value.__cause__, httpx2.RemoteProtocolError)


async def test_a_malformed_body_is_a_protocol_error(
    upstream: FakeUpstream, transport: LeanTransport, direct: bool
) -> None:
    with pytest.raises(UpstreamProtocolError, match="not JSON"):
        await anthropic(upstream.url, transport, direct).send(request("fault=malformed"))


async def test_the_openai_adapter_on_the_lean_transport(upstream: FakeUpstream, transport: LeanTransport) -> None:
    client = httpx2.AsyncClient(transport=transport)
    provider = OpenAIProvider(HTTPProviderSettings(f"{upstream.url}/v1", api_key="test"), client)
    body = request("tokens=8", model="openai:gpt-4o-mini")
    reply = await provider.send(body)
    assert reply.body["type"] == "message"
    async with provider.stream(body) as stream:
        events = [event.event async for event in stream]
    assert events[0] == "message_start" and events[-1] == "message_stop"


# --- the providers' own loopback tests, with the lean transport under every client they make ------------------


@pytest.fixture
def lean_by_default(monkeypatch: pytest.MonkeyPatch) -> list[LeanTransport]:
    """Clients made without a transport get a LeanTransport (with the limits they were given)."""
    made: list[LeanTransport] = []
    real = httpx2.AsyncClient

    class LeanClient(real):  # type: ignore[valid-type,misc]
        def __init__(self, **kwargs: Any) -> None:
            if kwargs.get("transport") is None:
                kwargs["transport"] = LeanTransport(limits=kwargs.get("limits"))
                made.append(kwargs["transport"])
            super().__init__(**kwargs)

    monkeypatch.setattr(httpx2, "AsyncClient", LeanClient)
    return made


LOOPBACK_TESTS: list[Callable[[], Awaitable[None]]] = [
    anthropic_tests.test_loopback_stream_and_early_close,
    anthropic_tests.test_loopback_connection_dropped_mid_stream,
    anthropic_tests.test_loopback_connection_refused,
]


@pytest.mark.parametrize("test", LOOPBACK_TESTS, ids=lambda test: test.__name__)
async def test_the_providers_loopback_tests_pass_on_the_lean_transport(
    test: Callable[[], Awaitable[None]], lean_by_default: list[LeanTransport]
) -> None:
    await test()
    assert lean_by_default, "the test made no client: it did not run on the lean transport"


async def test_a_header_value_http_cannot_carry_is_a_clear_error(
    upstream: FakeUpstream, transport: LeanTransport
) -> None:
    provider = anthropic(upstream.url, transport, True, max_retries=0)
    with pytest.raises(UpstreamConnectionError, match="outside Latin-1"):
        await provider.send(request("tokens=5"), headers={"anthropic-beta": "\u20ac"})
    assert not upstream.requests
