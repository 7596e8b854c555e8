"""The fake's prompt cache: per model, prefix-matched at ``cache_control`` breakpoints, with TTLs.

It follows the documented mechanics (https://platform.claude.com/docs/en/build-with-claude/prompt-caching):

- The prompt is read in order tools, system, messages, block by block; a breakpoint is a block with
  ``cache_control: {"type": "ephemeral", "ttl"?: "5m" | "1h"}``, or the last block when the request has a
  top-level ``cache_control`` (automatic caching). At most 4 breakpoints.
- Reads: at each breakpoint the cache is checked for the prefix ending there, then one block back at a time,
  20 positions in all (the breakpoint counting as the first); the longest prefix found is read.
- Writes happen only at breakpoints, for a prefix at least the model's minimum cacheable length (shorter ones
  are silently not cached); the tokens from the read prefix (or the start) up to a breakpoint are written with
  that breakpoint's TTL. The rest is ``input_tokens``.
- Entries are per model (a prefix cached on Opus is not cached on Haiku), live 5 minutes (default) or 1 hour,
  and a read refreshes the entry's lifetime at no cost.

The clock is injected (seconds, :func:`time.time` by default), so tests expire entries without sleeping.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from tiered.cascade.capabilities import capabilities
from tiered.fake_upstream.prompt import content_chars, estimate_tokens, tool_chars

__all__ = ["CacheUsage", "Clock", "PromptCache", "check_breakpoints", "min_cacheable_tokens"]

Clock = Callable[[], float]

_DOCS: Final = "https://platform.claude.com/docs/en/build-with-claude/prompt-caching"
_MAX_BREAKPOINTS: Final = 4  # _DOCS: "You can define up to 4 cache breakpoints"
_LOOKBACK: Final = 20  # _DOCS: "The lookback window is 20 blocks"
_TTLS: Final = {"5m": 300.0, "1h": 3600.0}  # _DOCS: 5-minute default, 1-hour at additional cost
_PURGE_EVERY: Final = 1024  # requests between sweeps of expired entries (bounds memory in long runs)

# Minimum cacheable prompt length per model, _DOCS#cache-limitations: 4,096 tokens for Claude Opus 4.7, 4.6
# and 4.5 and Claude Haiku 4.5; 1,024 for Claude Opus 4.8, Sonnet 5, Sonnet 4.6 and 4.5; 512 for Claude Opus 5
# (https://platform.claude.com/docs/en/about-claude/models/whats-new-claude-opus-5, "Lower prompt cache
# minimum"). Models not listed: 1,024, the documented floor of every other current model.
_MIN_CACHEABLE: Final = {
    "claude-opus-4-7": 4096,
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-haiku-4-5": 4096,
    "claude-opus-4-8": 1024,
    "claude-sonnet-5": 1024,
    "claude-sonnet-4-6": 1024,
    "claude-sonnet-4-5": 1024,
    "claude-opus-5": 512,
}


def min_cacheable_tokens(model: str) -> int:
    """The smallest prefix (in tokens) the real API caches for ``model``."""
    return _MIN_CACHEABLE.get(capabilities(model).model, 1024)


@dataclass(frozen=True, slots=True)
class CacheUsage:
    """The cache's share of a request's input tokens."""

    read: int = 0
    write_5m: int = 0
    write_1h: int = 0


@dataclass(frozen=True, slots=True)
class _Block:
    value: Any  # what the prefix hash covers (the block without its cache_control)
    chars: int
    ttl: str | None  # set on a breakpoint


def _marker(block: Any) -> dict[str, Any] | None:
    marker = block.get("cache_control") if isinstance(block, dict) else None
    return marker if isinstance(marker, dict) else None


def _bare(block: Any) -> Any:
    return {k: v for k, v in block.items() if k != "cache_control"} if isinstance(block, dict) else block


def _blocks(body: dict[str, Any]) -> Iterator[tuple[str, Any, int]]:
    """(section, block, characters) in cache order: tools, system, messages."""
    for tool in body.get("tools") or []:
        if isinstance(tool, dict):
            yield "tool", tool, tool_chars(tool)
    system = body.get("system")
    if isinstance(system, str):
        yield "system", system, len(system)
    elif isinstance(system, list):
        for block in system:
            yield "system", block, content_chars([block])
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        role, content = message.get("role"), message.get("content")
        for block in content if isinstance(content, list) else [content]:
            yield str(role), block, content_chars([block] if not isinstance(block, str) else block)


def _markers(body: dict[str, Any]) -> list[dict[str, Any]]:
    found = [m for _, block, _ in _blocks(body) if (m := _marker(block)) is not None]
    top = body.get("cache_control")
    return [*found, top] if isinstance(top, dict) else found


def check_breakpoints(body: dict[str, Any]) -> str | None:
    """The 400 message the real API answers for the request's ``cache_control`` markers, or ``None``."""
    markers = _markers(body)
    if not markers:
        return None
    if len(markers) > _MAX_BREAKPOINTS:
        # The API's message, as quoted in public issues of API users (the docs state the limit, not the text);
        # automatic caching takes one of the four slots (_DOCS#automatic-caching).
        return f"A maximum of {_MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {len(markers)}."
    seen_5m = False
    for marker in markers:
        if marker.get("type") != "ephemeral":
            return "cache_control.type: Input should be 'ephemeral'"
        ttl = marker.get("ttl", "5m")
        if ttl not in _TTLS:
            return "cache_control.ttl: Input should be '5m' or '1h'"
        # "Cache entries with longer TTL must appear before shorter TTLs" (_DOCS#mixing-different-ttls);
        # the message is a paraphrase.
        if ttl == "1h" and seen_5m:
            return "cache_control: a 'ttl' of '1h' may not come after a 'ttl' of '5m' (longer TTLs first)"
        seen_5m = seen_5m or ttl == "5m"
    return None


