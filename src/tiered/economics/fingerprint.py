"""Conversation identity: digests of a request's cacheable prefix, never its content. Pure, no I/O.

Anthropic's prompt cache matches prefixes (https://platform.claude.com/docs/en/build-with-claude/prompt-caching):
the prompt is read in the order tools, system, messages, block by block; a *breakpoint* is a block carrying
``cache_control`` (at most 4), or the last block when the request has a top-level ``cache_control`` (automatic
caching); a read checks the prefix ending at each breakpoint and up to 20 blocks before it (the lookback
window), and takes the longest prefix found. Changing ``tool_choice`` or the thinking settings invalidates the
cached message blocks, not tools and system (the same page's "what invalidates the cache", and
https://platform.claude.com/docs/en/build-with-claude/extended-thinking), so both are mixed into the digest
where the messages start, as :mod:`tiered.fake_upstream.cache` does.

A :class:`Fingerprint` keeps, for each breakpoint, the digest of the prefix ending there (what a later turn's
cache write is keyed by) and the digests of the 20-block lookback window before it (what a read may find),
with the estimated tokens of each prefix. A request without any breakpoint has nothing cacheable: its
fingerprint has none and no block is hashed past the conversation's root.

The *conversation* is the ``x-tiered-session`` header when the caller sends one, else a digest of
``metadata.user_id`` (if any) and the prompt's root: the tools, the system prompt and the first message, which
stay the same for every turn of a conversation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from ..cascade.fit import estimate_input_tokens

__all__ = ["LOOKBACK", "SESSION_HEADER", "Breakpoint", "Fingerprint", "fingerprint"]

SESSION_HEADER: Final = "x-tiered-session"
LOOKBACK: Final = 20  # the prompt-caching page: "The lookback window is 20 blocks"
_TTLS: Final = {"5m": 300.0, "1h": 3600.0}  # the prompt-caching page: 5-minute default, 1 hour at extra cost
_DIGEST_BYTES: Final = 16


@dataclass(frozen=True, slots=True)
class Breakpoint:
    """One cache breakpoint: the digest of the prefix ending at it, its TTL in seconds, its estimated tokens,
    and the ``(digest, tokens)`` of each shorter prefix a read looks back at (nearest first)."""

    digest: str
    ttl_s: float
    tokens: int
    lookback: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What tiered knows of a request's identity: digests and counts, no content."""

    conversation: str
    breakpoints: tuple[Breakpoint, ...]
    tokens: int  # estimated input tokens of the whole prompt (tiered.cascade.fit's deliberately high estimate)
    depth: int  # user turns in the request (1 for a fresh prompt)

    @property
    def cacheable_tokens(self) -> int:
        """Estimated tokens up to the last breakpoint (0 without any)."""
        return self.breakpoints[-1].tokens if self.breakpoints else 0

    def candidates(self) -> Iterator[tuple[str, int]]:
        """Every prefix a read could hit, ``(digest, estimated tokens)``, longest first per breakpoint."""
        for point in reversed(self.breakpoints):
            yield point.digest, point.tokens
            yield from point.lookback


def _marker(block: Any) -> Mapping[str, Any] | None:
    marker = block.get("cache_control") if isinstance(block, dict) else None
    return marker if isinstance(marker, dict) else None


def _bare(block: Any) -> Any:
    return {k: v for k, v in block.items() if k != "cache_control"} if isinstance(block, dict) else block


