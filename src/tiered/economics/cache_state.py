"""Where tiered keeps what it learned about prompt caches and conversations: a small key-value store with expiry.

:class:`MemoryStore` keeps it in the process (bounded, least recently used out first). :class:`RedisStore`
shares it between replicas through Redis (``TIERED_REDIS_URL``); when Redis fails it falls back to its own
:class:`MemoryStore`, says so (:attr:`RedisStore.healthy`, :attr:`RedisStore.failures`) and tries Redis again
after :data:`RETRY_AFTER_S`. A request never fails because of this store: a lost read is a cold cache, a lost
write is a missed lesson.

:class:`CacheState` is the meaning on top: per (prefix digest, model and role) the tokens a call cached there
and its TTL; per conversation its turns, escalations and until when it stays on the final tier. Values are
short strings; keys are digests (see :mod:`tiered.economics.fingerprint`): no content is stored.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

if TYPE_CHECKING:
    from .fingerprint import Fingerprint

__all__ = [
    "RETRY_AFTER_S",
    "CacheState",
    "Conversation",
    "KeyValueStore",
    "MemoryStore",
    "RedisStore",
    "Snapshot",
    "Write",
]

log = logging.getLogger("tiered.economics")

RETRY_AFTER_S: Final = 5.0
_PREFIX: Final = "tiered:econ:"
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Write:
    key: str
    value: str
    ttl_s: float


class KeyValueStore(Protocol):
    async def mget(self, keys: Sequence[str]) -> list[str | None]: ...

    async def mset(self, writes: Sequence[Write]) -> None: ...


class MemoryStore:
    """In-process values with expiry, at most ``max_entries`` (the least recently used go first)."""

    def __init__(self, max_entries: int = 100_000, clock: Clock = time.time) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._data: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        now, out = self.clock(), []
        for key in keys:
            entry = self._data.get(key)
            if entry is not None and entry[1] <= now:
                del self._data[key]
                entry = None
            if entry is not None:
                self._data.move_to_end(key)
            out.append(entry[0] if entry is not None else None)
        return out

    def set_many(self, writes: Iterable[Write]) -> None:
        now = self.clock()
        for write in writes:
            self._data[write.key] = (write.value, now + write.ttl_s)
            self._data.move_to_end(write.key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    async def mget(self, keys: Sequence[str]) -> list[str | None]:
        return self.get_many(keys)

    async def mset(self, writes: Sequence[Write]) -> None:
        self.set_many(writes)


class RedisStore:
    """Values in Redis, shared by replicas; its own :class:`MemoryStore` while Redis fails."""

    def __init__(self, url: str, *, timeout_s: float = 0.25, clock: Clock = time.time) -> None:
        try:
            import redis.asyncio as aioredis
        except ImportError as exc:  # pragma: no cover - depends on the install
            from ..errors import ConfigError

            raise ConfigError(
                f"TIERED_REDIS_URL is set but redis is not installed: pip install 'tiered[redis]' ({exc})"
            ) from exc
        self.url = url
        self.clock = clock
        self.fallback = MemoryStore(clock=clock)
        self.failures = 0
        self.healthy = True
        self._retry_at = 0.0
        self._client: Any = aioredis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=True
        )

    def _usable(self) -> bool:
        return self.healthy or time.monotonic() >= self._retry_at

    def _failed(self, exc: Exception) -> None:
        if self.healthy:
            log.warning("Redis at %s failed (%s); using this replica's own state until it is back", self._where(), exc)
        self.failures += 1
        self.healthy = False
        self._retry_at = time.monotonic() + RETRY_AFTER_S

    def _where(self) -> str:
        return self.url.rsplit("@", 1)[-1]  # never the password of redis://user:password@host

    async def mget(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        if self._usable():
            try:
                values: list[str | None] = await self._client.mget([_PREFIX + k for k in keys])
            except Exception as exc:  # any Redis or socket error: fall back, never fail the request
                self._failed(exc)
            else:
                self.healthy = True
                return values
        return self.fallback.get_many(keys)

    async def mset(self, writes: Sequence[Write]) -> None:
        self.fallback.set_many(writes)  # kept locally too: it takes over at once when Redis fails
        if not writes or not self._usable():
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for write in writes:
                    pipe.set(_PREFIX + write.key, write.value, px=max(1, int(write.ttl_s * 1000)))
                await pipe.execute()
        except Exception as exc:
            self._failed(exc)
        else:
            self.healthy = True

    async def probe(self) -> bool:
        """Ping Redis now (readiness checks): whether it answers, and :attr:`healthy` says so from then on."""
        try:
            await self._client.ping()
        except Exception as exc:
            self._failed(exc)
        else:
            self.healthy = True
        return self.healthy

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass(frozen=True, slots=True)
class Conversation:
    """What tiered remembers of a conversation: turns routed, of which triaged and shipped, escalations, and
    until when it stays on the final tier."""

    turns: int = 0
    escalations: int = 0
    stay_up_until: float = 0.0
    triaged: int = 0
    shipped: int = 0

    def encode(self) -> str:
        return f"{self.turns}:{self.escalations}:{self.stay_up_until:.3f}:{self.triaged}:{self.shipped}"

    @classmethod
    def decode(cls, raw: str | None) -> Conversation:
        if raw is None:  # a new conversation (most are): no failed parse, no exception
            return cls()
        try:
            turns, escalations, until, triaged, shipped = (raw or "").split(":")
            return cls(int(turns), int(escalations), float(until), int(triaged), int(shipped))
        except ValueError:
            return cls()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One request's view of the state: per namespace (model and role) the longest live cached prefix, in the
    upstream's tokens as its usage reported them (``warm``) and in the local estimate's tokens, the unit of
    :attr:`Fingerprint.tokens` (``estimated``), and the conversation."""

    warm: dict[str, int]
    estimated: dict[str, int]
    conversation: Conversation


