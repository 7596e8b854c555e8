"""Settings, the retry rules, retry-after forms, and the mapping of failures to the tiered error tree."""

from __future__ import annotations

import dataclasses
import time
from email.utils import formatdate

import httpx2
import pytest

from tiered.errors import (
    ConfigError,
    UpstreamConnectionError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeoutError,
)
from tiered.providers import AnthropicProvider, HTTPProviderSettings
from tiered.providers._errors import parse_retry_after, should_retry_status
from tiered.providers._settings import safe_url

from .helpers import (
    API_KEY,
    MESSAGE,
    REQUEST,
    ChunkedBody,
    Script,
    SleepRecorder,
    anthropic,
    error_response,
    message_stream_events,
    settings,
    sse_body,
    sse_response,
)

pytestmark = pytest.mark.anyio


# --- settings ---------------------------------------------------------------------------------------------


def test_settings_repr_hides_the_key_and_auth_headers() -> None:
    s = HTTPProviderSettings(
        "https://user:pw@example.test/", api_key=API_KEY, default_headers={"Authorization": "Bearer x", "X-Y": "z"}
    )
    text = repr(s)
    assert API_KEY not in text and "Bearer x" not in text and "pw" not in text
    assert "'x-y': 'z'" in text and "api_key=***" in text
    assert s.base_url == "https://user:pw@example.test"


def test_settings_are_frozen() -> None:
    s = settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.api_key = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [("base_url", "api.anthropic.com"), ("timeout_s", -1.0), ("max_retries", -1), ("backoff_max_s", float("nan"))],
)
def test_settings_validation(field: str, value: object) -> None:
    kwargs = {"base_url": "https://x.test", field: value}
    with pytest.raises(ConfigError, match=field):
        HTTPProviderSettings(**kwargs)  # type: ignore[arg-type]


def test_safe_url_drops_credentials() -> None:
    assert safe_url("https://u:p@h.test:8/v1") == "https://h.test:8/v1"
    assert safe_url("https://h.test/a@b") == "https://h.test/a@b"


# --- pure rules -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [(400, False), (401, False), (403, False), (404, False), (408, True), (409, True), (413, False),
     (429, True), (500, True), (502, True), (503, True), (504, True), (529, True)],
)  # fmt: skip
def test_retry_statuses(status: int, expected: bool) -> None:
    assert should_retry_status(status, {}) is expected


def test_x_should_retry_overrides_the_status_rule() -> None:
    assert should_retry_status(400, {"x-should-retry": "true"}) is True
    assert should_retry_status(529, {"x-should-retry": "false"}) is False
    assert should_retry_status(529, {"x-should-retry": "maybe"}) is True


def test_parse_retry_after_forms() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after({"retry-after": "3"}, now) == 3.0
    assert parse_retry_after({"retry-after": "0.25"}, now) == 0.25
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}, now) == 1.5
    assert parse_retry_after({"retry-after-ms": "junk", "retry-after": "9"}, now) == 9.0
    assert parse_retry_after({"retry-after": formatdate(now + 30, usegmt=True)}, now) == pytest.approx(30)
    assert parse_retry_after({"retry-after": formatdate(now - 30, usegmt=True)}, now) == 0.0
    assert parse_retry_after({"retry-after": "soon"}, now) is None
    assert parse_retry_after({"retry-after": "-3"}, now) is None
    assert parse_retry_after({"retry-after": "inf"}, now) is None
    assert parse_retry_after({}, now) is None


# --- the retry loop ---------------------------------------------------------------------------------------


async def test_success_needs_no_retry() -> None:
    script = Script(httpx2.Response(200, json=MESSAGE, headers={"request-id": "req_1"}))
    sleep = SleepRecorder()
    response = await anthropic(script, sleep).send(REQUEST)
    assert response.body == MESSAGE and response.request_id == "req_1" and response.status == 200
    assert sleep.calls == []


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
async def test_retryable_statuses_are_retried(status: int) -> None:
    script = Script(error_response(status, "api_error", "boom"), httpx2.Response(200, json=MESSAGE))
    sleep = SleepRecorder()
    assert (await anthropic(script, sleep).send(REQUEST)).body == MESSAGE
    assert len(script.requests) == 2 and sleep.calls == [0.5]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
async def test_client_errors_are_not_retried(status: int) -> None:
    script = Script(error_response(status, "invalid_request_error", "bad"))
    sleep = SleepRecorder()
    with pytest.raises(UpstreamStatusError) as info:
        await anthropic(script, sleep).send(REQUEST)
    assert info.value.status == status and not info.value.retryable
    assert len(script.requests) == 1 and sleep.calls == []


async def test_backoff_doubles_up_to_the_cap_and_then_gives_up() -> None:
    script = Script(*[error_response(529, "overloaded_error", "Overloaded")] * 7)
    sleep = SleepRecorder()
    provider = anthropic(script, sleep, max_retries=6, backoff_base_s=0.5, backoff_max_s=4.0)
    with pytest.raises(UpstreamStatusError) as info:
        await provider.send(REQUEST)
    assert sleep.calls == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(script.requests) == 7
    assert "gave up after 6 retries" in info.value.message


