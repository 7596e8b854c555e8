"""``/v1/models`` of the fake: the capability table's models, shaped and paginated as the Models API."""

from __future__ import annotations

from datetime import datetime

import anthropic
import httpx2

from tiered.fake_upstream import FakeUpstream, Scenario


def all_ids(http: httpx2.Client) -> list[str]:
    return [m["id"] for m in http.get("/v1/models", params={"limit": 1000}).json()["data"]]


def test_each_model_carries_its_window_and_output_ceiling(http: httpx2.Client) -> None:
    haiku = http.get("/v1/models/claude-haiku-4-5").json()
    assert haiku == {
        "type": "model",
        "id": "claude-haiku-4-5",
        "display_name": "Claude Haiku 4.5",
        "created_at": "2025-10-01T00:00:00Z",  # the date of its snapshot, claude-haiku-4-5-20251001
        "max_input_tokens": 200_000,
        "max_tokens": 64_000,
    }
    opus = http.get("/v1/models/claude-opus-4-7").json()
    assert (opus["max_input_tokens"], opus["max_tokens"]) == (1_000_000, 128_000)


def test_an_alias_retrieves_its_model(http: httpx2.Client) -> None:
    assert http.get("/v1/models/claude-haiku-4-5-20251001").json()["id"] == "claude-haiku-4-5"


def test_retired_models_are_not_listed(http: httpx2.Client, fake: FakeUpstream) -> None:
    ids = all_ids(http)
    assert "claude-sonnet-4-0" not in ids and "claude-opus-4-0" not in ids  # retired 2026-06-15
    assert http.get("/v1/models/claude-sonnet-4-20250514").status_code == 404
    previous = fake.app.cache.clock
    fake.app.cache.clock = lambda: datetime.fromisoformat("2026-06-01T00:00:00+00:00").timestamp()
    try:
        assert "claude-sonnet-4-0" in all_ids(http)
    finally:
        fake.app.cache.clock = previous


def test_pages_forward_and_backward(http: httpx2.Client) -> None:
    ids = all_ids(http)
    assert len(ids) > 4
    first = http.get("/v1/models", params={"limit": 2}).json()
    assert [m["id"] for m in first["data"]] == ids[:2] and first["has_more"]
    assert (first["first_id"], first["last_id"]) == (ids[0], ids[1])
    back = http.get("/v1/models", params={"limit": 2, "before_id": ids[4]}).json()
    assert [m["id"] for m in back["data"]] == ids[2:4] and back["has_more"]
    last = http.get("/v1/models", params={"limit": 2, "after_id": ids[-3]}).json()
    assert [m["id"] for m in last["data"]] == ids[-2:] and not last["has_more"]
    for bad in ("0", "1001", "x"):
        assert http.get("/v1/models", params={"limit": bad}).status_code == 400


def test_the_sdk_walks_every_page(fake: FakeUpstream, http: httpx2.Client) -> None:
    fake.scenario = Scenario(models=("local-model",))
    client = anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0)
    walked = [m.id for m in client.models.list(limit=3)]
    assert walked == all_ids(http) and walked[0] == "local-model"
    assert client.models.retrieve("claude-sonnet-4-6").display_name == "Claude Sonnet 4.6"


def test_a_key_limited_to_some_models(http: httpx2.Client, fake: FakeUpstream) -> None:
    fake.scenario = Scenario(available=("claude-haiku-4-5", "claude-opus-4-7"))
    assert all_ids(http) == ["claude-opus-4-7", "claude-haiku-4-5"]
    body = {"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    refused = http.post("/v1/messages", json=body)
    assert refused.status_code == 404 and refused.json()["error"]["message"] == "model: claude-sonnet-4-6"
    assert http.get("/v1/models/claude-sonnet-4-6").status_code == 404
    # an alias of an available model is available
    assert http.post("/v1/messages", json={**body, "model": "claude-haiku-4-5-20251001"}).status_code == 200