_CONVERSATION_TTL_S: Final = 24 * 3600.0


def _entry_tokens(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


class CacheState:
    """Prompt-cache entries per (namespace, prefix digest) and conversations, over a :class:`KeyValueStore`.

    A namespace is ``<model>|<role>``: ``triage`` (the triage request, whose system prompt carries the triage
    instruction), ``direct`` (the caller's request as sent to a tier) or ``cf`` (the final tier as it would be
    had it answered every turn: the counterfactual's cache)."""

    def __init__(self, store: KeyValueStore) -> None:
        self.store = store

    async def snapshot(self, print_: Fingerprint, namespaces: Sequence[str]) -> Snapshot:
        """The warm prefix of each namespace and the conversation, in one round trip."""
        candidates = list(print_.candidates())
        if not candidates:  # no breakpoint: nothing cached to look up, only the conversation
            (raw,) = await self.store.mget([f"c|{print_.conversation}"])
            cold = dict.fromkeys(namespaces, 0)
            return Snapshot(cold, cold.copy(), Conversation.decode(raw))
        keys = [f"c|{print_.conversation}"]
        for namespace in namespaces:
            keys.extend(f"p|{namespace}|{digest}" for digest, _ in candidates)
        values = await self.store.mget(keys)
        warm: dict[str, int] = {}
        estimated: dict[str, int] = {}
        at = 1
        for namespace in namespaces:
            best = best_estimate = 0
            for (_, estimate), raw in zip(candidates, values[at : at + len(candidates)], strict=True):
                tokens = _entry_tokens(raw)
                if tokens is not None:
                    best, best_estimate = max(best, tokens), max(best_estimate, estimate)
            warm[namespace], estimated[namespace] = best, best_estimate
            at += len(candidates)
        return Snapshot(warm, estimated, Conversation.decode(values[0]))

    @staticmethod
    def cached(print_: Fingerprint, namespace: str, tokens_at_last: int) -> list[Write]:
        """The writes for a call in ``namespace`` that cached (read or wrote) ``tokens_at_last`` tokens up to
        its last breakpoint: every breakpoint's prefix, with its TTL (a read refreshes an entry's lifetime)."""
        if not print_.breakpoints or tokens_at_last <= 0:
            return []
        scale = tokens_at_last / max(print_.cacheable_tokens, 1)
        return [
            Write(f"p|{namespace}|{point.digest}", str(max(1, round(point.tokens * scale))), point.ttl_s)
            for point in print_.breakpoints
        ]

    @staticmethod
    def conversation_write(print_: Fingerprint, conversation: Conversation) -> Write:
        return Write(f"c|{print_.conversation}", conversation.encode(), _CONVERSATION_TTL_S)

    async def save(self, writes: Sequence[Write]) -> None:
        await self.store.mset(writes)
