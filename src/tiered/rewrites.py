"""Documented rewrites of request parameters that a target model rejects.

A replayed request is the caller's request with only ``model`` changed, except for these rewrites, each of
which is reported in the attempt's ``rewrites`` so nothing changes silently:

- ``drop:<field>``: removed, because the model answers 400 when it is present. Claude Opus 4.7 and later
  reject ``temperature``, ``top_p`` and ``top_k``; a tier's ``drop_params`` setting replaces this rule.
- ``drop:top_p``: Claude 4.5 and 4.6 models (and Opus 4.1) reject ``temperature`` and ``top_p`` together, so
  ``top_p`` goes and ``temperature`` stays.
- ``thinking:adaptive``: Claude Opus 4.7 and later accept only adaptive thinking; ``{"type": "enabled",
  "budget_tokens": N}`` becomes ``{"type": "adaptive"}``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = ["rewrite_for_model"]

_FAMILY = re.compile(r"claude-(?:(opus|sonnet|haiku)-(\d+)(?:-(\d+))?|(\d+)-(\d+)-(opus|sonnet|haiku))")


@lru_cache(maxsize=256)  # model names come from configuration and from clients: bounded
def _version(model: str) -> tuple[str, int, int] | None:
    """(family, major, minor) of a Claude model id, or ``None`` for anything else."""
    match = _FAMILY.search(model)
    if match is None:
        return None
    if match.group(1):
        family, major, minor = match.group(1), int(match.group(2)), match.group(3)
        # "claude-opus-4-20250514" carries a date, not a minor version
        minor_value = int(minor) if minor is not None and len(minor) <= 2 else 0
        return family, major, minor_value
    return match.group(6), int(match.group(4)), int(match.group(5))


def _no_sampling(version: tuple[str, int, int] | None) -> bool:
    if version is None:
        return False
    family, major, minor = version
    return family == "opus" and (major, minor) >= (4, 7)


def _one_sampler(version: tuple[str, int, int] | None) -> bool:
    if version is None:
        return False
    _, major, minor = version
    return (major, minor) >= (4, 1)


def rewrite_for_model(
    body: dict[str, Any], model: str, drop_params: tuple[str, ...] | None = None
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Return ``body`` for ``model`` (a new dict; ``body`` is not modified) and the rewrites applied."""
    out = dict(body)
    out["model"] = model
    rewrites: list[str] = []
    version = _version(model)
    if drop_params is not None:
        drops: tuple[str, ...] = drop_params
    elif _no_sampling(version):
        drops = ("temperature", "top_p", "top_k")
    else:
        drops = ()
    for field in drops:
        if field in out:
            del out[field]
            rewrites.append(f"drop:{field}")
    if drop_params is None and "temperature" in out and "top_p" in out and _one_sampler(version):
        del out["top_p"]
        rewrites.append("drop:top_p")
    thinking = out.get("thinking")
    if (
        drop_params is None
        and _no_sampling(version)
        and isinstance(thinking, dict)
        and thinking.get("type") == "enabled"
    ):
        out["thinking"] = {"type": "adaptive"}
        rewrites.append("thinking:adaptive")
    return out, tuple(rewrites)