async def test_jitter_keeps_at_least_half_the_step() -> None:
    script = Script(error_response(500, "api_error", "x"), httpx2.Response(200, json=MESSAGE))
    sleep = SleepRecorder()
    provider = AnthropicProvider(settings(), httpx2.AsyncClient(transport=httpx2.MockTransport(script)),
                                 sleep=sleep, random=lambda: 0.0)  # fmt: skip
    await provider.send(REQUEST)
    assert sleep.calls == [0.25]


async def test_max_retries_zero_never_retries() -> None:
    script = Script(error_response(529, "overloaded_error", "Overloaded"))
    with pytest.raises(UpstreamStatusError):
        await anthropic(script, max_retries=0).send(REQUEST)
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "0"}, 0.0),
    ],
)
async def test_retry_after_replaces_the_backoff(headers: dict[str, str], expected: float) -> None:
    script = Script(error_response(429, "rate_limit_error", "slow down", **headers), httpx2.Response(200, json=MESSAGE))
    sleep = SleepRecorder()
    await anthropic(script, sleep).send(REQUEST)
    assert sleep.calls == [expected]


async def test_retry_after_as_http_date() -> None:
    date = formatdate(time.time() + 20, usegmt=True)
    script = Script(error_response(503, "api_error", "x", **{"retry-after": date}), httpx2.Response(200, json=MESSAGE))
    sleep = SleepRecorder()
    await anthropic(script, sleep).send(REQUEST)
    assert len(sleep.calls) == 1 and 15 <= sleep.calls[0] <= 21


async def test_retry_after_longer_than_the_limit_gives_up_at_once() -> None:
    script = Script(error_response(429, "rate_limit_error", "wait", **{"retry-after": "120"}))
    sleep = SleepRecorder()
    with pytest.raises(UpstreamStatusError) as info:
        await anthropic(script, sleep, max_retry_after_s=60).send(REQUEST)
    assert sleep.calls == [] and len(script.requests) == 1
    assert info.value.retry_after == 120.0 and info.value.retryable
    assert "wait 120s" in info.value.message


async def test_x_should_retry_true_retries_a_400() -> None:
    script = Script(error_response(400, "invalid_request_error", "x", **{"x-should-retry": "true"}),
                    httpx2.Response(200, json=MESSAGE))  # fmt: skip
    assert (await anthropic(script).send(REQUEST)).body == MESSAGE
    assert len(script.requests) == 2


async def test_x_should_retry_false_stops_a_529() -> None:
    script = Script(error_response(529, "overloaded_error", "x", **{"x-should-retry": "false"}))
    with pytest.raises(UpstreamStatusError) as info:
        await anthropic(script).send(REQUEST)
    assert len(script.requests) == 1 and not info.value.retryable
    assert info.value.headers["x-should-retry"] == "false"


@pytest.mark.parametrize(
    ("exc", "mapped"),
    [
        (httpx2.ConnectError("refused"), UpstreamConnectionError),
        (httpx2.ReadError("reset"), UpstreamConnectionError),
        (httpx2.RemoteProtocolError("closed"), UpstreamConnectionError),
        (httpx2.ConnectTimeout("slow"), UpstreamTimeoutError),
        (httpx2.ReadTimeout("slow"), UpstreamTimeoutError),
        (httpx2.PoolTimeout("busy"), UpstreamTimeoutError),
    ],
)
async def test_transport_errors_are_retried_then_mapped(exc: Exception, mapped: type[Exception]) -> None:
    script = Script(exc, exc, exc)
    sleep = SleepRecorder()
    with pytest.raises(mapped) as info:
        await anthropic(script, sleep).send(REQUEST)
    assert len(script.requests) == 3 and sleep.calls == [0.5, 1.0]
    assert info.value.__cause__ is exc
    assert "gave up after 2 retries" in str(info.value)


async def test_transport_error_then_success() -> None:
    script = Script(httpx2.ConnectError("refused"), httpx2.Response(200, json=MESSAGE))
    assert (await anthropic(script).send(REQUEST)).body == MESSAGE


async def test_a_body_cut_short_is_retried_for_send() -> None:
    broken = httpx2.Response(200, stream=ChunkedBody([b'{"id": "msg'], fail_with=httpx2.ReadError("reset")))
    script = Script(broken, httpx2.Response(200, json=MESSAGE))
    sleep = SleepRecorder()
    assert (await anthropic(script, sleep).send(REQUEST)).body == MESSAGE
    assert len(script.requests) == 2 and sleep.calls == [0.5]


async def test_unsupported_protocol_is_not_retried() -> None:
    script = Script(httpx2.UnsupportedProtocol("nope"))
    with pytest.raises(UpstreamConnectionError) as info:
        await anthropic(script).send(REQUEST)
    assert len(script.requests) == 1 and "ANTHROPIC_BASE_URL" in info.value.message


