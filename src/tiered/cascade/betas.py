"""``anthropic-beta`` flags that only some models take, as data: which models, and the page that says so.

A beta not listed here is taken to work with any model (the files API, prompt caching...): forwarding it is the
upstream's business, as before. A listed beta sent with a model outside its list is refused by the API: "If you
use an invalid or unavailable beta header, you'll receive an error response" (``invalid_request_error``,
"Unsupported beta header: <name>", https://platform.claude.com/docs/en/api/beta-headers). So a request carrying
one is never triaged on a tier whose model does not take it (see :func:`tiered.cascade.fit.misfit`). Pure data and
lookup: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from .capabilities import capabilities

__all__ = ["MODEL_BETAS", "beta_list", "betas_of", "unsupported_beta"]

_DOCS: Final = "https://platform.claude.com/docs/en"

# beta -> (the models that take it, the page whose "supportedModels" lists them)
MODEL_BETAS: Final[Mapping[str, tuple[frozenset[str], str]]] = MappingProxyType(
    {
        "task-budgets-2026-03-13": (
            frozenset(
                {
                    "claude-fable-5-1",
                    "claude-mythos-5-1",
                    "claude-fable-5",
                    "claude-mythos-5",
                    "claude-opus-5-5",
                    "claude-opus-5",
                    "claude-opus-4-8",
                    "claude-opus-4-7",
                    "claude-sonnet-5-5",
                    "claude-haiku-5-5",
                }
            ),
            f"{_DOCS}/build-with-claude/task-budgets",
        ),
    }
)


def beta_list(header: str | None) -> tuple[str, ...]:
    """The flags of an ``anthropic-beta`` header value ("feature1,feature2"), in order, without blanks."""
    if not header:
        return ()
    return tuple(flag for flag in (part.strip() for part in header.split(",")) if flag)


def betas_of(headers: Mapping[str, str] | None) -> tuple[str, ...]:
    """The ``anthropic-beta`` flags among request headers (the name matched in any case)."""
    if not headers:
        return ()
    value = headers.get("anthropic-beta")
    if value is None:  # a plain dict from a library caller may spell the name in any case
        for name, text in headers.items():
            if len(name) == 14 and name.lower() == "anthropic-beta":  # the length first: no lower() per header
                return beta_list(text)
    return beta_list(value)


def unsupported_beta(betas: Iterable[str], model: str) -> str | None:
    """The first of ``betas`` that ``model`` (a bare model id) does not take, or ``None``. A model the capability
    table does not know is assumed to take them all (its upstream decides)."""
    if not betas:
        return None  # the usual request: no flags, nothing to look up
    caps = capabilities(model)
    if not caps.known:
        return None
    ids = set(caps.ids())
    for beta in betas:
        listed = MODEL_BETAS.get(beta)
        if listed is not None and not ids & listed[0]:
            return beta
    return None
