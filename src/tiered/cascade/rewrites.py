"""Documented rewrites of request parameters that a target model rejects, read from the capability table.

A replayed request is the caller's request with only ``model`` changed, except for these rewrites, each of
which is reported in the attempt's ``rewrites`` so nothing changes silently. What a model accepts comes from
:mod:`tiered.cascade.capabilities` (one row per model, a source per fact), never from its version number:

- ``drop:temperature``, ``drop:top_p``, ``drop:top_k``: removed where the model takes no sampling parameters
  (``sampling == "none"``: Claude Opus 4.7 and later, the 5-series models).
- ``drop:top_p``: where temperature and top_p may not be set together (``sampling == "one_of"``: the 4.5 and
  4.6 models), ``top_p`` goes and ``temperature`` stays.
- ``thinking:adaptive``: ``{"type": "enabled", "budget_tokens": N}`` becomes ``{"type": "adaptive"}`` on a model
  that accepts only adaptive thinking.
- ``drop:thinking``: ``{"type": "disabled"}`` is removed on a model whose thinking cannot be turned off (it then
  runs with its default, adaptive thinking).
- ``drop:output_config.effort``: ``effort`` is removed on a model without the effort parameter.

A tier's ``drop_params`` setting replaces all of these rules: exactly the fields it names are removed. A model
the table does not know is sent the request unchanged (its upstream decides), as before the table existed.
"""

from __future__ import annotations

from typing import Any

from .capabilities import Capabilities, capabilities

__all__ = ["rewrite_for_model"]

_SAMPLING = ("temperature", "top_p", "top_k")


def _sampling(out: dict[str, Any], caps: Capabilities, rewrites: list[str]) -> None:
    if caps.sampling == "none":
        drops: tuple[str, ...] = _SAMPLING
    elif caps.sampling == "one_of" and "temperature" in out and "top_p" in out:
        drops = ("top_p",)
    else:
        drops = ()
    for name in drops:
        if name in out:
            del out[name]
            rewrites.append(f"drop:{name}")


def _thinking(out: dict[str, Any], caps: Capabilities, rewrites: list[str]) -> None:
    thinking = out.get("thinking")
    if not isinstance(thinking, dict):
        return
    kind = thinking.get("type")
    if kind == "enabled" and "enabled" not in caps.thinking and "adaptive" in caps.thinking:
        # budget_tokens has no adaptive counterpart; a display setting, if any, is kept
        out["thinking"] = {"type": "adaptive", **{k: v for k, v in thinking.items() if k == "display"}}
        rewrites.append("thinking:adaptive")
    elif kind == "disabled" and caps.thinking_required:
        del out["thinking"]
        rewrites.append("drop:thinking")


def _effort(out: dict[str, Any], caps: Capabilities, rewrites: list[str]) -> None:
    config = out.get("output_config")
    if caps.effort or not isinstance(config, dict) or "effort" not in config:
        return
    rest = {k: v for k, v in config.items() if k != "effort"}
    if rest:
        out["output_config"] = rest
    else:
        del out["output_config"]
    rewrites.append("drop:output_config.effort")


def rewrite_for_model(
    body: dict[str, Any], model: str, drop_params: tuple[str, ...] | None = None
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Return ``body`` for ``model`` (a new dict; ``body`` is not modified) and the rewrites applied."""
    out = dict(body)
    out["model"] = model
    rewrites: list[str] = []
    if drop_params is not None:
        for name in drop_params:
            if name in out:
                del out[name]
                rewrites.append(f"drop:{name}")
        return out, tuple(rewrites)
    caps = capabilities(model)
    if not caps.known:
        return out, ()
    _sampling(out, caps, rewrites)
    _thinking(out, caps, rewrites)
    _effort(out, caps, rewrites)
    return out, tuple(rewrites)