async def test_opening_a_stream_is_retried() -> None:
    script = Script(
        error_response(529, "overloaded_error", "Overloaded"), sse_response(sse_body(message_stream_events()))
    )
    sleep = SleepRecorder()
    async with anthropic(script, sleep).stream(REQUEST) as stream:
        events = [event.event async for event in stream]
    assert events[-1] == "message_stop" and sleep.calls == [0.5]


async def test_a_failed_stream_open_raises_on_enter_after_retries() -> None:
    script = Script(*[error_response(529, "overloaded_error", "Overloaded")] * 3)
    with pytest.raises(UpstreamStatusError) as info:
        async with anthropic(script).stream(REQUEST):
            raise AssertionError("the block must not run")
    assert info.value.status == 529 and len(script.requests) == 3


# --- error mapping ----------------------------------------------------------------------------------------


async def test_status_error_keeps_every_field() -> None:
    response = error_response(429, "rate_limit_error", "Number of requests has exceeded your rate limit.",
                              **{"request-id": "req_abc", "retry-after": "7", "x-other": "no"})  # fmt: skip
    with pytest.raises(UpstreamStatusError) as info:
        await anthropic(Script(response), max_retries=0).send(REQUEST)
    error = info.value
    assert error.status == 429 and error.error_type == "rate_limit_error"
    assert error.request_id == "req_abc" and error.retry_after == 7.0 and error.retryable
    assert error.provider == "anthropic" and error.model == REQUEST["model"]
    assert error.body is not None and error.body["error"]["message"].startswith("Number of requests")
    assert error.headers == {"retry-after": "7", "request-id": "req_abc"}
    assert "HTTP 429 rate_limit_error: Number of requests has exceeded your rate limit. The upstream" in error.message
    assert "req_abc" in str(error)


async def test_request_id_falls_back_to_the_body() -> None:
    with pytest.raises(UpstreamStatusError) as info:
        await anthropic(Script(error_response(400, "invalid_request_error", "x"))).send(REQUEST)
    assert info.value.request_id == "req_body"


async def test_openai_shaped_and_plain_error_bodies() -> None:
    body = {"error": {"message": "Invalid model", "type": "invalid_request_error", "param": "model", "code": None}}
    with pytest.raises(UpstreamStatusError) as info:
        await anthropic(Script(httpx2.Response(404, json=body))).send(REQUEST)
    assert info.value.error_type == "invalid_request_error" and "Invalid model" in info.value.message
    assert "check the model name" in info.value.message.lower()

    with pytest.raises(UpstreamStatusError) as info:
        await anthropic(Script(httpx2.Response(502, text="<html>Bad gateway</html>")), max_retries=0).send(REQUEST)
    assert info.value.error_type == "api_error" and "<html>Bad gateway</html>" in info.value.message
    assert info.value.body is None

    with pytest.raises(UpstreamStatusError) as info:
        await anthropic(Script(httpx2.Response(401, json={"error": "no key"}))).send(REQUEST)
    assert info.value.error_type == "authentication_error" and "no key" in info.value.message


async def test_the_api_key_never_leaks_into_errors() -> None:
    echo = {"type": "error", "error": {"type": "authentication_error", "message": f"invalid x-api-key {API_KEY}"}}
    with pytest.raises(UpstreamStatusError) as info:
        await anthropic(Script(httpx2.Response(401, json=echo))).send(REQUEST)
    error = info.value
    for text in (str(error), error.message, repr(error), repr(error.body), repr(error.headers)):
        assert API_KEY not in text
    assert "***" in error.message

    with pytest.raises(UpstreamConnectionError) as conn:
        await anthropic(Script(*[httpx2.ConnectError(f"failed with {API_KEY}")] * 3)).send(REQUEST)
    assert API_KEY not in str(conn.value)


@pytest.mark.parametrize(
    ("response", "what"),
    [
        (httpx2.Response(200, text="not json"), "not JSON"),
        (httpx2.Response(200, json=[1, 2]), "not an object"),
    ],
)
async def test_bad_2xx_body_is_a_protocol_error(response: httpx2.Response, what: str) -> None:
    with pytest.raises(UpstreamProtocolError, match=what):
        await anthropic(Script(response)).send(REQUEST)


# --- the client -------------------------------------------------------------------------------------------


async def test_owned_client_is_created_lazily_and_closed() -> None:
    provider = AnthropicProvider(settings(max_connections=50, max_keepalive_connections=10))
    core = provider._core
    assert core._client is None
    client = core.client()
    assert core.client() is client
    await provider.aclose()
    assert client.is_closed and core._client is None


async def test_injected_client_is_left_open() -> None:
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(Script()))
    provider = AnthropicProvider(settings(), client)
    await provider.aclose()
    assert not client.is_closed
    await client.aclose()
