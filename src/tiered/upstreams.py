"""The providers a router uses, made from settings on first use and shared across requests.

One pooled HTTP client per provider; a provider object per (provider, retry budget), because triage calls
retry less than final calls: a failing triage escalates at once, which is faster than waiting on a retry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import ProviderSettings, Settings, TierSettings

if TYPE_CHECKING:
    import httpx2

    from .providers.base import Provider

__all__ = ["Upstreams"]

TRIAGE_RETRIES = 0


class Upstreams:
    def __init__(self, settings: Settings, *, transport: httpx2.AsyncBaseTransport | None = None) -> None:
        """``transport`` replaces the network for every provider (tests use this)."""
        self._settings = settings
        self._transport = transport
        self._clients: dict[str, tuple[httpx2.AsyncClient, httpx2.AsyncBaseTransport | None]] = {}
        self._providers: dict[tuple[str, int], Provider] = {}

    def _client(self, name: str, spec: ProviderSettings) -> tuple[httpx2.AsyncClient, httpx2.AsyncBaseTransport | None]:
        """The provider's pooled client, and its transport when the providers may call it directly."""
        found = self._clients.get(name)
        if found is None:
            import httpx2

            from .providers._transport import lean_transport_or_default

            limits = httpx2.Limits(max_connections=1024, max_keepalive_connections=256, keepalive_expiry=30)
            # tiered's own HTTP/1.1 transport: a third of the default one's CPU per call (BENCHMARKS.md); the
            # default one (which honours proxy settings) when HTTP(S)_PROXY applies to this upstream
            transport = self._transport or lean_transport_or_default(spec.base_url, limits=limits)
            client = httpx2.AsyncClient(
                transport=transport,
                timeout=httpx2.Timeout(spec.timeout_s, connect=spec.connect_timeout_s),
                limits=limits,
            )
            found = self._clients[name] = (client, transport)
        return found

    def provider(self, name: str, *, retries: int | None = None) -> Provider:
        """The provider called ``name`` with ``retries`` (default: its configured ``max_retries``)."""
        spec = self._settings.provider(name)
        budget = spec.max_retries if retries is None else retries
        key = (name, budget)
        provider = self._providers.get(key)
        if provider is None:
            from .providers._http import HTTPProviderSettings

            http_settings = HTTPProviderSettings(
                base_url=spec.base_url,
                api_key=spec.api_key.get_secret_value() if spec.api_key is not None else None,
                timeout_s=spec.timeout_s,
                connect_timeout_s=spec.connect_timeout_s,
                max_retries=budget,
            )
            client, direct = self._client(name, spec)
            if spec.kind == "openai":
                from .providers.openai import OpenAIProvider

                provider = OpenAIProvider(http_settings, client=client, direct=direct)
            else:
                from .providers.anthropic import AnthropicProvider

                provider = AnthropicProvider(http_settings, client=client, direct=direct)
            self._providers[key] = provider
        return provider

    def for_tier(self, tier: TierSettings, *, triage: bool) -> Provider:
        retries = tier.max_retries
        if retries is None and triage:
            retries = TRIAGE_RETRIES
        return self.provider(tier.provider, retries=retries)

    async def aclose(self) -> None:
        for client, _ in self._clients.values():
            await client.aclose()
        self._clients.clear()
        self._providers.clear()
