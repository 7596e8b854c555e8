"""What each Claude model accepts, as data: one table, a source URL for every fact.

The rewrites (:mod:`.rewrites`) and the routing policy (:mod:`.policy`) read this table instead of matching
version numbers, so a new model is one entry here, not a new regex. Pure data and lookup: no I/O.

``capabilities(model)`` never raises. It accepts a canonical id (``claude-opus-4-7``), an alias the API
accepts for it (a dated snapshot such as ``claude-haiku-4-5-20251001``), or a canonical id followed by an
eight-digit snapshot date. Anything else gets :data:`UNKNOWN`-style conservative defaults with
``known=False``: no prefill, no thinking, no effort, no structured outputs, no citations, one sampling
parameter at a time, a 200k window and 8k output. Callers log a warning once per unknown model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from functools import lru_cache
from types import MappingProxyType

from ._capability_data import ENTRIES
from ._capability_model import Capabilities, SamplingRule, ThinkingMode

__all__ = [
    "Capabilities",
    "SamplingRule",
    "ThinkingMode",
    "capabilities",
    "is_retired",
    "known_models",
]

# ASCII digits only, to the very end: ``\d`` also matches other scripts' digits and ``$`` a final newline, and
# either made a name no HTTP header can carry pass for a known model's snapshot
_SNAPSHOT = re.compile(r"(?P<base>.+)-(?P<date>[0-9]{8})")


@lru_cache(maxsize=1)
def _index() -> Mapping[str, Capabilities]:
    table: dict[str, Capabilities] = {}
    for entry in ENTRIES:
        for model_id in entry.ids():
            table[model_id] = entry
    return MappingProxyType(table)


def _unknown(model: str) -> Capabilities:
    # conservative: claim nothing optional, so a request needing a feature is never sent to a model that may
    # reject it; the window and output are the smallest of any current Claude model
    return Capabilities(
        model=model,
        display_name=model,
        aliases=(),
        context_window=200_000,
        max_output=8_192,
        prefill=False,
        thinking=frozenset(),
        effort=False,
        structured_outputs=False,
        citations=False,
        sampling="one_of",
        deprecated=None,
        retired=None,
        known=False,
    )


@lru_cache(maxsize=256)  # model names come from configuration and from clients: bounded
def capabilities(model: str) -> Capabilities:
    """The capabilities of ``model`` (a bare model id, no ``provider:`` prefix). Never raises."""
    table = _index()
    found = table.get(model)
    if found is not None:
        return found
    snapshot = _SNAPSHOT.fullmatch(model)
    if snapshot is not None:
        base = table.get(snapshot.group("base"))
        if base is not None:
            # a snapshot of a known model takes its base's facts; it is reported under its own id
            return replace(base, model=model, aliases=(base.model, *base.aliases))
    return _unknown(model)


def is_retired(model: str, today: date) -> bool:
    """Has ``model`` been retired (the API answers 404 ``not_found_error``) on ``today``?"""
    retired = capabilities(model).retired
    return retired is not None and today >= retired


def known_models() -> tuple[Capabilities, ...]:
    """Every entry of the table, newest first."""
    return ENTRIES
