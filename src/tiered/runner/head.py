"""What a routed stream hands its server: the head known when the answer starts, and the answer's last bytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..decision import EscalationReason

__all__ = ["FinalChunk", "StreamHead"]


class FinalChunk(bytes):
    """The last bytes of a stream's answer (they end with ``message_stop`` or an ``error`` event).

    A server can end the response with them at once (the chunk and the end of the body in one write) and let the
    stream's own end, recording the decision and closing the upstream, run after the client has everything."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class StreamHead:
    """What is known when the answer starts: enough for the response headers."""

    decision_id: str
    route: str
    model: str
    escalated: bool
    confidence: float | None
    reason: EscalationReason | None
    degraded: bool = False
    reason_detail: str | None = None  # for reason ``capability``: the feature and the model
