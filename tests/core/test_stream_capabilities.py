"""The optional stream protocols (:mod:`tiered.providers.base`): declared, checked once per class, and used
with a fallback when a stream lacks one."""

from __future__ import annotations

from tiered.providers.base import StreamEvent, buffered_count, capabilities, has_rest_pairs, ready_events, ready_pairs


class Plain:
    pass


class ReadyOnly:
    def ready(self) -> list[StreamEvent]:
        return [StreamEvent("ping", b"{}")]


class Full(ReadyOnly):
    def ready_pairs(self) -> list[tuple[str, bytes]]:
        return [("message_stop", b"{}")]

    async def rest_pairs(self) -> list[tuple[str, bytes]]:
        return []

    @property
    def buffered(self) -> int:
        return 3


def test_a_stream_without_the_optional_protocols_reads_as_having_nothing_ready() -> None:
    plain = Plain()
    assert ready_events(plain) == [] and ready_pairs(plain) == [] and buffered_count(plain) == 0
    assert not has_rest_pairs(plain)


def test_pairs_fall_back_to_events_and_a_full_stream_uses_its_own() -> None:
    assert ready_pairs(ReadyOnly()) == [("ping", b"{}")]
    full = Full()
    assert ready_pairs(full) == [("message_stop", b"{}")] and buffered_count(full) == 3 and has_rest_pairs(full)
    caps = capabilities(full)
    assert (caps.ready, caps.ready_pairs, caps.rest_pairs, caps.buffered) == (True, True, True, True)
    assert capabilities(ReadyOnly()).ready_pairs is False
