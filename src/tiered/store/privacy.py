"""Privacy by default: what text the store may keep, how secrets are scrubbed, and when text expires.

No prompt or answer text is stored unless the caller hands the writer a :class:`Content` (the request was
picked for audit, which grading needs, or ``store_content`` is on). Such text is redacted of obvious secrets
(API keys, bearer tokens, AWS keys, tiered's own ``tk-`` keys) and kept until ``content_expires_at``, after
which :func:`cleanup` clears it. Hashes, sizes and metadata are always kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["REDACTED", "Content", "ContentReason", "cleanup", "redact"]

REDACTED: Final = "[REDACTED]"


class ContentReason(StrEnum):
    """Why a request's text is kept."""

    AUDIT = "audit"  # picked for audit: a grader needs the text
    STORE_CONTENT = "store_content"  # the operator turned ``store_content`` on


@dataclass(frozen=True, slots=True)
class Content:
    """The text of one request and its answer, to be stored (redacted, with an expiry) with its decision."""

    request_text: str | None
    answer_text: str | None
    reason: ContentReason = ContentReason.STORE_CONTENT

    def __repr__(self) -> str:
        # Keep text out of logs and tracebacks.
        req = len(self.request_text or "")
        ans = len(self.answer_text or "")
        return f"Content(request_text=<{req} chars>, answer_text=<{ans} chars>, reason={self.reason.value!r})"


_TOKEN = r"[A-Za-z0-9_\-]"
# (pattern, replacement); group 1, when present, is kept so the reader still sees what was removed.
_RULES: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    # "x-api-key: ...", "Authorization: ...", "api_key = ...", "password=..." headers and assignments.
    (
        re.compile(
            r"""(?i)\b((?:x-api-key|api[_-]?key|authorization|access[_-]?token|secret[_-]?key|password|passwd"""
            r"""|aws_secret_access_key)["']?\s*[:=]\s*["']?)(?:bearer\s+|basic\s+)?[^\s"',;]{4,}"""
        ),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=\-]{8,}"), r"\1" + REDACTED),
    (re.compile(rf"\bsk-ant-{_TOKEN}{{8,}}"), REDACTED),
    (re.compile(rf"\bsk-(?:proj-|svcacct-|admin-)?{_TOKEN}{{16,}}"), REDACTED),
    (re.compile(rf"\btk-{_TOKEN}{{16,}}"), REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"), REDACTED),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"), REDACTED),
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
        REDACTED,
    ),
)


def redact(text: str) -> str:
    """``text`` with obvious secrets replaced by ``[REDACTED]``.

    This is a safety net for keys pasted into prompts, not a guarantee: it catches well-known key shapes and
    ``name: value`` credentials, nothing subtler.
    """
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def cleanup(engine: Engine, now: datetime) -> int:
    """Clear stored text whose retention ran out before ``now``; return how many decisions were cleared."""
    import sqlalchemy as sa

    from tiered.store.schema import decisions

    statement = (
        sa.update(decisions)
        .where(decisions.c.content_expires_at <= now)
        .values(request_text=None, answer_text=None, content_reason=None, content_expires_at=None)
    )
    with engine.begin() as connection:
        return connection.execute(statement).rowcount
