"""Response headers built from request data: every ``x-tiered-*`` value is one HTTP can carry.

Found by ``test_fuzz_endpoints.test_messages_shaped_bodies`` (hypothesis, intermittently): a model name an
upstream serves is echoed in ``x-tiered-model``; outside Latin-1 it failed in Starlette's header encoding (a
500 ``UnicodeEncodeError``), with a control character in uvicorn's header check (``Invalid HTTP header
value``: the connection was cut without a response). These are the failing examples, written out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Final
from urllib.parse import unquote

import anthropic
import httpx2
import pytest
from tests.security._sec_helpers import ANTHROPIC_HEADERS, CLIENT_KEY, anthropic_error_shape, errors_logged

from tiered.cascade.capabilities import capabilities
from tiered.fake_upstream import FakeUpstream, Scenario
from tiered.server.common import header_value
from tiered.server.thread import ProxyThread

MESSAGES: Final = "/v1/messages"
# a model the upstream serves whose id no header can carry as it is: outside Latin-1, and with a control
WIDE: Final = "m\U000647c7-model"
CONTROL: Final = "model\x01-x"


@pytest.fixture(autouse=True)
def _clean(proxy: ProxyThread, upstream: FakeUpstream) -> Iterator[None]:
    upstream.scenario = Scenario(models=(WIDE, CONTROL))
    with errors_logged() as logged:
        yield
    assert not logged.records, logged.messages()
    assert proxy.error is None


def _post(proxy: ProxyThread, body: dict[str, object]) -> httpx2.Response:
    raw = json.dumps(body, ensure_ascii=True).encode("ascii")
    return httpx2.post(proxy.url + MESSAGES, content=raw, headers=ANTHROPIC_HEADERS, timeout=30)


@pytest.mark.parametrize("model", [WIDE, CONTROL])
@pytest.mark.parametrize("stream", [False, True])
def test_a_served_model_outside_header_characters_answers_200(proxy: ProxyThread, model: str, stream: bool) -> None:
    body = {"model": model, "max_tokens": 16, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    response = _post(proxy, body)
    assert response.status_code == 200, response.text[:300]
    echoed = response.headers["x-tiered-model"]
    assert echoed.isascii() and echoed.isprintable()
    assert unquote(echoed) == model  # percent-encoded (RFC 3986), so a client can still read it


def test_the_official_sdk_reads_the_answer_and_its_headers(proxy: ProxyThread) -> None:
    client = anthropic.Anthropic(api_key=CLIENT_KEY, base_url=proxy.url, max_retries=0)
    raw = client.messages.with_raw_response.create(
        model=WIDE, max_tokens=16, messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().content
    assert unquote(raw.headers["x-tiered-model"]) == WIDE


@pytest.mark.parametrize(
    "model",
    [
        "claude-haiku-4-5-\u0662\u0660\u0662\u0665\u0661\u0660\u0660\u0661",  # Arabic-Indic digits match \d
        "claude-haiku-4-5-20251001\n",  # $ matches before a final newline
    ],
)
def test_only_ascii_snapshot_dates_name_a_known_model(proxy: ProxyThread, model: str) -> None:
    assert not capabilities(model).known
    body = {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    response = _post(proxy, body)
    assert response.status_code == 404, response.text[:300]  # not served, as the real API answers
    assert anthropic_error_shape(response.json())


@pytest.mark.parametrize("stream", [False, True])
def test_a_model_name_with_a_lone_surrogate_is_a_400(proxy: ProxyThread, stream: bool) -> None:
    raw = b'{"model": "claude-\\ud800", "max_tokens": 5, "stream": %s, "messages": [{"role": "user", "content": "x"}]}'
    response = httpx2.post(
        proxy.url + MESSAGES, content=raw % (b"true" if stream else b"false"), headers=ANTHROPIC_HEADERS, timeout=30
    )
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "model" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("claude-haiku-4-5", "claude-haiku-4-5"),
        ("a b", "a b"),
        ("50%", "50%25"),  # an escape character of its own is escaped, so unquote() always gives the value back
        ("é", "%C3%A9"),
        ("a\r\nset-cookie: x", "a%0D%0Aset-cookie: x"),
        ("\U000647c7", "%F1%A4%9F%87"),
    ],
)
def test_header_value_is_printable_ascii_and_reversible(value: str, sent: str) -> None:
    assert header_value(value) == sent
    assert unquote(sent) == value