def _layout(body: dict[str, Any]) -> list[_Block]:
    blocks = [
        _Block((section, _bare(block)), chars, m.get("ttl", "5m") if (m := _marker(block)) is not None else None)
        for section, block, chars in _blocks(body)
    ]
    top = body.get("cache_control")
    if isinstance(top, dict) and blocks and blocks[-1].ttl is None:
        # automatic caching: the breakpoint goes on the last cacheable block (_DOCS#automatic-caching)
        last = blocks[-1]
        blocks[-1] = _Block(last.value, last.chars, str(top.get("ttl", "5m")))
    return blocks


def _prefix_keys(model: str, blocks: list[_Block], body: dict[str, Any]) -> list[bytes]:
    digest = hashlib.sha256(capabilities(model).model.encode())
    keys, in_messages = [], False
    for block in blocks:
        if not in_messages and block.value[0] not in ("tool", "system"):
            # "Changes to the thinking budget invalidate cached prompt prefixes that include messages" (system
            # and tools stay cached): https://platform.claude.com/docs/en/build-with-claude/extended-thinking ;
            # a tool_choice change too (_DOCS#what-invalidates-the-cache)
            in_messages = True
            digest.update(json.dumps([body.get("thinking"), body.get("tool_choice")], sort_keys=True).encode())
        digest.update(json.dumps(block.value, sort_keys=True, separators=(",", ":")).encode())
        keys.append(digest.copy().digest())
    return keys


class PromptCache:
    """Cache entries (model and prefix hash -> expiry and TTL) and the bookkeeping of one request."""

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self._entries: dict[bytes, tuple[float, str]] = {}
        self._since_purge = 0

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _live(self, key: bytes, now: float) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= now:
            del self._entries[key]
            return None
        return entry[1]

    def _purge(self, now: float) -> None:
        self._since_purge += 1
        if self._since_purge >= _PURGE_EVERY:
            self._since_purge = 0
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}

    def _read(self, keys: list[bytes], breakpoints: list[int], now: float) -> int:
        """Index of the last block of the longest cached prefix (-1 if none); refreshes the entry read."""
        best = -1
        for point in breakpoints:
            for index in range(point, max(-1, point - _LOOKBACK), -1):
                if index <= best:
                    break
                ttl = self._live(keys[index], now)
                if ttl is not None:
                    best = index
                    self._entries[keys[index]] = (now + _TTLS[ttl], ttl)
                    break
        return best

    def apply(self, model: str, body: dict[str, Any], total_tokens: int) -> CacheUsage:
        """Read and write the cache for one request to ``model``; the cache's share of ``total_tokens``."""
        if not _markers(body):
            return CacheUsage()
        now = self.clock()
        self._purge(now)
        blocks = _layout(body)
        keys = _prefix_keys(model, blocks, body)
        breakpoints = [i for i, block in enumerate(blocks) if block.ttl is not None]
        cumulative, chars = [], 0
        for block in blocks:
            chars += block.chars
            cumulative.append(chars)

        def tokens(index: int) -> int:
            return 0 if index < 0 else min(total_tokens, estimate_tokens(cumulative[index]))

        read = self._read(keys, breakpoints, now)
        done, writes = read, {"5m": 0, "1h": 0}
        minimum = min_cacheable_tokens(model)
        for point in breakpoints:
            if point <= done or tokens(point) < minimum:
                continue
            ttl = blocks[point].ttl or "5m"
            writes[ttl] += tokens(point) - tokens(done)
            self._entries[keys[point]] = (now + _TTLS[ttl], ttl)
            done = point
        return CacheUsage(tokens(read), writes["5m"], writes["1h"])
