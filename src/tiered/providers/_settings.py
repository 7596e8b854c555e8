"""Where and how to reach one upstream: :class:`HTTPProviderSettings`, and :func:`safe_url`, the URL as it may
be shown (without credentials). Both the HTTP core and the error mapper read them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from tiered.errors import ConfigError

__all__ = ["HTTPProviderSettings", "safe_url"]

_SECRET_HEADERS: Final = frozenset({"authorization", "x-api-key", "api-key", "proxy-authorization"})


def safe_url(url: str) -> str:
    """The URL without any user:password part."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"


@dataclass(frozen=True, slots=True, repr=False)
class HTTPProviderSettings:
    """How to reach one upstream. ``api_key`` is never shown (repr, logs, error messages).

    ``timeout_s`` bounds each read, write and wait for a pooled connection (a stream may last longer as long
    as data keeps coming); ``max_retries`` counts retries after the first try. The pool sizes suit a proxy
    with many requests in flight to one upstream (``max_connections=0`` means no limit). ``max_event_bytes``
    bounds one stream event, so a server that never ends one cannot exhaust memory.
    """

    base_url: str
    api_key: str | None = None
    timeout_s: float = 600.0
    connect_timeout_s: float = 10.0
    max_retries: int = 2
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    max_retry_after_s: float = 60.0
    default_headers: Mapping[str, str] = field(default_factory=dict)
    max_connections: int = 1000
    max_keepalive_connections: int = 100
    keepalive_expiry_s: float = 30.0
    max_event_bytes: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"provider base_url must start with http:// or https:// (got {safe_url(self.base_url)!r}); "
                "fix the base URL setting"
            )
        for name in (
            "timeout_s",
            "connect_timeout_s",
            "backoff_base_s",
            "backoff_max_s",
            "max_retry_after_s",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"provider {name} must be a number >= 0 (got {value!r})")
        for name in ("max_retries", "max_connections", "max_keepalive_connections", "max_event_bytes"):
            if getattr(self, name) < 0:
                raise ConfigError(f"provider {name} must be >= 0 (got {getattr(self, name)!r})")
        headers = {k.lower(): v for k, v in self.default_headers.items()}
        object.__setattr__(self, "default_headers", MappingProxyType(headers))
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    def __repr__(self) -> str:
        headers = {k: ("***" if k in _SECRET_HEADERS else v) for k, v in self.default_headers.items()}
        return (
            f"HTTPProviderSettings(base_url={safe_url(self.base_url)!r}, "
            f"api_key={'***' if self.api_key else None}, timeout_s={self.timeout_s}, "
            f"connect_timeout_s={self.connect_timeout_s}, max_retries={self.max_retries}, "
            f"backoff_base_s={self.backoff_base_s}, backoff_max_s={self.backoff_max_s}, "
            f"max_retry_after_s={self.max_retry_after_s}, default_headers={headers!r})"
        )
