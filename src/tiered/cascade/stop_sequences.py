"""The caller's ``stop_sequences``, applied to a shipped triage answer.

A triage is sent without the caller's stop sequences (inside the triage JSON they would cut the object, or
never match: a newline in the answer is written ``\\n`` there), so they are applied here to the decoded
answer, as the Messages API applies them to a reply: the answer ends before the first stop sequence it
contains, and the message reports ``stop_reason: "stop_sequence"`` with the matched string in
``stop_sequence`` (anthropic-sdk-python ``types/message_create_params.py``, ``stop_sequences``: "If the model
encounters one of the custom sequences, the response `stop_reason` value will be `"stop_sequence"` and the
response `stop_sequence` value will contain the matched stop sequence"; streamed, both come in
``message_delta``: https://platform.claude.com/docs/en/build-with-claude/handling-stop-reasons). The matched
string is not part of the text: the docs do not say so in as many words, the API behaves so (a third-party
write-up: https://dev.to/multigrid/stopsequences-in-the-claude-api-what-comes-back-when-one-fires-4em6).

"First" is the match that is complete earliest, as generation would meet it (for matches complete at the same
character, the one that starts earlier). A streamed answer is cut the same way by :class:`StopCutter`, which
holds back as much text as could still turn out to begin a stop sequence. Pure code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Ending", "StopCutter", "ending", "first_stop", "stop_sequences_of"]


@dataclass(frozen=True, slots=True)
class Ending:
    """A shipped answer's text and how it ended."""

    text: str
    stop_reason: str
    stop_sequence: str | None = None


def stop_sequences_of(request: Mapping[str, Any]) -> tuple[str, ...]:
    """The request's stop sequences (the non-empty strings of ``stop_sequences``)."""
    value = request.get("stop_sequences")
    if not isinstance(value, list):
        return ()
    return tuple(stop for stop in value if isinstance(stop, str) and stop)


def first_stop(text: str, stops: Sequence[str]) -> tuple[int, str] | None:
    """Where the first stop sequence in ``text`` starts, and which it is; ``None`` when none occurs."""
    best: tuple[tuple[int, int], str] | None = None
    for stop in stops:
        index = text.find(stop) if stop else -1
        if index < 0:
            continue
        key = (index + len(stop), index)
        if best is None or key < best[0]:
            best = (key, stop)
    return None if best is None else (best[0][1], best[1])


def ending(answer: str, stops: Sequence[str], stop_reason: str = "end_turn") -> Ending:
    """``answer`` cut at its first stop sequence (then the stop reason is ``stop_sequence``), or whole with
    ``stop_reason``."""
    found = first_stop(answer, stops)
    if found is None:
        return Ending(answer, stop_reason)
    index, stop = found
    return Ending(answer[:index], "stop_sequence", stop)


class StopCutter:
    """Cuts a streamed answer at its first stop sequence: :meth:`feed` each piece of decoded text and send
    what it returns; at the end of the answer send :meth:`flush`. After a match, :attr:`matched` is the stop
    sequence and nothing more is returned."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = tuple(stop for stop in stops if stop)
        # a stop sequence not yet complete can only have begun in the last (longest - 1) characters
        self._hold = max((len(stop) for stop in self.stops), default=1) - 1
        self._tail = ""
        self.matched: str | None = None

    def feed(self, text: str) -> str:
        if self.matched is not None:
            return ""
        if not self.stops:
            return text
        pending = self._tail + text
        found = first_stop(pending, self.stops)
        if found is not None:
            index, self.matched = found
            self._tail = ""
            return pending[:index]
        keep = min(self._hold, len(pending))
        self._tail = pending[len(pending) - keep :]
        return pending[: len(pending) - keep]

    def flush(self) -> str:
        """The text held back, at the end of an answer that met no stop sequence."""
        tail, self._tail = self._tail, ""
        return tail
