"""Model providers: the Protocol every tier is called through, and the HTTP adapters.

- :class:`AnthropicProvider`: the Anthropic Messages API, bodies and stream events passed through.
- :class:`OpenAIProvider`: any OpenAI-compatible chat-completions server, translated both ways.
- :class:`HTTPProviderSettings`: where and how to reach an upstream (timeouts, retries, pool sizes).

The adapters (and httpx2) are imported on first use, so that code needing only the Protocol and
:class:`StreamEvent` (the router, the policy) stays free of HTTP imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tiered.providers.base import Provider, ProviderResponse, ProviderStream, StreamEvent

if TYPE_CHECKING:
    from tiered.providers._http import HTTPProviderSettings
    from tiered.providers.anthropic import ANTHROPIC_VERSION, AnthropicProvider, AnthropicStream
    from tiered.providers.openai import OpenAIProvider, OpenAIStream

__all__ = [
    "ANTHROPIC_VERSION",
    "AnthropicProvider",
    "AnthropicStream",
    "HTTPProviderSettings",
    "OpenAIProvider",
    "OpenAIStream",
    "Provider",
    "ProviderResponse",
    "ProviderStream",
    "StreamEvent",
]

_LAZY = {
    "ANTHROPIC_VERSION": "tiered.providers.anthropic",
    "AnthropicProvider": "tiered.providers.anthropic",
    "AnthropicStream": "tiered.providers.anthropic",
    "HTTPProviderSettings": "tiered.providers._http",
    "OpenAIProvider": "tiered.providers.openai",
    "OpenAIStream": "tiered.providers.openai",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
