"""Model providers: the Protocol every tier is called through, and the HTTP adapters.

- :class:`AnthropicProvider`: the Anthropic Messages API, bodies and stream events passed through.
- :class:`OpenAIProvider`: any OpenAI-compatible chat-completions server, translated both ways.
- :class:`HTTPProviderSettings`: where and how to reach an upstream (timeouts, retries, pool sizes).

The adapters (and httpx2) are imported on first use, so that code needing only the Protocol and
:class:`StreamEvent` (the router, the policy) stays free of HTTP imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiered._lazy import lazy_exports
from tiered.providers.base import Provider, ProviderResponse, ProviderStream, StreamEvent

if TYPE_CHECKING:
    from tiered.providers._settings import HTTPProviderSettings
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

_WHERE = {
    "ANTHROPIC_VERSION": "anthropic",
    "AnthropicProvider": "anthropic",
    "AnthropicStream": "anthropic",
    "HTTPProviderSettings": "_settings",
    "OpenAIProvider": "openai",
    "OpenAIStream": "openai",
}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
