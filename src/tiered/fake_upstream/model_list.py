"""``GET /v1/models`` and ``GET /v1/models/{model_id}``: the models the fake serves, from the capability table.

Shapes follow the Models API reference (https://platform.claude.com/docs/en/api/models/list and
.../models/retrieve): ``{"type": "model", "id", "display_name", "created_at", "max_input_tokens",
"max_tokens"}``, newest first, paginated with ``limit`` (1 to 1000, default 20), ``after_id`` / ``before_id``
and ``has_more`` / ``first_id`` / ``last_id``. Retired models are not listed and answer 404; a model id or
alias retrieves the model.
"""

from __future__ import annotations

import re
from typing import Any, Final

from tiered.cascade.capabilities import Capabilities, capabilities, known_models
from tiered.fake_upstream.models import serves
from tiered.fake_upstream.resolve import Runtime

__all__ = ["find_model", "model_object", "model_page", "served_models"]

# created_at is "RFC 3339 datetime string representing the time at which the model was released. May be set
# to an epoch value if the release date is unknown" (Models API reference). Dates the fake knows: the models
# overview page for Sonnet 4.6 ("Released February 17, 2026"); Opus 4.7 shipped on April 16, 2026 (release
# coverage, e.g. the Claude Opus 4.7 developer guides); otherwise the date of a dated snapshot id; else epoch.
_RELEASED: Final = {"claude-sonnet-4-6": "2026-02-17", "claude-opus-4-7": "2026-04-16"}
_EPOCH: Final = "1970-01-01T00:00:00Z"
_SNAPSHOT_DATE: Final = re.compile(r"-(20\d\d)(\d\d)(\d\d)$")


def _created_at(caps: Capabilities) -> str:
    if caps.model in _RELEASED:
        return f"{_RELEASED[caps.model]}T00:00:00Z"
    for model_id in caps.ids():
        dated = _SNAPSHOT_DATE.search(model_id)
        if dated is not None:
            return f"{dated[1]}-{dated[2]}-{dated[3]}T00:00:00Z"
    return _EPOCH


def model_object(caps: Capabilities) -> dict[str, Any]:
    return {
        "type": "model",
        "id": caps.model,
        "display_name": caps.display_name,
        "created_at": _created_at(caps),
        "max_input_tokens": caps.context_window,
        "max_tokens": caps.max_output,
    }


def _declared(model_id: str) -> dict[str, Any]:
    # a model the scenario declares: nothing is known of it but its id
    return {"type": "model", "id": model_id, "display_name": model_id, "created_at": _EPOCH}


def served_models(runtime: Runtime) -> list[dict[str, Any]]:
    """Every model the fake serves today, newest first; the scenario's declared models first."""
    today, scenario = runtime.today(), runtime.scenario
    table = [model_object(c) for c in known_models() if serves(c.model, scenario, today)]
    ids = {m["id"] for m in table}
    return [_declared(m) for m in runtime.scenario.models if m not in ids] + table


def find_model(runtime: Runtime, model_id: str) -> dict[str, Any] | None:
    """The model object ``model_id`` (an id or an alias) names, or ``None`` when the fake does not serve it."""
    canonical = capabilities(model_id).model if capabilities(model_id).known else model_id
    return next((m for m in served_models(runtime) if m["id"] == canonical), None)


def model_page(runtime: Runtime, query: dict[str, str]) -> dict[str, Any] | str:
    """One page of the list, or the 400 message for a bad ``limit``."""
    models = served_models(runtime)
    ids = [m["id"] for m in models]
    if query.get("after_id") in ids:
        models = models[ids.index(query["after_id"]) + 1 :]
    elif query.get("before_id") in ids:
        models = models[: ids.index(query["before_id"])]
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        return "limit: Input should be a valid integer"
    if not 1 <= limit <= 1000:
        return "limit: Input should be greater than or equal to 1 and less than or equal to 1000"
    before = "before_id" in query and "after_id" not in query
    page = models[-limit:] if before else models[:limit]
    return {
        "data": page,
        "has_more": len(models) > limit,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
    }