def _blocks(request: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(section, block) in cache order: tools, system, messages (a string content is one block)."""
    for tool in request.get("tools") or ():
        yield "tool", tool
    system = request.get("system")
    for block in system if isinstance(system, list) else ([system] if system else []):
        yield "system", block
    for message in request.get("messages") or ():
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        for block in content if isinstance(content, list) else [content]:
            yield str(message.get("role")), block


def _dump(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # a value orjson cannot encode (the validator lets few through): its text still counts
        return repr(value).encode()


def _conversation(request: Mapping[str, Any], headers: Mapping[str, str] | None) -> str:
    digest = hashlib.blake2b(digest_size=_DIGEST_BYTES, person=b"tiered-conv")
    metadata = request.get("metadata")
    user = metadata.get("user_id") if isinstance(metadata, dict) else None
    digest.update(_dump(user))
    session = (headers or {}).get(SESSION_HEADER)
    if session:
        digest.update(b"session\0" + session.encode())
        return digest.hexdigest()
    messages = request.get("messages")
    first = messages[0] if isinstance(messages, list) and messages else None
    # the root without its cache markers: a caller moves its breakpoints from turn to turn
    root = [_bare(block) for section, block in _blocks({**request, "messages": [first] if first else []})]
    digest.update(_dump(root))
    return digest.hexdigest()


def conversation_depth(request: Mapping[str, Any]) -> int:
    """The request's user turns (1 for a fresh prompt, or a request without messages)."""
    messages = request.get("messages")
    if not isinstance(messages, list):
        return 1
    return max(1, sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "user"))


def _may_have_breakpoints(request: Mapping[str, Any]) -> bool:
    """False when no block (nor the request) carries a ``cache_control``: most requests, told without building
    the block list. True may still find none (a marker that is not a mapping): :func:`_breakpoints` decides."""
    if isinstance(request.get("cache_control"), dict):
        return True
    system = request.get("system")
    for group in (request.get("tools") or (), system if isinstance(system, list) else ()):
        for block in group:
            if isinstance(block, dict) and block.get("cache_control"):
                return True
    for message in request.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("cache_control"):
                    return True
    return False


def _breakpoints(request: Mapping[str, Any], total_tokens: int) -> tuple[Breakpoint, ...]:
    blocks = list(_blocks(request))
    ttls = [(_marker(block) or {}).get("ttl", "5m") if _marker(block) else None for _, block in blocks]
    top = request.get("cache_control")
    if isinstance(top, dict) and blocks and ttls[-1] is None:
        ttls[-1] = top.get("ttl", "5m")  # automatic caching: a breakpoint on the last block
    if not any(ttls):
        return ()
    last = max(i for i, ttl in enumerate(ttls) if ttl)
    digest = hashlib.blake2b(digest_size=_DIGEST_BYTES, person=b"tiered-prefix")
    digests: list[str] = []
    tokens: list[int] = []
    chars, in_messages = 0, False
    for section, block in blocks[: last + 1]:
        if not in_messages and section not in ("tool", "system"):
            in_messages = True
            digest.update(_dump([request.get("thinking"), request.get("tool_choice")]))
        raw = _dump(_bare(block))
        digest.update(raw)
        chars += len(raw)
        digests.append(digest.copy().hexdigest())
        tokens.append(chars)
    # block sizes come from their JSON; the prompt's token estimate is shared out in proportion
    scale = total_tokens / max(chars, 1)
    points: list[Breakpoint] = []
    for index, ttl in enumerate(ttls[: last + 1]):
        if not ttl:
            continue
        back = tuple((digests[i], round(tokens[i] * scale)) for i in range(index - 1, max(-1, index - LOOKBACK), -1))
        points.append(Breakpoint(digests[index], _TTLS.get(str(ttl), 300.0), round(tokens[index] * scale), back))
    return tuple(points)


def fingerprint(
    request: Mapping[str, Any], headers: Mapping[str, str] | None = None, *, estimate: bool = True
) -> Fingerprint:
    """The request's :class:`Fingerprint` (see the module docstring). Never raises on odd shapes.

    ``estimate=False`` (a pass-through, whose economics never weighs its size): ``tokens`` is 0 unless the
    request has a breakpoint (its prefixes' tokens need the estimate)."""
    marked = _may_have_breakpoints(request)
    tokens = estimate_input_tokens(request if isinstance(request, dict) else dict(request)) if estimate or marked else 0
    points = _breakpoints(request, tokens) if marked else ()
    return Fingerprint(_conversation(request, headers), points, tokens, conversation_depth(request))
