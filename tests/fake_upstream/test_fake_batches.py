"""Message Batches, through the anthropic SDK and raw HTTP."""

from __future__ import annotations

import json
import time
from typing import Any, cast

import anthropic
import httpx2
import pytest
from anthropic.types.messages.batch_create_params import Request
from tests.fake_upstream._fake_helpers import triage, user

from tiered.fake_upstream import FakeUpstream, Scenario


@pytest.fixture
def client(fake: FakeUpstream) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0)


def _requests() -> list[Request]:
    requests: list[dict[str, Any]] = [
        {"custom_id": "plain", "params": user("hello [[fake tokens=4]]")},
        {"custom_id": "triage", "params": triage("2+2? [[fake confidence=0.9 answer=4]]")},
        {"custom_id": "limited", "params": user("x [[fake fault=429]]")},
        {"custom_id": "slow", "params": user("x [[fake fault=timeout]]")},
        {"custom_id": "invalid", "params": {"model": "m", "messages": []}},
    ]
    # The last one is invalid on purpose: the SDK's types would not allow it.
    return cast("list[Request]", requests)


def test_batch_lifecycle_with_the_sdk(client: anthropic.Anthropic, fake: FakeUpstream) -> None:
    batch = client.messages.batches.create(requests=_requests())
    assert batch.id.startswith("msgbatch_")
    assert batch.type == "message_batch" and batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 5 and batch.results_url is None
    assert batch.expires_at > batch.created_at
    done = client.messages.batches.retrieve(batch.id)
    assert done.processing_status == "ended" and done.ended_at is not None
    counts = done.request_counts
    assert (counts.processing, counts.succeeded, counts.errored, counts.expired, counts.canceled) == (0, 2, 2, 1, 0)
    assert done.results_url == f"{fake.url}/v1/messages/batches/{batch.id}/results"
    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    plain = results["plain"]
    assert plain.type == "succeeded"
    assert plain.message.content[0].type == "text" and len(plain.message.content[0].text.split()) == 4
    triaged = results["triage"]
    assert triaged.type == "succeeded" and triaged.message.content[0].type == "text"
    assert json.loads(triaged.message.content[0].text) == {"confidence": 0.9, "answer": "4"}
    limited = results["limited"]
    assert limited.type == "errored" and limited.error.error.type == "rate_limit_error"
    invalid = results["invalid"]
    assert invalid.type == "errored" and invalid.error.error.type == "invalid_request_error"
    assert results["slow"].type == "expired"


def test_batch_delay_and_results_before_the_end(http: httpx2.Client, fake: FakeUpstream) -> None:
    fake.scenario = Scenario(batch_delay_s=0.3)
    batch = http.post("/v1/messages/batches", json={"requests": _requests()[:2]}).json()
    pending = http.get(f"/v1/messages/batches/{batch['id']}").json()
    assert pending["processing_status"] == "in_progress"
    assert pending["request_counts"]["processing"] == 2
    early = http.get(f"/v1/messages/batches/{batch['id']}/results")
    assert early.status_code == 400
    time.sleep(0.35)
    assert http.get(f"/v1/messages/batches/{batch['id']}").json()["processing_status"] == "ended"
    results = http.get(f"/v1/messages/batches/{batch['id']}/results")
    lines = [json.loads(line) for line in results.text.splitlines()]
    assert [line["custom_id"] for line in lines] == ["plain", "triage"]
    assert lines[0]["result"]["message"]["type"] == "message"


def test_cancel_list_and_delete(client: anthropic.Anthropic, fake: FakeUpstream) -> None:
    fake.scenario = Scenario(batch_delay_s=60)
    first = client.messages.batches.create(requests=_requests()[:1])
    second = client.messages.batches.create(requests=_requests()[:2])
    with pytest.raises(anthropic.BadRequestError):
        client.messages.batches.delete(second.id)
    canceling = client.messages.batches.cancel(second.id)
    assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at is not None
    ended = client.messages.batches.retrieve(second.id)
    assert ended.processing_status == "ended" and ended.request_counts.canceled == 2
    assert {r.result.type for r in client.messages.batches.results(second.id)} == {"canceled"}
    assert [b.id for b in client.messages.batches.list()] == [second.id, first.id]
    deleted = client.messages.batches.delete(second.id)
    assert deleted.id == second.id and deleted.type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(second.id)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "requests"),
        ({"requests": []}, "requests"),
        ({"requests": [{"params": user("x")}]}, "requests.0.custom_id"),
        ({"requests": [{"custom_id": "a", "params": user("x")}] * 2}, "requests.1.custom_id"),
        ({"requests": [{"custom_id": "a"}]}, "requests.0.params"),
    ],
)
def test_invalid_batches(http: httpx2.Client, body: dict[str, Any], field: str) -> None:
    response = http.post("/v1/messages/batches", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(field + ":")
