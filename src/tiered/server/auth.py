"""Who is calling, and which headers go upstream on their behalf.

Two modes (``server.auth``):

- **pass-through**: the client's own ``x-api-key`` (or ``Authorization: Bearer``) is forwarded upstream; the
  proxy holds no secret. The caller is identified by a hash of that key, so it can read its own decisions.
- **keys**: the proxy holds the upstream key; clients present virtual keys made by ``tiered keys create``
  (stored hashed). An unknown key gets 401 with a message saying how to create one.

``auto`` (the default) is keys mode when the Anthropic provider has a key configured, else pass-through. A key
configured as ``server.admin_key`` is an admin in both modes. Verified virtual keys are cached for a few
seconds, so a revoked key stops working within ``KEY_CACHE_SECONDS``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

import anyio.to_thread

from ..errors import AuthenticationError, InvalidRequestError, PermissionDeniedError

__all__ = ["Authenticator", "KeyInfo", "KeyLimits", "KeyVerifier", "Principal", "client_secret"]

KEY_CACHE_SECONDS = 5.0
# x-tiered-slice: read by tiered (a request's slice, tiered.cascade.slices); providers send only anthropic-*
FORWARDED = ("anthropic-version", "anthropic-beta", "x-tiered-slice")


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """A virtual key's rate limit and spend budget (``tiered keys create --rpm / --budget``), enforced by
    :class:`tiered.server.limits.Admission`."""

    rate_limit_rpm: int | None = None
    budget_usd: float | None = None
    budget_period: Literal["day", "month"] | None = None


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: str
    name: str
    admin: bool
    limits: KeyLimits | None = None


class KeyVerifier(Protocol):
    def __call__(self, secret: str) -> KeyInfo | None: ...


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str | None
    admin: bool
    upstream_headers: dict[str, str] = field(default_factory=dict)
    limits: KeyLimits | None = None

    def require_admin(self) -> None:
        if not self.admin:
            raise PermissionDeniedError("this needs an admin key (tiered keys create NAME --admin)")


def client_secret(headers: Mapping[str, str]) -> str | None:
    """The key a client presented: ``x-api-key``, else a bearer token."""
    key = headers.get("x-api-key")
    if key:
        return key.strip()
    auth = headers.get("authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return None


def _printable(value: str) -> bool:
    return value.isascii() and value.isprintable()


def _check_header_values(headers: Mapping[str, str]) -> None:
    """Keys and forwarded headers must be printable ASCII: they go upstream as they are."""
    for name in ("x-api-key", "authorization"):
        value = headers.get(name)
        if value is not None and not _printable(value):
            raise AuthenticationError(f"{name}: must be printable ASCII; check the key you send")
    for name in FORWARDED:
        value = headers.get(name)
        if value is not None and not _printable(value):
            raise InvalidRequestError(f"{name}: must be printable ASCII")


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Authenticator:
    def __init__(
        self,
        mode: Literal["passthrough", "keys"],
        *,
        verifier: KeyVerifier | None = None,
        admin_key: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode == "keys" and verifier is None:
            raise ValueError("keys mode needs a key verifier")
        self.mode = mode
        self._verifier = verifier
        self._admin_key = admin_key
        self._clock = clock
        self._cache: dict[str, tuple[KeyInfo | None, float]] = {}

    async def authenticate(self, headers: Mapping[str, str], *, bearer_as_api_key: bool = False) -> Principal:
        """``bearer_as_api_key``: the OpenAI endpoint, whose clients send their key as a bearer token;
        in pass-through mode it is forwarded as ``x-api-key``."""
        _check_header_values(headers)
        forwarded = {name: headers[name] for name in FORWARDED if name in headers}
        secret = client_secret(headers)
        if secret is not None and self._admin_key and hmac.compare_digest(secret, self._admin_key):
            return Principal("admin", True, forwarded)
        if self.mode == "passthrough":
            if secret is None:
                raise AuthenticationError(
                    "missing API key: send your Anthropic key as x-api-key (tiered forwards it upstream)"
                )
            if "x-api-key" in headers or bearer_as_api_key:
                forwarded["x-api-key"] = secret
            else:
                forwarded["authorization"] = headers["authorization"]
            return Principal("pt_" + _fingerprint(secret)[:16], False, forwarded)
        if secret is None:
            raise AuthenticationError(
                "missing API key: this proxy uses tiered keys; create one with `tiered keys create NAME` and "
                "send it as x-api-key"
            )
        info = await self._verify(secret)
        if info is None:
            raise AuthenticationError(
                "invalid API key: it is not a tiered key of this proxy (or it was revoked); create one with "
                "`tiered keys create NAME`"
            )
        return Principal(info.id, info.admin, forwarded, info.limits)

    async def _verify(self, secret: str) -> KeyInfo | None:
        fingerprint = _fingerprint(secret)
        now = self._clock()
        cached = self._cache.get(fingerprint)
        if cached is not None and cached[1] > now:
            return cached[0]
        verifier = self._verifier
        assert verifier is not None
        info = await anyio.to_thread.run_sync(verifier, secret)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[fingerprint] = (info, now + KEY_CACHE_SECONDS)
        return info
